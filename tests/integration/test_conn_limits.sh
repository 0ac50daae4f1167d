#!/usr/bin/env bash
# Connection limits (issue 10, docs/LIMITS.md): with --conn-limit 30 and
# --per-source-limit 20, one client (10.0.0.1) holding 20 idle echo
# connections has its 21st refused at once (ECONNREFUSED: a RST to the
# SYN, counted); a second address on the kernel side (10.0.0.3) still
# connects to the same service until the service's limit of 30; the first
# client still connects to another service; ustack-ss shows the counts.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin conn_limits
source "$IT_DIR/tcp_lib.sh"
it_start --tcp-echo 7 --tcp-discard 9 --conn-limit 30 --per-source-limit 20 \
  --ctl "$IT_WORK/ctl.sock"
SRC_B=${US_SRC_B:-10.0.0.3}
ns_exec ip addr add "$SRC_B/$US_PREFIX" dev "$US_DEV" || it_fail "cannot add $SRC_B"
LOAD="$IT_DIR/conn_load.py"

# A: 21 connections held open for up to 60 s (killed at the end).
ns_bg timeout 90 python3 "$LOAD" --timeout 60 hold "$US_ADDR" 7 21 60 >"$IT_WORK/a.out"
for ((i = 0; i < 300; i++)); do [[ -s $IT_WORK/a.out ]] && break; sleep 0.1; done
a=$(cat "$IT_WORK/a.out")
[[ $a == "opened 20 refused 1 reset 0 timeout 0 of 21" ]] || it_fail "client A: '$a'"
it_ok "10.0.0.1 to echo: $a (per-source limit 20)"

ss=$(it_ss) || it_fail "ustack-ss failed"
grep -A1 -E "^LISTEN .*:7 " <<<"$ss" | grep -q "conns:20 conn_limit:30 per_source_limit:20" ||
  it_fail "ustack-ss does not show 20 connections on echo: $ss"
it_ok "ustack-ss: echo listener has conns:20 of conn_limit:30"

b=$(ns_exec timeout 60 python3 "$LOAD" --src "$SRC_B" --timeout 30 hold "$US_ADDR" 7 11 0)
[[ $b == "opened 10 refused 1 reset 0 timeout 0 of 11" ]] || it_fail "client B: '$b'"
it_ok "$SRC_B to echo: $b (the service's limit 30)"

c=$(ns_exec timeout 60 python3 "$LOAD" --timeout 30 hold "$US_ADDR" 9 5 0)
[[ $c == "opened 5 refused 0 reset 0 timeout 0 of 5" ]] || it_fail "client A to discard: '$c'"
it_ok "10.0.0.1 to another service (discard) while at its echo limit: $c"

it_stop
src=$(it_counter tcp_conn_limit_source)
lst=$(it_counter tcp_conn_limit_listener)
[[ $src -ge 1 && $lst -ge 1 ]] || it_fail "refusals not counted: source $src, listener $lst"
it_ok "counted: tcp_conn_limit_source $src, tcp_conn_limit_listener $lst"
it_end
