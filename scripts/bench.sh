#!/usr/bin/env bash
# bench.sh - ustack's bulk TCP throughput beside two references measured in
# the same run (DESIGN.md section 8, issue 3 "First benchmark"):
#
#   (a) the TUN limit: apps/tun-limit, one thread moving packets through a
#       TUN with no protocol work: a TCP sink that only ACKs (the kernel's
#       TCP sends), a TCP source that only fills the kernel's window (the
#       kernel receives), and raw UDP write and read rates;
#   (b) the kernel's own TCP between two namespaces over a veth pair
#       (apps/usload on both ends);
#   (c) ustack: ustackd --tcp-sink / --tcp-source, driven by apps/usload
#       (kernel sockets) in ustackd's namespace: host -> stack into the
#       sink, stack -> host from the source; and the connection rate
#       (usload conns against the sink, beside the kernel over veth).
#
#   sudo scripts/bench.sh [--bytes N] [--ref-bytes N] [--repeat K] ...
#
# Prints a table: test, MB/s (10^6 bytes of TCP payload per second), the
# ratio to the TUN limit and to the kernel in the same direction, and the
# CPU the stack side (tun-limit or ustackd) spent per GB, which stays
# meaningful when other work shares the machine; then conn/s. There
# are no pass/fail thresholds (figures are ratios, never timed tests), but
# the script exits non-zero if any transfer fails, is short, or its SHA-256
# differs from what was sent. Every step is bounded by --timeout.
#
# Safety (DESIGN.md section 9): all packets stay in namespaces this script
# creates (us-bench-<pid>-*); they are deleted on exit, also on failure or
# Ctrl-C; only PIDs started here are killed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
BYTES=100000000      # ustack transfers
REF_BYTES=400000000  # kernel and TUN-sink transfers (they are much faster)
SECONDS_TUN=2        # length of the TUN read/write measurements
REPEAT=1
TIMEOUT=120          # bound on any single step, seconds
SEED=20261123
MTU=1500
WINDOW=262144        # the TUN sink's window: ustack's default tcp_rcvbuf
CONNS=5000           # connection-rate test: cycles (0 = skip)
PARALLEL=50          # ... of which at most this many at once
ONLY="tun,kernel,ustack"
DO_BUILD=1

usage() {
  cat <<EOF
usage: sudo $0 [options]
  --bytes N        bytes per ustack transfer (default $BYTES)
  --ref-bytes N    bytes per kernel / TUN-sink transfer (default $REF_BYTES)
  --seconds S      TUN read/write measurement length (default $SECONDS_TUN)
  --repeat K       run each measurement K times, report the median (default 1)
  --timeout S      bound on each step (default $TIMEOUT)
  --conns N        connection cycles for the conn/s rows, 0 = none (default $CONNS)
  --parallel P     connections in flight in that test (default $PARALLEL)
  --mtu M          MTU of the TUNs and the veth (default $MTU)
  --seed S         stream seed (default $SEED)
  --only LIST      comma-separated subset of: tun,kernel,ustack (default all)
  --build-dir DIR  build directory (default \$BUILD_DIR or $ROOT/build)
  --no-build       use the binaries as they are
EOF
  exit 2
}

while [[ $# -gt 0 ]]; do
  case $1 in
  --bytes) BYTES=$2; shift 2 ;;
  --ref-bytes) REF_BYTES=$2; shift 2 ;;
  --seconds) SECONDS_TUN=$2; shift 2 ;;
  --repeat) REPEAT=$2; shift 2 ;;
  --timeout) TIMEOUT=$2; shift 2 ;;
  --mtu) MTU=$2; shift 2 ;;
  --conns) CONNS=$2; shift 2 ;;
  --parallel) PARALLEL=$2; shift 2 ;;
  --seed) SEED=$2; shift 2 ;;
  --only) ONLY=$2; shift 2 ;;
  --build-dir) BUILD=$2; shift 2 ;;
  --no-build) DO_BUILD=0; shift ;;
  -h | --help) usage ;;
  *) echo "bench: unknown argument '$1'" >&2; usage ;;
  esac
