#!/usr/bin/env bash
# More clients at once than the TLS handshake cap (half the slots), fewer
# than the slots: every handshake must finish (docs/HTTPS.md, eviction).
# The link delays what ustack sends by 300 ms, so a client's reply to our
# flight comes more than HTTPD_EVICT_MIN_AGE (250 ms) after its accept.
# A handshake whose ClientHello came must not be closed to start a newer
# one: with 8 slots (4 handshakes) and 6 curls at once, the two waiting
# in the accept queue used to evict two handshakes in progress (curl: reset
# during the handshake). A client that sends nothing is still evicted
# after 250 ms (test_http_slow.sh, phase 0).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin https_handshake_burst
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/https_lib.sh"
command -v curl >/dev/null || it_fail "curl not installed"

N=6
https_start --http-max-conns 8 --http-per-source 0 --fault 'tx:delay=300ms' --fault-seed 1
pids=()
for ((i = 0; i < N; i++)); do
  it_curl -o "$IT_WORK/page.$i" --max-time 30 "https://$US_ADDR/" 2>"$IT_WORK/curl.$i.err" &
  pids+=("$!")
done
bad=0
for ((i = 0; i < N; i++)); do
  if ! wait "${pids[$i]}" || ! grep -q "$HTTPS_INDEX_MARK" "$IT_WORK/page.$i"; then
    bad=$((bad + 1))
    echo "  curl $i: $(cat "$IT_WORK/curl.$i.err")"
  fi
done
it_stop
ev=$(it_counter http_evicted)
[[ $bad -eq 0 ]] || it_fail "$bad of $N simultaneous HTTPS fetches failed ($ev connections evicted)"
it_ok "$N simultaneous HTTPS fetches with 4 handshake slots over a 300 ms link all succeeded"
[[ $ev -eq 0 ]] || it_fail "$ev handshakes in progress were evicted"
it_ok "no handshake in progress was evicted"
[[ $(it_counter http_accepted) -eq $N ]] || it_fail "accepted $(it_counter http_accepted), expected $N"
it_ok "all $N connections were accepted once"
it_end
