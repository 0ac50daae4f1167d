#!/usr/bin/env bash
# The stack's TLS client against OpenSSL's server in the namespace:
# ustackd --https-get fetches a page from `openssl s_server -www` and a file
# from `openssl s_server -WWW` (byte-exact), the server's certificate chain
# verified against the demo CA and its name checked; with another CA, or
# another server name, the fetch fails with a clear error line.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tls_client
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/https_lib.sh"
command -v openssl >/dev/null || it_fail "openssl not installed (setup.sh installs it)"
https_certs
CA=$IT_CERTS/ca.pem
PEER_NAME=peer.test

# A certificate for the kernel's side (10.0.0.1), signed by the demo CA.
# BearSSL checks DNS names only, so the client is given --https-name.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
  -out "$IT_CERTS/peer-key.pem" 2>/dev/null || it_fail "peer key"
openssl req -new -key "$IT_CERTS/peer-key.pem" -subj "/CN=$PEER_NAME" \
  -out "$IT_WORK/peer.csr" 2>/dev/null || it_fail "peer CSR"
printf '%s\n' "basicConstraints=critical,CA:FALSE" \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
  "subjectAltName=DNS:$PEER_NAME,IP:$US_HOST" >"$IT_WORK/peer.ext"
openssl x509 -req -in "$IT_WORK/peer.csr" -CA "$CA" -CAkey "$IT_CERTS/ca-key.pem" \
  -CAcreateserial -sha256 -days 2 -extfile "$IT_WORK/peer.ext" \
  -out "$IT_CERTS/peer.pem" 2>/dev/null || it_fail "peer certificate"
# Another CA, which did not sign the peer's certificate.
"$US_ROOT/scripts/gen-certs.sh" "$IT_WORK/other" >/dev/null || it_fail "second CA"

# Two OpenSSL servers, listening on all addresses of the namespace (the TUN
# address 10.0.0.1 appears when ustackd starts): -www answers with its
# status page, -WWW serves files from its directory.
mkdir -p "$IT_WORK/srv"
head -c 30000 /dev/urandom | base64 >"$IT_WORK/srv/page.txt"
ns_bg timeout 120 openssl s_server -accept 4433 -cert "$IT_CERTS/peer.pem" \
  -key "$IT_CERTS/peer-key.pem" -www -quiet
# shellcheck disable=SC2016 # $1..$3 are expanded by that sh
ns_bg sh -c 'cd "$1" && exec timeout 120 openssl s_server -accept 4434 -cert "$2" -key "$3" -WWW -quiet' \
  sh "$IT_WORK/srv" "$IT_CERTS/peer.pem" "$IT_CERTS/peer-key.pem"
for ((i = 0; i < 50; i++)); do
  l=$(ns_exec ss -Hltn 2>/dev/null || true)
  [[ $l == *":4433 "* && $l == *":4434 "* ]] && break
  sleep 0.1
done
[[ $l == *":4433 "* && $l == *":4434 "* ]] || it_fail "openssl s_server is not listening: $l"

# Run ustackd with --https-get ARGS; the body goes to $IT_WORK/NAME.body,
# the log to $IT_WORK/NAME.log. Waits for the client's summary line and
# the daemon's exit; sets GET_LINE and GET_RC (ustackd's exit status).
https_get() {
  local name=$1
  shift
  IT_LOG=$IT_WORK/$name.log
  : >"$IT_LOG"
  ip netns exec "$NS" "$USTACKD" --dev "$US_DEV" --host "$US_HOST" --addr "$US_ADDR" \
    --prefix "$US_PREFIX" "$@" >"$IT_WORK/$name.body" 2>"$IT_LOG" &
  USTACKD_PID=$!
  # The daemon may finish (and exit) quickly; the summary line is what
  # counts, bounded by the client's own 30 s limit.
  it_wait_log '^https-get: ' 40 || it_fail "$name: no https-get summary line within 40 s"
  GET_LINE=$(grep -m 1 '^https-get: ' "$IT_LOG")
  # ustackd exits by itself once the client is done (with 0 for a verified
  # 2xx, 1 otherwise); a SIGTERM only if it does not within 10 s.
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$USTACKD_PID" 2>/dev/null || break
    sleep 0.1
  done
  GET_RC=0
  ns_stop_ustackd || GET_RC=$?
  if grep -qE 'AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$IT_LOG"; then
    it_fail "$name: sanitizer report in the ustackd log"
  fi
}

# 1. s_server -www: OpenSSL's status page, chain and name verified.
https_get www --https-get "https://$US_HOST:4433/" --https-ca "$CA" --https-name "$PEER_NAME"
[[ $GET_RC -eq 0 ]] || it_fail "www: ustackd exited with $GET_RC"
[[ $GET_LINE =~ ^https-get:\ done:\ 200,\ [0-9]+\ body\ bytes,\ TLS_ECDHE_[A-Z0-9_]+(GCM|CHACHA20_POLY1305)[A-Z0-9_]*,\ server\ name\ \"$PEER_NAME\"\ verified ]] ||
  it_fail "www: summary line: $GET_LINE"
grep -q 's_server' "$IT_WORK/www.body" || it_fail "www: body is not s_server's page: $(head -c 300 "$IT_WORK/www.body")"
grep -qE 'TLSv1\.2' "$IT_WORK/www.body" || it_fail "www: s_server's page shows no TLSv1.2"
it_ok "s_server -www page fetched: ${GET_LINE#https-get: }"

# 2. s_server -WWW: a file, byte-exact.
https_get file --https-get "https://$US_HOST:4434/page.txt" --https-ca "$CA" --https-name "$PEER_NAME"
[[ $GET_RC -eq 0 ]] || it_fail "file: ustackd exited with $GET_RC"
[[ $GET_LINE == "https-get: done: 200, "*" verified"* ]] || it_fail "file: summary line: $GET_LINE"
cmp -s "$IT_WORK/srv/page.txt" "$IT_WORK/file.body" ||
  it_fail "file: body differs from page.txt ($(stat -c %s "$IT_WORK/file.body") vs $(stat -c %s "$IT_WORK/srv/page.txt") bytes)"
it_ok "s_server -WWW file fetched byte-exact ($(stat -c %s "$IT_WORK/file.body") bytes)"

# 3. Another CA: the chain is not trusted; no body, a clear error.
https_get wrongca --https-get "https://$US_HOST:4433/" --https-ca "$IT_WORK/other/ca.pem" \
  --https-name "$PEER_NAME"
[[ $GET_RC -eq 1 ]] || it_fail "wrongca: ustackd exited with $GET_RC"
[[ $GET_LINE == *"handshake failed"*"not trusted"* ]] || it_fail "wrongca: summary line: $GET_LINE"
[[ ! -s $IT_WORK/wrongca.body ]] || it_fail "wrongca: a body was written despite the failed check"
it_ok "wrong CA refused: ${GET_LINE#https-get: }"

# 4. Right CA, wrong name: the name check fails.
https_get wrongname --https-get "https://$US_HOST:4433/" --https-ca "$CA" --https-name other.test
[[ $GET_RC -eq 1 ]] || it_fail "wrongname: ustackd exited with $GET_RC"
[[ $GET_LINE == *"handshake failed"*"server name"* ]] || it_fail "wrongname: summary line: $GET_LINE"
[[ ! -s $IT_WORK/wrongname.body ]] || it_fail "wrongname: a body was written despite the failed check"
it_ok "wrong server name refused: ${GET_LINE#https-get: }"

it_end
