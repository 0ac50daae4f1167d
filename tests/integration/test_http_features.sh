#!/usr/bin/env bash
# The file server's HTTP, with curl, over --http (plain TCP) and --https
# (the same server over TLS): byte ranges (206, 416, several ranges
# ignored), Last-Modified and ETag with If-Modified-Since / If-None-Match
# (304), Expect: 100-continue answered at once (405, no 1 s wait), HTTP/1.1
# without Host (400), a 64 KB request line (414), oversize headers (431),
# HEAD, /status without client addresses unless --status-clients, and wrk
# over plain HTTP. Status codes, bodies and the service's counters.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin http_features
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/https_lib.sh"
for t in curl wrk nc; do command -v $t >/dev/null || it_fail "$t not installed"; done
https_start --http 80
H="http://$US_ADDR"
S="https://$US_ADDR"
f=$IT_ROOT/data.bin
head -c 1000 /dev/urandom >"$f"

# code URL ARGS...: the status code; the body goes to $IT_WORK/body.
code() {
  local url=$1
  shift
  rm -f "$IT_WORK/body" # curl leaves the file alone when there is no body
  it_curl -o "$IT_WORK/body" -D "$IT_WORK/head" -w '%{http_code}' "$@" "$url"
}
header() { tr -d '\r' <"$IT_WORK/head" | sed -n "s/^$1: //Ip" | tail -n 1; }

# 1. Ranges.
for base in "$H" "$S"; do
  c=$(code "$base/data.bin" -r 100-199) || it_fail "curl -r 100-199 $base failed"
  [[ $c == 206 ]] || it_fail "$base -r 100-199: HTTP $c"
  cmp -s "$IT_WORK/body" <(tail -c +101 "$f" | head -c 100) || it_fail "$base -r 100-199: wrong bytes"
  [[ $(header Content-Range) == "bytes 100-199/1000" ]] || it_fail "$base: Content-Range '$(header Content-Range)'"
  it_ok "$base -r 100-199: 206, the right 100 bytes, Content-Range bytes 100-199/1000"
done
c=$(code "$H/data.bin" -r -10)
[[ $c == 206 ]] && cmp -s "$IT_WORK/body" <(tail -c 10 "$f") || it_fail "-r -10: HTTP $c or wrong bytes"
it_ok "-r -10 (the last 10 bytes): 206"
c=$(code "$H/data.bin" -r 5000-6000)
[[ $c == 416 ]] || it_fail "-r 5000-6000 of 1000 bytes: HTTP $c"
[[ $(header Content-Range) == "bytes */1000" ]] || it_fail "416 without 'Content-Range: bytes */1000'"
it_ok "-r 5000-6000 of a 1000-byte file: 416 with Content-Range bytes */1000"
c=$(code "$H/data.bin" -r 0-1,5-6)
[[ $c == 200 ]] && cmp -s "$IT_WORK/body" "$f" || it_fail "-r 0-1,5-6: HTTP $c or not the whole file"
it_ok "-r 0-1,5-6 (several ranges, not supported): 200 with the whole file"

