#!/usr/bin/env bash
# Embedding (README "Embedding ustack"): install ustack into a temporary
# prefix, build examples/ with nothing but `cc` and `pkg-config --cflags
# --libs ustack` (PKG_CONFIG_PATH pointing at that prefix), then run both:
# sansio_test (a capture device and a virtual clock) as it is, and
# tun_udp_echo (its own TUN and poll loop) in this test's namespace, with
# the kernel sending it datagrams to echo.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin embed

build=$(cd "$(dirname "$USTACKD")/../.." && pwd)
prefix=$IT_WORK/prefix
cmake --install "$build" --prefix "$prefix" >"$IT_WORK/install.log" 2>&1 ||
  it_fail "cmake --install: $(tail -n 5 "$IT_WORK/install.log")"
[[ -f $prefix/include/ustack/ustack.h && -f $prefix/lib/pkgconfig/ustack.pc ]] ||
  it_fail "install did not put include/ustack/ustack.h and lib/pkgconfig/ustack.pc under $prefix"
it_ok "installed into $prefix"

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs ustack) || it_fail "pkg-config does not know ustack"
# A sanitizer build's archive needs the sanitizer runtime at link time.
san=()
if grep -q '^USTACK_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  san=(-fsanitize=address,undefined)
fi
for e in sansio_test tun_udp_echo; do
  # shellcheck disable=SC2086 # pkg-config output is a list of flags
  cc -std=c11 -Wall -Wextra -Werror "${san[@]}" "$US_ROOT/examples/$e.c" -o "$IT_WORK/$e" $flags \
    >"$IT_WORK/cc-$e.log" 2>&1 || it_fail "cc $e.c with pkg-config: $(head -n 20 "$IT_WORK/cc-$e.log")"
done
it_ok "examples built with: cc \$(pkg-config --cflags --libs ustack) = $flags"

"$IT_WORK/sansio_test" >"$IT_WORK/sansio.log" 2>&1 || it_fail "sansio_test: $(cat "$IT_WORK/sansio.log")"
it_ok "$(tail -n 1 "$IT_WORK/sansio.log")"

# Its own TUN in our namespace; the kernel side gets the host address.
dev=usemb0
ns_bg "$IT_WORK/tun_udp_echo" "$dev" "$US_ADDR" 7 3 30 >"$IT_WORK/echo.log" 2>&1
echo_pid=${NS_PIDS[-1]}
for ((i = 0; i < 100; i++)); do
  ip -n "$NS" link show dev "$dev" >/dev/null 2>&1 && break
  kill -0 "$echo_pid" 2>/dev/null || it_fail "tun_udp_echo died: $(cat "$IT_WORK/echo.log")"
  sleep 0.1
done
ip -n "$NS" addr add "$US_HOST/24" dev "$dev" || it_fail "cannot address $dev"
ip -n "$NS" link set "$dev" up || it_fail "cannot bring $dev up"
ns_exec timeout 20 python3 - "$US_ADDR" <<'PY' || it_fail "UDP echo through the embedded stack"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
for i in range(3):
    msg = b"embedded %d" % i
    for attempt in range(5):  # the first may wait for the link to settle
        s.sendto(msg, (sys.argv[1], 7))
        try:
            got, _ = s.recvfrom(2048)
            break
        except socket.timeout:
            continue
    else:
        sys.exit("no echo for %r" % msg)
    if got != msg:
        sys.exit("sent %r, got %r" % (msg, got))
PY
wait "$echo_pid" || it_fail "tun_udp_echo exited $?: $(cat "$IT_WORK/echo.log")"
it_ok "tun_udp_echo: $(tail -n 1 "$IT_WORK/echo.log")"
it_end
