#!/usr/bin/env bash
# soak.sh - a bounded soak: random fault profiles changed at run time over
# the control socket, with connection churn, then a check that everything
# went back to baseline.
#
#   scripts/fault/soak.sh [--minutes N] [--conns K]     (default 2 min, 4)
#
# Each round picks a profile ("fault set SPEC"), runs K uploads to the
# daemon's --tcp-sink and K downloads from its --tcp-source at once (each
# nc with its own source port, so every transfer is matched to the
# daemon's log line for it), and checks bytes and SHA-256 of every one.
# At the end the fault is cleared, TIME-WAIT runs out, and the daemon must
# show no connection but the listeners and every pool back to what it was
# before the first round.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

minutes=2 conns=4
while [[ $# -gt 0 ]]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    *) echo "usage: $0 [--minutes N] [--conns K]" >&2; exit 2 ;;
  esac
done
[[ $minutes =~ ^[0-9]+$ && $minutes -ge 1 && $minutes -le 600 ]] || { echo "--minutes: 1..600" >&2; exit 2; }
[[ $conns =~ ^[0-9]+$ && $conns -ge 1 && $conns -le 32 ]] || { echo "--conns: 1..32" >&2; exit 2; }

SINK=9 SOURCE=19000 DOWN=262144
profiles=(
  "both:loss=1%"
  "both:loss=5%,burst=2"
  "rx:loss=10%"
  "tx:loss=10%"
  "both:reorder=5%,gap=3"
  "both:dup=5%"
  "both:corrupt=1%"
  "both:delay=20ms,jitter=10ms"
  "tx:rate=20mbit,qlen=50"
  "both:loss=2%;both:reorder=2%;both:dup=2%;both:corrupt=1%"
  ""
)

fault_begin "soak-${minutes}m"
fault_start "" --tcp-sink "$SINK" --tcp-source "$SOURCE" --source-bytes "$DOWN"
baseline=$(fault_ctl pools)

# A few upload files of different sizes, made once.
sizes=(0 1 1460 65536 300000 1048576)
for s in "${sizes[@]}"; do fault_make_file "$FAULT_WORK/up-$s.bin" "$s" "$s"; done

port=30000 round=0 transfers=0 moved=0
end=$((SECONDS + minutes * 60))
while ((SECONDS < end && round < 100000)); do
  round=$((round + 1))
  spec=${profiles[RANDOM % ${#profiles[@]}]}
  t_round=$SECONDS
  reply=$(fault_ctl "fault set $spec")
  [[ $reply == ok:* ]] || fault_fail "round $round: 'fault set $spec' answered: $reply"
  pids=() kinds=() ports=() files=()
  for ((i = 0; i < conns; i++)); do
    s=${sizes[RANDOM % ${#sizes[@]}]}
    port=$((port + 1)); ((port < 60000)) || port=30001
    timeout 300 ip netns exec "$NS" nc -N -p "$port" "$US_ADDR" "$SINK" \
      <"$FAULT_WORK/up-$s.bin" >/dev/null &
    pids+=("$!") kinds+=(up) ports+=("$port") files+=("$FAULT_WORK/up-$s.bin")
    port=$((port + 1))
    timeout 300 ip netns exec "$NS" nc -d -p "$port" "$US_ADDR" "$SOURCE" \
      >"$FAULT_WORK/down-$port.bin" &
    pids+=("$!") kinds+=(down) ports+=("$port") files+=("$FAULT_WORK/down-$port.bin")
  done
  for k in "${!pids[@]}"; do
    wait "${pids[k]}" ||
      fault_fail "round $round ('$spec'): ${kinds[k]}load from port ${ports[k]} failed or timed out"
  done
  for k in "${!pids[@]}"; do
    p=${ports[k]} f=${files[k]}
    if [[ ${kinds[k]} == up ]]; then
      line=$(fault_wait_log "tcp-sink: $US_HOST:$p: " 30) ||
        fault_fail "round $round ('$spec'): the sink never reported the upload from port $p"
    else
      line=$(fault_wait_log "tcp-source: $US_HOST:$p: " 30) ||
        fault_fail "round $round ('$spec'): the source never reported the download to port $p"
    fi
    want="$(stat -c %s "$f") bytes sha256 $(fault_sha256 "$f")"
    [[ $line == *": $want"* ]] ||
      fault_fail "round $round ('$spec'): ${kinds[k]}load via port $p: got '${line##*: }', want '$want'"
    transfers=$((transfers + 1))
    moved=$((moved + $(stat -c %s "$f")))
    if [[ ${kinds[k]} == down ]]; then rm -f "$f"; fi
  done
  echo "  round $round: '${spec:-no fault}' ok ($((SECONDS - t_round)) s)" >&2
done

fault_ctl "fault clear" >/dev/null
# TIME-WAIT is 2 s (--msl 1); give the last closes time to finish.
for ((i = 0; i < 100; i++)); do
  left=$(fault_ctl ss | grep -v -e '^State' -e LISTEN | grep -c . || true)
  [[ $left -eq 0 && $(fault_ctl pools) == "$baseline" ]] && break
  sleep 0.2
done
[[ $left -eq 0 ]] || fault_fail "after $round rounds: $left connection(s) left: $(fault_ctl ss | tail -n +2 | head -n 5)"
now_pools=$(fault_ctl pools)
[[ $now_pools == "$baseline" ]] ||
  fault_fail "pools not back to baseline: before [$(tr '\n' ' ' <<<"$baseline")] after [$(tr '\n' ' ' <<<"$now_pools")]"
fault_stop
# shellcheck disable=SC2034 # printed by fault_pass
FAULT_SPEC="random profiles, $conns+$conns connections per round"
fault_pass "$round rounds, $transfers transfers, $moved B, every SHA-256 matched; connections and pools back to baseline"
