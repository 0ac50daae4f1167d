#!/usr/bin/env bash
# --pcap FILE records every packet in and out; tshark opens the file and
# shows each echo request with its reply.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin pcap
command -v tshark >/dev/null || it_fail "tshark not installed (apt-get install tshark)"
cap=$IT_WORK/capture.pcap
it_start --pcap "$cap"

ns_exec ping -n -c 4 -i 0.1 -W 2 -w 10 "$US_ADDR" >/dev/null || it_fail "ping failed"
ns_exec ping -n -c 1 -s 3000 -W 2 -w 10 "$US_ADDR" >/dev/null || it_fail "ping -s 3000 failed"
it_stop

[[ -s $cap ]] || it_fail "no capture file"
file_info=$(capinfos -t -E "$cap" 2>/dev/null || true)
echo "$file_info" | sed 's/^/  capinfos: /'
tshark -r "$cap" >"$IT_WORK/tshark.txt" 2>"$IT_WORK/tshark.err" ||
  it_fail "tshark cannot read the capture: $(cat "$IT_WORK/tshark.err")"
head -n 12 "$IT_WORK/tshark.txt"
it_ok "tshark -r reads the capture"

tshark -r "$cap" -Y "icmp.type == 8 && ip.src == $US_HOST && ip.dst == $US_ADDR" \
  >"$IT_WORK/req.txt" 2>/dev/null || it_fail "tshark filter for requests failed"
tshark -r "$cap" -Y "icmp.type == 0 && ip.src == $US_ADDR && ip.dst == $US_HOST && icmp.resp_to" \
  >"$IT_WORK/rep.txt" 2>/dev/null || it_fail "tshark filter for replies failed"
req=$(wc -l <"$IT_WORK/req.txt")
rep=$(wc -l <"$IT_WORK/rep.txt")
[[ $req -eq 5 ]] || it_fail "capture shows $req echo requests, want 5"
[[ $rep -eq 5 ]] || it_fail "capture shows $rep replies matched to a request, want 5"
it_ok "5 echo requests in, 5 replies out, each matched to its request"
# ICMP checksums are always verified; the IP header checksum on request.
tshark -r "$cap" -o ip.check_checksum:TRUE \
  -Y 'ip.checksum.status == "Bad" || icmp.checksum.status == "Bad" || _ws.malformed' \
  >"$IT_WORK/bad.txt" 2>"$IT_WORK/tshark.err" || it_fail "tshark filter: $(cat "$IT_WORK/tshark.err")"
bad=$(wc -l <"$IT_WORK/bad.txt")
[[ $bad -eq 0 ]] || it_fail "tshark finds $bad packets with bad checksums or malformed: $(head -n 5 "$IT_WORK/bad.txt")"
it_ok "no bad checksum or malformed packet in the capture"
it_end
