#!/usr/bin/env bash
# No Nagle stall on HTTPS (docs/HTTPS.md, "Latency"), read from captures.
# ustackd's own pcap stamps each packet with the event-loop wake-up that
# read or wrote it, so "same time stamp" means "answered in the wake-up
# that brought the question", with no wait for an ACK in between, however
# loaded the machine is:
#  1. One keep-alive connection (wrk -c1) answers at least 1000 small
#     requests per second (responses counted and timed in the capture),
#     each in the wake-up that read its request. With a response's last
#     record held by Nagle until the client's delayed ACK this was ~22/s.
#  2. Every full handshake: ServerHello..ServerHelloDone leaves in the
#     wake-up that read the ClientHello, and the server's ChangeCipherSpec
#     and Finished share one TCP segment, sent in the wake-up that read the
#     client's Finished.
# A tcpdump capture on the TUN (kernel time stamps) gives the real gaps
# ClientHello -> ServerHelloDone and client Finished -> server Finished,
# printed as figures.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin https_latency
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/https_lib.sh"
for t in wrk tshark curl; do command -v $t >/dev/null || it_fail "$t not installed"; done
PCAP=$IT_WORK/link.pcap
https_start --pcap "$PCAP"
URL="https://$US_ADDR"
head -c 100 /dev/zero | tr '\0' x >"$IT_ROOT/small.txt"

# 20 fresh handshakes (also captured by tcpdump), then one keep-alive
# connection for 2 s.
command -v tcpdump >/dev/null || it_fail "tcpdump missing (apt-get install tcpdump)"
ns_bg timeout 60 tcpdump -i "$US_DEV" -n -U -w "$IT_WORK/tun.pcap" "tcp port 443" 2>/dev/null
sleep 1
for ((i = 0; i < 20; i++)); do
  it_curl -o /dev/null "$URL/small.txt" || it_fail "curl handshake $i failed"
done
sleep 0.5 # let tcpdump write the last packets before it is stopped
kill -INT "${NS_PIDS[-1]}" 2>/dev/null || true
wait "${NS_PIDS[-1]}" 2>/dev/null || true
out=$(ns_exec timeout 30 wrk -t1 -c1 -d2s "$URL/small.txt" 2>&1) || it_fail "wrk failed: $out"
grep -q "Non-2xx\|Socket errors" <<<"$out" && it_fail "wrk saw errors: $out"
echo "  wrk: $(grep -E 'Requests/sec' <<<"$out" | tr -s ' ')"
it_stop

# Per frame with TLS records: time, tcp stream, frame, source port, record
# types, handshake types.
tls_frames() { # PCAP OUT
  tshark -r "$1" -Y tls -T fields -e frame.time_relative -e tcp.stream -e frame.number \
    -e tcp.srcport -e tls.record.content_type -e tls.handshake.type -E separator=' ' >"$2" ||
    it_fail "tshark could not read $1"
}
tls_frames "$PCAP" "$IT_WORK/tls.txt"
tls_frames "$IT_WORK/tun.pcap" "$IT_WORK/tun.txt"

# 1. The keep-alive connection: the stream with the most responses.
read -r n span < <(awk '$4 == 443 && $5 ~ /(^|,)23(,|$)/ {
    c[$2]++; if (!($2 in f)) f[$2] = $1; l[$2] = $1 }
  END { best = -1; for (s in c) if (c[s] > best) { best = c[s]; bs = s }
        printf "%d %.6f\n", best, l[bs] - f[bs] }' "$IT_WORK/tls.txt")
[[ ${n:-0} -ge 1000 ]] || it_fail "the keep-alive connection answered only ${n:-0} requests"
rate=$(awk -v n="$n" -v s="$span" 'BEGIN { printf "%d", (n - 1) / s }')
[[ $rate -ge 1000 ]] || it_fail "one keep-alive connection: $rate requests/s (want >= 1000)"
it_ok "one keep-alive connection: $n responses in ${span}s = $rate requests/s (capture)"
late=$(awk '$5 ~ /(^|,)23(,|$)/ {
    if ($4 != 443) q[$2] = $1
    else if ($2 in q) { if ($1 != q[$2]) late++; delete q[$2] } }
  END { print late + 0 }' "$IT_WORK/tls.txt")
[[ $late -eq 0 ]] || it_fail "$late responses left in a later wake-up than their request"
it_ok "every response left in the wake-up that read its request"

# 2. Handshakes: flight times per stream (ClientHello, ServerHelloDone,
# client ChangeCipherSpec, server ChangeCipherSpec+Finished).
flights() { # FILE: one line per complete handshake: ch shd ccs fin split
  awk '
    $4 != 443 && $6 ~ /(^|,)1(,|$)/ && !($2 in ch) { ch[$2] = $1 }
    $4 == 443 && $6 ~ /(^|,)14(,|$)/ && !($2 in sd) { sd[$2] = $1 }
    $4 != 443 && $5 ~ /(^|,)20(,|$)/ && !($2 in cc) { cc[$2] = $1 }
    $4 == 443 && $5 ~ /(^|,)20(,|$)/ && !($2 in sf) { sf[$2] = $1; alone[$2] = $5 !~ /20,22/ }
    END { for (s in sf) if ((s in ch) && (s in sd) && (s in cc))
            print ch[s], sd[s], cc[s], sf[s], alone[s] }' "$1"
}
flights "$IT_WORK/tls.txt" >"$IT_WORK/flights.txt"
n=$(wc -l <"$IT_WORK/flights.txt")
[[ $n -ge 21 ]] || it_fail "only $n complete handshakes in the capture (21 made)"
bad=$(awk '$5 { n++ } END { print n + 0 }' "$IT_WORK/flights.txt")
[[ $bad -eq 0 ]] || it_fail "$bad handshakes: the server's ChangeCipherSpec went without its Finished"
it_ok "$n handshakes: the server's ChangeCipherSpec and Finished in one segment each"
bad=$(awk '$1 != $2 || $3 != $4 { n++ } END { print n + 0 }' "$IT_WORK/flights.txt")
[[ $bad -eq 0 ]] || it_fail "$bad handshakes: a server flight left in a later wake-up than the client's"
it_ok "$n handshakes: each server flight left in the wake-up that read the client's"

# Figures from the kernel's view (tcpdump on the TUN).
flights "$IT_WORK/tun.txt" | awk '
  { a = ($2 - $1) * 1000; b = ($4 - $3) * 1000; ta += a; tb += b; n++
    if (a > ma) ma = a; if (b > mb) mb = b }
  END { if (n) printf "  tcpdump, %d handshakes: ClientHello -> ServerHelloDone mean %.2f ms, max %.2f ms; client Finished -> server Finished mean %.2f ms, max %.2f ms\n", n, ta / n, ma, tb / n, mb }'
it_end