done
# The client closes first, so each cycle leaves a TIME-WAIT (and holds an
# ephemeral port) in the client's namespace for 60 s: stay well below the
# 28k ports of the default range over all repetitions.
[[ $CONNS =~ ^[0-9]+$ ]] && ((CONNS * ${REPEAT//[^0-9]/0} <= 25000)) ||
  { echo "bench: --conns times --repeat must be at most 25000" >&2; exit 2; }
for v in BYTES REF_BYTES SECONDS_TUN REPEAT TIMEOUT MTU SEED PARALLEL; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { echo "bench: $v must be a positive integer" >&2; exit 2; }
done
((REPEAT <= 20 && SECONDS_TUN <= 60 && TIMEOUT <= 3600)) ||
  { echo "bench: --repeat <= 20, --seconds <= 60, --timeout <= 3600" >&2; exit 2; }
want() { [[ ",$ONLY," == *",$1,"* ]]; }
for w in ${ONLY//,/ }; do
  [[ $w == tun || $w == kernel || $w == ustack ]] || { echo "bench: --only: unknown test '$w'" >&2; exit 2; }
done

[[ $EUID -eq 0 ]] || { echo "bench: needs root (namespaces, TUN)" >&2; exit 1; }
[[ -c /dev/net/tun ]] || { echo "bench: no /dev/net/tun (modprobe tun)" >&2; exit 1; }

USLOAD=$BUILD/apps/usload/usload
TUNLIMIT=$BUILD/apps/tun-limit/tun-limit
USTACKD=$BUILD/apps/ustackd/ustackd
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ustack-bench.XXXXXX")
# Measurements run in command substitutions (subshells), so failures are
# recorded in a file, not a variable.
FAILURES=$WORK/failures
: >"$FAILURES"
fail() { echo "bench: FAIL: $*" >&2; echo "$*" >>"$FAILURES"; }

# --- namespaces and cleanup ------------------------------------------------
# scripts/lib/netns.sh runs ustackd in a namespace of its own and owns the
# EXIT trap; the reference namespaces below are registered with it.
export USTACKD US_DEV=tun0 US_HOST=10.0.0.1 US_ADDR=10.0.0.2 US_PREFIX=24
# shellcheck source=lib/netns.sh
source "$ROOT/scripts/lib/netns.sh"
MY_NS=()
MEASURE_PID="" # the measurement running now (a background subshell of ours)
bench_cleanup() {
  local p n
  if [[ -n $MEASURE_PID ]]; then
    kill -TERM "$MEASURE_PID" 2>/dev/null
    wait "$MEASURE_PID" 2>/dev/null
  fi
  # What the measurement started runs inside our namespaces.
  for n in "${MY_NS[@]}"; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$n" 2>/dev/null
  done
  rm -rf "$WORK"
}
ns_create bench || exit 1 # sets the EXIT/INT/TERM traps
ns_on_exit bench_cleanup

# The connection test's client closes first and leaves a TIME-WAIT per
# cycle; Linux's connect() slows to seconds per port once about half of the
# ephemeral range is in TIME-WAIT (measured: 10k of 28k). A wider range, in
# our namespaces only, keeps the client out of the way.
wide_ports() { ip netns exec "$1" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" >/dev/null 2>&1 || true; }
wide_ports "$NS"

my_ns() { # my_ns NAME: a namespace of ours, lo up, IPv4 only
  local n="us-bench-$$-$1"
  ip netns add "$n" || return 1
  MY_NS+=("$n")
  ip -n "$n" link set lo up
  wide_ports "$n"
  ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

# Background command (inside a measurement); sets BG_PID. The function
# that starts it also waits for it; cleanup finds it in our namespaces.
bg() {
  "$@" &
  BG_PID=$!
}

# Wait (bounded) until a TCP port listens in a namespace.
wait_listen() { # wait_listen NS PORT
  local i
  for ((i = 0; i < 100; i++)); do
    ip netns exec "$1" ss -Htln "sport = :$2" 2>/dev/null | grep -q . && return 0
    sleep 0.05
  done
  return 1
}

# key=value from a result line: kv LINE KEY
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1" | head -n1; }

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# --- build -----------------------------------------------------------------
if ((DO_BUILD)); then
  echo "bench: building in $BUILD" >&2
  if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/cmake.log" 2>&1 ||
      { tail -n 30 "$WORK/cmake.log"; echo "bench: cmake failed" >&2; exit 1; }
  fi
  cmake --build "$BUILD" -j2 --target usload tun-limit >"$WORK/build.log" 2>&1 ||
    { tail -n 30 "$WORK/build.log"; echo "bench: building the tools failed" >&2; exit 1; }
  if want ustack && ! cmake --build "$BUILD" -j2 --target ustackd >"$WORK/build-ustackd.log" 2>&1; then
    tail -n 20 "$WORK/build-ustackd.log" >&2
    fail "ustackd does not build (log above)"
  fi
fi
for b in "$USLOAD" "$TUNLIMIT"; do
  [[ -x $b ]] || { echo "bench: $b is missing" >&2; exit 1; }
done
if grep -q '^USTACK_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  echo "bench: WARNING: $BUILD is built with sanitizers; figures are not representative" >&2
fi

# --- results ---------------------------------------------------------------
# One row per test: name, direction (in = host -> stack, out = stack ->
# host), MB/s. The TUN limit and the kernel of each direction are the rows
# tagged ref=tun / ref=kernel.
ROWS=()
CONN_ROWS=()
REF_TUN_in="" REF_TUN_out="" REF_KERNEL_in="" REF_KERNEL_out="" REF_KERNEL_conn=""
CPU_TUN_in="" CPU_TUN_out=""
add_row() { # add_row NAME DIR [tun|kernel]: from RESULT and RESULT_CPU
  ROWS+=("$1|$2|$RESULT|${RESULT_CPU:--}")
  case ${3:-} in
  tun)
    printf -v "REF_TUN_$2" '%s' "$RESULT"
    printf -v "CPU_TUN_$2" '%s' "$RESULT_CPU"
    ;;
  kernel) printf -v "REF_KERNEL_$2" '%s' "$RESULT" ;;
  esac
}
# run_median FUNC ARGS...: FUNC prints "RATE [CPU]" (CPU: the stack side's
# CPU seconds per 10^9 bytes, or "-"); sets RESULT and RESULT_CPU to the
# medians over REPEAT runs. Each run is a background job the script waits
# for, so a signal is handled at once (bash defers traps while a foreground
# command such as $(...) runs) and cleanup can kill it.
RESULT="" RESULT_CPU=""
run_median() {
  local i pid
  RESULT="" RESULT_CPU=""
  : >"$WORK/measure.all"
  for ((i = 0; i < REPEAT; i++)); do
    "$@" >"$WORK/measure.out" &
    pid=$!
    MEASURE_PID=$pid
    wait "$pid"
    local rc=$?
    MEASURE_PID="" # reaped: its PID is no longer ours to kill
    ((rc == 0)) || return 1
    head -n1 "$WORK/measure.out" >>"$WORK/measure.all"
  done
  RESULT=$(awk '{print $1}' "$WORK/measure.all" | median)
  RESULT_CPU=$(awk '$2 ~ /^[0-9.]+$/ {print $2}' "$WORK/measure.all" | median)
  [[ -n $RESULT ]]
}
# CPU seconds per 10^9 bytes: per_gb CPU_SECONDS BYTES; "-" below 0.05 s,
# where the kernel's tick-based accounting (10 ms) makes it meaningless.
per_gb() { awk -v c="$1" -v b="$2" 'BEGIN { if (c + 0 < 0.05) print "-"; else printf "%.2f", c / (b / 1e9) }'; }
# ustackd's CPU time so far, in seconds (utime + stime from /proc).
ustackd_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$USTACKD_PID/stat"; }

LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
echo "bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# --- (a) the TUN limit -----------------------------------------------------
TUN_HOST=10.99.0.1 TUN_ADDR=10.99.0.2
tun_rw() { # tun_rw read|write: tcp_equiv MB/s
  local line
  line=$(timeout "$TIMEOUT" ip netns exec "$TNS" "$TUNLIMIT" --dev tunlim0 --host "$TUN_HOST" \
    --addr "$TUN_ADDR" --mtu "$MTU" --seconds "$SECONDS_TUN" --port 9000 "$1" 2>>"$WORK/tun.err") ||
    { fail "tun-limit $1 failed: $(tail -n 3 "$WORK/tun.err")"; return 1; }
  echo "  $line" >&2
  kv "$line" tcp_equiv_mbps
}
tun_sink() { # the kernel's TCP into the ACK-only sink: MB/s (seen by usload)
  local line sink_line
  bg timeout "$TIMEOUT" ip netns exec "$TNS" "$TUNLIMIT" --dev tunlim0 --host "$TUN_HOST" \
    --addr "$TUN_ADDR" --mtu "$MTU" --port 9000 --window "$WINDOW" --timeout "$TIMEOUT" \
    tcp-sink >"$WORK/sink.out" 2>"$WORK/sink.err"
  local pid=$BG_PID
  local i
  for ((i = 0; i < 100; i++)); do
    ip -n "$TNS" -4 addr show dev tunlim0 2>/dev/null | grep -q "inet $TUN_HOST" && break
    sleep 0.05
  done
  line=$(ip netns exec "$TNS" "$USLOAD" --timeout "$TIMEOUT" --seed "$SEED" \
    send $TUN_ADDR 9000 "$REF_BYTES") || { fail "usload send into tun-limit tcp-sink failed"; wait "$pid"; return 1; }
  wait "$pid" || { fail "tun-limit tcp-sink failed: $(cat "$WORK/sink.err")"; return 1; }
  sink_line=$(cat "$WORK/sink.out")
  echo "  $sink_line" >&2
  [[ $(kv "$sink_line" bytes) == "$REF_BYTES" ]] ||
    { fail "tun-limit tcp-sink got $(kv "$sink_line" bytes) bytes, not $REF_BYTES"; return 1; }
  echo "$(kv "$line" mbps) $(per_gb "$(kv "$sink_line" cpu_s)" "$REF_BYTES")"
}
tun_source() { # the kernel's TCP receiving from the window-only source
  local line src_line pid i
  bg timeout "$TIMEOUT" ip netns exec "$TNS" "$TUNLIMIT" --dev tunlim0 --host "$TUN_HOST" \
    --addr "$TUN_ADDR" --mtu "$MTU" --port 9000 --bytes "$REF_BYTES" --timeout "$TIMEOUT" \
    tcp-source >"$WORK/source.out" 2>"$WORK/source.err"
  pid=$BG_PID
  for ((i = 0; i < 100; i++)); do
    ip -n "$TNS" -4 addr show dev tunlim0 2>/dev/null | grep -q "inet $TUN_HOST" && break
    sleep 0.05
  done
  line=$(ip netns exec "$TNS" "$USLOAD" --timeout "$TIMEOUT" --no-hash --expect "$REF_BYTES" \
    recv "$TUN_ADDR" 9000) || { fail "usload recv from tun-limit tcp-source failed"; wait "$pid"; return 1; }
  wait "$pid" || { fail "tun-limit tcp-source failed: $(cat "$WORK/source.err")"; return 1; }
  src_line=$(cat "$WORK/source.out")
  echo "  $src_line" >&2
  grep -q 'stall' "$WORK/source.err" && echo "  (tcp-source: $(grep stall "$WORK/source.err"))" >&2
  echo "$(kv "$line" mbps) $(per_gb "$(kv "$src_line" cpu_s)" "$REF_BYTES")"
}

if want tun; then
  echo "bench: (a) TUN limit" >&2
  my_ns tun && TNS="us-bench-$$-tun"
  run_median tun_sink && add_row "TUN limit: TCP sink, kernel sender" in tun
  run_median tun_source && add_row "TUN limit: TCP source, kernel receiver" out tun
  run_median tun_rw write && add_row "TUN limit: write (UDP, pre-built)" out
  run_median tun_rw read && add_row "TUN limit: read (UDP, kernel sender)" in
fi

# --- (b) the kernel over veth ----------------------------------------------
# Two namespaces, one veth pair at the same MTU. The veth keeps its default
# offloads (TSO/GSO/GRO): this is the kernel's TCP as it really runs.
K_A=10.98.0.1 K_B=10.98.0.2
kernel_send() { # A -> B: usload send into usload serve
  local line srv
  bg timeout "$TIMEOUT" ip netns exec "$KB" "$USLOAD" --timeout "$TIMEOUT" --seed "$SEED" \
    --expect "$REF_BYTES" serve 9100 >"$WORK/kserve.out" 2>"$WORK/kserve.err"
  local pid=$BG_PID
  wait_listen "$KB" 9100 || { fail "usload serve did not listen"; return 1; }
  line=$(ip netns exec "$KA" "$USLOAD" --timeout "$TIMEOUT" --seed "$SEED" \
    send $K_B 9100 "$REF_BYTES") || { fail "kernel: usload send failed"; wait "$pid"; return 1; }
  wait "$pid" || { fail "kernel: the receiving usload serve failed: $(cat "$WORK/kserve.err")"; return 1; }
  srv=$(cat "$WORK/kserve.out")
  [[ $(kv "$srv" sha256) == "$(kv "$line" sha256)" && -n $(kv "$line" sha256) ]] ||
    { fail "kernel send: SHA-256 differs (sent $(kv "$line" sha256), received $(kv "$srv" sha256))"; return 1; }
  echo "  $line" >&2
  kv "$line" mbps
}
kernel_recv() { # B -> A: usload recv from usload serve --send
  local line srv
  bg timeout "$TIMEOUT" ip netns exec "$KB" "$USLOAD" --timeout "$TIMEOUT" --seed "$SEED" \
    --send "$REF_BYTES" serve 9101 >"$WORK/kserve.out" 2>"$WORK/kserve.err"
  local pid=$BG_PID
  wait_listen "$KB" 9101 || { fail "usload serve did not listen"; return 1; }
  line=$(ip netns exec "$KA" "$USLOAD" --timeout "$TIMEOUT" --seed "$SEED" \
    --expect "$REF_BYTES" recv $K_B 9101) || { fail "kernel: usload recv failed: $line"; wait "$pid"; return 1; }
  wait "$pid" || { fail "kernel: the sending usload serve failed: $(cat "$WORK/kserve.err")"; return 1; }
  srv=$(cat "$WORK/kserve.out")
  [[ $(kv "$srv" sha256) == "$(kv "$line" sha256)" && $(kv "$line" verified) == yes ]] ||
    { fail "kernel recv: SHA-256 differs (sent $(kv "$srv" sha256), received $(kv "$line" sha256))"; return 1; }
  echo "  $line" >&2
  kv "$line" mbps
}

# Connection rate: N cycles of connect, FIN from the client, FIN back,
# close (usload conns), at most --parallel at once, against a server that
# closes on EOF. The client closes first, so TIME-WAIT stays on its side.
kernel_conns() {
  local line pid
  bg timeout "$TIMEOUT" ip netns exec "$KB" "$USLOAD" --timeout "$TIMEOUT" --no-hash \
    --count "$CONNS" serve 9102 >/dev/null 2>"$WORK/kserve.err"
  pid=$BG_PID
  wait_listen "$KB" 9102 || { fail "usload serve did not listen"; return 1; }
  line=$(ip netns exec "$KA" "$USLOAD" --timeout "$TIMEOUT" --parallel "$PARALLEL" \
    conns $K_B 9102 "$CONNS") || { fail "kernel: usload conns failed: $line"; wait "$pid"; return 1; }
  wait "$pid" || { fail "kernel: usload serve (conns) failed: $(cat "$WORK/kserve.err")"; return 1; }
  echo "  $line" >&2
  kv "$line" conn_per_s
}

if want kernel; then
  echo "bench: (b) kernel TCP over veth" >&2
  if my_ns ka && my_ns kb; then
    KA="us-bench-$$-ka" KB="us-bench-$$-kb"
    ip link add vbench$$a netns "$KA" type veth peer name vbench$$b netns "$KB" &&
      ip -n "$KA" link set vbench$$a mtu "$MTU" up &&
      ip -n "$KB" link set vbench$$b mtu "$MTU" up &&
      ip -n "$KA" addr add $K_A/24 dev vbench$$a &&
      ip -n "$KB" addr add $K_B/24 dev vbench$$b || fail "cannot set up the veth pair"
    run_median kernel_send && add_row "kernel TCP, veth: A -> B" in kernel
    run_median kernel_recv && add_row "kernel TCP, veth: B -> A" out kernel
    if ((CONNS > 0)) && run_median kernel_conns; then
      CONN_ROWS+=("kernel TCP, veth: A -> B|$RESULT")
      REF_KERNEL_conn=$RESULT
    fi
  else
    fail "cannot create the kernel namespaces"
  fi
fi

# --- (c) ustack ------------------------------------------------------------
# ustackd in netns.sh's namespace ($NS) with a TUN; usload is the kernel
# peer in the same namespace. The sink logs "N bytes sha256 H" per
# connection and the source sends the seeded stream, so both directions are
# checked end to end.
SINK_PORT=9001 SOURCE_PORT=9002
ustack_log_line() { # ustack_log_line PATTERN: wait (bounded) for a log line
  local i l
  for ((i = 0; i < 40; i++)); do
    l=$(grep -E "$1" "$WORK/ustackd.log" | tail -n1)
    [[ -n $l ]] && { echo "$l"; return 0; }
    sleep 0.05
  done
  return 1
}
ustack_in() { # host -> stack: usload send into --tcp-sink
  local line logl before cpu0
  before=$(grep -c 'tcp-sink:' "$WORK/ustackd.log")
  cpu0=$(ustackd_cpu)
  line=$(ns_exec "$USLOAD" --timeout "$TIMEOUT" --seed "$SEED" send "$US_ADDR" $SINK_PORT "$BYTES") ||
    { fail "ustack: usload send into the sink failed"; return 1; }
  local cpu
  cpu=$(awk -v a="$(ustackd_cpu)" -v b="$cpu0" 'BEGIN { printf "%.2f", a - b }')
  local i
  for ((i = 0; i < 40; i++)); do
    (($(grep -c 'tcp-sink:' "$WORK/ustackd.log") > before)) && break
    sleep 0.05
  done
  logl=$(grep 'tcp-sink:' "$WORK/ustackd.log" | tail -n1)
  [[ $logl == *" $BYTES bytes sha256 $(kv "$line" sha256)"* ]] ||
    { fail "ustack sink: sent $BYTES bytes sha256 $(kv "$line" sha256); ustackd logged: ${logl:-nothing}"; return 1; }
  echo "  $line (ustackd CPU $cpu s)" >&2
  echo "$(kv "$line" mbps) $(per_gb "$cpu" "$BYTES")"
}
ustack_conns() { # connection cycles against the sink (it closes on EOF)
  local line
  line=$(ns_exec "$USLOAD" --timeout "$TIMEOUT" --parallel "$PARALLEL" \
    conns "$US_ADDR" $SINK_PORT "$CONNS") || { fail "ustack: usload conns failed: $line"; return 1; }
  echo "  $line" >&2
  kv "$line" conn_per_s
}
ustack_out() { # stack -> host: usload recv from --tcp-source
  local line cpu0 cpu
  cpu0=$(ustackd_cpu)
  line=$(ns_exec "$USLOAD" --timeout "$TIMEOUT" --seed "$SEED" --expect "$BYTES" \
    recv "$US_ADDR" $SOURCE_PORT) || { fail "ustack: usload recv from the source failed: $line"; return 1; }
  cpu=$(awk -v a="$(ustackd_cpu)" -v b="$cpu0" 'BEGIN { printf "%.2f", a - b }')
  [[ $(kv "$line" verified) == yes ]] ||
    { fail "ustack source: content differs from the stream: $line"; return 1; }
  echo "  $line (ustackd CPU $cpu s)" >&2
  echo "$(kv "$line" mbps) $(per_gb "$cpu" "$BYTES")"
}

if want ustack; then
  echo "bench: (c) ustack" >&2
  # ustackd's sink and source hash every byte with SHA-256 (apps/common);
  # measure what that alone costs here, to read the CPU column against.
  SHA_LINE=$("$USLOAD" sha 200 2>/dev/null) && SHA_CPU=$(per_gb "$(kv "$SHA_LINE" cpu_s)" 200000000)
  if [[ ! -x $USTACKD ]]; then
    fail "ustackd is not built at $USTACKD"
  elif ! "$USTACKD" --help 2>&1 | grep -q -- '--tcp-sink'; then
    fail "this ustackd has no --tcp-sink/--tcp-source"
  elif ! ns_start_ustackd "$WORK/ustackd.log" --mtu "$MTU" --tcp-sink $SINK_PORT \
    --tcp-source $SOURCE_PORT --source-bytes "$BYTES" --seed "$SEED"; then
    fail "ustackd did not start"
  else
    run_median ustack_in && add_row "ustack: host -> stack (sink)" in
    run_median ustack_out && add_row "ustack: stack -> host (source)" out
    if ((CONNS > 0)) && run_median ustack_conns; then
      CONN_ROWS+=("ustack: host -> stack (sink)|$RESULT")
    fi
    ns_stop_ustackd || fail "ustackd exited with status $? (log: $WORK/ustackd.log)"
    if grep -qiE 'AddressSanitizer|runtime error|assert' "$WORK/ustackd.log"; then
      sed 's/^/  | /' "$WORK/ustackd.log" | tail -n 30 >&2
      fail "ustackd reported an error"
    fi
  fi
fi

# --- the table -------------------------------------------------------------
ratio() { # ratio VALUE REF
  [[ -n $2 && -n $1 ]] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }' || echo "-"
}
echo
printf '%-46s %8s %7s %7s  %8s %7s\n' "test (in = host -> stack, out = stack -> host)" "MB/s" "xTUN" "xkernel" \
  "CPU s/GB" "xTUN"
printf '%-46s %8s %7s %7s  %8s %7s\n' "$(printf '%.0s-' {1..46})" "--------" "-------" "-------" "--------" "-------"
for r in "${ROWS[@]}"; do
  IFS='|' read -r name dir mb cpu <<<"$r"
  tun_ref="REF_TUN_$dir" k_ref="REF_KERNEL_$dir" cpu_ref="CPU_TUN_$dir"
  printf '%-46s %8.1f %7s %7s  %8s %7s\n' "$name ($dir)" "$mb" "$(ratio "$mb" "${!tun_ref}")" \
    "$(ratio "$mb" "${!k_ref}")" "$cpu" "$( [[ $cpu == - ]] && echo - || ratio "$cpu" "${!cpu_ref}")"
done
if [[ -n ${SHA_CPU:-} ]]; then
  echo "(of ustack's CPU s/GB, about $SHA_CPU is the services' own SHA-256 of every byte: usload sha, one core)"
fi
if ((${#CONN_ROWS[@]})); then
  echo
  printf '%-46s %8s %7s %7s\n' "connections ($CONNS, $PARALLEL in flight)" "conn/s" "" "xkernel"
  for r in "${CONN_ROWS[@]}"; do
    IFS='|' read -r name cps <<<"$r"
    printf '%-46s %8.0f %7s %7s\n' "$name" "$cps" "" "$(ratio "$cps" "$REF_KERNEL_conn")"
  done
fi
echo
echo "MB/s = 10^6 bytes of TCP payload per second, median of $REPEAT run(s); ustack transfers $BYTES bytes,"
echo "references $REF_BYTES bytes; MTU $MTU. xTUN and xkernel divide by the same direction's reference."
echo "TUN rows: one thread, no protocol work (apps/tun-limit, see its header). The TCP sink only ACKs"
echo "(window $WINDOW = ustack's tcp_rcvbuf); the TCP source sends pre-built segments within the"
echo "kernel's window; write/read are MTU-sized UDP packets/s shown as TCP payload (MTU - 40 each)."
echo "Kernel rows: two namespaces over veth, default offloads (TSO/GRO), both ends usload."
echo "CPU s/GB: CPU seconds (user + system, incl. the kernel work inside its system calls) that the"
echo "stack side (tun-limit or ustackd) spent per 10^9 bytes; robust to other load, unlike MB/s."
((${#CONN_ROWS[@]})) && echo "conn/s: usload conns (connect, FIN, FIN back, close); the client closes first."
LOAD_AFTER=$(cut -d' ' -f1 /proc/loadavg)
echo "Load average before/after: $LOAD_BEFORE / $LOAD_AFTER on $(nproc) CPUs."
if awk -v a="$LOAD_BEFORE" -v b="$LOAD_AFTER" 'BEGIN { exit !(a > 0.5 || b > 2.5) }'; then
  echo "NOTE: other work was running on this machine: absolute figures are noisy; compare the ratios."
fi
if [[ -s $FAILURES ]]; then
  echo "bench: $(wc -l <"$FAILURES") failure(s):" >&2
  sed 's/^/  /' "$FAILURES" >&2
  exit 1
fi
exit 0
