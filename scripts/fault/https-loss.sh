#!/usr/bin/env bash
# https-loss.sh - an HTTPS download through 5 % loss in each direction.
#
# ustackd serves a deterministic file over its HTTPS service (BearSSL over
# ustack TCP); curl in the namespace downloads it with the demo CA. The
# SHA-256 of what curl saved must equal the file's.
#
#   scripts/fault/https-loss.sh [BYTES]      (default 20 MiB; LOSS=5%)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BYTES=${1:-20971520} LOSS=${LOSS:-5%} PORT=443
fault_begin "https-loss-$LOSS"
command -v curl >/dev/null || fault_fail "curl is not installed"
"$US_ROOT/scripts/gen-certs.sh" "$FAULT_WORK/certs" >/dev/null ||
  fault_fail "could not make the demo certificates"
mkdir -p "$FAULT_WORK/www"
fault_make_file "$FAULT_WORK/www/file.bin" "$BYTES"
want=$(fault_sha256 "$FAULT_WORK/www/file.bin")

fault_start "both:loss=$LOSS" --https "$PORT" --cert "$FAULT_WORK/certs/server.pem" \
  --key "$FAULT_WORK/certs/server-key.pem" --root "$FAULT_WORK/www"
out=$FAULT_WORK/got.bin
timeout 600 ip netns exec "$NS" curl --http1.1 -sS --fail --cacert "$FAULT_WORK/certs/ca.pem" \
  --max-time 590 -o "$out" "https://$US_ADDR:$PORT/file.bin" 2>"$FAULT_WORK/curl.err" ||
  fault_fail "curl failed: $(tail -n 1 "$FAULT_WORK/curl.err")"
got=$(stat -c %s "$out")
[[ $got -eq $BYTES ]] || fault_fail "downloaded $got B, expected $BYTES B"
[[ $(fault_sha256 "$out") == "$want" ]] || fault_fail "SHA-256 of the download differs"
kretrans=$(fault_kernel_retrans)
fault_stop
retrans=$(fault_counter tcp_retrans_segs)
fault_pass "HTTPS GET $got B sha256 match, retrans stack $retrans kernel $kretrans, $(fault_inj_summary)"
