#!/usr/bin/env bash
# The command line is a contract: every wrong use gives exactly ONE line on
# stderr and a non-zero exit, before anything is set up; a clash with
# something already there (interface in use, address taken, no permission)
# too.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin cli

# expect_error STATUS PATTERN ARGS...: runs ustackd ARGS in the namespace.
expect_error() {
  local want=$1 pattern=$2
  shift 2
  expect_error_cmd "$want" "$pattern" "$USTACKD" "$@"
}

# expect_error_cmd STATUS PATTERN CMD...: the same for any command line.
expect_error_cmd() {
  local want=$1 pattern=$2 rc=0
  shift 2
  ns_exec timeout 10 "$@" >"$IT_WORK/out" 2>"$IT_WORK/err" || rc=$?
  local lines
  lines=$(wc -l <"$IT_WORK/err")
  [[ $rc -ne 0 ]] || it_fail "'ustackd $*' exited 0"
  [[ $want == any || $rc -eq $want ]] || it_fail "'ustackd $*' exited $rc, want $want"
  [[ $lines -eq 1 ]] || it_fail "'ustackd $*' printed $lines lines on stderr: $(cat "$IT_WORK/err")"
  grep -qE -- "$pattern" "$IT_WORK/err" || it_fail "'ustackd $*': '$(cat "$IT_WORK/err")' does not match /$pattern/"
  local shown="$*"
  shown=${shown#"$USTACKD "}
  it_ok "$shown -> exit $rc: $(cat "$IT_WORK/err")"
}

base=(--dev "$US_DEV" --host "$US_HOST" --addr "$US_ADDR" --prefix "$US_PREFIX")

help=$("$USTACKD" --help) || it_fail "--help exited non-zero"
[[ $help == *--udp-echo* && $help == *--pcap* ]] || it_fail "--help does not list --udp-echo and --pcap"
it_ok "--help lists the options and services"
expect_error 2 "unknown option '--bogus'" "${base[@]}" --bogus
expect_error 2 '--mtu needs a value' "${base[@]}" --mtu
expect_error 2 "--mtu: 'lots'" "${base[@]}" --mtu lots
expect_error 2 "--host: '10.0.0.300' is not an IPv4 address" --dev "$US_DEV" --host 10.0.0.300 --addr "$US_ADDR"
expect_error 2 'missing --dev' --host "$US_HOST" --addr "$US_ADDR"
expect_error 2 'not in the same /24' --dev "$US_DEV" --host 10.0.1.1 --addr "$US_ADDR"
expect_error 2 "--udp-echo: bad port '70000'" "${base[@]}" --udp-echo 70000
# IPv6 on the link (docs/IPV6.md): each wrong combination is one line, exit 2.
expect_error 2 "--addr6: 'fd00::zz' is not an IPv6 address" "${base[@]}" --host6 fd00::1 --addr6 fd00::zz
expect_error 2 'missing --addr6 ADDR' "${base[@]}" --host6 fd00::1
expect_error 2 '--host6 and --addr6 are not in the same /64' "${base[@]}" --host6 fd00::1 --addr6 fd01::2
expect_error 2 '--host6 is a multicast address' "${base[@]}" --host6 ff02::1 --addr6 ff02::2
expect_error 2 'IPv6 needs --mtu 1280 or more' "${base[@]}" --mtu 1000 --host6 fd00::1 --addr6 fd00::2
expect_error 2 '--no-ipv6 with --host6' "${base[@]}" --no-ipv6 --host6 fd00::1 --addr6 fd00::2
expect_error 2 'log-level' "${base[@]}" --log-level chatty
# Scale options (docs/MEMORY.md): each bad value is one line, exit 2.
expect_error 2 "--max-conns: '0' is not 1..1000000" "${base[@]}" --max-conns 0
expect_error 2 "--rcvbuf: '100' is not 4096..16777216 bytes" "${base[@]}" --rcvbuf 100
expect_error 2 "--sndbuf: '17M' is not 4096..16777216 bytes" "${base[@]}" --sndbuf 17M
expect_error 2 '--buf-mem: 1048576 bytes cannot hold one send and one receive buffer' \
  "${base[@]}" --rcvbuf 1M --buf-mem 1M

# No permission on /dev/net/tun: run as nobody.
if command -v setpriv >/dev/null; then
  expect_error_cmd 1 'no permission' setpriv --reuid=65534 --regid=65534 --clear-groups \
    --inh-caps=-all --bounding-set=-all "$USTACKD" "${base[@]}"
fi

# The interface is in use: a second daemon on the same TUN.
it_start
expect_error 1 "interface $US_DEV is in use" "${base[@]}"
it_stop

# The address is taken by another interface in the namespace (a spare
# persistent TUN: the dummy driver may not be built into the kernel).
ns_exec ip tuntap add dev us-other mode tun
ns_exec ip addr add "$US_HOST/32" dev us-other
expect_error 1 "address $US_HOST \(--host\) is already in use on interface us-other" "${base[@]}"
ns_exec ip addr flush dev us-other
ns_exec ip addr add "$US_ADDR/32" dev us-other
expect_error 1 "address $US_ADDR \(--addr\) is already in use on interface us-other" "${base[@]}"
ns_exec ip link del us-other

# The name belongs to something that is not a TUN (a TAP).
ns_exec ip tuntap add dev "$US_DEV" mode tap
expect_error 1 "interface $US_DEV already exists and is not a TUN device" "${base[@]}"
ns_exec ip link del "$US_DEV"

# An existing persistent TUN of that name is attached to, not refused.
ns_exec ip tuntap add dev "$US_DEV" mode tun
it_start
ns_exec ping -n -c 2 -i 0.1 -W 2 -w 10 "$US_ADDR" >/dev/null || it_fail "no ping through an attached TUN"
it_stop
ns_exec ip link show dev "$US_DEV" >/dev/null || it_fail "the persistent TUN vanished"
ns_exec ip link del "$US_DEV"
it_ok "attached to an existing persistent TUN, answered ping, left it in place"
it_end
