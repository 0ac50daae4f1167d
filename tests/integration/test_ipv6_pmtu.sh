#!/usr/bin/env bash
# IPv6 path MTU discovery (RFC 8201) against a real kernel router.
#
#   ustackd --TUN-- [router namespace: the kernel forwards] --veth-- [client]
#   fd00::2         fd00::1 (tun0)      fd00:1::1 (MTU 1280)  fd00:1::2 (MTU 1500)
#
# The client announces MSS 1440, so ustack sends 1500-byte IPv6 packets;
# the router's veth takes 1280 at most, so the router's kernel answers with
# ICMPv6 packet too big (MTU 1280; IPv6 routers never fragment, RFC 8200
# 5). The capture (ustackd --pcap, --no-offload so it shows what goes on
# the link) must show the packet too big and every TCP segment from ustack
# after it at most 1280 bytes (MSS 1280 - 60 less the timestamps); the
# client must receive exactly the bytes --tcp-source sent (SHA-256). Then
# the same path with the TUN's offloads (the kernel cuts ustack's IPv6
# super-segments, docs/OFFLOAD.md): the bytes arrive and the MSS drops.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin ipv6_pmtu
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/router_lib.sh"
command -v tshark >/dev/null || it_fail "tshark not installed (apt-get install tshark)"
it_need_ipv6

bytes=$((2 * 1024 * 1024))
cap=$IT_WORK/capture.pcap
router_setup 1280 1500
router_add_ipv6
it_start --tcp-source 5002 --source-bytes "$bytes" --seed 12 --pcap "$cap" --no-offload
ns_wait_addr6 || it_fail "no $US_HOST6 on $US_DEV"

# client_recv: the client reads --tcp-source over IPv6; bytes and SHA-256
# must match what the source logged for [$CLIENT6].
client_recv() {
  local out=$IT_WORK/out.bin got sha
  ip netns exec "$NS2" timeout 120 nc -6 -d "$US_ADDR6" 5002 >"$out" 2>"$IT_WORK/nc.err" ||
    it_fail "nc -6 from $CLIENT6: $(tail -n 1 "$IT_WORK/nc.err")"
  got=$(stat -c %s "$out")
  sha=$(sha256sum "$out" | cut -d' ' -f1)
  [[ $got -eq $bytes ]] || it_fail "the client received $got bytes, want $bytes"
  it_wait_log "tcp-source: \[$CLIENT6\]:[0-9]+: $bytes bytes sha256 $sha" 30 ||
    it_fail "the source did not log $bytes bytes with sha256 $sha to [$CLIENT6]"
}
client_recv
it_ok "client behind a 1280-byte hop received $bytes bytes over IPv6, sha256 match"
it_stop

lowered=$(it_counter tcp_pmtu_reduced)
[[ $lowered -ge 1 ]] || it_fail "tcp_pmtu_reduced is $lowered"
tsh() { tshark -r "$cap" -Y "$1" -T fields "${@:2}" 2>"$IT_WORK/tshark.err" ||
  it_fail "tshark -Y '$1': $(cat "$IT_WORK/tshark.err")"; }
ptb=$(tsh "icmpv6.type == 2 && ipv6.dst == $US_ADDR6" -e frame.number -e icmpv6.mtu | head -n 1)
[[ -n $ptb ]] || it_fail "no ICMPv6 packet too big in the capture"
read -r ptb_frame ptb_mtu <<<"$ptb"
[[ $ptb_mtu == 1280 ]] || it_fail "packet too big says MTU $ptb_mtu, want 1280"
ours="ipv6.src == $US_ADDR6 && tcp && !icmpv6"
big_before=$(tsh "$ours && ipv6.plen > 1240 && frame.number < $ptb_frame" -e frame.number | wc -l)
big_after=$(tsh "$ours && ipv6.plen > 1240 && frame.number > $ptb_frame" -e frame.number | wc -l)
after=$(tsh "$ours && frame.number > $ptb_frame" -e frame.number | wc -l)
[[ $big_before -ge 1 ]] || it_fail "no segment above 1280 bytes before the packet too big"
[[ $big_after -eq 0 ]] || it_fail "$big_after segments above 1280 bytes after the packet too big"
[[ $after -gt $((bytes / 1220)) ]] || it_fail "only $after segments after the packet too big"
it_ok "packet too big (MTU 1280) at frame $ptb_frame: $big_before larger segments before, all $after after it fit 1280 (tcp_pmtu_reduced $lowered)"

it_start --tcp-source 5002 --source-bytes "$bytes" --seed 13
ns_wait_addr6 || it_fail "no $US_HOST6 on $US_DEV"
client_recv
it_stop
lowered=$(it_counter tcp_pmtu_reduced)
[[ $lowered -ge 1 ]] || it_fail "with offloads: tcp_pmtu_reduced is $lowered"
it_ok "with offloads: $bytes bytes over IPv6 through the 1280-byte hop, sha256 match, tcp_pmtu_reduced $lowered"
it_end
