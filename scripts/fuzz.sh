#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer targets (tests/fuzz/) with clang, ASan and
# UBSan, and run each for a bounded time from the seed corpus.
#
#   scripts/fuzz.sh [--seconds N] [--build-dir DIR] [--target NAME]...
#
# Defaults: 30 s per target, build dir build-fuzz, every target. The seed
# corpus (tests/fuzz/corpus/<target>) is copied to a scratch directory, so
# the repository is never modified; crashing inputs are kept in
# <build-dir>/fuzz-artifacts/ with the command that replays them.
# Exit status: 0 when no target crashed, 1 on any crash, leak, timeout or
# sanitizer report, 2 on a usage or build error. No network, no root.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds=30
build="$here/build-fuzz"
targets=()
all_targets=(fuzz_ipv4_parse fuzz_ipv6_parse fuzz_tcp_parse fuzz_udp_icmp_parse fuzz_stack fuzz_offload fuzz_http_decide fuzz_fault)

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a value}"; shift 2 ;;
    --build-dir) build="${2:?--build-dir needs a value}"; shift 2 ;;
    --target) targets+=("${2:?--target needs a name}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "fuzz.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: --seconds must be a number" >&2; exit 2 ;; esac
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz.sh: clang not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

echo "== configuring $build (clang, ASan+UBSan, libFuzzer)"
mkdir -p "$build"
CC=clang cmake -S "$here" -B "$build" -DUSTACK_FUZZ=ON -DUSTACK_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/fuzz-cmake.log" 2>&1 || {
  cat "$build/fuzz-cmake.log" >&2; echo "fuzz.sh: configure failed" >&2; exit 2; }
echo "== building ${targets[*]}"
cmake --build "$build" -j2 --target "${targets[@]}" >"$build/fuzz-build.log" 2>&1 || {
  tail -40 "$build/fuzz-build.log" >&2; echo "fuzz.sh: build failed" >&2; exit 2; }

scratch="$(mktemp -d /tmp/ustack-fuzz.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"

# ASan: abort on the first report; leaks count as findings. UBSan: halt.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

failed=0
summary=()
for t in "${targets[@]}"; do
  bin="$(find "$build" -type f -name "$t" -perm -u+x | head -1)"
  if [ -z "$bin" ]; then
    echo "fuzz.sh: no binary for $t" >&2; exit 2
  fi
  work="$scratch/$t"
  mkdir -p "$work"
  seed="$here/tests/fuzz/corpus/$t"
  [ -d "$seed" ] || seed="$scratch/empty-$t"
  mkdir -p "$seed"
  log="$build/fuzz-$t.log"
  echo "== $t: ${seconds}s (log $log)"
  rc=0
  # The outer timeout is a backstop only: libFuzzer stops itself.
  timeout --kill-after=10 $((seconds + 120)) "$bin" -max_total_time="$seconds" -timeout=20 \
    -rss_limit_mb=2560 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
    "$work" "$seed" >"$log" 2>&1 || rc=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')"
  if [ "$rc" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|fuzz_stack: |fuzz_offload: ' "$log"; then
    failed=1
    crash="$(grep -oE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //')"
    summary+=("$(printf '%-22s CRASH  rc=%-3s runs=%-10s %s' "$t" "$rc" "${runs:-?}" "${crash:-see $log}")")
    grep -E 'ERROR|runtime error|fuzz_stack: |SUMMARY' "$log" | head -5 | sed 's/^/    /'
    [ -n "$crash" ] && echo "    replay: $bin $crash"
  else
    summary+=("$(printf '%-22s ok     runs=%-10s cov=%s' "$t" "${runs:-?}" "${cov:-?}")")
  fi
done

echo
echo "== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