# 2. Validators and conditional requests.
c=$(code "$H/data.bin")
lm=$(header Last-Modified)
etag=$(header ETag)
[[ $c == 200 && -n $lm && $etag == \"*\" ]] || it_fail "no Last-Modified/ETag: HTTP $c, '$lm', '$etag'"
[[ $(header Accept-Ranges) == bytes ]] || it_fail "no Accept-Ranges: bytes"
c=$(code "$H/data.bin" -z "$lm")
[[ $c == 304 && ! -s $IT_WORK/body ]] || it_fail "curl -z '$lm': HTTP $c (want 304, no body)"
c=$(code "$H/data.bin" -z "Thu, 01 Jan 1970 00:00:01 GMT")
[[ $c == 200 ]] || it_fail "curl -z 1970: HTTP $c (want 200)"
it_ok "Last-Modified '$lm': curl -z gives 304 for it, 200 for an older date"
it_curl -o /dev/null --etag-save "$IT_WORK/etag" "$S/data.bin" || it_fail "--etag-save failed"
c=$(code "$S/data.bin" --etag-compare "$IT_WORK/etag")
[[ $c == 304 ]] || it_fail "--etag-compare: HTTP $c (want 304)"
c=$(code "$S/data.bin" -H 'If-None-Match: "other"')
[[ $c == 200 ]] || it_fail "If-None-Match other: HTTP $c (want 200)"
it_ok "ETag $etag: --etag-compare gives 304 (HTTPS), another tag 200"

# 3. Expect: 100-continue with a body: the final answer at once.
t=$(it_curl -o /dev/null -w '%{http_code} %{time_total}' -H 'Expect: 100-continue' \
  --data-binary @"$f" "$H/data.bin") || it_fail "POST with Expect failed"
read -r c secs <<<"$t"
[[ $c == 405 ]] || it_fail "POST with Expect: 100-continue: HTTP $c (want 405)"
awk -v s="$secs" 'BEGIN { exit !(s < 0.5) }' || it_fail "POST with Expect took ${secs}s (the client waited)"
it_ok "POST with Expect: 100-continue and a 1000-byte body: 405 in ${secs}s"
c=$(code "$H/data.bin" -H 'Expect: something-else')
[[ $c == 417 ]] || it_fail "Expect: something-else: HTTP $c (want 417)"
it_ok "an unknown expectation: 417"

# 4. Malformed or oversized requests.
# docs/HOSTILE.md APP-2: framing a server must refuse (400, connection closed).
for req in 'Content-Length: 5\r\nContent-Length: 6' 'Content-Length: 5\r\nTransfer-Encoding: chunked' \
  'Content-Length: -1' 'Content-Length: 99999999999999999999999' 'Host: b'; do
  line=$(printf "GET /data.bin HTTP/1.1\r\nHost: a\r\n$req\r\n\r\n0\r\n\r\n" |
    ns_exec timeout 10 nc -q 2 "$US_ADDR" 80 | head -n 1 | tr -d '\r') || true
  [[ $line == "HTTP/1.1 400 Bad Request" ]] || it_fail "request with '$req': '$line' (want 400)"
done
it_ok "duplicate or negative or huge Content-Length, CL with TE, two Hosts: 400 each"
c=$(code "$H/data.bin" -H 'Host:')
[[ $c == 400 ]] || it_fail "HTTP/1.1 without Host: HTTP $c (want 400)"
it_ok "HTTP/1.1 without Host: 400"
long=$(head -c 65536 /dev/zero | tr '\0' a)
c=$(code "$H/$long")
[[ $c == 414 ]] || it_fail "a 64 KB request line: HTTP $c (want 414)"
it_ok "a 64 KB request line: 414"
hdrs=()
for ((i = 0; i < 20; i++)); do hdrs+=(-H "X-Pad-$i: $(head -c 1000 /dev/zero | tr '\0' b)"); done
c=$(code "$H/data.bin" "${hdrs[@]}")
[[ $c == 431 ]] || it_fail "20 KB of headers: HTTP $c (want 431)"
it_ok "20 KB of headers: 431"
# HEAD, then a GET on the same connection: a body after the HEAD answer
# would be read as the GET's response and break it.
out=$(it_curl -I -o /dev/null -w '%{http_code} %{size_download}\n' "$H/data.bin" \
  --next -o "$IT_WORK/body" -w '%{http_code} %{size_download} %{num_connects}\n' "$H/data.bin") ||
  it_fail "HEAD then GET failed"
[[ $out == $'200 0\n200 1000 0' ]] || it_fail "HEAD then GET on one connection: '$out'"
cmp -s "$IT_WORK/body" "$f" || it_fail "the GET after HEAD got the wrong bytes"
it_ok "HEAD: 200 without a body; a GET on the same connection after it: 200, 1000 bytes"

# 5. /status keeps client addresses to itself by default.
it_curl -o "$IT_WORK/st.json" "$H/status.json" || it_fail "status.json"
grep -q '"http_requests"' "$IT_WORK/st.json" || it_fail "status.json has no http_requests"
grep -q "$US_HOST" "$IT_WORK/st.json" && it_fail "status.json shows the client address $US_HOST"
it_curl -o "$IT_WORK/st.html" "$S/status" || it_fail "status"
grep -q "$US_HOST" "$IT_WORK/st.html" && it_fail "/status shows the client address $US_HOST"
it_ok "/status and /status.json: no client address"

# 6. wrk over plain HTTP keep-alive (1 s, a figure).
out=$(ns_exec timeout 30 wrk -t1 -c4 -d1s "$H/data.bin" 2>&1) || it_fail "wrk failed: $out"
grep -qE "Non-2xx|Socket errors" <<<"$out" && it_fail "wrk saw errors: $out"
it_ok "wrk -c4 over HTTP: $(grep -E 'Requests/sec' <<<"$out" | tr -s ' ')"
it_stop
for ctr in http_uri_too_long http_header_too_large http_early_answers http_bad_requests; do
  [[ $(it_counter "$ctr") -ge 1 ]] || it_fail "counter $ctr not counted"
done
it_ok "counters: uri_too_long $(it_counter http_uri_too_long), header_too_large $(it_counter http_header_too_large), early_answers $(it_counter http_early_answers)"

# 7. With --status-clients the address is shown.
https_start --http 80 --status-clients --http-header-timeout 2
it_curl -o "$IT_WORK/st.json" "$H/status.json" || it_fail "status.json"
grep -q "\"remote\":\"$US_HOST:" "$IT_WORK/st.json" || it_fail "--status-clients: no remote address"
it_ok "--status-clients: status.json shows $US_HOST"

# 8. The header deadline (2 s here) counts from the first byte: a client
# that trickles a header line every 0.5 s, and one that sends nothing at
# all, are both closed after about 2 s, not 10.
# held TRICKLE: ms until the server ends a connection that sends a request
# line and then a header line every 0.5 s (TRICKLE=1) or nothing (0).
held() {
  ns_exec timeout 20 python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=15)
t0 = time.time()
trickle = sys.argv[2] == "1"
if trickle:
    s.sendall(b"GET /data.bin HTTP/1.1\r\nHost: a\r\n")
s.settimeout(0.5)
while time.time() - t0 < 15:
    try:
        if not s.recv(4096):
            break
    except socket.timeout:
        if trickle:
            s.sendall(b"X-a: b\r\n")
    except OSError:
        break
print(int((time.time() - t0) * 1000))' "$US_ADDR" "$1"
}
for kind in trickle silent; do
  ms=$(held "$([[ $kind == trickle ]] && echo 1 || echo 0)") || it_fail "$kind client failed"
  [[ $ms -ge 1500 && $ms -lt 6000 ]] || it_fail "$kind client: the server kept it $ms ms (header timeout 2 s)"
  it_ok "$kind client: closed after $ms ms (--http-header-timeout 2)"
done
it_stop
[[ $(it_counter http_header_timeouts) -ge 2 ]] || it_fail "http_header_timeouts not counted"
it_end
