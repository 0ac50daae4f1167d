#!/usr/bin/env bash
# ustackd dual-stack (docs/DUALSTACK.md): with its default IPv6 side the
# kernel has fd00::1 on the TUN (no DAD: usable at once) and the stack
# answers fd00::2. From the namespace: ping -6; the pcap shows the ICMPv6
# replies, and IPv4 keeps working in the same run. Then --no-ipv6 leaves
# the link IPv4 only.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/https_lib.sh"
it_begin ipv6
ns_enable_ipv6 || it_fail "cannot turn IPv6 on in the namespace"

https_start --udp-echo 7 --tcp-echo 7 --pcap "$IT_WORK/v6.pcap" --status-clients
ns_wait_addr6 || it_fail "no $US_HOST6 on $US_DEV"
addr=$(ns_exec ip -6 addr show dev "$US_DEV")
[[ $addr == *"inet6 $US_HOST6 peer $US_ADDR6/64 scope global nodad"* ]] ||
  it_fail "the kernel's IPv6 address is not '$US_HOST6 peer $US_ADDR6/64 nodad': $addr"
[[ $addr != *tentative* ]] || it_fail "an address is still tentative (DAD): $addr"
it_ok "kernel side: $US_HOST6 peer $US_ADDR6/64, nodad, not tentative"

out=$(ns_exec ping -6 -n -c 3 -i 0.2 -W 2 -w 10 "$US_ADDR6") || it_fail "ping -6 $US_ADDR6: $out"
it_ok "ping -6 $US_ADDR6: $(grep -o '[0-9]* received' <<<"$out")"

# The same daemon still speaks IPv4.
ns_exec ping -n -c 1 -W 2 "$US_ADDR" >/dev/null || it_fail "ping $US_ADDR (IPv4) failed"
page=$(it_curl "https://$US_ADDR/") || it_fail "curl https://$US_ADDR/ failed"
[[ $page == *"$HTTPS_INDEX_MARK"* ]] || it_fail "curl over IPv4: not the index page"
it_ok "IPv4 in the same run: ping and curl https://$US_ADDR/"

it_stop
if command -v tshark >/dev/null; then
  replies=$(tshark -r "$IT_WORK/v6.pcap" -Y "icmpv6.type == 129 && ipv6.src == $US_ADDR6" 2>/dev/null |
    wc -l)
  [[ $replies -ge 3 ]] || it_fail "the pcap holds $replies ICMPv6 echo replies from $US_ADDR6, want 3"
  it_ok "pcap (LINKTYPE_RAW): $replies ICMPv6 echo replies from $US_ADDR6"
fi

# --no-ipv6: the link gets no IPv6 address of ours.
it_start --no-ipv6 --udp-echo 7
addr=$(ns_exec ip -6 addr show dev "$US_DEV")
[[ $addr != *"$US_HOST6"* ]] || it_fail "--no-ipv6, yet $US_HOST6 is on $US_DEV: $addr"
it_stop
it_ok "--no-ipv6: no $US_HOST6 on $US_DEV"
it_end
