#!/usr/bin/env bash
# IPv6 at the IP layer against the kernel (docs/IPV6.md, docs/HOSTILE.md
# IP6-*): ping -6 of 3000 and 65000 bytes (the kernel fragments the
# requests, the stack reassembles them and fragments its replies), then
# hostile datagrams written into the TUN (RH0, an unknown next header, an
# unknown option of action 10, a tiny first fragment, a bad fragment
# length, overlapping fragments, a jumbogram, a bad ICMPv6 checksum, a SYN
# cut inside its TCP header, a SYN whose flags a fragment rewrites): each
# is counted under its reason and answered with exactly the parameter
# problem RFC 8200 / 5095 / 7112 ask for, or with nothing, while a ping -6
# running at the same time loses nothing and no fragmented SYN reaches
# TCP; and a flood of lone fragments
# that does not stop fragmented pings from completing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin ip6_hostile
it_need_ipv6
it_start
ns_wait_addr6 || it_fail "no $US_HOST6 on $US_DEV"

for size in 3000 65000; do
  out=$(ns_exec ping -6 -n -c 3 -i 0.2 -s "$size" -W 3 -w 30 "$US_ADDR6" 2>&1) ||
    it_fail "ping -6 -s $size failed: $out"
  grep -q ' 3 received, 0% packet loss' <<<"$out" ||
    it_fail "ping -6 -s $size: $(echo "$out" | tail -n 2)"
  if grep -qE 'wrong data|DUP!|BAD CHECKSUM' <<<"$out"; then it_fail "bad replies: $out"; fi
  it_ok "ping -6 -s $size: 3/3 byte-exact replies"
done

ping_out=$IT_WORK/ping6.out
ns_exec ping -6 -n -c 30 -i 0.05 -W 2 -w 30 "$US_ADDR6" >"$ping_out" 2>&1 &
ping_pid=$!
NS_PIDS+=("$ping_pid")
ns_exec python3 "$IT_DIR/inject6.py" "$US_DEV" "$US_HOST6" "$US_ADDR6" >"$IT_WORK/inject6.out" ||
  it_fail "wrong answers: $(cat "$IT_WORK/inject6.out")"
sed 's/^/    /' "$IT_WORK/inject6.out"
it_ok "every hostile datagram got exactly the parameter problem it asks for, or nothing"
wait "$ping_pid" || it_fail "ping -6 during injection failed: $(tail -n 3 "$ping_out")"
grep -q ' 30 received, 0% packet loss' "$ping_out" ||
  it_fail "ping -6 lost replies: $(tail -n 2 "$ping_out")"
it_ok "ping -6 during injection: 30/30"

# IP6-11: a flood of lone first fragments (20 000/s for 4 s, from the
# kernel's own address) while ping -6 -s 3000 runs: the oldest context is
# evicted for each new datagram, so the pings' datagrams still complete.
ns_bg timeout 15 python3 "$IT_DIR/frag_flood6.py" "$US_DEV" "$US_HOST6" "$US_ADDR6" 4 20000 \
  >"$IT_WORK/flood6.out"
flood_pid=${NS_PIDS[-1]}
sleep 0.3
out=$(ns_exec ping -6 -n -c 15 -i 0.2 -s 3000 -W 2 "$US_ADDR6" 2>&1) || true
wait "$flood_pid" 2>/dev/null || true
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
# As in test_frag_flood.sh: a ping may lose a fragment to the TUN queue.
[[ ${got:-0} -ge 11 ]] || it_fail "fragment flood: only ${got:-0}/15 ping -6 -s 3000 answered"
it_ok "fragment flood ($(cat "$IT_WORK/flood6.out")): ${got}/15 ping -6 -s 3000 answered"

it_stop
[[ $(it_counter ip6_reasm_evicted_source) -gt 0 ]] || it_fail "no IPv6 context evicted by source"
it_ok "evicted by source: $(it_counter ip6_reasm_evicted_source)"
# The two TCP cases (IP6-13): no segment ever reached TCP (this test
# sends no other TCP).
[[ $(it_counter tcp_in_segs) -eq 0 ]] ||
  it_fail "tcp_in_segs = $(it_counter tcp_in_segs): a fragmented SYN reached TCP"
it_ok "no SYN cut inside its header or rewritten by a fragment reached TCP"
for c in ip6_in_rh0 ip6_in_unknown_protos ip6_in_unknown_option ip6_in_frag_incomplete \
  ip6_in_frag_bad ip6_reasm_overlap ip6_in_jumbo icmp6_in_errors; do
  v=$(it_counter "$c")
  [[ $v -ge 1 ]] || it_fail "counter $c = $v, want >= 1"
  it_ok "dropped and counted: $c = $v"
done
[[ $(it_counter ip6_reasm_oks) -ge 6 ]] || it_fail "ip6_reasm_oks = $(it_counter ip6_reasm_oks), want >= 6"
[[ $(it_counter ip6_frag_oks) -ge 6 ]] || it_fail "ip6_frag_oks = $(it_counter ip6_frag_oks), want >= 6"
it_ok "reassembled $(it_counter ip6_reasm_oks), fragmented $(it_counter ip6_frag_oks) replies into $(it_counter ip6_frag_creates) fragments"
# 6 large + 30 small requests answered, and the flood's pings; none of
# the injected requests.
[[ $(it_counter icmp6_out_echo_reps) -eq $((36 + got)) ]] ||
  it_fail "icmp6_out_echo_reps = $(it_counter icmp6_out_echo_reps), want $((36 + got))"
it_ok "no reply to any hostile request"
it_end
