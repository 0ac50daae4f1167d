# shellcheck shell=bash
# router_lib.sh - a router between ustack and a kernel client (on top of
# lib.sh), for the tests whose peer sits one hop away:
#
#   ustackd --TUN-- [router: the test's namespace] --veth vr/vc-- [client: $NS2]
#   10.0.0.2        10.0.0.1 (tun0)   10.0.1.1 (vr)               10.0.1.2 (vc)
#
# The router is the test's own namespace (ns_exec); the client is a second
# namespace made here and deleted on exit like the test's own.
CLIENT=10.0.1.2
ROUTER_IN=10.0.1.1
CLIENT6=fd00:1::2
ROUTER_IN6=fd00:1::1

# router_setup [ROUTER_MTU] [CLIENT_MTU]: make the client namespace ($NS2)
# and the veth pair, route the client through the router and turn on
# forwarding there. An empty or missing MTU leaves the veth default (1500).
# Each test adds its own router rules (nft) and client sysctls afterwards.
router_setup() {
  local vr_mtu=${1:-} vc_mtu=${2:-}
  NS2="us-itc-$$-${RANDOM}"
  ns_on_exit "ip netns pids $NS2 2>/dev/null | xargs -r kill -KILL 2>/dev/null; ip netns del $NS2 2>/dev/null"
  ip netns add "$NS2" || it_fail "cannot create namespace $NS2"
  ip -n "$NS2" link set lo up
  ip netns exec "$NS2" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1 || true
  # Both ends made inside the test's namespace, one moved to the client's.
  ns_exec ip link add vr type veth peer name vc || it_fail "cannot create the veth pair"
  ns_exec ip link set vc netns "$NS2"
  ns_exec ip addr add "$ROUTER_IN/24" dev vr
  ns_exec ip link set vr ${vr_mtu:+mtu "$vr_mtu"} up
  ip -n "$NS2" addr add "$CLIENT/24" dev vc
  ip -n "$NS2" link set vc ${vc_mtu:+mtu "$vc_mtu"} up
  ip -n "$NS2" route add default via "$ROUTER_IN"
  # Forwarding in the router namespace only (a namespace's own sysctl).
  ns_exec sysctl -qw net.ipv4.ip_forward=1
  ns_exec sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

# router_add_ipv6: after router_setup (and before ustackd starts), IPv6 on
# both sides of the router too: $ROUTER_IN6 on vr, $CLIENT6 on vc with a
# default route through the router, IPv6 forwarding in the router only.
# No duplicate address detection (nodad), so the addresses work at once.
router_add_ipv6() {
  ns_enable_ipv6 || it_fail "cannot turn IPv6 on in the namespace"
  ip netns exec "$NS2" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 \
    net.ipv6.conf.default.disable_ipv6=0 net.ipv6.conf.vc.disable_ipv6=0 >/dev/null ||
    it_fail "cannot turn IPv6 on in $NS2"
  ns_exec sysctl -qw net.ipv6.conf.vr.disable_ipv6=0 >/dev/null
  ns_exec ip -6 addr add "$ROUTER_IN6/64" dev vr nodad || it_fail "cannot add $ROUTER_IN6"
  ip -n "$NS2" -6 addr add "$CLIENT6/64" dev vc nodad || it_fail "cannot add $CLIENT6"
  ip -n "$NS2" -6 route add default via "$ROUTER_IN6" || it_fail "no IPv6 route in $NS2"
  ns_exec sysctl -qw net.ipv6.conf.all.forwarding=1
}

# router_client_recv BYTES FILE SECS [PEER_OPTION...]: the client reads
# ustackd's --tcp-source stream (port 5002) into FILE, bounded by SECS; it
# must get BYTES bytes, and ustackd must log the same count and SHA-256.
router_client_recv() {
  local bytes=$1 file=$2 secs=$3 out got
  out=$(ip netns exec "$NS2" timeout "$secs" python3 "$PEER" "${@:4}" recv "$US_ADDR" 5002 \
    "$file") || it_fail "client recv: $out"
  got=$(sha256sum "$file" | cut -d' ' -f1)
  [[ $out == "received $bytes sha256 $got" ]] || it_fail "client says: $out (want $bytes bytes)"
  it_wait_log "tcp-source: .*: $bytes bytes sha256 $got" 30 ||
    it_fail "source did not log $bytes bytes with sha256 $got"
}
