#!/usr/bin/env bash
# TLS details with OpenSSL as the peer:
#  - a client that resets mid-handshake (partial ClientHello, then RST)
#    leaves no connection behind (ustack-ss);
#  - openssl s_client: TLS 1.2, a forward-secret AEAD suite (ECDHE with
#    AES-GCM or ChaCha20-Poly1305), ALPN http/1.1, chain verified (code 0);
#  - openssl s_client -reconnect: the session is resumed ("Reused");
#  - random bytes and a plain-HTTP request to the TLS port are closed
#    promptly while a download running in parallel, and a request
#    afterwards, still succeed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tls_openssl
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/https_lib.sh"
for c in openssl curl nc; do
  command -v "$c" >/dev/null || it_fail "$c not installed (setup.sh installs it)"
done
# Short TIME-WAIT (2*MSL = 2 s), so that at the end we can check that no
# connection at all is left over.
https_start --msl 1
URL="https://$US_ADDR"
CA=$IT_CERTS/ca.pem

# --- 1. Reset mid-handshake -------------------------------------------------
# The client sends the first 30 bytes of a ClientHello (record and
# handshake headers announce more), waits until the shell has seen the
# connection in ustack-ss, then closes with SO_LINGER 0: the kernel sends a
# RST: the ABORT call of RFC 9293 3.10.5.
go=$IT_WORK/rst.go
ns_exec timeout 20 python3 - "$US_ADDR" "$HTTPS_PORT" "$go" >"$IT_WORK/rst.port" 2>"$IT_WORK/rst.err" <<'PY' &
import os, socket, struct, sys, time
addr, port, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((addr, port), timeout=5)
# TLS record header (handshake, 0x0301, length 0xa5), ClientHello header
# (type 1, length 0xa1), client_version 3.3, then the start of random.
s.sendall(bytes.fromhex("16030100a5" "010000a1" "0303") + bytes(19))
print(s.getsockname()[1], flush=True)
deadline = time.time() + 10
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.05)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
PY
rst_pid=$!
port=""
for ((i = 0; i < 50; i++)); do
  port=$(cat "$IT_WORK/rst.port" 2>/dev/null || true)
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || it_fail "the resetting client did not connect: $(cat "$IT_WORK/rst.err")"
seen=""
for ((i = 0; i < 50; i++)); do
  seen=$(it_ss | grep -E "$US_HOST:$port( |$)" || true)
  [[ -n $seen ]] && break
  sleep 0.1
done
[[ -n $seen ]] || it_fail "ustack-ss never showed the half-done handshake from port $port: $(it_ss)"
touch "$go"
wait "$rst_pid" || it_fail "resetting client failed: $(cat "$IT_WORK/rst.err")"
https_wait_only_listener 5 ||
  it_fail "after the RST, ustack-ss still shows: $(https_other_conns)"
it_ok "client reset mid-handshake (port $port, seen as: ${seen%% *}); ustack-ss shows only the listener"

# --- 2. openssl s_client: version, suite, ALPN, verified chain -------------
out=$(echo | ns_exec timeout 20 openssl s_client -connect "$US_ADDR:$HTTPS_PORT" -CAfile "$CA" \
  -servername ustack.test -verify_hostname ustack.test -verify_return_error -alpn http/1.1 2>&1) ||
  it_fail "s_client failed: $out"
grep -qE '^ *Protocol *: TLSv1\.2$' <<<"$out" || it_fail "s_client: no 'Protocol : TLSv1.2' in: $out"
suite=$(sed -n 's/^ *Cipher *: *\([^ ]*\)$/\1/p' <<<"$out" | head -n 1)
[[ $suite =~ ^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$ ]] ||
  it_fail "s_client: suite '$suite' is not ECDHE with an AEAD"
grep -qF 'Verify return code: 0 (ok)' <<<"$out" || it_fail "s_client: chain not verified: $out"
grep -qF 'ALPN protocol: http/1.1' <<<"$out" || it_fail "s_client: ALPN http/1.1 not agreed: $out"
it_ok "s_client: TLSv1.2, $suite, ALPN http/1.1, Verify return code: 0 (ok)"

# A client offering only suites that are not both forward-secret and AEAD
# (ECDHE with CBC, or static-RSA key exchange with GCM) gets a
# handshake_failure alert (RFC 5246 7.4.1.3: no acceptable suite).
rc=0
echo | ns_exec timeout 20 openssl s_client -connect "$US_ADDR:$HTTPS_PORT" -CAfile "$CA" -tls1_2 \
  -cipher 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES128-SHA:AES128-GCM-SHA256:AES128-SHA' \
  >"$IT_WORK/nofs.out" 2>&1 || rc=$?
[[ $rc -ne 124 ]] || it_fail "s_client with non-AEAD suites: no answer within 20 s"
grep -qF 'Cipher is (NONE)' "$IT_WORK/nofs.out" ||
  it_fail "a suite without forward secrecy or AEAD was accepted: $(grep -E 'Cipher' "$IT_WORK/nofs.out")"
