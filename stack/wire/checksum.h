/*
 * checksum.h - the Internet checksum (RFC 1071) and the TCP/UDP
 * pseudo-header (RFC 9293 section 3.1, RFC 768).
 *
 * A checksum is accumulated as a 32-bit sum of 16-bit big-endian words and
 * folded at the end. us_csum_add() may be chained; every chunk except the
 * last must have an even length (an odd last byte is padded with zero, as
 * RFC 1071 says).
 */
#ifndef USTACK_WIRE_CHECKSUM_H
#define USTACK_WIRE_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

uint32_t us_csum_add(uint32_t sum, const void *data, size_t len);
/* Fold to 16 bits and complement: the value that goes in the header. */
uint16_t us_csum_fold(uint32_t sum);
/* Checksum of one buffer. Over a buffer that contains a correct checksum
 * field the result is 0. */
uint16_t us_csum(const void *data, size_t len);
/* Sum of the IPv4 pseudo-header: src, dst, zero, protocol, length. */
uint32_t us_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

#endif
