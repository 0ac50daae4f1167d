#!/usr/bin/env bash
# demo.sh - ustack answering the Linux kernel over a TUN device.
#
#   sudo scripts/demo.sh            run every demo step, then stop and clean up
#   sudo scripts/demo.sh --keep     ... then keep the stack running until Ctrl-C
#
# A network namespace of our own holds the TUN. ustackd owns 10.0.0.2 and
# fd00::2, the kernel's side of the link is 10.0.0.1 and fd00::1; the kernel
# in the namespace pings the stack (ping and ping -6), talks UDP and TCP to
# it, and fetches https://10.0.0.2/ and https://[fd00::2]/ with curl: TLS
# (BearSSL) over ustack's TCP, over IPv4 and IPv6. A demo CA
# and server certificate are made with openssl in out/demo-certs the first
# time. Everything is captured to a pcap that tshark reads back. Nothing leaves the namespace; it is deleted on
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
DEMO_CERTS=${DEMO_CERTS:-$ROOT/out/demo-certs}
DEMO_WWW=$DEMO_DIR/www
DEMO_CTL=$DEMO_DIR/ctl.sock
USTACK_SS=$BUILD/apps/ustack-ss/ustack-ss
DEMO_USTACKD_ARGS=(--pcap "$DEMO_PCAP" --ctl "$DEMO_CTL" --udp-echo 7 --tcp-echo 7
  --tcp-discard 9 --tcp-chargen 19
  --https 443 --cert "$DEMO_CERTS/server.pem" --key "$DEMO_CERTS/server-key.pem"
  --root "$DEMO_WWW")
DEMO_STEPS=(ping ping6 ping_big udp tcp https https6)

demo_ping() {
  say "ping the stack from the kernel's side of the TUN (the replies come from ustack)"
  run ip netns exec "$NS" ping -n -c 5 -i 0.2 "$US_ADDR"
}

demo_ping6() {
  say "ping -6: the same over IPv6 (ICMPv6 echo, RFC 4443), to the stack's $US_ADDR6"
  run ip netns exec "$NS" ping -6 -n -c 3 -i 0.2 "$US_ADDR6"
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

demo_tcp() {
  say "TCP echo (port 7): the kernel's TCP talking to ustack's RFC 9293 state machine"
  printf '$ echo "hello over TCP" | nc -N %s 7\n' "$US_ADDR"
  echo "hello over TCP" | ns_exec timeout 5 nc -N -w 3 "$US_ADDR" 7
  say "the stack's connections, as ustack-ss sees them (like ss -tani), while nc holds one open"
  (echo "hello again"; sleep 1) | ns_exec timeout 5 nc -N -w 3 "$US_ADDR" 7 >/dev/null &
  local nc_pid=$!
  sleep 0.3
  run "$USTACK_SS" --ctl "$DEMO_CTL"
  wait "$nc_pid" || true
}

demo_https() {
  say "HTTPS: curl, with the demo CA, fetching a page from the stack (TLS over ustack's TCP)"
  printf '$ curl --cacert %s https://%s/\n' "$DEMO_CERTS/ca.pem" "$US_ADDR"
  ns_exec timeout 20 curl -sS --cacert "$DEMO_CERTS/ca.pem" "https://$US_ADDR/" |
    tee "$DEMO_DIR/index.html"
}

demo_https6() {
  say "HTTPS over IPv6: curl -6 to https://[$US_ADDR6]/ (the certificate names IP:$US_ADDR6 too)"
  printf '$ curl -6 --cacert %s https://[%s]/\n' "$DEMO_CERTS/ca.pem" "$US_ADDR6"
  ns_exec timeout 20 curl -6 -sS --cacert "$DEMO_CERTS/ca.pem" "https://[$US_ADDR6]/" |
    head -n 4
  echo "..."
}

# The web root and the certificates the HTTPS service needs.
demo_prepare() {
  if [[ ! -f $DEMO_CERTS/server.pem ]]; then
    say "making a demo CA and a server certificate for $US_ADDR and $US_ADDR6 in $DEMO_CERTS (openssl)"
  fi
  "$ROOT/scripts/gen-certs.sh" "$DEMO_CERTS" >/dev/null
  mkdir -p "$DEMO_WWW"
  cat >"$DEMO_WWW/index.html" <<HTML
<!doctype html>
<html><head><meta charset="utf-8"><title>ustack</title></head>
<body>
<h1>Hello from ustack</h1>
<p>This page came over TLS (BearSSL) on ustack's own TCP/IP stack, read from a
TUN device in user space. No kernel TCP code served it.</p>
<p>See the stack live: <a href="/status">/status</a> (or <a href="/status.json">/status.json</a>).</p>
</body></html>
HTML
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
  demo_prepare
  ns_create demo
  ns_enable_ipv6 || echo "(cannot turn IPv6 on in the namespace: the IPv6 steps will fail)"
  say "namespace $NS: ustackd owns $US_ADDR and $US_ADDR6 on $US_DEV, the kernel is $US_HOST and $US_HOST6"
  printf '$ ustackd --dev %s --host %s --addr %s --prefix %s %s\n' "$US_DEV" "$US_HOST" \
    "$US_ADDR" "$US_PREFIX" "${DEMO_USTACKD_ARGS[*]}"
  ns_start_ustackd "$DEMO_LOG" "${DEMO_USTACKD_ARGS[@]}"
  ns_wait_addr6 || echo "(no IPv6 on the link: see $DEMO_LOG)"
  run ip -n "$NS" addr show dev "$US_DEV"

  local step
  for step in "${DEMO_STEPS[@]}"; do
    "demo_$step"
  done

  if [[ $KEEP -eq 1 ]]; then
    say "ustackd keeps running. Try, in another terminal:"
    echo "  sudo ip netns exec $NS ping $US_ADDR; sudo ip netns exec $NS ping -6 $US_ADDR6"
    echo "  sudo ip netns exec $NS nc -u $US_ADDR 7            # UDP echo"
    echo "  sudo ip netns exec $NS nc $US_ADDR 7               # TCP echo (9 discard, 19 chargen)"
    echo "  sudo ip netns exec $NS curl --cacert $DEMO_CERTS/ca.pem https://$US_ADDR/status"
    echo "  sudo ip netns exec $NS curl -6 --cacert $DEMO_CERTS/ca.pem 'https://[$US_ADDR6]/'"
    echo "  sudo $USTACK_SS --ctl $DEMO_CTL        # connections;  -s for counters"
    echo "  sudo kill -USR1 $USTACKD_PID    # print the stack's counters here"
    echo "The status page in a browser: the namespace is private, so run the browser in it:"
    echo "  sudo ip netns exec $NS chromium --no-sandbox --user-data-dir=\$(mktemp -d) https://$US_ADDR/status"
    echo "  (trust $DEMO_CERTS/ca.pem, or accept the warning)"
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
  echo "To stop a --keep run: Ctrl-C (the daemon, the namespace and the TUN all go away)."
  echo "The capture and the log stay in $DEMO_DIR (wireshark $DEMO_PCAP)."
  if [[ -s $DEMO_DIR/index.html ]]; then
    say "the HTTPS page curl fetched from ustack (https://$US_ADDR/, verified with $DEMO_CERTS/ca.pem):"
    cat "$DEMO_DIR/index.html"
  else
    echo "demo.sh: the HTTPS fetch failed (see $DEMO_LOG)" >&2
    return 1
  fi
}

main
