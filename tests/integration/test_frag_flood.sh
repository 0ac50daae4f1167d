#!/usr/bin/env bash
# Reassembly under a fragment flood (HOSTILE FR-4, issue 10): a bounded
# flood of lone first fragments (datagrams that never complete), first
# from random sources, then from one other address of the kernel's, while
# `ping -s 3000` (three fragments each way) runs. The 16 reassembly
# contexts fill at once; the oldest is evicted for each new datagram (and
# a source over its share loses its own oldest), so the pings keep getting
# their replies. Before eviction, 16 lone fragments blocked every
# fragmented datagram for the 30 s reassembly timeout.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin frag_flood
it_start
SRC_B=${US_SRC_B:-10.0.0.3}
ns_exec ip addr add "$SRC_B/$US_PREFIX" dev "$US_DEV" || it_fail "cannot add $SRC_B"

secs=${US_FLOOD_SECONDS:-5}
# 20 000 fragments/s turn the 16 contexts over more than 1000 times a
# second, yet stay below what a loaded machine's stack reads from the TUN,
# so a ping lost to the TUN queue is not mistaken for one lost here.
rate=${US_FLOOD_RATE:-20000}
count=20
flood() {
  local name=$1 out f
  shift
  ns_bg timeout $((secs + 10)) python3 "$IT_DIR/frag_flood.py" "$US_ADDR" "$secs" 2000000 --rate "$rate" "$@" \
    >"$IT_WORK/flood.out"
  f=${NS_PIDS[-1]}
  sleep 0.3
  out=$(ns_exec ping -n -c "$count" -i 0.2 -s 3000 -W 2 "$US_ADDR" 2>&1) || true
  wait "$f" 2>/dev/null || true
  local got
  got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
  echo "    $name: $(cat "$IT_WORK/flood.out"); ping: ${got:-0}/$count replies"
  if grep -qE 'wrong data|BAD CHECKSUM' <<<"$out"; then it_fail "$name: bad replies: $out"; fi
  # Under a flood a ping may still lose a fragment to the TUN queue; most
  # must come back (before eviction: none after the first 16 fragments).
  [[ ${got:-0} -ge $((count * 3 / 4)) ]] || it_fail "$name: only ${got:-0}/$count pings answered"
  it_ok "$name: ${got}/$count fragmented pings answered during the flood"
}
flood "lone fragments from random sources" --rand-source
flood "lone fragments from $SRC_B" --src "$SRC_B"

out=$(ns_exec ping -n -c 3 -i 0.2 -s 3000 -W 2 "$US_ADDR" 2>&1) || it_fail "ping after the flood: $out"
it_ok "after the flood: $(grep -o '[0-9]* received' <<<"$out")"

it_stop
ev=$(it_counter ip_reasm_evicted)
evs=$(it_counter ip_reasm_evicted_source)
[[ $ev -gt 0 ]] || it_fail "no reassembly context was evicted by age"
[[ $evs -gt 0 ]] || it_fail "no reassembly context was evicted by source"
it_ok "evicted: $ev oldest-first, $evs by source; reassembled $(it_counter ip_reasm_oks)"
it_end
