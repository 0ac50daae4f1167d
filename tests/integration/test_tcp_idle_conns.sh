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
# One client process per 15,000 connections (the fd limit may not be
# raised in every sandbox), each from its own source address (one address
# has about 28,000 ephemeral ports).
PER=15000
K=$(((N + PER - 1) / PER))
src_of() { if (($1 == 0)); then echo "$US_HOST"; else echo "10.0.0.$((100 + $1))"; fi; }
# The connection limits are off: one address holds 15,000 here
# (docs/LIMITS.md; by default one source gets half the pool per service).
it_start --tcp-discard 9 --tcp-echo 7 --max-conns $((N + 100)) --conn-limit 0 --per-source-limit 0 \
  --ctl "$IT_WORK/ctl.sock" ${IT_PCAP:+--pcap "$IT_PCAP"}
for ((i = 1; i < K; i++)); do
  ns_exec ip addr add "$(src_of $i)/32" dev "$US_DEV"
done
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$USTACKD_PID/status"; }
[[ $(cat "/proc/$USTACKD_PID/comm") == ustackd ]] || it_fail "PID $USTACKD_PID is not ustackd"
sleep 0.5
rss0=$(rss_kb)

mkfifo "$IT_WORK/hold"
CLIENT_PIDS=()
for ((i = 0; i < K; i++)); do
  n=$((i < K - 1 ? PER : N - PER * (K - 1)))
  ns_exec timeout 900 python3 "$IT_DIR/idle_conns.py" "$US_ADDR" 9 "$n" "$(src_of $i)" \
    --timeout 600 --inflight $((100 / K)) <"$IT_WORK/hold" >"$IT_WORK/client.$i.out" 2>&1 &
  CLIENT_PIDS+=($!)
done
exec 3>"$IT_WORK/hold" # every client holds its connections until this closes
stop_clients() {
  exec 3>&- 2>/dev/null || true
  local p
  for p in "${CLIENT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}
ns_on_exit stop_clients

connected() { cat "$IT_WORK"/client.*.out | sed -n 's/^connected \([0-9]*\)$/\1/p' | awk '{s += $1} END {print s + 0}'; }
for ((t = 0; t < 6000; t++)); do
  [[ $(connected) -eq $N ]] && break
  grep -qE '^(timeout|connect[ :]|fd limit|Traceback)' "$IT_WORK"/client.*.out && break
  sleep 0.1
done
[[ $(connected) -eq $N ]] || it_fail "clients: $(cat "$IT_WORK"/client.*.out)"
it_ok "$N connections established and idle ($K client processes)"

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
for p in "${CLIENT_PIDS[@]}"; do wait "$p" || it_fail "client: $(cat "$IT_WORK"/client.*.out)"; done
CLIENT_PIDS=()
closed=$(cat "$IT_WORK"/client.*.out | sed -n 's/^closed \([0-9]*\)$/\1/p' | awk '{s += $1} END {print s + 0}')
[[ $closed -eq $N ]] || it_fail "clients closed $closed of $N"
it_ok "all $N closed"
it_stop
[[ $(it_counter tcp_passive_opens) -ge $N ]] || it_fail "PassiveOpens < $N"
it_end
