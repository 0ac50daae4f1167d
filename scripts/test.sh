#!/usr/bin/env bash
# test.sh - THE test command: everything CI runs, in order.
#
#   sudo scripts/test.sh
#
#   1. unit tests (cmocka) under AddressSanitizer + UndefinedBehaviorSanitizer
#      (build-asan/, ctest -L unit)
#   2. scripts/check-layering.sh: the protocol core makes no system calls;
#      scripts/check-counters.sh: every counter is incremented somewhere;
#      scripts/format.sh --check: every C file as .clang-format lays it out
#   3. integration tests (ctest -L integration) against the ASan/UBSan
#      daemon of step 1: namespaces, a TUN, ustackd, the kernel as the peer.
#      They need root; without it they are skipped with a message, except
#      with CI=true, where a test that cannot run FAILS.
#   4. fuzz targets (scripts/fuzz.sh), FUZZ_SECONDS each under ASan/UBSan
#   5. fault-injection scenarios (scripts/fault/run-all --quick), kernel peer
# Ends with "N passed, M failed, K skipped"; exits non-zero on any failure.
#
# Environment: JOBS (build parallelism, default nproc), CI=true (no skips),
# TEST_ONLY=unit|layering|integration|fuzz|fault (run one stage),
# FUZZ_SECONDS (per fuzz target, default 30), INTEGRATION_ASAN=0
# (run the integration tests against the optimised build instead).
set -uo pipefail

for a in "$@"; do
  case $a in
  -h | --help)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
    exit 0
    ;;
  *)
    echo "test.sh: unknown option '$a' (try --help; stages: TEST_ONLY=unit|layering|integration|fuzz|fault)" >&2
    exit 2
    ;;
  esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ASAN_BUILD=${ASAN_BUILD_DIR:-$ROOT/build-asan}
BUILD=${BUILD_DIR:-$ROOT/build}
JOBS=${JOBS:-$(nproc)}
ONLY=${TEST_ONLY:-}
RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/ustack-test.XXXXXX")
trap 'rm -rf "$RESULTS"' EXIT

passed=0
failed=0
skipped=0
failures=()

stage() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# Record one result by name.
record() { # record NAME pass|fail|skip
  case $2 in
  pass) passed=$((passed + 1)) ;;
  fail) failed=$((failed + 1)); failures+=("$1") ;;
  skip) skipped=$((skipped + 1)) ;;
  esac
}

build() { # build DIR CMAKE_ARGS...
  local dir=$1
  shift
  cmake -S "$ROOT" -B "$dir" "$@" >"$RESULTS/cmake.log" 2>&1 &&
    cmake --build "$dir" -j"$JOBS" >>"$RESULTS/cmake.log" 2>&1 && return 0
  tail -n 60 "$RESULTS/cmake.log"
  return 1
}

# Run ctest with a label; count every test from its JUnit report, so a
# crashed ctest or a test that never ran cannot pass silently.
run_ctest() { # run_ctest DIR LABEL
  local dir=$1 label=$2 xml=$RESULTS/$2.xml
  ctest --test-dir "$dir" -L "^$label\$" --output-on-failure --timeout 600 \
    --output-junit "$xml" "${@:3}"
  local rc=$? failed_before=$failed
  if [[ ! -s $xml ]]; then
    record "ctest -L $label (no report)" fail
    return
  fi
  local name status n=0
  while IFS=$'\t' read -r name status; do
    n=$((n + 1))
    if [[ $status == skip && ${CI:-} == true ]]; then
      echo "CI=true: $name was skipped, which counts as a failure"
      status=fail
    fi
    record "$name" "$status"
  done < <(python3 - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
for tc in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    st = "pass"
    if tc.find("failure") is not None or tc.find("error") is not None:
        st = "fail"
    elif tc.find("skipped") is not None or tc.get("status") in ("notrun", "disabled"):
        st = "skip"
    print(f"{tc.get('name')}\t{st}")
PY
  )
  if [[ $n -eq 0 ]]; then
    record "ctest -L $label (no tests found)" fail
  elif [[ $rc -ne 0 && $failed -eq $failed_before ]]; then
    record "ctest -L $label (exit $rc)" fail
  fi
}

if [[ -z $ONLY || $ONLY == unit ]]; then
  stage "unit tests under ASan + UBSan ($ASAN_BUILD)"
  if build "$ASAN_BUILD" -DUSTACK_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug; then
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
      UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
      run_ctest "$ASAN_BUILD" unit -j"$JOBS"
  else
    record "build (ASan/UBSan)" fail
  fi
fi

