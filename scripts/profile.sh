#!/usr/bin/env bash
# profile.sh - where ustackd's time goes: valgrind --tool=callgrind on
# ustackd during one bounded bulk transfer each way, inside a namespace of
# our own, and callgrind_annotate's top functions for each direction
# (docs/PERFORMANCE.md shows and reads the result).
#
#   sudo scripts/profile.sh [--bytes N] [--transactions N] [--top K] [--out DIR]
#                           [-- USTACKD-ARGS...]
#
#   host -> stack  usload send N bytes into --tcp-discard (the kernel sends)
#   stack -> host  usload recv N bytes from --tcp-chargen (the kernel reads)
#   echo           usload rr: --transactions 100-byte echoes on 10 connections
#
# Callgrind counts instructions (Ir), not time: system calls are one
# instruction each, so the TUN read/write cost shows up only as the number
# of calls; the figures are the stack's own work per byte. Each direction
# is its own ustackd run, so its profile holds nothing else. The .out files
# stay in --out (default out/profile) for callgrind_annotate or kcachegrind.
#
# Safety: as scripts/bench.sh (scripts/lib/netns.sh): the namespace is ours,
# deleted on exit; only processes started here are stopped.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
BYTES=30000000
TRANSACTIONS=20000
TOP=25
OUT=$ROOT/out/profile
EXTRA=()
while [[ $# -gt 0 ]]; do
  case $1 in
  --bytes) BYTES=$2; shift 2 ;;
  --transactions) TRANSACTIONS=$2; shift 2 ;;
  --top) TOP=$2; shift 2 ;;
  --out) OUT=$2; shift 2 ;;
  --) shift; EXTRA=("$@"); break ;;
  -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "profile: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
[[ $BYTES =~ ^[0-9]+$ && $BYTES -gt 0 && $BYTES -le 1000000000 ]] || { echo "profile: --bytes is 1..1e9" >&2; exit 2; }
[[ $TRANSACTIONS =~ ^[0-9]+$ && $TRANSACTIONS -gt 0 && $TRANSACTIONS -le 10000000 ]] ||
  { echo "profile: --transactions is 1..1e7" >&2; exit 2; }
[[ $TOP =~ ^[0-9]+$ ]] || { echo "profile: --top is a count" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "profile: needs root (namespaces, TUN)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "profile: valgrind is not installed (scripts/setup.sh)" >&2; exit 1; }

USLOAD=$BUILD/apps/usload/usload
REAL_USTACKD=$BUILD/apps/ustackd/ustackd
cmake --build "$BUILD" -j2 --target usload ustackd >/dev/null || { echo "profile: build failed" >&2; exit 1; }
mkdir -p "$OUT"
export US_DEV=tun0 US_HOST=10.0.0.1 US_ADDR=10.0.0.2 US_PREFIX=24
# Under valgrind the daemon is the valgrind process; netns.sh starts and
# stops whatever USTACKD names, so point it at a wrapper.
WRAP=$(mktemp "${TMPDIR:-/tmp}/ustack-profile.XXXXXX")
export USTACKD=$WRAP
# shellcheck source=lib/netns.sh
source "$ROOT/scripts/lib/netns.sh"
ns_on_exit "rm -f '$WRAP'"
ns_create profile || exit 1

profile_one() { # profile_one NAME CLIENT-ARGS...
  local name=$1 line
  shift
  cat >"$WRAP" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$name.out" "$REAL_USTACKD" "\$@"
EOF
  chmod +x "$WRAP"
  ns_start_ustackd "$OUT/ustackd.$name.log" --tcp-discard 9 --tcp-chargen 19 --tcp-echo 7 "${EXTRA[@]}" ||
    { echo "profile: ustackd under valgrind did not start" >&2; return 1; }
  line=$(timeout 600 ip netns exec "$NS" "$USLOAD" --timeout 600 "$@") ||
    { echo "profile: usload failed: $line" >&2; ns_stop_ustackd; return 1; }
  echo "profile: $name: $line (under callgrind: slow by design)" >&2
  NS_STOP_TIMEOUT=60 ns_stop_ustackd
  echo
  echo "== $name: callgrind_annotate, top $TOP functions by instructions (self)"
  callgrind_annotate --inclusive=no "$OUT/callgrind.$name.out" 2>/dev/null | sed -n '/^-* *$/,$p' |
    grep -E '^ *[0-9,]+ ' | head -n "$((TOP + 1))" || true
  echo
  echo "== $name: top $TOP by instructions (inclusive)"
  callgrind_annotate --inclusive=yes "$OUT/callgrind.$name.out" 2>/dev/null |
    grep -E '^ *[0-9,]+ .*\[' | grep -vE 'below main|libc-start|ld-linux|PROGRAM TOTALS' |
    head -n "$TOP"
  return 0
}

profile_one host-to-stack send "$US_ADDR" 9 "$BYTES" || exit 1
profile_one stack-to-host --bytes "$BYTES" recv "$US_ADDR" 19 || exit 1
profile_one echo --parallel 10 --size 100 --seconds 600 --rr-count "$TRANSACTIONS" rr "$US_ADDR" 7 || exit 1
echo
echo "profile: callgrind files in $OUT (callgrind_annotate FILE, or kcachegrind)"
