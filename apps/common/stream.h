/*
 * stream.h - the seeded pseudo-random byte stream that --tcp-source sends
 * and the active-open client sends: byte i depends only on (seed, i), so
 * any receiver can regenerate and check it (see scripts/lib/stream.py).
 */
#ifndef USTACK_APP_STREAM_H
#define USTACK_APP_STREAM_H

#include <stddef.h>
#include <stdint.h>

/* Fill buf with bytes [offset, offset+len) of stream `seed`. */
void us_stream_fill(uint64_t seed, uint64_t offset, uint8_t *buf, size_t len);

#endif
