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
