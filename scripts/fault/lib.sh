# shellcheck shell=bash
# lib.sh - shared by the fault-injection scenarios in scripts/fault/.
#
# Each scenario: fault_begin NAME, fault_start SPEC [ustackd args], drive
# traffic with the kernel as the peer, check, then fault_pass or fault_fail.
# Every scenario prints exactly one result line:
#
#   PASS loss-5%-rx | injected: rx:loss=5% seed=42 | verified: 20971520 B up+down,
#        sha256 match, retrans 312, 4.1 s
#
# Safety (docs/ARCHITECTURE.md section 9): everything runs in a namespace created by
# scripts/lib/netns.sh, deleted on exit (also on failure or Ctrl-C); only
# PIDs started here are killed; loops are bounded in count and time.
#
# Exit codes: 0 pass, 1 fail, 77 cannot run (not root, no TUN, no ustackd)
# unless CI=true, when a scenario that cannot run FAILS.
#
# Environment: FAULT_SEED (default: random, printed), USTACKD (binary),
# FAULT_KEEP=1 keeps the work directory even on success.
set -euo pipefail

FAULT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
US_ROOT=${US_ROOT:-$(cd "$FAULT_LIB_DIR/../.." && pwd)}
# shellcheck source=../lib/netns.sh
source "$US_ROOT/scripts/lib/netns.sh"

FAULT_NAME=""
FAULT_WORK=""
FAULT_SPEC=""
FAULT_SEED=${FAULT_SEED:-}
FAULT_LOG=""
FAULT_T0=""
FAULT_CTL=""
# The stack's address the kernel's clients connect to (fault_use_ipv6: fd00::2).
FAULT_ADDR=$US_ADDR

# Start a scenario: check the machine, make the namespace and a work dir.
fault_begin() {
  FAULT_NAME=$1
  local why
  why=$(ns_cannot_run)
  if [[ -n $why ]]; then
    if [[ ${CI:-} == true ]]; then
      echo "FAIL $FAULT_NAME | cannot run: $why (CI=true: a scenario that cannot run fails)"
      exit 1
    fi
    echo "SKIP $FAULT_NAME | cannot run: $why"
    exit 77
  fi
  if [[ -z $FAULT_SEED ]]; then FAULT_SEED=$(( (RANDOM << 15) | RANDOM )); fi
  FAULT_WORK=$(mktemp -d "${TMPDIR:-/tmp}/ustack-fault-$FAULT_NAME.XXXXXX")
  FAULT_CTL=$FAULT_WORK/ctl.sock
  ns_on_exit "fault_finish_"
  ns_create "fault"
  FAULT_T0=$(date +%s.%N)
}

fault_finish_() {
  local rc=${NS_EXIT_RC:-1}
  [[ -n $FAULT_WORK ]] || return 0
  if [[ $rc -eq 0 && -z ${FAULT_KEEP:-} ]]; then
    rm -rf "$FAULT_WORK"
  else
    echo "($FAULT_NAME: logs kept in $FAULT_WORK; replay with FAULT_SEED=$FAULT_SEED)" >&2
  fi
}

# Run the scenario's transfers over IPv6 (call between fault_begin and
# fault_start): IPv6 on in the namespace, clients connect to $US_ADDR6.
# fault_start then also waits for the kernel's $US_HOST6 on the TUN.
fault_use_ipv6() {
  [[ -d /proc/sys/net/ipv6 ]] || fault_fail "the kernel has no IPv6"
  ns_enable_ipv6 || fault_fail "cannot turn IPv6 on in the namespace"
  FAULT_ADDR=$US_ADDR6
}

# Start ustackd with the injector: fault_start SPEC [more ustackd args].
# The stack gets a short MSL (TIME-WAIT 2 s) and a control socket.
fault_start() {
  FAULT_SPEC=$1
  shift
  FAULT_LOG=$FAULT_WORK/ustackd.log
  ns_start_ustackd "$FAULT_LOG" --fault "$FAULT_SPEC" --fault-seed "$FAULT_SEED" \
    --ctl "$FAULT_CTL" --msl 1 "$@" ||
    fault_fail "ustackd did not start (spec '$FAULT_SPEC')"
  if [[ $FAULT_ADDR == "$US_ADDR6" ]]; then
    ns_wait_addr6 || fault_fail "no $US_HOST6 on $US_DEV"
  fi
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -S $FAULT_CTL ]] && return 0
    sleep 0.1
  done
  fault_fail "ustackd did not open its control socket $FAULT_CTL"
}

