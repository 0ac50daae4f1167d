#!/usr/bin/env bash
# 200 connections open at once to the echo service, each echoing its own
# pattern; then a closed port answers "connection refused".
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tcp_concurrent
source "$IT_DIR/tcp_lib.sh"
it_start --tcp-echo 7 --ctl "$IT_WORK/ctl.sock"

out=$(it_peer conns "$US_ADDR" 7 200 3000) || it_fail "200 concurrent: $out"
it_ok "$out"

out=$(it_peer refused "$US_ADDR" 4444) || it_fail "closed port: $out"
it_ok "closed port: $out"

it_stop
[[ $(it_counter tcp_passive_opens) -ge 200 ]] || it_fail "PassiveOpens < 200"
[[ $(it_counter tcp_out_rsts) -ge 1 ]] || it_fail "no RST counted for the closed port"
it_ok "counters: passive opens $(it_counter tcp_passive_opens), RSTs $(it_counter tcp_out_rsts)"
it_end
