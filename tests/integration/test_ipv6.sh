#!/usr/bin/env bash
# ustackd dual-stack (docs/DUALSTACK.md): with its default IPv6 side the
# kernel has fd00::1 on the TUN (no DAD: usable at once) and the stack
# answers fd00::2. From the namespace: ping -6, nc -6 to the UDP and TCP
# echo services, curl -6 to https://[fd00::2]/ with the certificate checked
# against its IP:fd00::2 name; ustack-ss, /status.json and the pcap show
# the IPv6 endpoints, the stack's client connects to [fd00::1]:6000, and
# IPv4 keeps working in the same run. Then --https-get fetches
# https://[fd00::1]:4433/ from openssl s_server, and --no-ipv6 leaves the
# link IPv4 only.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/https_lib.sh"
it_begin ipv6
it_need_ipv6

# The kernel's server for the stack's client: reads to the end, prints
# the byte count and SHA-256, closes.
cat >"$IT_WORK/sink6.py" <<'PY'
import hashlib, socket, sys
ls = socket.socket(socket.AF_INET6)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], int(sys.argv[2])))
ls.listen(1)
ls.settimeout(30)
c, _ = ls.accept()
c.settimeout(30)
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(65536)
    if not b:
        break
    h.update(b)
    n += len(b)
c.close()
print("received %d sha256 %s" % (n, h.hexdigest()), flush=True)
PY

https_start --udp-echo 7 --tcp-echo 7 --pcap "$IT_WORK/v6.pcap" --status-clients \
  --connect "[$US_HOST6]:6000" --client-send 300000 --client-delay 2000 --seed 6
ns_wait_addr6 || it_fail "no $US_HOST6 on $US_DEV"
ns_bg timeout 40 python3 "$IT_WORK/sink6.py" "$US_HOST6" 6000 >"$IT_WORK/sink6.out" 2>&1
addr=$(ns_exec ip -6 addr show dev "$US_DEV")
[[ $addr == *"inet6 $US_HOST6 peer $US_ADDR6/64 scope global nodad"* ]] ||
  it_fail "the kernel's IPv6 address is not '$US_HOST6 peer $US_ADDR6/64 nodad': $addr"
[[ $addr != *tentative* ]] || it_fail "an address is still tentative (DAD): $addr"
it_ok "kernel side: $US_HOST6 peer $US_ADDR6/64, nodad, not tentative"

out=$(ns_exec ping -6 -n -c 3 -i 0.2 -W 2 -w 10 "$US_ADDR6") || it_fail "ping -6 $US_ADDR6: $out"
it_ok "ping -6 $US_ADDR6: $(grep -o '[0-9]* received' <<<"$out")"

msg="hello over IPv6 $$"
got=$(printf '%s\n' "$msg" | ns_exec timeout 10 nc -6 -u -w1 "$US_ADDR6" 7 || true)
[[ $got == "$msg" ]] || it_fail "nc -6 -u: sent '$msg', got '$got'"
it_ok "nc -6 -u: '$msg' came back"

got=$(printf '%s\n' "$msg" | ns_exec timeout 10 nc -6 -N -w 3 "$US_ADDR6" 7 || true)
[[ $got == "$msg" ]] || it_fail "nc -6 (TCP): sent '$msg', got '$got'"
it_ok "nc -6 (TCP echo): '$msg' came back"

# ustack-ss while a TCP connection over IPv6 is open: [addr]:port.
(
  printf 'held\n'
  sleep 1.5
) | ns_exec timeout 10 nc -6 -N -w 3 "$US_ADDR6" 7 >/dev/null &
held=$!
ss_out=""
for ((i = 0; i < 20; i++)); do
  ss_out=$(it_ss) || it_fail "ustack-ss failed"
  grep -qE "^ESTAB.*\[$US_ADDR6\]:7 +\[$US_HOST6\]:[0-9]+" <<<"$ss_out" && break
  sleep 0.1
done
wait "$held" || true
grep -qE "^ESTAB.*\[$US_ADDR6\]:7 +\[$US_HOST6\]:[0-9]+" <<<"$ss_out" ||
  it_fail "ustack-ss shows no [$US_ADDR6]:7 <-> [$US_HOST6]:port connection: $ss_out"
it_ok "ustack-ss: $(grep -E "\[$US_ADDR6\]:7" <<<"$ss_out" | head -n 1 | tr -s ' ')"

