# shellcheck shell=bash
# tcp_lib.sh - helpers shared by the TCP integration tests (on top of lib.sh).
USTACK_SS=${USTACK_SS:-$(cd "$(dirname "$USTACKD")/.." && pwd)/ustack-ss/ustack-ss}
PEER="$IT_DIR/tcp_peer.py"

# ustack-ss against this test's daemon.
it_ss() { "$USTACK_SS" --ctl "$IT_WORK/ctl.sock" "$@"; }

# The kernel-side peer, inside the namespace.
it_peer() { ns_exec timeout 300 python3 "$PEER" "$@"; }

# Wait (bounded) until a line matching REGEX appears in the ustackd log.
it_wait_log() {
  local re=$1 secs=${2:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    grep -qE "$re" "$IT_LOG" && return 0
    sleep 0.1
  done
  return 1
}

# What the stack counted about resets, SYN cookies and limits, on one line:
# for a failure message when a client was reset, to say which path sent it.
it_reset_counters() {
  it_ss -s 2>/dev/null | grep -E 'rst|syncookie|synq|limit|listen|bad_syn' | tr -s ' ' | paste -sd ';' -
}

# it_clients_during_flood NAME PID ADDR PORT: while the flood process PID
# runs, up to three rounds of one echo client (100 KB) and a burst of 100
# simultaneous connects to the echo service at ADDR:PORT. Every client must
# succeed with no reset. Waits for the flood to end; reports with it_ok.
it_clients_during_flood() {
  local name=$1 pid=$2 addr=$3 port=$4 i out ok=0 bursts=0
  sleep 0.5 # the flood fills the SYN queue first
  for ((i = 1; i <= 3; i++)); do
    out=$(it_peer --timeout 20 echo "$addr" "$port" 100000) ||
      it_fail "$name: echo client $i during the flood: $out; counters: $(it_reset_counters)"
    ok=$((ok + 1))
    out=$(ns_exec timeout 60 python3 "$IT_DIR/conn_load.py" --timeout 40 burst "$addr" "$port" 100) ||
      it_fail "$name: burst $i: $out; counters: $(it_reset_counters)"
    [[ $out == "connected 100 refused 0 reset 0 timeout 0 echoed 100 of 100" ]] ||
      it_fail "$name: burst $i during the flood: $out; counters: $(it_reset_counters)"
    bursts=$((bursts + 1))
    kill -0 "$pid" 2>/dev/null || break
  done
  wait "$pid" 2>/dev/null || true
  it_ok "$name: $ok echo clients (100 KB) and $bursts bursts of 100 connects served, none reset"
}
