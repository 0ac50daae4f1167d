#!/usr/bin/env bash
# Malformed datagrams written into the TUN from the namespace (bad header
# checksum, total length beyond the data, IHL < 5, version 5, truncated,
# bad option, bad ICMP checksum) are each dropped and counted under their
# reason, while a ping running at the same time loses nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin malformed
it_start

ping_out=$IT_WORK/ping.out
ns_exec ping -n -c 40 -i 0.05 -W 2 -w 30 "$US_ADDR" >"$ping_out" 2>&1 &
ping_pid=$!
NS_PIDS+=("$ping_pid")
sleep 0.5
for _ in 1 2 3; do
  ns_exec python3 "$IT_DIR/inject.py" "$US_DEV" "$US_HOST" "$US_ADDR" >"$IT_WORK/inject.out" ||
    it_fail "injection failed: $(cat "$IT_WORK/inject.out")"
  sleep 0.2
done
cat "$IT_WORK/inject.out"
wait "$ping_pid" || it_fail "ping during injection failed: $(tail -n 3 "$ping_out")"
grep -q ' 40 received, 0% packet loss' "$ping_out" || it_fail "ping lost replies: $(tail -n 2 "$ping_out")"
it_ok "ping during injection: 40/40"

it_dump_counters
for c in ip_in_bad_csum ip_in_bad_len ip_in_bad_ihl ip_in_bad_version ip_in_too_short \
  ip_in_bad_options icmp_in_errors; do
  v=$(it_counter "$c")
  [[ $v -ge 3 ]] || it_fail "counter $c = $v, want >= 3 (one per injection round)"
  it_ok "dropped and counted: $c = $v"
done
out=$(ns_exec ping -n -c 5 -i 0.05 -W 2 -w 10 "$US_ADDR" 2>&1) || it_fail "ping after injection: $out"
it_ok "ping after injection: 5/5"

it_stop
# The malformed echo requests were never answered: exactly the 45 good
# requests got replies.
[[ $(it_counter icmp_out_echo_reps) -eq 45 ]] ||
  it_fail "icmp_out_echo_reps = $(it_counter icmp_out_echo_reps), want 45"
it_ok "no reply to any malformed request"
it_end
