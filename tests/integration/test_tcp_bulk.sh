#!/usr/bin/env bash
# 100 MB into the sink and 100 MB out of the source, with the kernel as the
# peer; the SHA-256 each side computed must match. US_BULK_MB changes the size.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin tcp_bulk
source "$IT_DIR/tcp_lib.sh"
mb=${US_BULK_MB:-100}
bytes=$((mb * 1024 * 1024))
it_start --tcp-sink 5001 --tcp-source 5002 --source-bytes "$bytes" --seed 7 \
  --ctl "$IT_WORK/ctl.sock"

head -c "$bytes" /dev/urandom >"$IT_WORK/in.bin"
t0=$(date +%s.%N)
out=$(it_peer send "$US_ADDR" 5001 "$IT_WORK/in.bin") || it_fail "send to sink: $out"
t1=$(date +%s.%N)
want=$(sha256sum "$IT_WORK/in.bin" | cut -d' ' -f1)
[[ $out == "sent $bytes sha256 $want" ]] || it_fail "peer says: $out"
it_wait_log "tcp-sink: .*: $bytes bytes sha256 $want" 30 ||
  it_fail "sink did not log $bytes bytes with sha256 $want"
it_ok "host -> stack: $mb MB, sha256 match ($(awk "BEGIN{printf \"%.1f\", $mb/($t1-$t0)}") MB/s)"

t0=$(date +%s.%N)
out=$(it_peer recv "$US_ADDR" 5002 "$IT_WORK/out.bin") || it_fail "recv from source: $out"
t1=$(date +%s.%N)
got=$(sha256sum "$IT_WORK/out.bin" | cut -d' ' -f1)
it_wait_log "tcp-source: .*: $bytes bytes sha256 $got" 30 ||
  it_fail "source did not log $bytes bytes with sha256 $got (peer: $out)"
it_ok "stack -> host: $mb MB, sha256 match ($(awk "BEGIN{printf \"%.1f\", $mb/($t1-$t0)}") MB/s)"

it_stop
it_ok "retransmitted segments: $(it_counter tcp_retrans_segs)"
it_end
