#!/usr/bin/env bash
# demo.sh - ustack answering the Linux kernel over a TUN device.
#
#   sudo scripts/demo.sh            run every demo step, then stop and clean up
#   sudo scripts/demo.sh --keep     ... then keep the stack running until Ctrl-C
#
# A network namespace of our own holds the TUN. ustackd owns 10.0.0.2 and
# the kernel's side of the link is 10.0.0.1; the kernel in the namespace
# pings the stack, talks UDP to it, and everything is captured to a pcap
# that tshark reads back. Nothing leaves the namespace; it is deleted on
# exit, also on Ctrl-C or failure.
#
# Steps are functions named demo_<step>, run in the order of DEMO_STEPS;
# a new demo (HTTPS, ...) adds its function and its name to the list, and
# its daemon options to DEMO_USTACKD_ARGS.
set -euo pipefail

usage_text() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
export USTACKD=${USTACKD:-$BUILD/apps/ustackd/ustackd}
# shellcheck source=lib/netns.sh
source "$ROOT/scripts/lib/netns.sh"

KEEP=0
for a in "$@"; do
  case $a in
  --keep) KEEP=1 ;;
  -h | --help)
    usage_text
    exit 0
    ;;
  *)
    echo "demo.sh: unknown option '$a' (try --help)" >&2
    exit 2
    ;;
  esac
done

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ustack-demo.XXXXXX")
DEMO_LOG=$DEMO_DIR/ustackd.log
DEMO_PCAP=$DEMO_DIR/demo.pcap
DEMO_USTACKD_ARGS=(--pcap "$DEMO_PCAP" --udp-echo 7)
DEMO_STEPS=(ping ping_big udp)

demo_ping() {
  say "ping the stack from the kernel's side of the TUN (the replies come from ustack)"
  run ip netns exec "$NS" ping -n -c 5 -i 0.2 "$US_ADDR"
}

demo_ping_big() {
  say "a 3000-byte ping: fragmented by the kernel, reassembled and answered by ustack"
  run ip netns exec "$NS" ping -n -c 2 -i 0.2 -s 3000 "$US_ADDR"
}

demo_udp() {
  say "UDP echo (port 7) through the stack's socket API"
  printf '$ echo "hello, ustack" | nc -u -w1 %s 7\n' "$US_ADDR"
  echo "hello, ustack" | ns_exec timeout 5 nc -u -w1 "$US_ADDR" 7
}

demo_capture() {
  say "what crossed the link, read back by tshark from $DEMO_PCAP"
  if command -v tshark >/dev/null; then
    tshark -r "$DEMO_PCAP" 2>/dev/null | head -n 30
  else
    echo "(tshark not installed: sudo scripts/setup.sh)"
  fi
}

main() {
  if [[ $EUID -ne 0 ]]; then
    echo "demo.sh: needs root for the namespace and the TUN: sudo scripts/demo.sh" >&2
    exit 1
  fi
  if [[ ! -x $USTACKD ]]; then
    say "building ustack (first run)"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$BUILD" -j"$(nproc)"
  fi
  local why
  why=$(ns_cannot_run)
  if [[ -n $why ]]; then
    echo "demo.sh: cannot run: $why" >&2
    exit 1
  fi
  ns_create demo
  say "namespace $NS: ustackd owns $US_ADDR on $US_DEV, the kernel is $US_HOST"
  printf '$ ustackd --dev %s --host %s --addr %s --prefix %s %s\n' "$US_DEV" "$US_HOST" \
    "$US_ADDR" "$US_PREFIX" "${DEMO_USTACKD_ARGS[*]}"
  ns_start_ustackd "$DEMO_LOG" "${DEMO_USTACKD_ARGS[@]}"
  run ip -n "$NS" -4 addr show dev "$US_DEV"

  local step
  for step in "${DEMO_STEPS[@]}"; do
    "demo_$step"
  done

  if [[ $KEEP -eq 1 ]]; then
    say "ustackd keeps running. Try, in another terminal:"
    echo "  sudo ip netns exec $NS ping $US_ADDR"
    echo "  sudo ip netns exec $NS nc -u $US_ADDR 7"
    echo "  sudo kill -USR1 $USTACKD_PID    # print the stack's counters here"
    echo "Press Ctrl-C to stop; the namespace is then deleted."
    tail -n +1 -f "$DEMO_LOG" &
    NS_PIDS+=("$!")
    wait "$USTACKD_PID" || true
    return 0
  fi

  say "stopping ustackd (SIGTERM): its counters"
  ns_stop_ustackd || echo "ustackd exited with status $?"
  grep -E 'counter|pools' "$DEMO_LOG" | sed 's/^ustackd: //'
  demo_capture
  say "done: the namespace $NS is deleted on exit. Run with --keep to play with the stack."
  echo "The capture and the log stay in $DEMO_DIR (wireshark $DEMO_PCAP)."
}

main
