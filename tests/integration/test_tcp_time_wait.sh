#!/usr/bin/env bash
# The stack closes first (the source service), so its side goes
# FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT. With --msl 2, ustack-ss must show
# TIME-WAIT right after the transfer and nothing 2*MSL later.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tcp_time_wait
source "$IT_DIR/tcp_lib.sh"
it_start --tcp-source 19 --source-bytes 100000 --msl 2 --ctl "$IT_WORK/ctl.sock"

out=$(it_peer recv "$US_ADDR" 19 "$IT_WORK/out.bin") || it_fail "recv: $out"
[[ $out == "received 100000 "* ]] || it_fail "peer: $out"
it_ok "$out"
ss_out=$(it_ss)
grep -qE '^TIME-WAIT .*10\.0\.0\.2:19 ' <<<"$ss_out" || it_fail "no TIME-WAIT in: $ss_out"
it_ok "ustack-ss shows TIME-WAIT after the stack closed first"
sleep 4.5
ss_out=$(it_ss)
if grep -q 'TIME-WAIT' <<<"$ss_out"; then it_fail "TIME-WAIT still there after 2*MSL: $ss_out"; fi
it_ok "TIME-WAIT gone after 2*MSL (4 s)"
it_stop
[[ $(it_counter tcp_time_wait_expired) -ge 1 ]] || it_fail "tcp_time_wait_expired = 0"
it_ok "tcp_time_wait_expired counted"
it_end
