#!/usr/bin/env bash
# A burst of connects (issue 10, RFC 4987): the kernel issues 1000
# non-blocking connects at once to the echo service (backlog 128). Every
# connection must open and echo one byte: no ECONNRESET, and no RST from
# the stack at all. Twice: on the bare link, where the stack may keep up,
# and with 50 ms added to what the stack sends (the daemon's fault
# injector), so that every final ACK comes an RTT after its SYN and the SYN
# queue is full for most of the burst: those SYNs get SYN cookies, and the
# queued half-open connections are never evicted. (One kind of RST is
# allowed: the answer to an ACK of a connection that has closed. When the
# machine is loaded, a tail-loss probe (RFC 8985) may repeat our FIN after
# the peer acknowledged it; the peer's TIME-WAIT acknowledges the copy, our
# TCB is gone by then, and RFC 9293 3.10.7.2 answers at the listener with a
# RST, which the peer's TIME-WAIT takes in silence.) The connection limits
# are off here (test_conn_limits.sh covers them); the pool holds 1000.
# The kernel's SYNs carry timestamps, window scaling and SACK-permitted, so
# the cookie SYN-ACKs must offer all three (the options ride in the TSval,
# docs/TCP.md): a capture of every SYN-ACK shows them, and every cookie
# connection must have been rebuilt with them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin conn_burst
source "$IT_DIR/tcp_lib.sh"
command -v tcpdump >/dev/null || it_fail "tcpdump missing (apt-get install tcpdump)"
it_start --tcp-echo 7 --conn-limit 0 --per-source-limit 0 --ctl "$IT_WORK/ctl.sock" --fault ''
ns_bg tcpdump -n -i "$US_DEV" -U -B 32768 -s 128 -w "$IT_WORK/burst.pcap" tcp
tdp=${NS_PIDS[-1]}
sleep 1 # tcpdump attaches

n=${US_BURST_CONNS:-1000}
burst() {
  local what=$1 out
  out=$(ns_exec timeout 150 python3 "$IT_DIR/conn_load.py" --timeout 120 burst "$US_ADDR" 7 "$n") ||
    it_fail "the burst client failed ($what): $out"
  [[ $out == "connected $n refused 0 reset 0 timeout 0 echoed $n of $n" ]] ||
    it_fail "not every connection of the burst opened and echoed ($what): $out"
  it_ok "$what: $n simultaneous connects all opened and echoed a byte, none reset"
}
burst "bare link"
sleep 1 # the first burst's connections close
it_ss --cmd 'fault set tx:delay=50ms' >/dev/null || it_fail "cannot set the RTT"
burst "50 ms RTT"

# Let the closes finish (bounded) so that the capture holds every segment.
for ((i = 0; i < 300; i++)); do
  [[ $(it_ss | grep -cE '^(SYN|ESTAB|FIN|CLOS|LAST|TIME)') -eq 0 ]] && break
  sleep 0.1
done
sleep 1.5 # and the answers to ACKs after a close (50 ms late), under load
kill -INT "$tdp" 2>/dev/null || true
wait "$tdp" 2>/dev/null || true
it_stop
segs=$(tcpdump -n -S -r "$IT_WORK/burst.pcap" 2>/dev/null)
# RSTs from the stack, and those that answer an ACK after the peer had
# acknowledged our FIN on that 4-tuple (the connection was over).
read -r rst_all rst_closed < <(awk -v us="$US_ADDR" '
  function num(re,   m) { if (!match($0, re)) return -1; m = substr($0, RSTART, RLENGTH); sub(/^[a-z]+ /, "", m); sub(/.*:/, "", m); return m + 0 }
  $2 == "IP" { src = $3; dst = $5; sub(/:$/, "", dst); flags = $7
    if (index(src, us ".") == 1) {
      peer = dst
      if (flags ~ /R/) { all++; if (closed[peer]) ok++ }
      if (flags ~ /F/) { s = num("seq [0-9]+(:[0-9]+)?"); fin[peer] = (s + 1) % 4294967296 }
    } else {
      peer = src
      if (flags ~ /S/) { delete fin[peer]; delete closed[peer] }
      a = num("ack [0-9]+")
      if ((peer in fin) && a == fin[peer]) closed[peer] = 1
    }
  }
  END { print all + 0, ok + 0 }' <<<"$segs")
[[ $rst_all -eq $rst_closed ]] ||
  it_fail "the stack sent $((rst_all - rst_closed)) RSTs on live connections during the bursts"
[[ $(it_counter tcp_syncookies_failed) -le $rst_closed ]] ||
  it_fail "$(it_counter tcp_syncookies_failed) cookie ACKs failed the check, only $rst_closed of them after a close"
cookies=$(it_counter tcp_syncookies_sent)
[[ $cookies -gt 0 ]] || it_fail "no SYN cookie: the bursts never filled the SYN queue"
[[ $(it_counter tcp_syncookies_recv) -eq $cookies ]] ||
  it_fail "cookies sent $cookies, validated $(it_counter tcp_syncookies_recv)"
it_ok "no RST on a live connection ($rst_closed to ACKs after a close); the SYN queue was full for $(it_counter tcp_synq_full) SYNs, $cookies cookies sent and all validated"

# Every cookie connection kept its options (TSecr brought them back).
[[ $(it_counter tcp_syncookies_opts) -eq $cookies ]] ||
  it_fail "of $cookies cookie connections only $(it_counter tcp_syncookies_opts) kept WS/SACK/TS"
synacks=$(grep "^[0-9:.]* IP $US_ADDR\.[0-9]* > " <<<"$segs")
total=$(grep -c 'Flags \[S\.' <<<"$synacks" || true)
full=$(grep 'Flags \[S\.' <<<"$synacks" | grep 'sackOK' | grep 'TS val' | grep -c 'wscale' || true)
[[ $total -ge $cookies ]] || it_fail "the capture holds $total SYN-ACKs, fewer than the $cookies cookies sent"
[[ $full -eq $total ]] ||
  it_fail "$((total - full)) of $total SYN-ACKs lack WS, SACK-permitted or TS: $(grep 'Flags \[S\.' <<<"$synacks" | grep -v wscale | head -n 2)"
it_ok "all $total captured SYN-ACKs ($cookies of them cookies) offer WS, SACK-permitted and TS; $cookies cookie connections rebuilt with them"
it_end