# curl -6 verifies the certificate's IP:fd00::2 name (no -k anywhere).
page=$(it_curl -6 "https://[$US_ADDR6]/") || it_fail "curl -6 https://[$US_ADDR6]/ failed"
[[ $page == *"$HTTPS_INDEX_MARK"* ]] || it_fail "curl -6: not the index page: $page"
it_ok "curl -6 https://[$US_ADDR6]/: verified, index page served"

status=$(it_curl -6 "https://[$US_ADDR6]/status.json") || it_fail "curl -6 /status.json failed"
[[ $status == *"\"remote\":\"[$US_HOST6]:"* ]] ||
  it_fail "/status.json over IPv6 does not show the client as [$US_HOST6]:port: $status"
[[ $status == *"\"addr6\":\"$US_ADDR6\""* ]] || it_fail "/status.json has no addr6 $US_ADDR6"
it_ok "/status.json over IPv6: the client as [$US_HOST6]:port, addr6 $US_ADDR6"

# The stack's client to the kernel's server at [fd00::1]:6000.
it_wait_log "ustackd: client: \[$US_HOST6\]:6000: sent [0-9]+ bytes" 40 ||
  it_fail "the --connect [$US_HOST6]:6000 client did not finish"
for ((i = 0; i < 50; i++)); do grep -q received "$IT_WORK/sink6.out" && break; sleep 0.1; done
srv=$(cat "$IT_WORK/sink6.out")
cli=$(grep "ustackd: client: \[$US_HOST6\]:6000" "$IT_LOG" | tail -n 1)
[[ $srv == "received 300000 sha256 "* ]] || it_fail "the kernel's server: $srv"
grep -q "sent 300000 bytes sha256 ${srv##* }" <<<"$cli" || it_fail "client: '$cli' server: '$srv'"
it_ok "--connect [$US_HOST6]:6000: 300000 bytes, sha256 match"

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
  tls6=$(tshark -r "$IT_WORK/v6.pcap" -Y "ipv6.src == $US_ADDR6 && tcp.srcport == 443" 2>/dev/null |
    wc -l)
  [[ $tls6 -gt 0 ]] || it_fail "the pcap holds no TCP from [$US_ADDR6]:443"
  it_ok "pcap (LINKTYPE_RAW): $replies ICMPv6 echo replies, $tls6 segments from [$US_ADDR6]:443"
fi

# --https-get https://[fd00::1]:4433/ to OpenSSL's server in the namespace,
# whose certificate (the demo one) is checked for the name ustack.test.
ns_bg timeout 60 openssl s_server -6 -accept 4433 -cert "$IT_CERTS/server.pem" \
  -key "$IT_CERTS/server-key.pem" -www -quiet
for ((i = 0; i < 50; i++)); do
  l=$(ns_exec ss -Hltn 2>/dev/null || true)
  [[ $l == *":4433 "* ]] && break
  sleep 0.1
done
IT_LOG=$IT_WORK/get6.log
ip netns exec "$NS" "$USTACKD" --dev "$US_DEV" --host "$US_HOST" --addr "$US_ADDR" \
  --prefix "$US_PREFIX" --https-get "https://[$US_HOST6]:4433/" --https-ca "$IT_CERTS/ca.pem" \
  --https-name ustack.test >"$IT_WORK/get6.body" 2>"$IT_LOG" &
USTACKD_PID=$!
it_wait_log '^https-get: ' 40 || it_fail "--https-get over IPv6: no summary line"
for ((i = 0; i < 100; i++)); do
  kill -0 "$USTACKD_PID" 2>/dev/null || break
  sleep 0.1
done
rc=0
ns_stop_ustackd || rc=$?
line=$(grep -m 1 '^https-get: ' "$IT_LOG")
[[ $rc -eq 0 && $line == "https-get: done: 200, "*" verified"* ]] ||
  it_fail "--https-get https://[$US_HOST6]:4433/: exit $rc, $line"
grep -q 's_server' "$IT_WORK/get6.body" || it_fail "--https-get over IPv6: not s_server's page"
it_ok "--https-get https://[$US_HOST6]:4433/: ${line#https-get: }"

# --no-ipv6: the link gets no IPv6 address of ours.
it_start --no-ipv6 --udp-echo 7
addr=$(ns_exec ip -6 addr show dev "$US_DEV")
[[ $addr != *"$US_HOST6"* ]] || it_fail "--no-ipv6, yet $US_HOST6 is on $US_DEV: $addr"
it_stop
it_ok "--no-ipv6: no $US_HOST6 on $US_DEV"
it_end
