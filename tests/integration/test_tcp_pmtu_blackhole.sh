#!/usr/bin/env bash
# A PMTU black hole against the kernel: the same two namespaces as
# test_tcp_ts_pmtu.sh (a router between ustack's TUN and a veth of MTU 1000
# to a client), but the router's nftables drops the ICMP "fragmentation
# needed" it generates, so ustack's 1500-byte DF segments vanish without a
# word. With --pmtu-blackhole, ustack halves its MSS after the second
# timeout (RFC 4821 7.7 detection, Linux's tcp_mtu_probing=1) and the
# transfer completes; the capture shows no ICMP and no segment above 1000
# bytes once the MSS came down.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tcp_pmtu_blackhole
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/router_lib.sh"
command -v tshark >/dev/null || it_fail "tshark not installed (apt-get install tshark)"
command -v nft >/dev/null || it_fail "nft not installed (apt-get install nftables)"

bytes=$((1024 * 1024))
cap=$IT_WORK/capture.pcap

router_setup 1000 1500
# The black hole: the router's own ICMP errors never leave it.
ns_exec nft add table ip blackhole
ns_exec nft add chain ip blackhole out '{ type filter hook output priority 0; }'
ns_exec nft add rule ip blackhole out icmp type destination-unreachable icmp code frag-needed \
  counter drop || it_fail "nft cannot drop the ICMP here"

it_start --tcp-source 5002 --source-bytes "$bytes" --seed 13 --pcap "$cap" --no-offload \
  --pmtu-blackhole
router_client_recv "$bytes" "$IT_WORK/out.bin" 60 --timeout 50
dropped=$(ns_exec nft list table ip blackhole | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
it_ok "client behind a black hole received $bytes bytes, sha256 match (the router dropped $dropped of its ICMPs)"
it_stop

n=$(it_counter tcp_pmtu_blackhole)
[[ $n -ge 1 ]] || it_fail "tcp_pmtu_blackhole did not move"
[[ ${dropped:-0} -ge 1 ]] || it_fail "the router dropped no ICMP: no black hole was made"
tshark -r "$cap" -Y "icmp" -T fields -e frame.number >"$IT_WORK/icmp.txt" 2>/dev/null ||
  it_fail "tshark cannot read the capture"
[[ ! -s $IT_WORK/icmp.txt ]] || it_fail "an ICMP reached ustack: not a black hole"
tshark -r "$cap" -Y "ip.src == $US_ADDR && tcp" -T fields -e frame.number -e ip.len \
  >"$IT_WORK/out.txt" 2>/dev/null || it_fail "tshark cannot read the capture"
last_big=$(awk '$2 > 1000 {f = $1} END {print f + 0}' "$IT_WORK/out.txt")
after=$(awk -v f="$last_big" '$1 > f' "$IT_WORK/out.txt" | wc -l)
max_after=$(awk -v f="$last_big" '$1 > f {print $2}' "$IT_WORK/out.txt" | sort -n | tail -n 1)
[[ $after -gt 100 ]] || it_fail "only $after segments after the last one above 1000 bytes"
it_ok "no ICMP reached ustack; $n black-hole reduction(s); the last segment above 1000 bytes was frame $last_big, then $after segments of at most $max_after bytes"
it_end
