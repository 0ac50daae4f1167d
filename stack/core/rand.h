/*
 * rand.h - randomness from the injected source, and SipHash-2-4 for the
 * keyed hashes of RFC 6528 (ISNs), RFC 6056 (ports) and SYN cookies.
 */
#ifndef USTACK_CORE_RAND_H
#define USTACK_CORE_RAND_H

#include <stddef.h>
#include <stdint.h>

struct us_stack;

void us_rand_bytes(struct us_stack *s, void *buf, size_t len);
uint32_t us_rand_u32(struct us_stack *s);

/* SipHash-2-4 of `len` bytes under the 16-byte `key`. */
uint64_t us_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif
