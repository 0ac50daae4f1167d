#!/usr/bin/env bash
# Many idle connections cost only their control blocks (docs/MEMORY.md):
# the kernel opens IDLE_CONNS (default 10,000) connections to the discard
# service and holds them idle; ustackd's RSS growth per connection (from
# /proc) must stay under 1 KB (4 KB for a sanitizer build, whose allocator
# and shadow memory cost more), no send or receive buffer may be held, and
# ping and a new echo connection are served meanwhile.
#
# By hand, for 100,000: IDLE_CONNS=100000 bash tests/integration/test_tcp_idle_conns.sh
# (extra client addresses on the TUN's /24 are added in the namespace: one
# address has about 28,000 ephemeral ports).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tcp_idle_conns
source "$IT_DIR/tcp_lib.sh"

N=${IDLE_CONNS:-10000}
NSRC=$(((N + 24999) / 25000))
SRCS=$US_HOST
for ((i = 1; i < NSRC; i++)); do
  a=10.0.0.$((100 + i))
  SRCS="$SRCS,$a"
done

it_start --tcp-discard 9 --tcp-echo 7 --max-conns $((N + 100)) --ctl "$IT_WORK/ctl.sock" ${IT_PCAP:+--pcap "$IT_PCAP"}
for ((i = 1; i < NSRC; i++)); do
  ns_exec ip addr add "10.0.0.$((100 + i))/32" dev "$US_DEV"
done
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$USTACKD_PID/status"; }
[[ $(cat "/proc/$USTACKD_PID/comm") == ustackd ]] || it_fail "PID $USTACKD_PID is not ustackd"
sleep 0.5
rss0=$(rss_kb)

mkfifo "$IT_WORK/hold"
ns_exec timeout 900 python3 "$IT_DIR/idle_conns.py" "$US_ADDR" 9 "$N" "$SRCS" --timeout 600 \
  <"$IT_WORK/hold" >"$IT_WORK/client.out" 2>&1 &
CLIENT_PID=$!
exec 3>"$IT_WORK/hold"
stop_client() {
  exec 3>&- 2>/dev/null || true
  [[ -n ${CLIENT_PID:-} ]] && kill "$CLIENT_PID" 2>/dev/null || true
}
ns_on_exit stop_client

for ((i = 0; i < 6000; i++)); do
  grep -qE '^(connected|timeout|connect)' "$IT_WORK/client.out" && break
  kill -0 "$CLIENT_PID" 2>/dev/null || break
  sleep 0.1
done
grep -q "^connected $N\$" "$IT_WORK/client.out" || it_fail "client: $(cat "$IT_WORK/client.out")"
it_ok "$N connections established and idle"

# Let the accepts and ACKs settle, then measure.
sleep 1
rss1=$(rss_kb)
per=$(((rss1 - rss0) * 1024 / N))
it_ok "ustackd RSS $rss0 kB -> $rss1 kB: $per bytes per idle connection ($N connections)"
limit=1024
if ldd "$USTACKD" 2>/dev/null | grep -q libasan; then limit=4096; fi
[[ $per -lt $limit ]] || it_fail "$per bytes per idle connection (limit $limit)"

pools=$(it_ss --pools)
snd=$(sed -n 's/^tcp_sndbuf \([0-9]*\)\/\([0-9]*\) free$/\1 \2/p' <<<"$pools")
rcv=$(sed -n 's/^tcp_rcvbuf \([0-9]*\)\/\([0-9]*\) free$/\1 \2/p' <<<"$pools")
read -r sf st <<<"$snd"
read -r rf rt <<<"$rcv"
[[ -n $st && $sf -eq $st && $rf -eq $rt ]] || it_fail "buffers held by idle connections: $pools"
it_ok "no send or receive buffer held ($sf/$st, $rf/$rt free)"

ns_exec ping -c 3 -i 0.2 -W 2 "$US_ADDR" >"$IT_WORK/ping.out" || it_fail "ping: $(cat "$IT_WORK/ping.out")"
it_ok "ping answered with $N connections open"
out=$(it_peer echo "$US_ADDR" 7 100000) || it_fail "new connection: $out"
it_ok "a new echo connection is served: $out"

exec 3>&-
wait "$CLIENT_PID" || it_fail "client: $(cat "$IT_WORK/client.out")"
CLIENT_PID=""
grep -q "^closed $N\$" "$IT_WORK/client.out" || it_fail "client did not close"
it_ok "all $N closed"
it_stop
[[ $(it_counter tcp_passive_opens) -ge $N ]] || it_fail "PassiveOpens < $N"
it_end
