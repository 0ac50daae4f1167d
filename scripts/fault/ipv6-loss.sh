#!/usr/bin/env bash
# ipv6-loss.sh - a transfer both ways over IPv6 through loss, the first
# SYN-ACK over IPv6 dropped.
#
# Like transfer.sh, but the kernel connects to the stack's fd00::2: an
# upload to the --tcp-sink and a download from the --tcp-source, each
# checked byte for byte (SHA-256), through 3 % loss in each direction. The
# first SYN-ACK the stack sends over IPv6 is dropped by a rule
# (match=ip6&tcp.synack), so that connection opens only after a SYN-ACK
# retransmission (RFC 9293 3.8.1 / RFC 6298 backoff). A capture of the
# handshakes on the TUN shows every SYN-ACK with MSS = MTU - 60 (RFC 8200
# 5, RFC 9293 3.7.1) and hop limit 64; the stack's counters show the bytes
# went over IPv6, not IPv4.
#
#   scripts/fault/ipv6-loss.sh [BYTES]      (default 1 MiB; LOSS=3%)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BYTES=${1:-1048576} LOSS=${LOSS:-3%} SINK_PORT=9 SOURCE_PORT=19000 MTU=1500
fault_begin "ipv6-loss-$LOSS"
fault_use_ipv6
fault_start "tx:match=ip6&tcp.synack,count=1,action=drop;both:loss=$LOSS" --mtu "$MTU" \
  --tcp-sink "$SINK_PORT" --tcp-source "$SOURCE_PORT" --source-bytes "$BYTES"
# SYN and SYN-ACK segments over IPv6 (no extension headers: flags at 40 + 13).
fault_capture_start "ip6 and tcp and ip6[53] & 2 != 0"

fault_upload "$SINK_PORT" "$BYTES" 120
fault_download "$SOURCE_PORT" "$BYTES" 120
fault_capture_stop
fault_stop

from_us="ipv6.src == $US_ADDR6 && tcp.flags.syn == 1 && tcp.flags.ack == 1"
mapfile -t synacks < <(tshark -r "$FAULT_PCAP" -Y "$from_us" -T fields -e tcp.options.mss_val \
  -e ipv6.hlim 2>/dev/null)
[[ ${#synacks[@]} -ge 2 ]] || fault_fail "the capture holds ${#synacks[@]} SYN-ACKs from $US_ADDR6, want 2 or more"
for s in "${synacks[@]}"; do
  read -r mss hlim <<<"$s"
  [[ $mss -eq $((MTU - 60)) ]] || fault_fail "a SYN-ACK over IPv6 offers MSS $mss, want $((MTU - 60))"
  [[ $hlim -eq 64 ]] || fault_fail "a SYN-ACK over IPv6 has hop limit $hlim, want 64"
done

dropped=$(fault_inj_counter tx rule_dropped)
[[ $dropped -eq 1 ]] || fault_fail "the SYN-ACK rule dropped $dropped segments, want 1"
synack_rtx=$(fault_counter tcp_synack_retrans)
in6=$(fault_counter ip6_in_receives) in4=$(fault_counter ip_in_receives)
[[ $in6 -gt $((BYTES / 1500)) ]] || fault_fail "only $in6 IPv6 datagrams reached the stack"
[[ $in4 -lt 10 ]] || fault_fail "$in4 IPv4 datagrams reached the stack; the transfer was to be IPv6 only"
retrans=$(fault_counter tcp_retrans_segs)
fault_pass "up $FAULT_UP_BYTES B and down $FAULT_DOWN_BYTES B over IPv6, sha256 match; first SYN-ACK dropped, SYN-ACK retrans $synack_rtx; ${#synacks[@]} SYN-ACKs on the wire, all MSS $((MTU - 60)) hop limit 64; datagrams in: IPv6 $in6, IPv4 $in4; retrans $retrans, $(fault_inj_summary)"
