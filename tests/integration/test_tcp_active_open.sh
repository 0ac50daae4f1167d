#!/usr/bin/env bash
# Active open from the stack: a kernel server in the namespace receives
# what ustack's client sends; the client closes first (FIN-WAIT, TIME-WAIT)
# and both sides' SHA-256 must match.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tcp_active_open
source "$IT_DIR/tcp_lib.sh"
# The server binds the host address, which exists once ustackd has set up
# the TUN; the client starts 2 s later.
it_start --connect "$US_HOST:6000" --client-send 3000000 --client-delay 2000 --seed 11 \
  --ctl "$IT_WORK/ctl.sock"
ns_bg timeout 60 python3 "$PEER" --timeout 50 serve "$US_HOST" 6000 >"$IT_WORK/server.log" 2>&1
it_wait_log "ustackd: client: .*sent [0-9]+ bytes" 60 || it_fail "client did not finish"
for ((i = 0; i < 50; i++)); do grep -q "server received" "$IT_WORK/server.log" && break; sleep 0.1; done
srv=$(grep "server received" "$IT_WORK/server.log") || it_fail "server: $(cat "$IT_WORK/server.log")"
cli=$(grep "ustackd: client:" "$IT_LOG" | tail -n 1)
sha_srv=$(awk '{print $5}' <<<"$srv")
grep -q "sent 3000000 bytes sha256 $sha_srv" <<<"$cli" || it_fail "client: '$cli' server: '$srv'"
it_ok "stack -> kernel server: 3000000 bytes, sha256 match"
ss_out=$(it_ss)
grep -qE '^TIME-WAIT .*10\.0\.0\.1:6000' <<<"$ss_out" || it_fail "no TIME-WAIT: $ss_out"
it_ok "the client's connection is in TIME-WAIT (it closed first)"
it_stop
[[ $(it_counter tcp_active_opens) -eq 1 ]] || it_fail "ActiveOpens != 1"
it_ok "ActiveOpens = 1"
it_end
