#!/usr/bin/env bash
# TUN offloads (docs/OFFLOAD.md): a bulk transfer each way with offloads on
# (the default) must arrive whole (SHA-256 on both sides) AND must have used
# them: GSO super-packets in, TSO super-segments out, seen in the counters
# and in the pcap (a datagram from the stack longer than the MTU). Then the
# same with --no-offload: same hashes, and no super-packet either way.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tcp_offload
source "$IT_DIR/tcp_lib.sh"
command -v tshark >/dev/null || it_fail "tshark not installed (apt-get install tshark)"
mb=${US_OFFLOAD_MB:-16}
bytes=$((mb * 1024 * 1024))
head -c "$bytes" /dev/urandom >"$IT_WORK/in.bin"
want=$(sha256sum "$IT_WORK/in.bin" | cut -d' ' -f1)

# One run: both transfers, hashes checked. $1 is a label, the rest ustackd flags.
both_ways() {
  local label=$1 out got
  shift
  it_start --tcp-sink 5001 --tcp-source 5002 --source-bytes "$bytes" --seed 9 "$@"
  out=$(it_peer send "$US_ADDR" 5001 "$IT_WORK/in.bin") || it_fail "$label: send: $out"
  [[ $out == "sent $bytes sha256 $want" ]] || it_fail "$label: peer says: $out"
  it_wait_log "tcp-sink: .*: $bytes bytes sha256 $want" 30 ||
    it_fail "$label: sink did not log $bytes bytes with sha256 $want"
  out=$(it_peer recv "$US_ADDR" 5002 "$IT_WORK/out.bin") || it_fail "$label: recv: $out"
  got=$(sha256sum "$IT_WORK/out.bin" | cut -d' ' -f1)
  it_wait_log "tcp-source: .*: $bytes bytes sha256 $got" 30 ||
    it_fail "$label: source did not log $bytes bytes with sha256 $got (peer: $out)"
  it_stop
  it_ok "$label: $mb MB each way, SHA-256 match"
}

cap=$IT_WORK/offload.pcap
both_ways "offloads on" --pcap "$cap"
grep -q 'offloads tso4+tso6+csum out, gso+csum in' "$IT_LOG" ||
  it_fail "the daemon did not report offloads on: $(grep -m1 'up:' "$IT_LOG")"
gso_in=$(it_counter ip_gso_in)
tso_out=$(it_counter tcp_tso_segs_out)
tun_gso=$(it_counter tun_tx_gso)
csum_in=$(it_counter ip_in_csum_offload)
[[ $gso_in -gt 0 ]] || it_fail "no GSO super-packet came in (ip_gso_in = 0)"
[[ $tso_out -gt 0 ]] || it_fail "no TSO super-segment went out (tcp_tso_segs_out = 0)"
[[ $tun_gso -eq $tso_out ]] || it_fail "tun_tx_gso $tun_gso != tcp_tso_segs_out $tso_out"
[[ $csum_in -gt 0 ]] || it_fail "no partial checksum came in (ip_in_csum_offload = 0)"
[[ $(it_counter tcp_in_csum_errors) -eq 0 ]] || it_fail "TCP checksum errors with offloads on"
[[ $(it_counter ip_in_bad_offload) -eq 0 ]] || it_fail "offload metadata rejected"
it_ok "counters: ip_gso_in=$gso_in tcp_tso_segs_out=$tso_out ip_in_csum_offload=$csum_in"
big_out=$(tshark -r "$cap" -Y "ip.src == $US_ADDR && tcp && ip.len > 1500" 2>/dev/null | wc -l)
big_in=$(tshark -r "$cap" -Y "ip.dst == $US_ADDR && tcp && ip.len > 1500" 2>/dev/null | wc -l)
[[ $big_out -gt 0 ]] || it_fail "the pcap shows no super-segment from the stack"
[[ $big_in -gt 0 ]] || it_fail "the pcap shows no GSO super-packet to the stack"
it_ok "pcap: $big_out super-segments out, $big_in super-packets in (IPv4 length > MTU)"

both_ways "--no-offload" --no-offload
grep -q 'offloads off' "$IT_LOG" || it_fail "--no-offload: the daemon did not report offloads off"
for c in ip_gso_in tcp_tso_segs_out tcp_csum_offload_out ip_in_csum_offload; do
  [[ $(it_counter $c) -eq 0 ]] || it_fail "--no-offload: $c = $(it_counter $c), want 0"
done
it_ok "--no-offload: no super-packet and no partial checksum either way"
it_end
