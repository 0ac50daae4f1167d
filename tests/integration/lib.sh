# shellcheck shell=bash
# lib.sh - shared by the integration tests: each test sources this, calls
# it_begin NAME, and gets its own namespace with ustackd inside
# (scripts/lib/netns.sh), a work directory, and helpers to assert.
#
# Exit codes: 0 pass, 1 fail, 77 skip (ctest SKIP_RETURN_CODE). When the
# machine cannot run the test (not root, no TUN), the test SKIPS, unless
# CI=true: then it FAILS, because a skipped test proves nothing.
set -euo pipefail

IT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
US_ROOT=${US_ROOT:-$(cd "$IT_DIR/../.." && pwd)}
# shellcheck source=../../scripts/lib/netns.sh
source "$US_ROOT/scripts/lib/netns.sh"

IT_NAME=""
IT_WORK=""
IT_CHECKS=0

it_begin() {
  IT_NAME=$1
  local why
  why=$(ns_cannot_run)
  if [[ -n $why ]]; then
    if [[ ${CI:-} == true ]]; then
      echo "FAIL $IT_NAME: cannot run: $why (CI=true: a test that cannot run fails)" >&2
      exit 1
    fi
    echo "SKIP $IT_NAME: cannot run: $why" >&2
    exit 77
  fi
  IT_WORK=$(mktemp -d "${TMPDIR:-/tmp}/ustack-it-$IT_NAME.XXXXXX")
  ns_on_exit "it_finish_"
  ns_create "it"
}

# On exit: keep the work directory of a failed test for the post-mortem.
it_finish_() {
  local rc=${NS_EXIT_RC:-1}
  if [[ -n $IT_WORK ]]; then
    if [[ $rc -eq 0 ]]; then rm -rf "$IT_WORK"; else echo "($IT_NAME: logs kept in $IT_WORK)" >&2; fi
  fi
}

it_fail() {
  echo "FAIL $IT_NAME: $*" >&2
  if [[ -n ${IT_LOG:-} && -f ${IT_LOG:-} ]]; then
    echo "--- ustackd log (last 40 lines) ---" >&2
    tail -n 40 "$IT_LOG" >&2
  fi
  exit 1
}

it_ok() {
  IT_CHECKS=$((IT_CHECKS + 1))
  echo "  ok: $*"
}

# Start ustackd in the namespace with the standard addresses plus ARGS.
it_start() {
  IT_LOG=$IT_WORK/ustackd.log
  ns_start_ustackd "$IT_LOG" "$@" || it_fail "ustackd did not start"
}

# Stop ustackd; it must exit 0 (clean shutdown, no sanitizer report).
it_stop() {
  local rc=0
  ns_stop_ustackd || rc=$?
  [[ $rc -eq 0 ]] || it_fail "ustackd exited with status $rc"
  if grep -qE 'AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$IT_LOG"; then
    it_fail "sanitizer report in the ustackd log"
  fi
}

# Value of a counter from the daemon's exit (or SIGUSR1) dump; 0 if absent.
# The last dump wins.
it_counter() {
  local v
  v=$(sed -n "s/^ustackd: counter $1 = \([0-9]*\) .*/\1/p" "$IT_LOG" | tail -n 1)
  echo "${v:-0}"
}

# Ask the running daemon for a counter dump (SIGUSR1) and wait for it.
it_dump_counters() {
  local before after i
  before=$(grep -c '^ustackd: counters ' "$IT_LOG" || true)
  kill -USR1 "$USTACKD_PID"
  for ((i = 0; i < 50; i++)); do
    after=$(grep -c '^ustackd: pools: ' "$IT_LOG" || true)
    [[ $after -gt $before ]] && return 0
    sleep 0.1
  done
  it_fail "no counter dump after SIGUSR1"
}

it_end() {
  [[ $IT_CHECKS -gt 0 ]] || it_fail "no check was made"
  echo "PASS $IT_NAME ($IT_CHECKS checks)"
}

# This test needs IPv6 in the kernel: without it the test is skipped, or
# fails with CI=true (a test that cannot run proves nothing); with it, the
# namespace gets IPv6 turned on (ns_enable_ipv6; test namespaces keep it
# off otherwise).
it_need_ipv6() {
  if [[ ! -d /proc/sys/net/ipv6 ]]; then
    [[ ${CI:-} == true ]] && it_fail "the kernel has no IPv6 (CI=true: a test that cannot run fails)"
    echo "SKIP $IT_NAME: the kernel has no IPv6" >&2
    exit 77
  fi
  ns_enable_ipv6 || it_fail "cannot turn IPv6 on in the namespace"
}
