# shellcheck shell=bash
# netns.sh - run ustackd in a network namespace of our own, and clean up.
#
# Source it, then:
#   ns_create [TAG]                 make a namespace "us-TAG-<pid>-<rand>" ($NS)
#   ns_enable_ipv6                  IPv6 on in it (off by default)
#   ns_start_ustackd LOG ARGS...    start ustackd in it (TUN inside the
#                                   namespace), wait until the link is up;
#                                   sets USTACKD_PID
#   ns_exec CMD...                  run a command in the namespace
#   ns_bg CMD...                    start a command in the namespace in the
#                                   background and remember its PID
#   ns_stop_ustackd                 SIGTERM, wait (bounded); returns its exit
#                                   status (SIGKILL after NS_STOP_TIMEOUT s)
#   ns_on_exit CMD                  run CMD (a string) during cleanup
#
# Safety (docs/ARCHITECTURE.md section 9): every packet stays in the namespace this
# file creates; cleanup runs on EXIT and on INT/TERM/HUP (and so on any
# error under `set -e`), kills only the PIDs started here, then deletes the
# namespace. Nothing on the host's own interfaces is touched.
#
# Environment: USTACKD (path to the binary; default build/apps/ustackd/ustackd),
# US_DEV (tun0), US_HOST (10.0.0.1), US_ADDR (10.0.0.2), US_PREFIX (24), and the
# IPv6 side ustackd gives the link by default: US_HOST6 (fd00::1), US_ADDR6 (fd00::2).

NS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
US_ROOT=${US_ROOT:-$(cd "$NS_LIB_DIR/../.." && pwd)}
USTACKD=${USTACKD:-$US_ROOT/build/apps/ustackd/ustackd}
US_DEV=${US_DEV:-tun0}
US_HOST=${US_HOST:-10.0.0.1}
US_ADDR=${US_ADDR:-10.0.0.2}
US_PREFIX=${US_PREFIX:-24}
US_HOST6=${US_HOST6:-fd00::1}
US_ADDR6=${US_ADDR6:-fd00::2}
NS_STOP_TIMEOUT=${NS_STOP_TIMEOUT:-10}
NS=""
USTACKD_PID=""
NS_PIDS=()
NS_CLEANUP_CMDS=()
NS_CLEANED=0

ns_log() { printf '%s\n' "$*" >&2; }

# Why this machine cannot run namespace tests, or nothing if it can.
ns_cannot_run() {
  if [[ $EUID -ne 0 ]]; then echo "not root (namespaces and TUN need root)"; return; fi
  if [[ ! -c /dev/net/tun ]]; then echo "no /dev/net/tun (modprobe tun)"; return; fi
  if ! command -v ip >/dev/null; then echo "no 'ip' command (apt-get install iproute2)"; return; fi
  if [[ ! -x $USTACKD ]]; then echo "ustackd not built at $USTACKD"; return; fi
}

# Kill one PID we started: TERM, bounded wait, then KILL.
ns_kill_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < NS_STOP_TIMEOUT * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    ns_log "netns: PID $pid ignored SIGTERM for ${NS_STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

ns_cleanup() {
  local rc=$?
  [[ $NS_CLEANED -eq 1 ]] && return $rc
  NS_CLEANED=1
  # shellcheck disable=SC2034 # read by cleanup commands (ns_on_exit)
  NS_EXIT_RC=$rc
  set +e
  local c p
  for c in "${NS_CLEANUP_CMDS[@]}"; do eval "$c"; done
  for p in "${NS_PIDS[@]}"; do ns_kill_pid "$p"; done
  if [[ -n $USTACKD_PID ]]; then ns_kill_pid "$USTACKD_PID"; fi
  if [[ -n $NS ]]; then
    # Any process still inside would keep the namespace (and its TUN)
    # alive; they are all ours, listed by the kernel for this namespace.
    local left
    left=$(ip netns pids "$NS" 2>/dev/null)
    for p in $left; do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null || ns_log "netns: could not delete namespace $NS"
  fi
  return $rc
}

ns_on_exit() { NS_CLEANUP_CMDS+=("$1"); }

ns_create() {
  local tag=${1:-ns}
  NS="us-${tag}-$$-${RANDOM}"
  trap ns_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  if ! ip netns add "$NS"; then
    local failed=$NS
    NS=""
    ns_log "netns: cannot create namespace $failed"
    return 1
  fi
  ip -n "$NS" link set lo up
  # Keep the capture and the counters to IPv4: without this the kernel
  # sends IPv6 router solicitations and MLD reports into the TUN.
  ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

ns_exec() { ip netns exec "$NS" "$@"; }

ns_bg() {
  ip netns exec "$NS" "$@" &
  NS_PIDS+=("$!")
}

# Wait until the TUN is up with the host address, or ustackd has died.
ns_wait_link() {
  local i addr link
  for ((i = 0; i < 100; i++)); do
    if ! kill -0 "$USTACKD_PID" 2>/dev/null; then
      return 1
    fi
    addr=$(ip -n "$NS" -4 addr show dev "$US_DEV" 2>/dev/null || true)
    link=$(ip -n "$NS" link show dev "$US_DEV" 2>/dev/null || true)
    if [[ $addr == *"inet $US_HOST/"* || $addr == *"inet $US_HOST "* ]] && [[ $link == *,UP* ]]; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# IPv6 in the namespace, for the tests and demos that use it (ns_create
# turns it off). Only what the TUN needs: ustackd gives the link its
# address without DAD; no link-local address (addr_gen_mode 1), so the
# kernel sends no router solicitations into the TUN. Call it before
# ns_start_ustackd, since a new interface takes the "default" settings.
ns_enable_ipv6() {
  ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 \
    net.ipv6.conf.default.disable_ipv6=0 net.ipv6.conf.default.addr_gen_mode=1 \
    net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.router_solicitations=0 >/dev/null
}

# Wait until the TUN has the kernel's IPv6 address (ustackd adds it right
# after the IPv4 one), or ustackd has died.
ns_wait_addr6() {
  local i addr
  for ((i = 0; i < 100; i++)); do
    kill -0 "$USTACKD_PID" 2>/dev/null || return 1
    addr=$(ip -n "$NS" -6 addr show dev "$US_DEV" 2>/dev/null || true)
    [[ $addr == *"inet6 $US_HOST6 "* ]] && return 0
    sleep 0.1
  done
  return 1
}

ns_start_ustackd() {
  local log=$1
  shift
  [[ -n $NS ]] || { ns_log "netns: ns_create first"; return 1; }
  ip netns exec "$NS" "$USTACKD" --dev "$US_DEV" --host "$US_HOST" --addr "$US_ADDR" \
    --prefix "$US_PREFIX" "$@" >"$log" 2>&1 &
  USTACKD_PID=$!
  if ! ns_wait_link; then
    ns_log "netns: ustackd did not bring $US_DEV up in $NS; its log:"
    sed 's/^/  | /' "$log" >&2
    return 1
  fi
}

# Stop ustackd and return its exit status (0 after a clean SIGTERM).
ns_stop_ustackd() {
  local pid=$USTACKD_PID i rc
  [[ -n $pid ]] || return 0
  USTACKD_PID=""
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < NS_STOP_TIMEOUT * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    ns_log "netns: ustackd (PID $pid) did not stop within ${NS_STOP_TIMEOUT}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rc=0
  wait "$pid" || rc=$?
  return $rc
}
