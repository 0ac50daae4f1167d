#!/usr/bin/env bash
# HTTPS with curl (the kernel's TCP, OpenSSL's TLS) as the client: the
# index page, a 50 MB file whose SHA-256 must equal the file on disk (the
# file is streamed: many full 16 KB records through the TCP window), then
# 100 sequential and 50 concurrent requests, each a fresh TLS handshake.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin https_curl
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/https_lib.sh"
command -v curl >/dev/null || it_fail "curl not installed (apt-get install curl)"
# shellcheck disable=SC2119 # https_start takes extra ustackd options, none here
https_start
URL="https://$US_ADDR"

# 1. The index, certificate verified against the demo CA (no -k anywhere).
got=$(it_curl "$URL/") || it_fail "curl $URL/ failed"
[[ $got == *"$HTTPS_INDEX_MARK"* ]] || it_fail "index: expected '$HTTPS_INDEX_MARK', got '$got'"
it_ok "curl --cacert ca.pem $URL/ got the index"

# 2. 50 MB of random bytes, streamed; compare digests.
big=$IT_ROOT/big.bin
head -c $((50 * 1024 * 1024)) /dev/urandom >"$big"
want=$(sha256sum "$big" | cut -d' ' -f1)
t0=$(date +%s%N)
code=$(IT_CURL_TIMEOUT=120 it_curl -o "$IT_WORK/got.bin" -w '%{http_code}' "$URL/big.bin") ||
  it_fail "curl of the 50 MB file failed (code '$code')"
t1=$(date +%s%N)
[[ $code == 200 ]] || it_fail "50 MB file: HTTP $code"
size=$(stat -c %s "$IT_WORK/got.bin")
[[ $size -eq $((50 * 1024 * 1024)) ]] || it_fail "50 MB file: got $size bytes"
got_sha=$(sha256sum "$IT_WORK/got.bin" | cut -d' ' -f1)
[[ $got_sha == "$want" ]] || it_fail "50 MB file: SHA-256 $got_sha, on disk $want"
it_ok "50 MB file, SHA-256 matches ($want, $(((t1 - t0) / 1000000)) ms)"
rm -f "$IT_WORK/got.bin"

# 3. 100 sequential requests, each its own connection and handshake.
ok=0
for ((i = 1; i <= 100; i++)); do
  code=$(it_curl -o /dev/null -w '%{http_code}' "$URL/index.html" 2>>"$IT_WORK/seq.err") || code="fail($code)"
  if [[ $code == 200 ]]; then ok=$((ok + 1)); else echo "  request $i: $code" >&2; fi
done
[[ $ok -eq 100 ]] || it_fail "sequential: $ok/100 succeeded ($(head -n 5 "$IT_WORK/seq.err"))"
it_ok "100 sequential requests: 100 x 200"

# 4. 50 concurrent requests.
pids=()
for ((i = 1; i <= 50; i++)); do
  it_curl -o "$IT_WORK/conc.$i.body" -w '%{http_code}' "$URL/index.html" \
    >"$IT_WORK/conc.$i.code" 2>"$IT_WORK/conc.$i.err" &
  pids+=("$!")
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
ok=0
for ((i = 1; i <= 50; i++)); do
  if [[ $(cat "$IT_WORK/conc.$i.code") == 200 ]] &&
    grep -qF "$HTTPS_INDEX_MARK" "$IT_WORK/conc.$i.body"; then
    ok=$((ok + 1))
  else
    echo "  concurrent $i: code '$(cat "$IT_WORK/conc.$i.code")' $(cat "$IT_WORK/conc.$i.err")" >&2
  fi
done
[[ $ok -eq 50 && $failed -eq 0 ]] || it_fail "concurrent: $ok/50 succeeded, $failed curl exits non-zero"
it_ok "50 concurrent requests: 50 x 200 with the index body"

# The server kept count: at least 1 + 1 + 100 + 50 handshakes, none failed.
it_stop
hs=$(it_counter tls_handshakes)
[[ $hs -ge 152 ]] || it_fail "tls_handshakes = $hs, expected >= 152"
fails=$(it_counter tls_handshake_fails)
[[ $fails -eq 0 ]] || it_fail "tls_handshake_fails = $fails"
it_ok "counters: tls_handshakes = $hs, no handshake failed"
it_end