# Elapsed seconds since fault_begin, one decimal.
fault_elapsed() {
  awk -v a="$FAULT_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

fault_result_() {
  local verdict=$1
  shift
  echo "$verdict $FAULT_NAME | injected: ${FAULT_SPEC:-none} seed=$FAULT_SEED | $* | $(fault_elapsed) s"
}

fault_pass() {
  fault_result_ PASS "verified: $*"
  exit 0
}

fault_fail() {
  fault_result_ FAIL "$*"
  if [[ -n $FAULT_LOG && -f $FAULT_LOG ]]; then
    echo "--- ustackd log (last 30 lines) ---" >&2
    tail -n 30 "$FAULT_LOG" >&2
  fi
  exit 1
}

# Deterministic bytes: fault_make_file PATH BYTES [SEED].
fault_make_file() {
  local path=$1 bytes=$2 seed=${3:-$FAULT_SEED}
  # openssl dies of SIGPIPE once head has enough: that is the expected end.
  openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:ustack-$seed" </dev/zero 2>/dev/null |
    head -c "$bytes" >"$path" || true
  [[ $(stat -c %s "$path") -eq $bytes ]] || fault_fail "could not make a $bytes-byte file"
}

fault_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# Stop ustackd (must exit 0, no sanitizer report) so its counters are in the log.
fault_stop() {
  local rc=0
  ns_stop_ustackd || rc=$?
  [[ $rc -eq 0 ]] || fault_fail "ustackd exited with status $rc"
  if grep -qE 'AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$FAULT_LOG"; then
    fault_fail "sanitizer report in the ustackd log"
  fi
}

# A stack counter from the daemon's last dump (0 if absent).
fault_counter() {
  local v
  v=$(sed -n "s/^ustackd: counter $1 = \([0-9]*\).*/\1/p" "$FAULT_LOG" | tail -n 1)
  echo "${v:-0}"
}

# The kernel peer's TCP retransmissions in the namespace (absolute).
fault_kernel_retrans() {
  ip netns exec "$NS" nstat -asz TcpRetransSegs 2>/dev/null |
    awk '$1 == "TcpRetransSegs" { print $2; found = 1 } END { if (!found) print 0 }'
}

# An injector counter from the daemon's last dump: fault_inj_counter tx lost.
fault_inj_counter() {
  local v
  v=$(grep "fault seed=[0-9]* $1:" "$FAULT_LOG" | tail -n 1 |
    sed -n "s/.* $2=\([0-9]*\).*/\1/p")
  echo "${v:-0}"
}

# What the injector did, both directions, non-zero counters only:
# "injector: dropped 40, corrupted 10" (or "injector: nothing").
fault_inj_summary() {
  local c v out=""
  for c in dropped duplicated reordered corrupted truncated delayed rate_queued; do
    v=$(( $(fault_inj_counter tx "$c") + $(fault_inj_counter rx "$c") ))
    [[ $v -eq 0 ]] || out+="${out:+, }$c $v"
  done
  echo "injector: ${out:-nothing}"
}

# Wait (bounded) until the log has a line matching REGEX; print it.
fault_wait_log() {
  local re=$1 secs=${2:-60} i
  for ((i = 0; i < secs * 10; i++)); do
    if grep -qE "$re" "$FAULT_LOG"; then
      grep -E "$re" "$FAULT_LOG" | tail -n 1
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# Upload BYTES from the kernel to the daemon's --tcp-sink PORT and check
# that the sink saw exactly those bytes. Sets FAULT_UP_BYTES, FAULT_UP_SHA.
# (Call it directly, not in $(...): fault_fail must end the script.)
fault_upload() {
  local port=$1 bytes=$2 timeout=${3:-120}
  local f=$FAULT_WORK/up.bin line got_bytes got_sha
  fault_make_file "$f" "$bytes"
  local rc=0
  timeout "$timeout" ip netns exec "$NS" nc -N "$FAULT_ADDR" "$port" <"$f" >/dev/null \
    2>"$FAULT_WORK/nc-up.err" || rc=$?
  [[ $rc -ne 124 ]] || fault_fail "upload of $bytes B to port $port did not finish within ${timeout}s"
  [[ $rc -eq 0 ]] ||
    fault_fail "upload of $bytes B to port $port: nc exited with status $rc: $(tail -n 1 "$FAULT_WORK/nc-up.err")"
  line=$(fault_wait_log "tcp-sink: .*: [0-9]+ bytes sha256 [0-9a-f]{64}" 30) ||
    fault_fail "the sink never reported the upload"
  got_bytes=$(sed -n 's/.*: \([0-9]*\) bytes sha256.*/\1/p' <<<"$line")
  got_sha=$(sed -n 's/.*sha256 \([0-9a-f]*\).*/\1/p' <<<"$line")
  [[ $got_bytes -eq $bytes ]] || fault_fail "upload: sent $bytes B, the stack got $got_bytes B"
  [[ $got_sha == "$(fault_sha256 "$f")" ]] || fault_fail "upload: SHA-256 differs"
  # shellcheck disable=SC2034 # read by the scenarios
  FAULT_UP_BYTES=$got_bytes
  # shellcheck disable=SC2034
  FAULT_UP_SHA=$got_sha
}

# Download from the daemon's --tcp-source PORT and check bytes and SHA-256
# against what the source says it sent. Sets FAULT_DOWN_BYTES, FAULT_DOWN_SHA.
fault_download() {
  local port=$1 bytes=$2 timeout=${3:-120}
  local f=$FAULT_WORK/down.bin line want_sha got
  local rc=0
  timeout "$timeout" ip netns exec "$NS" nc -d "$FAULT_ADDR" "$port" >"$f" \
    2>"$FAULT_WORK/nc-down.err" || rc=$?
  [[ $rc -ne 124 ]] || fault_fail "download from port $port did not finish within ${timeout}s"
  [[ $rc -eq 0 ]] ||
    fault_fail "download from port $port: nc exited with status $rc: $(tail -n 1 "$FAULT_WORK/nc-down.err")"
  got=$(stat -c %s "$f")
  [[ $got -eq $bytes ]] || fault_fail "download: expected $bytes B, got $got B"
  line=$(fault_wait_log "tcp-source: .*: [0-9]+ bytes sha256 [0-9a-f]{64}" 30) ||
    fault_fail "the source never reported what it sent"
  want_sha=$(sed -n 's/.*sha256 \([0-9a-f]*\).*/\1/p' <<<"$line")
  [[ $want_sha == "$(fault_sha256 "$f")" ]] || fault_fail "download: SHA-256 differs"
  # shellcheck disable=SC2034 # read by the scenarios
  FAULT_DOWN_BYTES=$got
  # shellcheck disable=SC2034
  FAULT_DOWN_SHA=$want_sha
}

# Capture on the TUN inside the namespace: fault_capture_start FILTER.
# Sets FAULT_PCAP and FAULT_CAP_PID; waits (bounded) until tshark runs.
fault_capture_start() {
  FAULT_PCAP=$FAULT_WORK/capture.pcapng
  command -v tshark >/dev/null || fault_fail "tshark is not installed (apt-get install tshark)"
  # shellcheck disable=SC2016 # $1/$2.. expand in the inner shell
  ns_bg sh -c 'exec tshark -q -i "$1" -f "$2" -w "$3" 2>"$4"' sh "$US_DEV" "$1" "$FAULT_PCAP" \
    "$FAULT_WORK/tshark.log"
  FAULT_CAP_PID=${NS_PIDS[-1]}
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s $FAULT_PCAP ]] && { sleep 0.5; return 0; }
    sleep 0.1
  done
  fault_fail "tshark did not start capturing on $US_DEV"
}

fault_capture_stop() {
  sleep 0.3
  ns_kill_pid "$FAULT_CAP_PID"
}

# Relative times (s) of the captured packets matching a display filter:
# fault_capture_times 'ip.src == 10.0.0.2 && tcp.flags.reset == 1'
fault_capture_times() {
  tshark -r "$FAULT_PCAP" -Y "$1" -T fields -e frame.time_relative 2>/dev/null
}

# Talk to the running daemon's control socket: fault_ctl 'fault set SPEC'.
fault_ctl() {
  local ss
  ss=$(dirname "$USTACKD")/../ustack-ss/ustack-ss
  [[ -x $ss ]] || fault_fail "ustack-ss not built at $ss"
  "$ss" --ctl "$FAULT_CTL" --cmd "$1"
}
