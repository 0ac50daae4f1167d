#!/usr/bin/env bash
# bench.sh - ustack measured beside references taken in the same run
# (docs/PERFORMANCE.md says how to read it; docs/ARCHITECTURE.md section 8):
#
#   TUN limit  apps/tun-limit: one thread on a TUN set up like ustackd's,
#              doing no protocol work: an ACK-only TCP sink, a window-only
#              TCP source, and "reflect" (stateless echo, SYN-ACK, FIN-ACK,
#              ICMP echo reply) for request/response, connections and ping.
#   kernel     Linux's TCP between two namespaces over a veth pair,
#              apps/usload on both ends (its epoll server, same modes as
#              ustackd's services), apps/tls-ref (ustack's TLS layer over
#              kernel sockets) for HTTPS and TLS handshakes.
#   lwIP       apps/lwip-ref (Debian's liblwip, raw API, a TUN netif), when
#              it is built: discard, chargen, echo, ping.
#   ustack     ustackd with discard, chargen, echo, sink, source, HTTPS (and
#              --http when this ustackd has it); again with --no-offload
#              when it has that option.
#
#   sudo scripts/bench.sh [--only LIST] [--repeat K] [--quick] ...
#
# What is measured (sections for --only): bulk (MB/s both ways, over IPv4
# and then IPv6, and the stack side's CPU seconds per GB), rr (100-byte echo at 10 and 100
# connections: transactions/s, p99), conns (connect/close cycles per s),
# http (wrk keep-alive over HTTP and HTTPS; TLS handshakes/s with openssl
# s_time), ping (RTT median and p99), idle (ustackd's RSS while 10k and 100k
# idle connections are held, and whether ping and a new connection are still
# served), verify (a SHA-256-checked transfer each way through ustack).
#
# Nothing but the transfer is inside a clock: the timed runs send a buffer
# filled beforehand and only count bytes (apps/usload's header); integrity
# is proven by the separate verified transfers. Progress goes to stderr; the
# result is a markdown table on stdout. No pass/fail thresholds: the exit
# status is non-zero only when a transfer fails its check or a tool fails.
#
# Safety (docs/ARCHITECTURE.md section 9): every packet stays in namespaces this script
# creates (us-bench-*), deleted on exit, also on failure or Ctrl-C; only
# processes started here (all inside those namespaces) are killed; every
# step is bounded by --timeout and every load by a count or a duration.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
BYTES=1000000000     # ustack and lwIP bulk transfers (the same as the references: short runs are noisy)
REF_BYTES=1000000000 # kernel and TUN-limit bulk transfers (they are faster)
VERIFY_BYTES=50000000
REPEAT=3
RR_SECONDS=3
RR_SIZE=100
CONNS=5000
PARALLEL=50
HTTP_SECONDS=3
HTTP_CONNS=10
PINGS=300
IDLE="10000,100000"
TIMEOUT=180          # bound on any single step, seconds
SEED=20261123
MTU=1500
WINDOW=262144        # the TUN sink's window: ustack's default tcp_rcvbuf
ONLY="bulk,rr,conns,http,ping,idle,verify"
TARGETS="tun,kernel,lwip,ustack"
DO_BUILD=1

usage() {
  cat <<EOF
usage: sudo $0 [options]
  --only LIST       sections, comma-separated (default $ONLY)
  --targets LIST    what to measure: tun,kernel,lwip,ustack (default all)
  --repeat K        run each measurement K times, report the median (default $REPEAT)
  --quick           small counts to check the script: --repeat 1, 20 MB, 1 s, 1000 idle
  --bytes N         bytes per ustack / lwIP bulk transfer (default $BYTES)
  --ref-bytes N     bytes per kernel / TUN-limit bulk transfer (default $REF_BYTES)
  --verify-bytes N  bytes of each SHA-256-checked transfer (default $VERIFY_BYTES)
  --rr-seconds S    length of each request/response run (default $RR_SECONDS)
  --conns N         connect/close cycles per run (default $CONNS), --parallel P in flight ($PARALLEL)
  --http-seconds S  length of each wrk / s_time run (default $HTTP_SECONDS)
  --pings N         pings per RTT measurement, 10 ms apart (default $PINGS)
  --idle LIST       idle connection counts to hold (default $IDLE)
  --timeout S       bound on each step (default $TIMEOUT)
  --mtu M           MTU of the TUNs and the veth (default $MTU)
  --seed S          stream seed of the verified transfers (default $SEED)
  --build-dir DIR   build directory (default \$BUILD_DIR or $ROOT/build)
  --no-build        use the binaries as they are
EOF
  exit 2
}

while [[ $# -gt 0 ]]; do
  case $1 in
  --only) ONLY=$2; shift 2 ;;
  --targets) TARGETS=$2; shift 2 ;;
  --repeat) REPEAT=$2; shift 2 ;;
  --quick)
    REPEAT=1 BYTES=20000000 REF_BYTES=50000000 VERIFY_BYTES=5000000 RR_SECONDS=1 CONNS=500
    HTTP_SECONDS=1 PINGS=50 IDLE=1000
    shift ;;
  --bytes) BYTES=$2; shift 2 ;;
  --ref-bytes) REF_BYTES=$2; shift 2 ;;
  --verify-bytes) VERIFY_BYTES=$2; shift 2 ;;
  --rr-seconds) RR_SECONDS=$2; shift 2 ;;
  --conns) CONNS=$2; shift 2 ;;
  --parallel) PARALLEL=$2; shift 2 ;;
  --http-seconds) HTTP_SECONDS=$2; shift 2 ;;
  --pings) PINGS=$2; shift 2 ;;
  --idle) IDLE=$2; shift 2 ;;
  --timeout) TIMEOUT=$2; shift 2 ;;
  --mtu) MTU=$2; shift 2 ;;
  --seed) SEED=$2; shift 2 ;;
  --build-dir) BUILD=$2; shift 2 ;;
  --no-build) DO_BUILD=0; shift ;;
  -h | --help) usage ;;
  *) echo "bench: unknown argument '$1'" >&2; usage ;;
  esac
