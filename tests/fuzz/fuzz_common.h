/*
 * fuzz_common.h - helpers shared by the libFuzzer targets and the corpus
 * generator: checksum fix-ups written independently of stack/wire (a bug
 * in the code under test must not be able to "agree" with itself), and the
 * record format of fuzz_stack.
 *
 * Record format of fuzz_stack (one input = a sequence of records):
 *   u16 be  word: bit 15 = fix lengths and checksums (IPv4 total length
 *           and UDP length set from the bytes present, then the IP header
 *           and TCP/UDP/ICMP checksums); bit 14 = TCP seq/ack are offsets from
 *           the established connection's next numbers (P's RCV side and
 *           S's SND side), so mutations stay in the window (SACK block
 *           edges are offsets from S's ISS+1 too); bit 13 = TCP
 *           ack is an offset from S's ISS+1 of its active open (towards
 *           10.0.0.1:5000, left in SYN-SENT), so a SYN-ACK can complete
 *           it (a destination port of 0 becomes that connection's local
 *           port); bits 0..12 = length of the packet bytes that follow
 *   u16 be  time delta before this packet, in milliseconds
 *   bytes   the IPv4 or IPv6 datagram (cut short if the input ends); for
 *           IPv6 bit 15 fixes the payload length and, for ICMPv6, UDP or
 *           TCP right after the fixed header, the checksum (fz_fix_ip6)
 * With both bits clear, the bytes reach us_stack_input exactly as given.
 */
#ifndef USTACK_FUZZ_COMMON_H
#define USTACK_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define FZ_FIX_CSUM   0x8000u
#define FZ_REL_SEQ    0x4000u
#define FZ_REL_ACTIVE 0x2000u
#define FZ_LEN_MASK   0x1fffu

static inline uint16_t fz_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t fz_get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void fz_put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void fz_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* RFC 1071, byte at a time. */
static inline uint32_t fz_sum(uint32_t acc, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    acc += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
  return acc;
}
static inline uint16_t fz_fold(uint32_t acc) {
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}
static inline uint32_t fz_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + (len & 0xffff);
}

/* Transport checksum at offset `at` of the segment t[0..tl) (pseudo-header
 * from src/dst/proto). */
static inline void fz_fix_l4(uint8_t *t, size_t tl, size_t at, uint32_t src, uint32_t dst,
                             uint8_t proto) {
  if (tl < at + 2 || tl > 0xffff)
    return;
  fz_put16(t + at, 0);
  uint32_t acc = proto == 1 ? 0 : fz_pseudo(src, dst, proto, (uint32_t)tl);
  uint16_t c = fz_fold(fz_sum(acc, t, tl));
  if (proto == 17 && c == 0)
    c = 0xffff;
  fz_put16(t + at, c);
}

/* Make the lengths agree with the bytes present (IPv4 total length; UDP
 * length) so mutations that change a packet's size stay deliverable, then
 * the IPv4 header checksum, and the transport checksum (never reads or
 * writes past len). Fragments keep their transport bytes. */
static inline void fz_fix_lengths(uint8_t *b, size_t len) {
  if (len < 20 || len > 0xffff)
    return;
  size_t ihl = (size_t)(b[0] & 15) * 4;
  if (ihl < 20 || ihl > len)
    return;
  fz_put16(b + 2, (uint16_t)len);
  if (b[9] == 17 && (fz_get16(b + 6) & 0x3fff) == 0 && len - ihl >= 8)
    fz_put16(b + ihl + 4, (uint16_t)(len - ihl));
}

static inline void fz_fix_ip(uint8_t *b, size_t len) {
  if (len < 20)
    return;
  size_t ihl = (size_t)(b[0] & 15) * 4;
  if (ihl < 20 || ihl > len)
    return;
  fz_put16(b + 10, 0);
  fz_put16(b + 10, fz_fold(fz_sum(0, b, ihl)));
  size_t tot = fz_get16(b + 2);
  if (tot < ihl || tot > len || (fz_get16(b + 6) & 0x3fff) != 0)
    return;
  uint32_t src = fz_get32(b + 12), dst = fz_get32(b + 16);
  uint8_t *t = b + ihl;
  size_t tl = tot - ihl;
  switch (b[9]) {
  case 6:
    fz_fix_l4(t, tl, 16, src, dst, 6);
    break;
  case 17:
    /* UDP sums over its own length field; only fix when it matches. */
    if (tl >= 8 && fz_get16(t + 4) == tl)
      fz_fix_l4(t, tl, 6, src, dst, 17);
    break;
  case 1:
    fz_fix_l4(t, tl, 2, src, dst, 1);
    break;
  default:
    break;
  }
}

/* ---- IPv6 (RFC 8200) ---------------------------------------------------- */

/* The IPv6 upper-layer pseudo-header sum (RFC 8200 8.1) of src/dst (16
 * bytes each, in the datagram at b + 8 and b + 24). */
static inline uint32_t fz_pseudo6(const uint8_t *b, uint8_t nh, uint32_t len) {
  uint32_t acc = fz_sum(0, b + 8, 32);
  return acc + (len >> 16) + (len & 0xffff) + nh;
}

/* Make an IPv6 datagram's payload length agree with the bytes present and,
 * when the upper-layer header follows the fixed header directly (ICMPv6,
 * UDP, TCP), its checksum right (UDP's length field too). */
static inline void fz_fix_ip6(uint8_t *b, size_t len) {
  if (len < 40 || len - 40 > 0xffff)
    return;
  size_t tl = len - 40;
  fz_put16(b + 4, (uint16_t)tl);
  uint8_t *t = b + 40;
  size_t at;
  switch (b[6]) {
  case 58:
    at = 2;
    break;
  case 17:
    at = 6;
    if (tl >= 8)
      fz_put16(t + 4, (uint16_t)tl);
    break;
  case 6:
    at = 16;
    break;
  default:
    return;
  }
  if (tl < at + 2)
    return;
  fz_put16(t + at, 0);
  uint16_t c = fz_fold(fz_sum(fz_pseudo6(b, b[6], (uint32_t)tl), t, tl));
  if (b[6] == 17 && c == 0)
    c = 0xffff;
  fz_put16(t + at, c);
}

#endif
