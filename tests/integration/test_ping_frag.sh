#!/usr/bin/env bash
# Echo requests larger than the MTU: the kernel fragments the request, the
# stack reassembles it, and fragments its reply, which the kernel
# reassembles. 3000 bytes (3 fragments) and 65000 (45 fragments).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin ping_frag
it_start

for size in 3000 65000; do
  out=$(ns_exec ping -n -c 3 -i 0.2 -s "$size" -W 3 -w 30 "$US_ADDR" 2>&1) ||
    it_fail "ping -s $size failed: $out"
  grep -q ' 3 received, 0% packet loss' <<<"$out" ||
    it_fail "ping -s $size: $(echo "$out" | tail -n 2)"
  if grep -qE 'wrong data|DUP!|BAD CHECKSUM' <<<"$out"; then it_fail "bad replies: $out"; fi
  it_ok "ping -s $size: 3/3 byte-exact replies"
done

it_stop
[[ $(it_counter ip_reasm_oks) -ge 6 ]] || it_fail "ip_reasm_oks = $(it_counter ip_reasm_oks), want >= 6"
it_ok "the stack reassembled $(it_counter ip_reasm_oks) datagrams"
[[ $(it_counter ip_frag_oks) -ge 6 ]] || it_fail "ip_frag_oks = $(it_counter ip_frag_oks), want >= 6"
it_ok "the stack fragmented $(it_counter ip_frag_oks) replies into $(it_counter ip_frag_creates) fragments"
it_end