done
for v in BYTES REF_BYTES VERIFY_BYTES REPEAT RR_SECONDS CONNS PARALLEL HTTP_SECONDS PINGS TIMEOUT MTU SEED; do
  [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { echo "bench: $v must be a positive integer" >&2; exit 2; }
done
((REPEAT <= 20 && RR_SECONDS <= 60 && HTTP_SECONDS <= 60 && PINGS <= 10000 && TIMEOUT <= 3600 &&
  PARALLEL <= 1000)) ||
  { echo "bench: --repeat <= 20, --rr-seconds and --http-seconds <= 60, --pings <= 10000, --parallel <= 1000, --timeout <= 3600" >&2; exit 2; }
# The client closes first, so each cycle leaves a TIME-WAIT (and holds an
# ephemeral port, of the 64k the namespaces get below) for 60 s.
((CONNS * REPEAT <= 25000)) || { echo "bench: --conns times --repeat must be at most 25000" >&2; exit 2; }
[[ $IDLE =~ ^[0-9]+(,[0-9]+)*$ ]] || { echo "bench: --idle takes counts like 10000,100000" >&2; exit 2; }
for n in ${IDLE//,/ }; do
  ((n >= 1 && n <= 200000)) || { echo "bench: --idle counts are 1..200000" >&2; exit 2; }
done
want() { [[ ",$ONLY," == *",$1,"* ]]; }
target() { [[ ",$TARGETS," == *",$1,"* ]]; }
for w in ${ONLY//,/ }; do
  [[ ,bulk,rr,conns,http,ping,idle,verify, == *",$w,"* ]] || { echo "bench: --only: unknown section '$w'" >&2; exit 2; }
done
for w in ${TARGETS//,/ }; do
  [[ ,tun,kernel,lwip,ustack, == *",$w,"* ]] || { echo "bench: --targets: unknown target '$w'" >&2; exit 2; }
done

[[ $EUID -eq 0 ]] || { echo "bench: needs root (namespaces, TUN)" >&2; exit 1; }
[[ -c /dev/net/tun ]] || { echo "bench: no /dev/net/tun (modprobe tun)" >&2; exit 1; }

USLOAD=$BUILD/apps/usload/usload
TUNLIMIT=$BUILD/apps/tun-limit/tun-limit
USTACKD=$BUILD/apps/ustackd/ustackd
LWIPREF=$BUILD/apps/lwip-ref/lwip-ref
TLSREF=$BUILD/apps/tls-ref/tls-ref
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ustack-bench.XXXXXX")
# Measurements run in command substitutions (subshells), so failures are
# recorded in a file, not a variable.
FAILURES=$WORK/failures
NOTES=$WORK/notes
: >"$FAILURES"
: >"$NOTES"
fail() { echo "bench: FAIL: $*" >&2; echo "$*" >>"$FAILURES"; }
note() { echo "bench: note: $*" >&2; echo "$*" >>"$NOTES"; }
say() { echo "bench: $*" >&2; }

# --- namespaces and cleanup ------------------------------------------------
# scripts/lib/netns.sh runs ustackd in a namespace of its own and owns the
# EXIT trap; the other namespaces are registered with it.
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
  # Whatever the measurements started runs inside our namespaces.
  for n in "${MY_NS[@]}" "$NS"; do
    [[ -n $n ]] || continue
    for p in $(ip netns pids "$n" 2>/dev/null); do
      [[ $p == "${USTACKD_PID:-x}" ]] || kill -KILL "$p" 2>/dev/null
    done
  done
  for n in "${MY_NS[@]}"; do ip netns del "$n" 2>/dev/null; done
  rm -rf "$WORK"
}
ns_create bench || exit 1 # sets the EXIT/INT/TERM traps
ns_on_exit bench_cleanup

# Connection tests leave a TIME-WAIT per cycle on the client; a wide port
# range, in our namespaces only, keeps connect() fast.
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

# A server in the background, in namespace $1; its PID in BG_PID. Cleanup
# finds anything left in our namespaces.
bg_in() {
  local n=$1
  shift
  ip netns exec "$n" "$@" &
  BG_PID=$!
}
stop_pid() { # stop_pid PID: TERM, bounded wait, KILL
  local i
  [[ -n ${1:-} ]] || return 0
  kill -TERM "$1" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}
wait_listen() { # wait_listen NS PORT (bounded)
  local i
  for ((i = 0; i < 100; i++)); do
    ip netns exec "$1" ss -Htln "sport = :$2" 2>/dev/null | grep -q . && return 0
    sleep 0.05
  done
  return 1
}
wait_addr() { # wait_addr NS DEV ADDR: until the device has the address (bounded)
  local i
  for ((i = 0; i < 100; i++)); do
    ip -n "$1" -4 addr show dev "$2" 2>/dev/null | grep -q "inet $3" && return 0
    sleep 0.05
  done
  return 1
}
kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1" | head -n1; } # kv LINE KEY
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
# CPU seconds (user + system) a process used so far; includes the kernel
# work done inside its system calls (a TUN write runs the kernel's receive).
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null; }
per_gb() { # per_gb CPU_SECONDS BYTES; "-" below 0.05 s (10 ms ticks)
  awk -v c="$1" -v b="$2" 'BEGIN { if (c == "" || c + 0 < 0.05) print "-"; else printf "%.2f", c / (b / 1e9) }'
}
rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null; }

# --- results ---------------------------------------------------------------
# VAL[KEY|TARGET] = the median over --repeat runs; targets: tun, kernel,
# lwip, ustack. ROW_ORDER lists the keys in print order, ROW_LABEL/UNIT name
# them.
declare -A VAL ROW_LABEL ROW_UNIT
ROW_ORDER=()
row() { # row KEY UNIT LABEL
  ROW_ORDER+=("$1")
  ROW_UNIT[$1]=$2
  ROW_LABEL[$1]=$3
}
# measure KEY TARGET FUNC ARGS...: FUNC prints "VALUE [CPU]" on stdout;
# REPEAT runs; VAL[KEY|TARGET] and VAL[KEY.cpu|TARGET] get the medians.
# Each run is a background job waited for, so Ctrl-C is handled at once
# (bash defers traps during a foreground $(...)) and cleanup can end it.
measure() {
  # shellcheck disable=SC2034 # tgt is used in the VAL[...] keys
  local key=$1 tgt=$2 i pid rc
  shift 2
  : >"$WORK/measure.all"
  for ((i = 0; i < REPEAT; i++)); do
    "$@" >"$WORK/measure.out" &
    pid=$!
    MEASURE_PID=$pid
    wait "$pid"
    rc=$?
    MEASURE_PID=""
    ((rc == 0)) || return 1
    head -n1 "$WORK/measure.out" >>"$WORK/measure.all"
  done
  VAL[$key|$tgt]=$(awk '{print $1}' "$WORK/measure.all" | median)
  local c
  c=$(awk '$2 ~ /^[0-9.]+$/ {print $2}' "$WORK/measure.all" | median)
  [[ -n $c ]] && VAL[$key.cpu|$tgt]=$c
  return 0
}

# --- build -----------------------------------------------------------------
if ((DO_BUILD)); then
  say "building in $BUILD"
  if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/cmake.log" 2>&1 ||
      { tail -n 30 "$WORK/cmake.log"; echo "bench: cmake failed" >&2; exit 1; }
  fi
  cmake --build "$BUILD" -j2 --target usload tun-limit ustackd >"$WORK/build.log" 2>&1 ||
    { tail -n 30 "$WORK/build.log"; echo "bench: the build failed" >&2; exit 1; }
  if target lwip && [[ -f $ROOT/apps/lwip-ref/CMakeLists.txt ]]; then
    cmake --build "$BUILD" -j2 --target lwip-ref >"$WORK/build-lwip.log" 2>&1 ||
      note "lwip-ref did not build (see apps/lwip-ref); no lwIP column"
  fi
  if target kernel && [[ -f $ROOT/apps/tls-ref/CMakeLists.txt ]]; then
    cmake --build "$BUILD" -j2 --target tls-ref >"$WORK/build-tls.log" 2>&1 ||
      note "tls-ref did not build: the kernel's TLS figures come from openssl s_server"
  fi
fi
for b in "$USLOAD" "$TUNLIMIT" "$USTACKD"; do
  [[ -x $b ]] || { echo "bench: $b is missing" >&2; exit 1; }
done
if grep -q '^USTACK_SANITIZE:BOOL=ON' "$BUILD/CMakeCache.txt" 2>/dev/null; then
  note "$BUILD is built with sanitizers: figures are not representative"
fi
HELP=$("$USTACKD" --help 2>&1)
has_opt() { grep -q -- "^ *$1[ =]" <<<"$HELP"; }
HAVE_NOOFF=0 HAVE_HTTP=0 HAVE_MAXCONNS=0 HAVE_LWIP=0
has_opt --no-offload && HAVE_NOOFF=1
has_opt --http && HAVE_HTTP=1
has_opt --max-conns && HAVE_MAXCONNS=1
HAVE_CONNLIMIT=0
has_opt --conn-limit && HAVE_CONNLIMIT=1
[[ -x $LWIPREF ]] && target lwip && HAVE_LWIP=1

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
say "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs ($CPU_MODEL), load $LOAD_BEFORE"

# --- the rows --------------------------------------------------------------
row in MB/s "bulk host -> stack (kernel sends into discard)"
row in.cpu "s/GB" "  CPU of the stack side per GB, host -> stack"
row out MB/s "bulk stack -> host (kernel reads chargen)"
row out.cpu "s/GB" "  CPU of the stack side per GB, stack -> host"
if ((HAVE_NOOFF)); then
  row in_nooff MB/s "bulk host -> stack, ustackd --no-offload"
  row in_nooff.cpu "s/GB" "  CPU per GB, host -> stack, --no-offload"
  row out_nooff MB/s "bulk stack -> host, ustackd --no-offload"
  row out_nooff.cpu "s/GB" "  CPU per GB, stack -> host, --no-offload"
fi
row in_v6 MB/s "bulk host -> stack over IPv6 (references: IPv4)"
row in_v6.cpu "s/GB" "  CPU per GB, host -> stack, IPv6"
row out_v6 MB/s "bulk stack -> host over IPv6 (references: IPv4)"
row out_v6.cpu "s/GB" "  CPU per GB, stack -> host, IPv6"
row rr10 "trans/s" "echo $RR_SIZE B request/response, 10 connections"
row rr10.p99 "us" "  p99 latency, 10 connections"
row rr100 "trans/s" "echo $RR_SIZE B request/response, 100 connections"
row rr100.p99 "us" "  p99 latency, 100 connections"
row conn "conn/s" "new connections (connect, FIN, FIN back; $PARALLEL in flight)"
row http "req/s" "HTTP keep-alive GET of 100 B, wrk $HTTP_CONNS connections"
row https "req/s" "HTTPS keep-alive GET of 100 B, wrk $HTTP_CONNS connections"
row tls "hs/s" "TLS 1.2 full handshakes, openssl s_time -new (ECDSA P-256)"
row ping50 "us" "ping RTT median ($PINGS pings, 10 ms apart)"
row ping99 "us" "ping RTT p99"
row rss0 "MB" "ustackd RSS, listening, no connections"
for n in ${IDLE//,/ }; do
  row "rss$n" "MB" "ustackd RSS with $n idle connections"
  row "kb$n" "KB" "  RSS growth per idle connection held ($n)"
done

# --- shared measurements ---------------------------------------------------
# Each prints "VALUE [CPU-per-GB]" on stdout for measure().

# bulk_send NS ADDR PORT BYTES [PID]: timed, prefilled, to a discard-like
# server; CPU per GB of PID (the stack side) if given.
bulk_send() {
  local ns=$1 addr=$2 port=$3 bytes=$4 pid=${5:-} line c0="" c1=""
  [[ -n $pid ]] && c0=$(cpu_of "$pid")
  line=$(timeout "$TIMEOUT" ip netns exec "$ns" "$USLOAD" --timeout "$TIMEOUT" send "$addr" "$port" "$bytes") ||
    { fail "usload send to $addr:$port failed: $line"; return 1; }
  [[ -n $pid ]] && c1=$(cpu_of "$pid")
  say "  $line${pid:+ (stack CPU $(awk -v a="$c1" -v b="$c0" 'BEGIN{printf "%.2f", a-b}') s)}"
  echo "$(kv "$line" mbps) $([[ -n $pid ]] && per_gb "$(awk -v a="$c1" -v b="$c0" 'BEGIN{print a-b}')" "$bytes")"
}
# bulk_recv NS ADDR PORT BYTES [PID]: timed, count only, from a chargen-like
# server (read BYTES, then close).
bulk_recv() {
  local ns=$1 addr=$2 port=$3 bytes=$4 pid=${5:-} line c0="" c1=""
  [[ -n $pid ]] && c0=$(cpu_of "$pid")
  line=$(timeout "$TIMEOUT" ip netns exec "$ns" "$USLOAD" --timeout "$TIMEOUT" --bytes "$bytes" \
    recv "$addr" "$port") || { fail "usload recv from $addr:$port failed: $line"; return 1; }
  [[ -n $pid ]] && c1=$(cpu_of "$pid")
  say "  $line${pid:+ (stack CPU $(awk -v a="$c1" -v b="$c0" 'BEGIN{printf "%.2f", a-b}') s)}"
  echo "$(kv "$line" mbps) $([[ -n $pid ]] && per_gb "$(awk -v a="$c1" -v b="$c0" 'BEGIN{print a-b}')" "$bytes")"
}
# rr NS ADDR PORT P: transactions/s, with the p99 in $WORK/rr.p99
rr() {
  local line
  line=$(timeout "$TIMEOUT" ip netns exec "$1" "$USLOAD" --timeout "$TIMEOUT" --parallel "$4" \
    --size "$RR_SIZE" --seconds "$RR_SECONDS" rr "$2" "$3") || { fail "usload rr to $2:$3 failed: $line"; return 1; }
  say "  $line"
  echo "$(kv "$line" tps) $(kv "$line" p99_us)"
}
conns() { # conns NS ADDR PORT: connect/close cycles per second
  local line
  line=$(timeout "$TIMEOUT" ip netns exec "$1" "$USLOAD" --timeout "$TIMEOUT" --parallel "$PARALLEL" \
    conns "$2" "$3" "$CONNS") || { fail "usload conns to $2:$3 failed: $line"; return 1; }
  say "  $line"
  kv "$line" conn_per_s
}
# ping_rtt NS ADDR: "median p99" in microseconds, from ping's own times
ping_rtt() {
  local out got
  out=$(timeout "$TIMEOUT" ip netns exec "$1" ping -n -c "$PINGS" -i 0.01 -W 1 "$2" 2>&1)
  got=$(grep -c 'time=' <<<"$out")
  ((got > 0)) || { fail "ping $2: no reply"; return 1; }
  ((got == PINGS)) || note "ping $2: $got of $PINGS replies"
  grep -o 'time=[0-9.]*' <<<"$out" | cut -d= -f2 | sort -g |
    awk '{a[NR]=$1*1000} END {printf "%.0f %.0f\n", a[int((NR+1)/2)], a[int((NR-1)*0.99)+1]}'
}
# wrk_rate NS URL: requests per second (keep-alive), non-2xx is a failure
wrk_rate() {
  local out
  out=$(timeout "$TIMEOUT" ip netns exec "$1" wrk -t1 -c"$HTTP_CONNS" -d"${HTTP_SECONDS}s" "$2" 2>&1) ||
    { fail "wrk $2 failed: $(tail -n 3 <<<"$out")"; return 1; }
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    fail "wrk $2: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ')"
    return 1
  fi
  say "  wrk $2: $(grep -E 'requests in|Requests/sec' <<<"$out" | tr -s ' ' | tr '\n' ' ')"
  awk '/^Requests\/sec:/ {print $2}' <<<"$out"
}
# tls_rate NS ADDR:PORT: full TLS 1.2 handshakes per second (s_time -new)
tls_rate() {
  local out
  out=$(timeout "$TIMEOUT" ip netns exec "$1" openssl s_time -connect "$2" -new -tls1_2 \
    -time "$HTTP_SECONDS" 2>&1) || { fail "openssl s_time $2 failed: $(tail -n 3 <<<"$out")"; return 1; }
  say "  s_time $2: $(grep 'real seconds' <<<"$out" | head -n1)"
  awk '/connections in [0-9.]+ real seconds/ { n = $1; s = $4 } END { if (s > 0) printf "%.0f\n", n / s; else exit 1 }' <<<"$out" ||
    { fail "openssl s_time $2: no result"; return 1; }
}

# The rr and ping helpers print two figures; split them into two rows.
measure2() { # measure2 KEY KEY2 TARGET FUNC ARGS: first figure -> KEY, second -> KEY2
  local k=$1 k2=$2 t=$3
  shift 3
  measure "$k" "$t" "$@" || return 1
  VAL[$k2|$t]=$(awk '$2 ~ /^[0-9.]+$/ {print $2}' "$WORK/measure.all" | median)
  unset "VAL[$k.cpu|$t]"
}

# --- (a) the TUN limit -----------------------------------------------------
TUN_HOST=10.99.0.1 TUN_ADDR=10.99.0.2
tun_run() { # tun_run ARGS...: tun-limit in $TNS in the background (BG_PID)
  bg_in "$TNS" "$TUNLIMIT" --dev tunlim0 --host "$TUN_HOST" --addr "$TUN_ADDR" --mtu "$MTU" "$@"
}
tun_sink() { # the kernel's TCP into the ACK-only sink
  local line sink_line pid
  tun_run --port 9000 --window "$WINDOW" --timeout "$TIMEOUT" tcp-sink >"$WORK/sink.out" 2>"$WORK/sink.err"
  pid=$BG_PID
  wait_addr "$TNS" tunlim0 "$TUN_HOST" || { fail "tun-limit did not come up"; stop_pid "$pid"; return 1; }
  line=$(timeout "$TIMEOUT" ip netns exec "$TNS" "$USLOAD" --timeout "$TIMEOUT" send $TUN_ADDR 9000 "$REF_BYTES") ||
    { fail "usload send into tun-limit tcp-sink failed"; stop_pid "$pid"; return 1; }
  wait "$pid" || { fail "tun-limit tcp-sink failed: $(cat "$WORK/sink.err")"; return 1; }
  sink_line=$(cat "$WORK/sink.out")
  say "  $line"
  say "  $sink_line"
  [[ $(kv "$sink_line" bytes) == "$REF_BYTES" ]] ||
    { fail "tun-limit tcp-sink got $(kv "$sink_line" bytes) bytes, not $REF_BYTES"; return 1; }
  echo "$(kv "$line" mbps) $(per_gb "$(kv "$sink_line" cpu_s)" "$REF_BYTES")"
}
tun_source() { # the kernel's TCP reading from the window-only source
  local line src_line pid
  tun_run --port 9000 --bytes "$REF_BYTES" --timeout "$TIMEOUT" tcp-source >"$WORK/source.out" 2>"$WORK/source.err"
  pid=$BG_PID
  wait_addr "$TNS" tunlim0 "$TUN_HOST" || { fail "tun-limit did not come up"; stop_pid "$pid"; return 1; }
  line=$(timeout "$TIMEOUT" ip netns exec "$TNS" "$USLOAD" --timeout "$TIMEOUT" --expect "$REF_BYTES" \
    recv "$TUN_ADDR" 9000) || { fail "usload recv from tun-limit tcp-source failed"; stop_pid "$pid"; return 1; }
  wait "$pid" || { fail "tun-limit tcp-source failed: $(cat "$WORK/source.err")"; return 1; }
  src_line=$(cat "$WORK/source.out")
  say "  $line"
  say "  $src_line"
  grep -q 'stall' "$WORK/source.err" && say "  (tcp-source: $(grep stall "$WORK/source.err"))"
  echo "$(kv "$line" mbps) $(per_gb "$(kv "$src_line" cpu_s)" "$REF_BYTES")"
}

if target tun && { want bulk || want rr || want conns || want ping; }; then
  say "(a) TUN limit"
  if my_ns tun; then
    TNS="us-bench-$$-tun"
    if want bulk; then
      measure in tun tun_sink
      measure out tun tun_source
    fi
    if want rr || want conns || want ping; then
      tun_run --port 9000 --seconds "$((TIMEOUT * 4))" reflect >"$WORK/reflect.out" 2>"$WORK/reflect.err"
      REFLECT_PID=$BG_PID
      if wait_addr "$TNS" tunlim0 "$TUN_HOST"; then
        want rr && measure2 rr10 rr10.p99 tun rr "$TNS" "$TUN_ADDR" 9000 10
        want rr && measure2 rr100 rr100.p99 tun rr "$TNS" "$TUN_ADDR" 9000 100
        want conns && measure conn tun conns "$TNS" "$TUN_ADDR" 9000
        want ping && measure2 ping50 ping99 tun ping_rtt "$TNS" "$TUN_ADDR"
      else
        fail "tun-limit reflect did not come up: $(cat "$WORK/reflect.err")"
      fi
      stop_pid "$REFLECT_PID"
      say "  $(cat "$WORK/reflect.out")"
    fi
  else
    fail "cannot create the TUN-limit namespace"
  fi
fi

# The kernel's memory per idle connection, for the idle rows: the growth of
# the kernel's slab (/proc/meminfo) while usload holds the smallest --idle
# count against usload serve, per socket (each connection has two here,
# ustack's figure counts only its own end). Machine-wide, so other work
# makes it noisy; one process holds at most HOLD_PER connections.
kernel_idle() {
  local n=${IDLE%%,*} s0 s1 line pid i h
  ((n <= HOLD_PER)) || n=$HOLD_PER
  s0=$(slab_kb)
  ip netns exec "$KA" "$USLOAD" --timeout "$TIMEOUT" --seconds "$TIMEOUT" --parallel 64 \
    hold $K_B 9 "$n" >"$WORK/khold" 2>&1 &
  pid=$!
  for ((i = 0; i < TIMEOUT * 10; i++)); do
    grep -q 'usload hold:' "$WORK/khold" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  sleep 1
  s1=$(slab_kb)
  line=$(grep 'usload hold:' "$WORK/khold")
  say "  kernel: $line; slab $s0 -> $s1 kB"
  h=$(kv "$line" held)
  ((${h:-0} > 0)) && VAL[kb$n|kernel]=$(awk -v a="$s1" -v b="$s0" -v h="$h" 'BEGIN { printf "%.2f", (a - b) / (2 * h) }')
  stop_pid "$pid"
}
slab_kb() { awk '/^Slab:/ { print $2 }' /proc/meminfo; }
HOLD_PER=15000

# --- (b) the kernel over veth ----------------------------------------------
# Two namespaces, one veth pair at the same MTU with its default offloads
# (TSO/GSO/GRO): the kernel's TCP as it really runs. B serves (usload
# serve: discard 9, chargen 19, echo 7, http 80; tls-ref 443),
# A is the client.
K_A=10.98.0.1 K_B=10.98.0.2
if target kernel; then
  say "(b) kernel TCP over veth"
  if my_ns ka && my_ns kb; then
    KA="us-bench-$$-ka" KB="us-bench-$$-kb"
    if ip link add vbench$$a netns "$KA" type veth peer name vbench$$b netns "$KB" &&
      ip -n "$KA" link set vbench$$a mtu "$MTU" up &&
      ip -n "$KB" link set vbench$$b mtu "$MTU" up &&
      ip -n "$KA" addr add $K_A/24 dev vbench$$a &&
      ip -n "$KB" addr add $K_B/24 dev vbench$$b; then
      KPIDS=()
      for m in discard:9 chargen:19 echo:7 http:80; do
        bg_in "$KB" "$USLOAD" --timeout "$((TIMEOUT * 10))" --mode "${m%%:*}" --size 100 \
          serve "${m##*:}" 2>>"$WORK/kserve.err"
        KPIDS+=("$BG_PID")
        wait_listen "$KB" "${m##*:}" || fail "usload serve --mode ${m%%:*} did not listen"
      done
      if want bulk; then
        measure in kernel bulk_send "$KA" $K_B 9 "$REF_BYTES"
        measure out kernel bulk_recv "$KA" $K_B 19 "$REF_BYTES"
      fi
      if want rr; then
        measure2 rr10 rr10.p99 kernel rr "$KA" $K_B 7 10
        measure2 rr100 rr100.p99 kernel rr "$KA" $K_B 7 100
      fi
      want conns && measure conn kernel conns "$KA" $K_B 9
      want http && measure http kernel wrk_rate "$KA" "http://$K_B:80/"
      want ping && measure2 ping50 ping99 kernel ping_rtt "$KA" $K_B
      want idle && kernel_idle
      for p in "${KPIDS[@]}"; do stop_pid "$p"; done
    else
      fail "cannot set up the veth pair"
    fi
  else
    fail "cannot create the kernel namespaces"
  fi
fi

# --- certificates for HTTPS (ustack) and tls-ref (kernel) --------------------
CERTS=$WORK/certs
WWW=$WORK/www
mkdir -p "$WWW"
head -c 100 /dev/zero | tr '\0' 'x' >"$WWW/index.html"
HAVE_CERTS=0
if want http; then
  if sh "$ROOT/scripts/gen-certs.sh" "$CERTS" >"$WORK/certs.log" 2>&1; then
    HAVE_CERTS=1
  else
    fail "scripts/gen-certs.sh failed: $(tail -n 2 "$WORK/certs.log")"
  fi
fi
KERNEL_TLS="none"
if target kernel && want http && ((HAVE_CERTS)) && [[ -n ${KB:-} ]]; then
  if [[ -x $TLSREF ]]; then
    # The kernel's HTTPS reference: apps/tls-ref, ustack's own TLS layer
    # over kernel sockets, so only the TCP underneath differs.
    KERNEL_TLS="tls-ref"
    bg_in "$KB" "$TLSREF" --port 443 --cert "$CERTS/server.pem" --key "$CERTS/server-key.pem" \
      --size 100 >/dev/null 2>"$WORK/tls-ref.err"
  else
    # Without it: OpenSSL's s_server, handshakes only (a different library).
    KERNEL_TLS="s_server"
    bg_in "$KB" timeout "$((TIMEOUT * 2))" openssl s_server -quiet -accept 443 -cert "$CERTS/server.pem" \
      -key "$CERTS/server-key.pem" -www >/dev/null 2>"$WORK/s_server.err"
  fi
  SSRV_PID=$BG_PID
  if wait_listen "$KB" 443; then
    [[ $KERNEL_TLS == tls-ref ]] && measure https kernel wrk_rate "$KA" "https://$K_B:443/"
    measure tls kernel tls_rate "$KA" "$K_B:443"
  else
    fail "the kernel's TLS server ($KERNEL_TLS) did not listen"
  fi
  stop_pid "$SSRV_PID"
fi

# --- (c) lwIP ----------------------------------------------------------------
L_HOST=10.97.0.1 L_ADDR=10.97.0.2
if ((HAVE_LWIP)) && { want bulk || want rr || want ping || want conns; }; then
  say "(c) lwIP (apps/lwip-ref)"
  if my_ns lwip; then
    LNS="us-bench-$$-lwip"
    bg_in "$LNS" "$LWIPREF" --dev tunlw0 --host "$L_HOST" --addr "$L_ADDR" --mtu "$MTU" \
      >"$WORK/lwip.log" 2>&1
    LWIP_PID=$BG_PID
    if wait_addr "$LNS" tunlw0 "$L_HOST"; then
      if want bulk; then
        measure in lwip bulk_send "$LNS" "$L_ADDR" 9 "$BYTES" "$LWIP_PID"
        measure out lwip bulk_recv "$LNS" "$L_ADDR" 19 "$BYTES" "$LWIP_PID"
      fi
      if want rr; then
        measure2 rr10 rr10.p99 lwip rr "$LNS" "$L_ADDR" 7 10
        measure2 rr100 rr100.p99 lwip rr "$LNS" "$L_ADDR" 7 100
      fi
      want conns && measure conn lwip conns "$LNS" "$L_ADDR" 9
      want ping && measure2 ping50 ping99 lwip ping_rtt "$LNS" "$L_ADDR"
    else
      fail "lwip-ref did not bring tunlw0 up: $(tail -n 5 "$WORK/lwip.log")"
    fi
    stop_pid "$LWIP_PID"
  else
    fail "cannot create the lwIP namespace"
  fi
fi

# --- (d) ustack --------------------------------------------------------------
HTTP_PORT=8080 HTTPS_PORT=443
ustackd_start() { # ustackd_start LOG EXTRA-ARGS...
  local log=$1 max=1024 n
  shift
  local args=(--mtu "$MTU" --tcp-echo 7 --tcp-discard 9 --tcp-chargen 19 --tcp-sink 5001
    --tcp-source 5002 --source-bytes "$VERIFY_BYTES" --seed "$SEED")
  if want http; then
    args+=(--root "$WWW")
    ((HAVE_HTTP)) && args+=(--http "$HTTP_PORT")
    ((HAVE_CERTS)) && args+=(--https "$HTTPS_PORT" --cert "$CERTS/server.pem" --key "$CERTS/server-key.pem")
  fi
  if ((HAVE_MAXCONNS)); then
    for n in ${IDLE//,/ }; do ((n + 1000 > max)) && max=$((n + 1000)); done
    args+=(--max-conns "$max")
    MAXCONNS_USED=$max
  fi
  # The idle test holds up to HOLD_PER connections per address: no limits.
  ((HAVE_CONNLIMIT)) && args+=(--conn-limit 0 --per-source-limit 0)
  ns_start_ustackd "$log" "${args[@]}" "$@"
}
ustackd_stop() { # stop, and check its exit and log
  local log=$1 rc=0
  ns_stop_ustackd || rc=$?
  ((rc == 0)) || fail "ustackd exited with status $rc (log: $(tail -n 3 "$log" | tr '\n' ' '))"
  if grep -qiE 'AddressSanitizer|runtime error|assert' "$log"; then
    sed 's/^/  | /' "$log" | tail -n 30 >&2
    fail "ustackd reported an error"
  fi
}

# Verified transfers: the seeded stream through the sink (ustackd logs its
# SHA-256) and from the source (usload compares every byte), hashed after
# the clock; their speed is not in the table.
verify_in() {
  local line logl before i
  before=$(grep -c 'tcp-sink:' "$WORK/ustackd.log")
  line=$(timeout "$TIMEOUT" ip netns exec "$NS" "$USLOAD" --timeout "$TIMEOUT" --seed "$SEED" send "$US_ADDR" 5001 "$VERIFY_BYTES") ||
    { fail "verify: usload send into the sink failed"; return 1; }
  for ((i = 0; i < 100; i++)); do
    (($(grep -c 'tcp-sink:' "$WORK/ustackd.log") > before)) && break
    sleep 0.05
  done
  logl=$(grep 'tcp-sink:' "$WORK/ustackd.log" | tail -n1)
  if [[ $logl == *" $VERIFY_BYTES bytes sha256 $(kv "$line" sha256)"* ]]; then
    note "verified: host -> stack, $VERIFY_BYTES bytes into --tcp-sink, SHA-256 $(kv "$line" sha256 | cut -c1-16)... matches"
  else
    fail "verify: sent $VERIFY_BYTES bytes sha256 $(kv "$line" sha256); ustackd logged: ${logl:-nothing}"
  fi
}
verify_out() {
  local line
  line=$(timeout "$TIMEOUT" ip netns exec "$NS" "$USLOAD" --timeout "$TIMEOUT" --seed "$SEED" --expect "$VERIFY_BYTES" \
    recv "$US_ADDR" 5002) || { fail "verify: usload recv from the source failed: $line"; return 1; }
  if [[ $(kv "$line" verified) == yes ]]; then
    note "verified: stack -> host, $VERIFY_BYTES bytes from --tcp-source, every byte equal to the stream"
  else
    fail "verify: the source's bytes differ from the stream: $line"
  fi
}

# Idle connections: usload hold from extra addresses on the kernel's side of
# the TUN (each process keeps at most HOLD_PER connections: the descriptor
# limit here is 20000 without CAP_SYS_RESOURCE), then ustackd's RSS, and
# whether ping and a new connection are still served.
HOLD_NEXT=20 # next extra address: 10.0.0.HOLD_NEXT
idle_test() { # idle_test N
  local n=$1 procs i left k pids=() held=0 failed=0 line rss rss0 alive
  procs=$(((n + HOLD_PER - 1) / HOLD_PER))
  ((HOLD_NEXT + procs < 250)) || { note "idle $n: out of extra addresses"; return 0; }
  # Growth from ustackd's RSS before the first idle test (memory freed by
  # an earlier test stays in malloc's arenas, so a later baseline is high).
  rss0=${VAL[rss0|ustack]:-$(rss_mb "$USTACKD_PID")}
  left=$n
  for ((i = 0; i < procs; i++)); do
    k=$((left < HOLD_PER ? left : HOLD_PER))
    left=$((left - k))
    local a=10.0.0.$((HOLD_NEXT++))
    ip -n "$NS" addr add "$a/32" dev "$US_DEV" 2>/dev/null
    # 64 handshakes at a time per process: below ustack's listen backlog
    # (128), so the SYN queue never overflows into SYN cookies.
    ip netns exec "$NS" "$USLOAD" --timeout "$((TIMEOUT * 3))" --seconds "$((TIMEOUT * 2))" \
      --parallel 64 --from "$a" hold "$US_ADDR" 9 "$k" >"$WORK/hold.$i" 2>"$WORK/hold.$i.err" &
    pids+=($!)
  done
  for ((i = 0; i < procs; i++)); do # bounded: each hold gives up after 100 failures
    local w
    for ((w = 0; w < TIMEOUT * 10; w++)); do
      grep -q 'usload hold:' "$WORK/hold.$i" 2>/dev/null && break
      kill -0 "${pids[$i]}" 2>/dev/null || break
      sleep 0.1
    done
    line=$(grep 'usload hold:' "$WORK/hold.$i" 2>/dev/null)
    say "  $line"
    local h f
    h=$(kv "$line" held) f=$(kv "$line" failed)
    held=$((held + ${h:-0})) failed=$((failed + ${f:-0}))
  done
  sleep 1 # let ustackd settle (the last handshakes' ACKs)
  rss=$(rss_mb "$USTACKD_PID")
  VAL[rss$n|ustack]=$rss
  ((held > 0)) && VAL[kb$n|ustack]=$(awk -v a="$rss" -v b="$rss0" -v h="$held" 'BEGIN { printf "%.2f", (a - b) * 1024 / h }')
  alive="ping "
  ns_exec ping -n -c 3 -i 0.2 -W 2 "$US_ADDR" >/dev/null 2>&1 && alive+="answered" || alive+="NOT answered"
  alive+=", a new connection "
  ns_exec "$USLOAD" --timeout 20 conns "$US_ADDR" 9 1 >/dev/null 2>&1 && alive+="served" || alive+="NOT served"
  ROW_LABEL[rss$n]="ustackd RSS with $n idle connections asked, $held held"
  note "idle $n: asked $n, held $held ($failed failed to open$( ((HAVE_MAXCONNS)) || echo "; this ustackd has no --max-conns, so its default pool bounds it")), RSS $rss MB (from $rss0 MB); while held: $alive"
  [[ $alive == *NOT* ]] && fail "idle $n: $alive"
  for i in "${pids[@]}"; do stop_pid "$i"; done
  # Wait (bounded) until ustackd has let them go, before the next count.
  for ((i = 0; i < 100; i++)); do
    [[ $(ip netns exec "$NS" ss -Htn state established 2>/dev/null | head -n 1) == "" ]] && break
    sleep 0.1
  done
  return 0
}

if target ustack; then
  say "(d) ustack"
  if ! ustackd_start "$WORK/ustackd.log"; then
    fail "ustackd did not start: $(tail -n 3 "$WORK/ustackd.log")"
  else
    if want bulk; then
      measure in ustack bulk_send "$NS" "$US_ADDR" 9 "$BYTES" "$USTACKD_PID"
      measure out ustack bulk_recv "$NS" "$US_ADDR" 19 "$BYTES" "$USTACKD_PID"
    fi
    if want rr; then
      measure2 rr10 rr10.p99 ustack rr "$NS" "$US_ADDR" 7 10
      measure2 rr100 rr100.p99 ustack rr "$NS" "$US_ADDR" 7 100
    fi
    want conns && measure conn ustack conns "$NS" "$US_ADDR" 9
    if want http; then
      if ((HAVE_HTTP)); then
        measure http ustack wrk_rate "$NS" "http://$US_ADDR:$HTTP_PORT/"
      else
        note "HTTP over ustack: not available (this ustackd has no --http)"
        VAL[http|ustack]="n/a"
      fi
      if ((HAVE_CERTS)); then
        measure https ustack wrk_rate "$NS" "https://$US_ADDR:$HTTPS_PORT/"
        measure tls ustack tls_rate "$NS" "$US_ADDR:$HTTPS_PORT"
      fi
    fi
    want ping && measure2 ping50 ping99 ustack ping_rtt "$NS" "$US_ADDR"
    if want verify; then
      verify_in
      verify_out
    fi
    if want idle; then
      VAL[rss0|ustack]=$(rss_mb "$USTACKD_PID")
      [[ -n ${MAXCONNS_USED:-} ]] && ROW_LABEL[rss0]="ustackd RSS, listening, no connections (--max-conns $MAXCONNS_USED)"
      for n in ${IDLE//,/ }; do
        say "  idle: $n connections"
        idle_test "$n"
      done
    fi
    ustackd_stop "$WORK/ustackd.log"
  fi
  if ((HAVE_NOOFF)) && want bulk; then
    say "(d') ustack --no-offload"
    if ustackd_start "$WORK/ustackd-nooff.log" --no-offload; then
      measure in_nooff ustack bulk_send "$NS" "$US_ADDR" 9 "$BYTES" "$USTACKD_PID"
      measure out_nooff ustack bulk_recv "$NS" "$US_ADDR" 19 "$BYTES" "$USTACKD_PID"
      ustackd_stop "$WORK/ustackd-nooff.log"
    else
      fail "ustackd --no-offload did not start: $(tail -n 3 "$WORK/ustackd-nooff.log")"
    fi
  fi
  if want bulk; then
    # The same transfers over IPv6 (docs/IPV6.md): the namespace gets IPv6
    # only now, so every row above ran as before.
    say "(d'') ustack over IPv6"
    ns_enable_ipv6
    if ustackd_start "$WORK/ustackd-v6.log" && ns_wait_addr6; then
      measure in_v6 ustack bulk_send "$NS" "$US_ADDR6" 9 "$BYTES" "$USTACKD_PID"
      measure out_v6 ustack bulk_recv "$NS" "$US_ADDR6" 19 "$BYTES" "$USTACKD_PID"
      ustackd_stop "$WORK/ustackd-v6.log"
    else
      fail "ustackd over IPv6 did not start: $(tail -n 3 "$WORK/ustackd-v6.log")"
    fi
  fi
fi

# --- the table ---------------------------------------------------------------
# Rows without any figure (a section not run) are left out. References of
# the --no-offload and IPv6 rows are the same direction's (over IPv4).
ref_key() {
  local k=${1/_nooff/}
  echo "${k/_v6/}"
}
ratio() { # ratio VALUE REF
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "-" }'
}
fmt() { # numbers: 3 significant figures at most, no exponent
  awk -v v="$1" 'BEGIN { if (v !~ /^[0-9.]+$/) { print (v == "" ? "-" : v); exit }
    if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.2f", v }'
}
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "| measurement | unit | ustack | TUN limit | kernel | lwIP | ustack xTUN | ustack xkernel | ustack xlwIP |"
echo "|---|---|--:|--:|--:|--:|--:|--:|--:|"
for k in "${ROW_ORDER[@]}"; do
  r=$(ref_key "$k")
  u=${VAL[$k|ustack]:-}
  # The CPU rows come from the bulk rows' second figure.
  if [[ $k == *.cpu ]]; then
    base=${k%.cpu}
    u=${VAL[$base.cpu|ustack]:-}
    rb=$(ref_key "$base")
    t=${VAL[$rb.cpu|tun]:-} kn="-" l=${VAL[$rb.cpu|lwip]:-}
  else
    t=${VAL[$r|tun]:-} kn=${VAL[$r|kernel]:-} l=${VAL[$r|lwip]:-}
  fi
  [[ -z $u && -z $t && ( -z $kn || $kn == - ) && -z $l ]] && continue
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${ROW_LABEL[$k]}" "${ROW_UNIT[$k]}" \
    "$(fmt "$u")" "$(fmt "$t")" "$(fmt "$kn")" "$(fmt "$l")" "$(ratio "$u" "$t")" "$(ratio "$u" "$kn")" "$(ratio "$u" "$l")"
done
echo
echo "Machine: $(nproc) CPUs, $CPU_MODEL; Linux $(uname -r); load average before $LOAD_BEFORE, after $LOAD_AFTER."
echo "ustack $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'); median of $REPEAT run(s); MTU $MTU;" \
  "bulk: $BYTES bytes through ustack and lwIP, $REF_BYTES through the kernel and the TUN limit."
echo "ustackd options found: --no-offload $( ((HAVE_NOOFF)) && echo yes || echo no), --http $( ((HAVE_HTTP)) && echo yes || echo no)," \
  "--max-conns $( ((HAVE_MAXCONNS)) && echo yes || echo no); lwIP reference $( ((HAVE_LWIP)) && echo built || echo 'not built')."
echo "xTUN, xkernel, xlwIP: the ustack figure divided by the reference's (for us and s/GB rows lower is better)."
echo "MB/s: 10^6 bytes of TCP payload per second, timed by usload with nothing but the transfer in the"
echo "clock (a prefilled buffer, bytes counted). CPU s/GB: CPU seconds the stack process (ustackd,"
echo "tun-limit, lwip-ref) spent per 10^9 bytes, incl. the kernel work in its system calls; '-' for the"
echo "kernel, whose TCP runs in softirq context. HTTP(S): ustackd --http/--https serving a 100-byte"
if [[ $KERNEL_TLS == s_server ]]; then
  echo "index.html; the kernel column is usload's minimal HTTP responder, and OpenSSL's s_server for TLS"
  echo "handshakes (a different TLS library; no HTTPS reference). Idle rows: ustackd's RSS growth per"
else
  echo "index.html; the kernel column is usload's minimal HTTP responder, and for HTTPS and handshakes"
  echo "apps/tls-ref: ustack's TLS layer on kernel sockets, so only TCP differs. Idle rows: RSS growth per"
fi
echo "connection held; the kernel column is the slab growth per socket while as many connections are"
echo "held over veth (machine-wide, so noisy)."
if [[ -s $NOTES ]]; then
  echo
  sed 's/^/- /' "$NOTES"
fi
if awk -v a="${LOAD_BEFORE%% *}" -v b="${LOAD_AFTER%% *}" 'BEGIN { exit !(a > 0.5 || b > 2.5) }'; then
  echo
  echo "NOTE: other work was running on this machine: absolute figures are noisy; compare the ratios."
fi
if [[ -s $FAILURES ]]; then
  echo "bench: $(wc -l <"$FAILURES") failure(s):" >&2
  sed 's/^/  /' "$FAILURES" >&2
  exit 1
fi
exit 0
