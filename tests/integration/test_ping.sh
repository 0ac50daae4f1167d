#!/usr/bin/env bash
# 50 echo requests from the kernel in the namespace, none lost, every reply
# byte-exact (ping checks id, sequence and payload of each reply).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin ping
it_start

out=$(ns_exec ping -n -c 50 -i 0.05 -W 2 -w 30 "$US_ADDR" 2>&1) || it_fail "ping failed: $out"
echo "$out" | tail -n 2
grep -q ' 50 received, 0% packet loss' <<<"$out" || it_fail "loss: $(echo "$out" | tail -n 2)"
it_ok "50/50 replies, 0% loss"
# ping flags damaged or mismatched replies ("wrong data", "DUP!").
if grep -qE 'wrong data|DUP!|BAD CHECKSUM' <<<"$out"; then it_fail "bad replies: $out"; fi
it_ok "no damaged or duplicate replies"

it_stop
[[ $(it_counter icmp_out_echo_reps) -ge 50 ]] || it_fail "icmp_out_echo_reps < 50"
it_ok "icmp_out_echo_reps = $(it_counter icmp_out_echo_reps)"
it_end
