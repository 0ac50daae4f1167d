#!/usr/bin/env bash
# RFC 7323 timestamps and RFC 1191 path MTU discovery against the kernel.
#
#   ustackd --TUN-- [router namespace: the kernel forwards] --veth-- [client]
#   10.0.0.2        10.0.0.1 (tun0)     10.0.1.1 (MTU 1000)   10.0.1.2 (MTU 1500)
#
# The client (a second namespace, made here) announces MSS 1460, so ustack
# sends 1500-byte segments with DF; the router's veth takes 1000 at most,
# so the router's kernel answers with ICMP "fragmentation needed" (MTU
# 1000). The capture (ustackd --pcap, read with tshark) must show: TSopt
# both ways, DF on every TCP segment from ustack, the ICMP, and every
# segment after it no larger than 1000 bytes; the client must receive
# exactly the bytes --tcp-source sent, with the same SHA-256.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tcp_ts_pmtu
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/router_lib.sh"
command -v tshark >/dev/null || it_fail "tshark not installed (apt-get install tshark)"

bytes=$((2 * 1024 * 1024))
cap=$IT_WORK/capture.pcap

# The router's hop to the client takes 1000 bytes at most.
router_setup 1000 1500

# --no-offload: the capture must show the segments as they go on the link;
# with TSO it would show the super-segments before the kernel cuts them
# (docs/OFFLOAD.md). The same path with offloads is checked at the end.
it_start --tcp-source 5002 --source-bytes "$bytes" --seed 11 --pcap "$cap" --no-offload
# ustack sends everything not on its link to the TUN, i.e. to the router.

router_client_recv "$bytes" "$IT_WORK/out.bin" 120
it_ok "client behind an MTU-1000 hop received $bytes bytes, sha256 match"
it_stop

[[ -s $cap ]] || it_fail "no capture file"
tsh() { tshark -r "$cap" -Y "$1" -T fields "${@:2}" 2>"$IT_WORK/tshark.err" ||
  it_fail "tshark -Y '$1': $(cat "$IT_WORK/tshark.err")"; }

# Timestamps both ways (RFC 7323), on the SYN and on data.
n_out=$(tsh "ip.src == $US_ADDR && tcp && !icmp && tcp.options.timestamp.tsval" -e frame.number | wc -l)
n_in=$(tsh "ip.src == $CLIENT && tcp && !icmp && tcp.options.timestamp.tsval" -e frame.number | wc -l)
n_tcp_out=$(tsh "ip.src == $US_ADDR && tcp && !icmp" -e frame.number | wc -l)
n_tcp_in=$(tsh "ip.src == $CLIENT && tcp && !icmp" -e frame.number | wc -l)
[[ $n_out -gt 0 && $n_out -eq $n_tcp_out ]] ||
  it_fail "TSopt on $n_out of $n_tcp_out segments from ustack"
[[ $n_in -gt 0 && $n_in -eq $n_tcp_in ]] || it_fail "TSopt on $n_in of $n_tcp_in segments from the kernel"
tsh "tcp.options.timestamp.tsval" -e ip.src -e ip.dst -e tcp.flags.str \
  -e tcp.options.timestamp.tsval -e tcp.options.timestamp.tsecr >"$IT_WORK/ts.txt"
head -n 4 "$IT_WORK/ts.txt" | sed 's/^/  tshark: /'
it_ok "TSopt (TSval/TSecr) on all $n_tcp_out segments from ustack and all $n_tcp_in from the kernel"
echo_ok=$(tsh "ip.src == $US_ADDR && tcp && !icmp && tcp.flags.syn == 0 && tcp.options.timestamp.tsecr == 0" \
  -e frame.number | wc -l)
[[ $echo_ok -eq 0 ]] || it_fail "$echo_ok segments from ustack echo TSecr 0 after the handshake"
it_ok "every non-SYN segment from ustack echoes a TSecr"

# DF on every TCP segment ustack sent (RFC 1191). (!icmp: the router's
# ICMP quotes our header, which tshark would match as "ip.src ... tcp".)
no_df=$(tsh "ip.src == $US_ADDR && tcp && !icmp && ip.flags.df == 0" -e frame.number | wc -l)
[[ $no_df -eq 0 ]] || it_fail "$no_df TCP segments from ustack without DF"
it_ok "DF set on all $n_tcp_out TCP segments from ustack"

# The router's ICMP, and what came after it.
icmp=$(tsh "icmp.type == 3 && icmp.code == 4" -e frame.number -e icmp.mtu | head -n 1)
[[ -n $icmp ]] || it_fail "no ICMP fragmentation needed in the capture"
read -r icmp_frame icmp_mtu <<<"$icmp"
[[ $icmp_mtu == 1000 ]] || it_fail "ICMP says next-hop MTU $icmp_mtu, want 1000"
big_before=$(tsh "ip.src == $US_ADDR && tcp && !icmp && ip.len > 1000 && frame.number < $icmp_frame" \
  -e frame.number | wc -l)
big_after=$(tsh "ip.src == $US_ADDR && tcp && !icmp && ip.len > 1000 && frame.number > $icmp_frame" \
  -e frame.number | wc -l)
max_after=$(tsh "ip.src == $US_ADDR && tcp && !icmp && frame.number > $icmp_frame" -e ip.len | sort -n | tail -n 1)
[[ $big_before -gt 0 ]] || it_fail "no segment over 1000 bytes before the ICMP: the test proves nothing"
[[ $big_after -eq 0 ]] || it_fail "$big_after segments over 1000 bytes after the ICMP (frame $icmp_frame)"
it_ok "ICMP frag-needed (MTU 1000) at frame $icmp_frame: $big_before segments over 1000 before, none after (largest $max_after)"
[[ $(it_counter tcp_pmtu_reduced) -ge 1 ]] || it_fail "tcp_pmtu_reduced did not move"
it_ok "counters: tcp_pmtu_reduced $(it_counter tcp_pmtu_reduced), tcp_pmtu_rexmit $(it_counter tcp_pmtu_rexmit), tcp_ts_negotiated $(it_counter tcp_ts_negotiated), tcp_rtt_ts_samples $(it_counter tcp_rtt_ts_samples)"

# With offloads (the default): the router's kernel cuts our TSO
# super-segments into DF segments too big for its 1000-byte hop and says
# so; the MSS, and with it gso_size, comes down and the bytes arrive.
it_start --tcp-source 5002 --source-bytes "$bytes" --seed 12
router_client_recv "$bytes" "$IT_WORK/out2.bin" 120
it_stop
[[ $(it_counter tcp_tso_segs_out) -gt 0 ]] || it_fail "offloads on, but no TSO super-segment"
[[ $(it_counter tcp_pmtu_reduced) -ge 1 ]] || it_fail "offloads on: tcp_pmtu_reduced did not move"
it_ok "with TSO: path MTU 1000 learnt, $bytes bytes with sha256 match ($(it_counter tcp_tso_segs_out) super-segments)"
it_end
