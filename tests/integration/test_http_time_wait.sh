#!/usr/bin/env bash
# A server that closes first fills its TCB pool with TIME-WAIT (docs/TCP.md,
# "TIME-WAIT under pressure"). ab sends HTTP/1.0 requests without
# keep-alive, so ustackd closes every connection first and keeps it in
# TIME-WAIT for 2*MSL = 60 s. With --max-conns 1024 this stalled after
# 1023 requests (new SYNs dropped, tcp_no_tcb). Now:
#  1. --max-time-wait 1024 (only the pool bounds TIME-WAIT): ab -n 3000
#     -c 50 over --http completes every request; the pool was full and
#     the oldest TIME-WAIT gave its slot (tcp_time_wait_reclaimed), no SYN
#     was dropped;
#  2. the same daemon over --https, 300 requests (the pool still full);
#  3. the default cap (half the pool): ab again, tcp_time_wait_overflow
#     counts the TIME-WAITs ended beyond it and the pool never fills.
# Every ab run is bounded (-s per request, timeout for the whole run).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin http_time_wait
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/https_lib.sh"
command -v ab >/dev/null || it_fail "ab not installed (apache2-utils)"

# ab_run N URL: run ab -n N -c 50, require N complete and 0 failed.
ab_run() {
  local n=$1 url=$2 out=$IT_WORK/ab.$RANDOM
  ns_exec timeout 120 ab -q -r -s 10 -n "$n" -c 50 "$url" >"$out" 2>&1 ||
    it_fail "ab $url stopped: $(tail -n 3 "$out" | tr '\n' ' ')"
  local done failed non2xx rps
  done=$(sed -n 's/^Complete requests: *\([0-9]*\).*/\1/p' "$out")
  failed=$(sed -n 's/^Failed requests: *\([0-9]*\).*/\1/p' "$out")
  non2xx=$(sed -n 's/^Non-2xx responses: *\([0-9]*\).*/\1/p' "$out")
  rps=$(sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p' "$out")
  [[ $done == "$n" && $failed == 0 && -z $non2xx ]] ||
    it_fail "ab $url: complete '$done' of $n, failed '$failed', non-2xx '${non2xx:-0}'"
  it_ok "ab -n $n -c 50 $url: $done complete, 0 failed ($rps req/s)"
}

# 1 and 2: the pool is the only bound on TIME-WAIT.
https_start --http 80 --max-conns 1024 --max-time-wait 1024
ab_run 3000 "http://$US_ADDR/"
ab_run 300 "https://$US_ADDR/"
it_stop
reclaimed=$(it_counter tcp_time_wait_reclaimed)
no_tcb=$(it_counter tcp_no_tcb)
((reclaimed > 0)) || it_fail "tcp_time_wait_reclaimed = 0: the pool never filled?"
((no_tcb == 0)) || it_fail "tcp_no_tcb = $no_tcb: SYNs were dropped for want of a TCB"
it_ok "tcp_time_wait_reclaimed = $reclaimed, tcp_no_tcb = 0"

# 3: the default cap, half the pool; ustack-ss --pools shows it full.
https_start --http 80 --max-conns 1024
ab_run 3000 "http://$US_ADDR/"
tw=$(it_ss --pools | sed -n 's/^time_wait \([0-9]*\/[0-9]*\)$/\1/p')
[[ $tw == 512/512 ]] || it_fail "ustack-ss --pools: time_wait '$tw', expected 512/512"
it_ok "ustack-ss --pools: time_wait $tw"
it_stop
overflow=$(it_counter tcp_time_wait_overflow)
reclaimed=$(it_counter tcp_time_wait_reclaimed)
((overflow > 0)) || it_fail "tcp_time_wait_overflow = 0 with the default cap"
((reclaimed == 0)) || it_fail "tcp_time_wait_reclaimed = $reclaimed: the pool filled despite the cap"
it_ok "default cap: tcp_time_wait_overflow = $overflow, the pool never full"
it_end
