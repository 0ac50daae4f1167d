#!/usr/bin/env bash
# goodput.sh - bulk goodput of ustack's TCP sender against the kernel's,
# through the same impaired link, in one run.
#
#   sudo scripts/fault/goodput.sh [--quick]
#
# The fault layer impairs both directions of the link between the kernel
# (in a namespace of our own) and ustackd, so each row measures two
# senders under identical loss and delay:
#   ustack -> kernel   usload recv from ustackd --tcp-source  (ustack sends)
#   kernel -> ustack   usload send into ustackd --tcp-sink    (the kernel sends)
# Each transfer is BYTES of the seeded stream. The clock (usload's) holds
# nothing but the transfer; integrity is checked after it: usload compares
# every byte it received with the stream, and the sink's logged SHA-256
# must equal the one usload computed of what it sent.
#
# Environment:
#   LOSSES="1 5 10"   loss percentages, one row each (both directions)
#   DELAY=10ms        one-way delay added each way (20 ms RTT)
#   BYTES=20971520    bytes per transfer (20 MiB)
#   CC=cubic          ustack's algorithm (--cc cubic|newreno; empty: no --cc, for older builds)
#   KCC=cubic         the kernel's, set on usload's socket (TCP_CONGESTION: a
#                     namespace may only default to the allowed ones, and this
#                     machine's default, bbr, does not treat loss as congestion)
#   RUNS=1            transfers per direction and row; the table shows the median
#   FAULT_SEED        injector seed (default 1; printed)
#   USTACKD           binary (default build/apps/ustackd/ustackd)
# --quick: one row, 5 % loss, 2 MiB (what the quick fault run includes).
#
# Output: one line per transfer, then a markdown table and the ratio
# ustack/kernel per row. Exit 0 when every transfer completed and verified
# (the ratio is reported, not judged), 1 otherwise, 77 if it cannot run.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOSSES=${LOSSES:-"1 5 10"}
DELAY=${DELAY:-10ms}
BYTES=${BYTES:-20971520}
CC=${CC-cubic}
KCC=${KCC:-cubic}
RUNS=${RUNS:-1}
FAULT_SEED=${FAULT_SEED:-1}
STREAM_SEED=7
if [[ ${1:-} == --quick ]]; then
  LOSSES=5 BYTES=2097152 RUNS=1
elif [[ -n ${1:-} ]]; then
  echo "usage: $0 [--quick]  (LOSSES, DELAY, BYTES, CC, RUNS, FAULT_SEED in the environment)" >&2
  exit 2
fi
USLOAD=${USLOAD:-$(dirname "$USTACKD")/../usload/usload}
[[ -x $USLOAD ]] || { echo "SKIP goodput | usload not built at $USLOAD"; exit 77; }
TIMEOUT=$((BYTES / 20000 + 120)) # 20 kB/s at worst, plus slack

kv() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1" | head -n1; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
ss_counter() { # ss_counter NAME: a stack counter now, over the control socket
  "$(dirname "$USTACKD")/../ustack-ss/ustack-ss" --ctl "$FAULT_CTL" -s -a 2>/dev/null |
    awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }'
}

fault_begin "goodput"
rows=()
summary=()
for loss in $LOSSES; do
  spec="both:loss=${loss}%;both:delay=$DELAY"
  fault_start "$spec" ${CC:+--cc "$CC"} --seed "$STREAM_SEED" --tcp-sink 5001 \
    --tcp-source 5002 --source-bytes "$BYTES"
  kcc=$KCC
  down=() up=()
  for ((r = 0; r < RUNS; r++)); do
    # ustack sends.
    rx0=$(ss_counter tcp_retrans_segs)
    tlp0=$(ss_counter tcp_tlp_probes)
    line=$(timeout "$TIMEOUT" ip netns exec "$NS" "$USLOAD" --timeout "$TIMEOUT" \
      --seed "$STREAM_SEED" --expect "$BYTES" recv "$US_ADDR" 5002) ||
      fault_fail "loss $loss%: usload recv from the source failed: $line"
    [[ $(kv "$line" verified) == yes ]] || fault_fail "loss $loss%: the source's bytes differ: $line"
    rx1=$(ss_counter tcp_retrans_segs)
    tlp1=$(ss_counter tcp_tlp_probes)
    down+=("$(awk -v b="$BYTES" -v s="$(kv "$line" seconds)" 'BEGIN { printf "%.2f", b / s / 1e6 }')")
    echo "loss $loss%: ustack -> kernel ${down[-1]} MB/s ($(kv "$line" seconds) s, verified;" \
      "ustack retransmitted $((rx1 - rx0)), tail-loss probes $((tlp1 - tlp0)))"
    # The kernel sends.
    k0=$(fault_kernel_retrans)
    before=$(grep -c 'tcp-sink:' "$FAULT_LOG" || true)
    line=$(timeout "$TIMEOUT" ip netns exec "$NS" "$USLOAD" --timeout "$TIMEOUT" --cc "$KCC" \
      --seed "$STREAM_SEED" send "$US_ADDR" 5001 "$BYTES") ||
      fault_fail "loss $loss%: usload send into the sink failed: $line"
    for ((i = 0; i < 100; i++)); do
      (($(grep -c 'tcp-sink:' "$FAULT_LOG" || true) > before)) && break
      sleep 0.05
    done
    logl=$(grep 'tcp-sink:' "$FAULT_LOG" | tail -n 1)
    [[ $logl == *" $BYTES bytes sha256 $(kv "$line" sha256)"* ]] ||
      fault_fail "loss $loss%: sent $BYTES B sha256 $(kv "$line" sha256); the sink logged: ${logl:-nothing}"
    k1=$(fault_kernel_retrans)
    up+=("$(awk -v b="$BYTES" -v s="$(kv "$line" seconds)" 'BEGIN { printf "%.2f", b / s / 1e6 }')")
    echo "loss $loss%: kernel -> ustack ${up[-1]} MB/s ($(kv "$line" seconds) s, sha256 match;" \
      "kernel ($kcc) retransmitted $((k1 - k0)))"
  done
  md=$(printf '%s\n' "${down[@]}" | median)
  mu=$(printf '%s\n' "${up[@]}" | median)
  ratio=$(awk -v a="$md" -v b="$mu" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
  rows+=("| ${loss} % | $DELAY each way | $md | $mu ($kcc) | $ratio |")
  summary+=("${loss}%: ustack $md, kernel $mu MB/s")
  fault_stop
done

echo
echo "Goodput, $BYTES bytes per transfer, ustack --cc ${CC:-(default)}, injector seed $FAULT_SEED, median of $RUNS:"
echo
echo "| loss (both ways) | delay | ustack -> kernel MB/s | kernel -> ustack MB/s | ustack / kernel |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "(MB/s: 10^6 bytes of payload per second, usload's clock, the transfer only; every"
echo " transfer verified after the clock. Both senders cross the same impaired link.)"
fault_pass "every transfer verified; $(IFS=';'; echo "${summary[*]}" | sed 's/;/; /g')"
