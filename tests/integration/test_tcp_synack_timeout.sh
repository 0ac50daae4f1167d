#!/usr/bin/env bash
# The handshake timeout made real: nftables in the namespace drops the
# kernel's ACK of our SYN-ACK (every segment to the port without SYN), so
# ustack retransmits the SYN-ACK with exponential backoff and, after the
# last retry, sends a RST and frees the half-open connection. A capture
# on the TUN (tcpdump, independent of ustackd's own pcap) must show the
# SYN-ACKs at 0, 1, 3 s (RTO 1 s doubling, --synack-retries 2) and the RST
# at 7 s; ustack-ss must show nothing left but the listener.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tcp_synack_timeout
source "$IT_DIR/tcp_lib.sh"
command -v tcpdump >/dev/null || it_fail "tcpdump missing (apt-get install tcpdump)"
command -v nft >/dev/null || it_fail "nft missing (apt-get install nftables)"
it_start --tcp-echo 7 --synack-retries 2 --ctl "$IT_WORK/ctl.sock"

ns_exec nft -f - <<NFT || it_fail "nft rules"
table inet ustest {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr $US_ADDR tcp dport 7 tcp flags & syn == 0 counter drop
  }
}
NFT
ns_bg timeout 30 tcpdump -i "$US_DEV" -n -U -w "$IT_WORK/cap.pcap" "tcp port 7" 2>/dev/null
sleep 1
res=$(it_peer --timeout 10 hold "$US_ADDR" 7 15) || it_fail "peer: $res"
[[ $res == reset ]] || it_fail "the kernel's socket saw '$res', expected a reset"
it_ok "the kernel's socket was reset"
sleep 1.5 # let tcpdump write the RST before it is stopped
kill -INT "${NS_PIDS[-1]}" 2>/dev/null || true
wait "${NS_PIDS[-1]}" 2>/dev/null || true

# Times of our SYN-ACKs and RST relative to the first SYN-ACK.
lines=$(tcpdump -r "$IT_WORK/cap.pcap" -n -tt 2>/dev/null | grep "$US_ADDR.7 >")
echo "$lines" | sed 's/^/    /'
mapfile -t synacks < <(grep 'Flags \[S.\]' <<<"$lines" | awk '{print $1}')
rst=$(grep 'Flags \[R' <<<"$lines" | awk '{print $1}' | head -n 1)
[[ ${#synacks[@]} -eq 3 ]] || it_fail "expected 3 SYN-ACKs (1 + 2 retries), saw ${#synacks[@]}"
[[ -n $rst ]] || it_fail "no RST from the stack"
check_at() { # name actual expected
  awk -v a="$2" -v t0="${synacks[0]}" -v e="$3" 'BEGIN{d=a-t0; exit !(d>e-0.25 && d<e+0.4)}' ||
    it_fail "$1 at $(awk -v a="$2" -v t0="${synacks[0]}" 'BEGIN{print a-t0}') s, expected $3 s"
}
check_at "SYN-ACK retry 1" "${synacks[1]}" 1
check_at "SYN-ACK retry 2" "${synacks[2]}" 3
check_at "RST" "$rst" 7
it_ok "SYN-ACKs at 0, 1, 3 s and the RST at 7 s (RTO doubling from 1 s)"

ss_out=$(it_ss)
if grep -vE '^(State|LISTEN)' <<<"$ss_out" | grep -q ':7 '; then
  it_fail "ustack-ss still shows a connection: $ss_out"
fi
it_ok "ustack-ss shows only the listener"
it_stop
[[ $(it_counter tcp_synack_timeout) -eq 1 ]] || it_fail "tcp_synack_timeout != 1"
[[ $(it_counter tcp_synack_retrans) -eq 2 ]] || it_fail "tcp_synack_retrans != 2"
it_ok "counters: synack_retrans=2, synack_timeout=1"
it_end
