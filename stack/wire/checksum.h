/*
 * checksum.h - the Internet checksum (RFC 1071) and the TCP/UDP
 * pseudo-header (RFC 9293 section 3.1 and RFC 768 for IPv4, RFC 8200 8.1
 * for IPv6).
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

#include "ustack/us_types.h"

uint32_t us_csum_add(uint32_t sum, const void *data, size_t len);
/* Fold to 16 bits and complement: the value that goes in the header. */
uint16_t us_csum_fold(uint32_t sum);
/* Checksum of one buffer. Over a buffer that contains a correct checksum
 * field the result is 0. */
uint16_t us_csum(const void *data, size_t len);
/*
 * Sum of the pseudo-header without its length field: source, destination
 * and protocol (IPv4: src, dst, zero, protocol; IPv6: src, dst, three zero
 * bytes, next header). The IP layer computes it once per datagram
 * (us_ipinfo.pseudo); TCP and UDP add their own length with
 * us_csum_pseudo_len(), because UDP's is its length field, not the IP
 * payload length. An address of neither family sums to 0.
 */
uint32_t us_csum_pseudo(us_addr_t src, us_addr_t dst, uint8_t proto);
/* `base` plus the upper-layer length: 16 bits in IPv4's pseudo-header, 32
 * in IPv6's, which sum the same for a length that fits in 16 bits. */
uint32_t us_csum_pseudo_len(uint32_t base, uint32_t len);

#endif