if [[ -z $ONLY || $ONLY == layering ]]; then
  stage "layering: a sans-IO core, arrows that point down, every counter used, one format"
  if "$ROOT/scripts/check-layering.sh" "$ROOT"; then
    record check-layering pass
  else
    record check-layering fail
  fi
  if "$ROOT/scripts/check-counters.sh" "$ROOT"; then
    record check-counters pass
  else
    record check-counters fail
  fi
  if "$ROOT/scripts/format.sh" --check; then
    record check-format pass
  else
    record check-format fail
  fi
fi

# By default the integration tests run against the ASan/UBSan daemon (the
# same tree as the unit tests): every run checks ustackd for memory errors
# and leaks at shutdown while the real kernel talks to it. INTEGRATION_ASAN=0
# runs them against the optimised build instead.
if [[ ${INTEGRATION_ASAN:-1} == 1 ]]; then
  BUILD=$ASAN_BUILD
  INT_CMAKE_ARGS=(-DUSTACK_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
else
  INT_CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
if [[ -z $ONLY || $ONLY == integration ]]; then
  stage "integration tests ($BUILD)"
  if [[ $EUID -ne 0 ]]; then
    echo "integration tests need root (namespaces, TUN): they will report SKIP"
  fi
  if build "$BUILD" "${INT_CMAKE_ARGS[@]}"; then
    run_ctest "$BUILD" integration
  else
    record "build (release)" fail
    # A broken unit test must not hide the state of the daemon: if the
    # daemon itself builds, run the integration tests anyway.
    echo "full build failed; building the daemon alone for the integration tests"
    if cmake --build "$BUILD" -j"$JOBS" --target ustackd >>"$RESULTS/cmake.log" 2>&1; then
      run_ctest "$BUILD" integration
    fi
  fi
fi

# Fuzzing (tests/fuzz, libFuzzer under ASan/UBSan): each target for a
# bounded time from the seed corpus; a crash, leak or timeout fails.
if [[ -z $ONLY || $ONLY == fuzz ]]; then
  stage "fuzz targets, ${FUZZ_SECONDS:-30} s each (scripts/fuzz.sh)"
  "$ROOT/scripts/fuzz.sh" --seconds "${FUZZ_SECONDS:-30}" | tee "$RESULTS/fuzz.log"
  rc=${PIPESTATUS[0]}
  n=0
  while read -r target verdict _; do
    n=$((n + 1))
    if [[ $verdict == ok ]]; then record "fuzz.$target" pass; else record "fuzz.$target" fail; fi
  done < <(sed -n '/^== fuzz summary/,$p' "$RESULTS/fuzz.log" | grep -E '^fuzz_')
  if [[ $n -eq 0 || ($rc -ne 0 && $failed -eq 0) ]]; then record "fuzz (exit $rc)" fail; fi
fi

# Fault injection against the real kernel (scripts/fault): loss, reordering,
# duplication, corruption, delay, rate limits, blackholes, a vanished peer,
# each transfer checked byte for byte. --quick keeps it to a few minutes.
if [[ -z $ONLY || $ONLY == fault ]]; then
  stage "fault-injection scenarios (scripts/fault/run-all --quick)"
  if [[ -x $BUILD/apps/ustackd/ustackd ]]; then
    USTACKD=$BUILD/apps/ustackd/ustackd "$ROOT/scripts/fault/run-all" --quick |
      tee "$RESULTS/fault.log"
    fault_rc=${PIPESTATUS[0]}
    fault_failed_before=$failed
    while read -r verdict name _; do
      case $verdict in
      PASS) record "fault.$name" pass ;;
      FAIL) record "fault.$name" fail ;;
      SKIP) if [[ ${CI:-} == true ]]; then record "fault.$name" fail; else record "fault.$name" skip; fi ;;
      esac
    done < <(grep -E '^(PASS|FAIL|SKIP) ' "$RESULTS/fault.log")
    grep -qE '^(PASS|FAIL|SKIP) ' "$RESULTS/fault.log" || record "fault scenarios (none ran)" fail
    # run-all's exit status is the verdict; the lines above only name the
    # scenarios. A failure the line parsing missed still fails the stage.
    # 77: nothing could run (no root); the SKIP lines were recorded above.
    if [[ $fault_rc -ne 0 && $fault_rc -ne 77 && $failed -eq $fault_failed_before ]]; then
      record "fault scenarios (run-all exit $fault_rc)" fail
    fi
  else
    record "fault scenarios (no ustackd built)" fail
  fi
fi

echo
if [[ $failed -gt 0 ]]; then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "test.sh: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 && $((passed + failed)) -gt 0 ]]
