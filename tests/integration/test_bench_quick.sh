#!/usr/bin/env bash
# scripts/bench.sh keeps working: one --quick run against this build, all
# sections, all references (TUN limit, kernel, lwIP when built). This checks
# that the tools (usload, tun-limit, lwip-ref) and ustackd's services serve
# every measurement, that the SHA-256 transfers through ustack verify, and
# that every measured row got a figure. The figures themselves are not
# checked: performance is shown by the benchmark, never by a timed test
# (docs/PERFORMANCE.md). bench.sh makes and deletes its own namespaces.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin bench_quick

build=$(cd "$(dirname "$USTACKD")/../.." && pwd)
out=$IT_WORK/table.md
rc=0
timeout 240 "$US_ROOT/scripts/bench.sh" --quick --no-build --build-dir "$build" --idle 300 \
  >"$out" 2>"$IT_WORK/bench.err" || rc=$?
[[ $rc -eq 0 ]] || it_fail "bench.sh exited $rc: $(grep -A5 'failure(s)' "$IT_WORK/bench.err" | tr '\n' ' ')"
it_ok "bench.sh --quick exits 0"

grep -q '^| measurement | unit | ustack | TUN limit | kernel | lwIP |' "$out" ||
  it_fail "no markdown table header in: $(head -c 400 "$out")"
# ustack, TUN limit and kernel figures on the rows all three have
for r in 'bulk host -> stack' 'bulk stack -> host' 'echo 100 B request/response, 10 connections' \
  'new connections' 'ping RTT median'; do
  line=$(grep -F "| $r" "$out" | head -n1)
  awk -F'|' '{ for (i = 4; i <= 6; i++) if ($i !~ /^ *[0-9.]+ *$/) exit 1 }' <<<"$line" ||
    it_fail "row '$r' lacks a figure: $line"
done
it_ok "bulk, echo, connection and ping rows have ustack, TUN-limit and kernel figures"

grep -qF '| HTTPS keep-alive' "$out" && grep -F '| HTTP keep-alive' "$out" | grep -qE '\| [0-9.]+ \|' ||
  it_fail "HTTP/HTTPS rows missing: $(grep -F 'HTTP' "$out")"
it_ok "HTTP and HTTPS keep-alive rows measured"

grep -q '^- verified: host -> stack' "$out" && grep -q '^- verified: stack -> host' "$out" ||
  it_fail "the SHA-256 transfers through ustack did not verify"
it_ok "SHA-256 transfers through ustack verified both ways"

grep -qE '^- idle 300: asked 300, held 300 .*ping answered, a new connection served' "$out" ||
  it_fail "idle connections: $(grep '^- idle' "$out")"
it_ok "300 idle connections held; ping and a new connection served meanwhile"
it_end
