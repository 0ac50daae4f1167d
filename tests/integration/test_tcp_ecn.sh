#!/usr/bin/env bash
# ECN (RFC 3168) against the kernel.
#
#   ustackd --TUN-- [router namespace: forwards, nft marks CE] --veth-- [client]
#   10.0.0.2        10.0.0.1                  10.0.1.1             10.0.1.2
#
# The client (a second namespace, made here, net.ipv4.tcp_ecn=1) asks for
# ECN; ustackd's default mode accepts. The router's nftables sets CE on one
# in 50 of the ECT(0) packets it forwards to the client, which echoes ECE.
# The capture (ustackd --pcap, read with tshark) must show the ECN-setup
# SYN and SYN-ACK, ECT(0) on ustack's data, ECE from the client, CWR from
# ustack after it reduced, and the client must get every byte. Then the
# other way: ustackd --ecn on asks in an active open, and the kernel agrees.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tcp_ecn
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/router_lib.sh"
command -v tshark >/dev/null || it_fail "tshark not installed (apt-get install tshark)"
command -v nft >/dev/null || it_fail "nft not installed (apt-get install nftables)"

bytes=$((4 * 1024 * 1024))
cap=$IT_WORK/capture.pcap

router_setup
ip netns exec "$NS2" sysctl -qw net.ipv4.tcp_ecn=1 || it_fail "cannot enable ECN in the client namespace"
# The router marks: CE on every 50th ECT(0) packet towards the client.
ns_exec nft add table ip ecnmark
ns_exec nft add chain ip ecnmark fw '{ type filter hook forward priority 0; }'
ns_exec nft add rule ip ecnmark fw ip daddr "$CLIENT" ip ecn ect0 numgen inc mod 50 == 0 \
  ip ecn set ce || it_fail "nft cannot set CE here"

# --no-offload: the capture shows segments as they go on the link.
it_start --tcp-source 5002 --source-bytes "$bytes" --seed 5 --pcap "$cap" --no-offload

router_client_recv "$bytes" "$IT_WORK/out.bin" 120
it_ok "client received $bytes bytes through a CE-marking router, sha256 match"
it_stop

[[ -s $cap ]] || it_fail "no capture file"
count() {
  tshark -r "$cap" -Y "$1" -T fields -e frame.number 2>"$IT_WORK/tshark.err" >"$IT_WORK/n.txt" ||
    it_fail "tshark -Y '$1': $(cat "$IT_WORK/tshark.err")"
  wc -l <"$IT_WORK/n.txt"
}
[[ $(count "ip.src == $CLIENT && tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.flags.ece == 1 && tcp.flags.cwr == 1") -eq 1 ]] ||
  it_fail "no ECN-setup SYN (ECE+CWR) from the client"
[[ $(count "ip.src == $US_ADDR && !icmp && tcp.flags.syn == 1 && tcp.flags.ack == 1 && tcp.flags.ece == 1 && tcp.flags.cwr == 0") -eq 1 ]] ||
  it_fail "no ECN-setup SYN-ACK (ECE, no CWR) from ustack"
it_ok "ECN-setup SYN from the kernel, ECN-setup SYN-ACK from ustack"
data=$(count "ip.src == $US_ADDR && !icmp && tcp.len > 0")
ect=$(count "ip.src == $US_ADDR && !icmp && tcp.len > 0 && ip.dsfield.ecn == 2")
rexmit=$(it_counter tcp_retrans_segs)
[[ $ect -gt 0 && $((data - ect)) -le $rexmit ]] ||
  it_fail "ECT(0) on $ect of $data data segments ($rexmit retransmitted)"
notect=$(count "ip.src == $US_ADDR && !icmp && tcp.len == 0 && ip.dsfield.ecn != 0")
[[ $notect -eq 0 ]] || it_fail "$notect segments without data from ustack carry an ECN codepoint"
it_ok "ECT(0) on $ect of $data data segments from ustack (the rest: $rexmit retransmissions), none on the rest"
ece=$(count "ip.src == $CLIENT && tcp.flags.syn == 0 && tcp.flags.ece == 1")
cwr=$(count "ip.src == $US_ADDR && !icmp && tcp.flags.syn == 0 && tcp.flags.cwr == 1")
red=$(it_counter tcp_ecn_reductions)
[[ $ece -gt 0 ]] || it_fail "the client never echoed ECE"
[[ $cwr -gt 0 && $red -gt 0 ]] || it_fail "ustack answered $ece ECE ACKs with $cwr CWR segments, $red reductions"
[[ $cwr -le $red ]] || it_fail "$cwr CWR segments for $red reductions"
it_ok "$ece ACKs with ECE from the kernel; ustack reduced its window $red times and sent CWR on $cwr segments"

# The other way: ustack asks (--ecn on) in an active open to a kernel server
# in the router namespace, whose default (tcp_ecn=2) accepts.
cap=$IT_WORK/active.pcap
it_start --ecn on --connect "$US_HOST:6000" --client-send 1000000 --client-delay 1000 --seed 3 \
  --pcap "$cap" --no-offload
ns_bg timeout 60 python3 "$PEER" --timeout 50 serve "$US_HOST" 6000 >"$IT_WORK/server.log" 2>&1
it_wait_log "ustackd: client: .*sent [0-9]+ bytes" 60 || it_fail "client did not finish"
for ((i = 0; i < 50; i++)); do grep -q "server received" "$IT_WORK/server.log" && break; sleep 0.1; done
grep -q "server received 1000000 " "$IT_WORK/server.log" || it_fail "server: $(cat "$IT_WORK/server.log")"
it_stop
[[ $(count "ip.src == $US_ADDR && tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.flags.ece == 1 && tcp.flags.cwr == 1") -ge 1 ]] ||
  it_fail "ustack's SYN does not ask for ECN"
[[ $(count "ip.src == $US_HOST && tcp.flags.syn == 1 && tcp.flags.ack == 1 && tcp.flags.ece == 1 && tcp.flags.cwr == 0") -eq 1 ]] ||
  it_fail "the kernel's SYN-ACK does not agree to ECN"
ect=$(count "ip.src == $US_ADDR && tcp.len > 0 && ip.dsfield.ecn == 2")
[[ $ect -gt 0 && $(it_counter tcp_ecn_negotiated) -eq 1 ]] || it_fail "ECN not in use ($ect ECT(0) segments)"
it_ok "--ecn on: ECN-setup SYN from ustack, ECN-setup SYN-ACK from the kernel, $ect ECT(0) data segments, 1000000 bytes received"
it_end
