#!/usr/bin/env bash
# transfer.sh - move bytes both ways between the kernel and ustackd through
# the fault injector and check that every byte arrived.
#
#   scripts/fault/transfer.sh NAME SPEC [BYTES]      (BYTES default 4 MiB)
#
# Upload: the kernel sends BYTES to the daemon's --tcp-sink; the sink's
# byte count and SHA-256 must equal the file's. Download: the daemon's
# --tcp-source sends BYTES; what nc received must have the SHA-256 the
# source reports. Prints one PASS/FAIL line (see lib.sh).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 2 ]] || { echo "usage: $0 NAME SPEC [BYTES]" >&2; exit 2; }
name=$1 spec=$2 bytes=${3:-4194304}
SINK_PORT=9 SOURCE_PORT=19000

fault_begin "$name"
fault_start "$spec" --tcp-sink "$SINK_PORT" --tcp-source "$SOURCE_PORT" --source-bytes "$bytes"

fault_upload "$SINK_PORT" "$bytes" 300
fault_download "$SOURCE_PORT" "$bytes" 300
kretrans=$(fault_kernel_retrans)
fault_stop
retrans=$(fault_counter tcp_retrans_segs)
fault_pass "up $FAULT_UP_BYTES B sha256 match, down $FAULT_DOWN_BYTES B sha256 match, retrans stack $retrans kernel $kretrans, $(fault_inj_summary)"