grep -qF 'alert handshake failure' "$IT_WORK/nofs.out" ||
  it_fail "non-AEAD suites: no handshake_failure alert: $(head -n 3 "$IT_WORK/nofs.out")"
it_ok "s_client offering only CBC or static-RSA suites gets a handshake_failure alert"

# --- 3. Session resumption ---------------------------------------------------
out=$(echo | ns_exec timeout 30 openssl s_client -connect "$US_ADDR:$HTTPS_PORT" -CAfile "$CA" \
  -servername ustack.test -reconnect 2>&1) || it_fail "s_client -reconnect failed: $out"
new=$(grep -cE '^New, TLSv1\.2' <<<"$out" || true)
reused=$(grep -cE '^Reused, TLSv1\.2' <<<"$out" || true)
[[ $new -ge 1 && $reused -ge 1 ]] || it_fail "s_client -reconnect: $new New, $reused Reused: $out"
# OpenSSL reconnects 5 times after the first connection: all should resume.
[[ $reused -eq 5 ]] || it_fail "s_client -reconnect: only $reused of 5 reconnections Reused"
it_ok "s_client -reconnect: $new New, $reused Reused"

# --- 4. Garbage on the TLS port, while others are served ---------------------
fails0=$(it_ss -s | awk '$1 == "tls_handshake_fails" {print $2}')
fails0=${fails0:-0}
head -c $((16 * 1024 * 1024)) /dev/urandom >"$IT_ROOT/mid.bin"
want=$(sha256sum "$IT_ROOT/mid.bin" | cut -d' ' -f1)
# A download slowed to ~4 s, running across the bad clients below.
it_curl --limit-rate 4M -o "$IT_WORK/mid.got" -w '%{http_code}' "$URL/mid.bin" \
  >"$IT_WORK/mid.code" 2>"$IT_WORK/mid.err" &
dl_pid=$!
sleep 0.5

# 2000 random bytes; nc half-closes (-N) after sending and must see the
# server close (nc exits by itself, not by the timeout).
rc=0
head -c 2000 /dev/urandom | ns_exec timeout 15 nc -N "$US_ADDR" "$HTTPS_PORT" >"$IT_WORK/garbage.out" 2>&1 || rc=$?
[[ $rc -ne 124 ]] || it_fail "random bytes: the server did not close the connection within 15 s"
n=$(stat -c %s "$IT_WORK/garbage.out")
if [[ $n -gt 0 ]]; then
  # Anything sent back must be a TLS alert record (type 21, RFC 5246 6.2.1).
  first=$(head -c 1 "$IT_WORK/garbage.out" | od -An -tu1 | tr -d ' ')
  [[ $first == 21 ]] || it_fail "random bytes: the server answered $n bytes starting with $first"
fi
it_ok "2000 random bytes: connection closed by the server (nc status $rc, $n bytes back)"

# A plain-HTTP request: no HTTP answer, a prompt close.
rc=0
code=$(ns_exec timeout 15 curl -sS -o "$IT_WORK/plain.out" -w '%{http_code}' \
  "http://$US_ADDR:$HTTPS_PORT/" 2>"$IT_WORK/plain.err") || rc=$?
[[ $rc -ne 124 && $rc -ne 28 ]] || it_fail "plain HTTP: the server did not close within 15 s"
[[ $rc -ne 0 && $code == 000 ]] || it_fail "plain HTTP got an HTTP answer: code $code, status $rc"
it_ok "plain HTTP to the TLS port: closed without an HTTP answer (curl: $(tr -d '\n' <"$IT_WORK/plain.err"))"

rc=0
wait "$dl_pid" || rc=$?
[[ $rc -eq 0 && $(cat "$IT_WORK/mid.code") == 200 ]] ||
  it_fail "the parallel download failed: status $rc, $(cat "$IT_WORK/mid.code") $(cat "$IT_WORK/mid.err")"
[[ $(sha256sum "$IT_WORK/mid.got" | cut -d' ' -f1) == "$want" ]] ||
  it_fail "the parallel download came back corrupted"
it_ok "a 16 MB download running in parallel completed, SHA-256 matches"

got=$(it_curl "$URL/") || it_fail "curl after the bad clients failed"
[[ $got == *"$HTTPS_INDEX_MARK"* ]] || it_fail "curl after the bad clients: '$got'"
it_ok "curl afterwards still gets the index"

fails1=$(it_ss -s | awk '$1 == "tls_handshake_fails" {print $2}')
fails1=${fails1:-0}
[[ $fails1 -ge $((fails0 + 1)) ]] || it_fail "tls_handshake_fails went from $fails0 to $fails1"
it_ok "tls_handshake_fails counted the bad clients ($fails0 -> $fails1)"

# Nothing left over (TIME-WAIT is 2 s with --msl 1).
https_wait_only_listener 10 || it_fail "connections left over: $(https_other_conns)"
it_ok "no connection left but the listener"

it_stop
it_end
