/*
 * ip_test_util.h - helpers shared by the IPv4/ICMP/UDP unit tests
 * (test_ip4_*.c, test_reass.c, test_icmp.c, test_udp.c).
 *
 * The packet builders here are written independently of stack/wire (plain
 * byte pokes and a reference checksum), so a bug in the code under test
 * cannot hide itself by being used to build its own inputs.
 */
#ifndef USTACK_TEST_IP_UTIL_H
#define USTACK_TEST_IP_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define T_PEER US_IP4(10, 0, 0, 1)
#define T_US   US_IP4(10, 0, 0, 2)

static inline uint16_t t_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t t_get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void t_put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void t_put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Reference RFC 1071 sum, byte by byte, no tricks. */
static inline uint32_t t_sum(uint32_t acc, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    acc += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
  return acc;
}
static inline uint16_t t_fold(uint32_t acc) {
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}
static inline uint16_t t_csum(const uint8_t *p, size_t n) { return t_fold(t_sum(0, p, n)); }
static inline uint32_t t_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len) {
  return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

/* An IPv4 header with options; fields as named. Returns the header length. */
struct t_ip {
  uint32_t src, dst;
  uint8_t proto, ttl, tos;
  uint16_t id;
  bool df, mf;
  uint16_t frag_off; /* bytes, multiple of 8 */
  const uint8_t *opts;
  size_t opt_len; /* multiple of 4 */
};

/* Write header + payload into out (malloc'd by the caller). */
static inline size_t t_ip_build(uint8_t *out, const struct t_ip *h, const void *payload,
                                size_t len) {
  size_t hl = 20 + h->opt_len;
  memset(out, 0, 20);
  out[0] = (uint8_t)(0x40 | (hl / 4));
  out[1] = h->tos;
  t_put16(out + 2, (uint16_t)(hl + len));
  t_put16(out + 4, h->id);
  uint16_t frag = (uint16_t)(h->frag_off >> 3);
  if (h->df)
    frag |= 0x4000;
  if (h->mf)
    frag |= 0x2000;
  t_put16(out + 6, frag);
  out[8] = h->ttl ? h->ttl : 64;
  out[9] = h->proto;
  t_put32(out + 12, h->src);
  t_put32(out + 16, h->dst);
  if (h->opt_len)
    memcpy(out + 20, h->opts, h->opt_len);
  t_put16(out + 10, t_csum(out, hl));
  if (len)
    memcpy(out + hl, payload, len);
  return hl + len;
}

/* ICMP message (header + data) with a correct checksum into out. */
static inline size_t t_icmp_build(uint8_t *out, uint8_t type, uint8_t code, uint32_t rest,
                                  const void *data, size_t len) {
  out[0] = type;
  out[1] = code;
  t_put16(out + 2, 0);
  t_put32(out + 4, rest);
  if (len)
    memcpy(out + 8, data, len);
  t_put16(out + 2, t_csum(out, 8 + len));
  return 8 + len;
}

/* UDP datagram with a correct checksum. */
static inline size_t t_udp_build(uint8_t *out, uint32_t src, uint32_t dst, uint16_t sport,
                                 uint16_t dport, const void *data, size_t len) {
  t_put16(out, sport);
  t_put16(out + 2, dport);
  t_put16(out + 4, (uint16_t)(8 + len));
  t_put16(out + 6, 0);
  if (len)
    memcpy(out + 8, data, len);
  uint16_t c = t_fold(t_sum(t_pseudo(src, dst, 17, (uint16_t)(8 + len)), out, 8 + len));
  t_put16(out + 6, c ? c : 0xffff);
  return 8 + len;
}

/* Send payload `l4` of protocol `proto` from PEER to US as one datagram. */
static inline void t_send(struct h_stack *h, uint32_t src, uint32_t dst, uint8_t proto,
                          const void *l4, size_t len, us_time_t now) {
  uint8_t *b = malloc(20 + len + 1);
  assert_non_null(b);
  struct t_ip ih = { .src = src, .dst = dst, .proto = proto, .id = 0x4242 };
  size_t n = t_ip_build(b, &ih, l4, len);
  h_input(h, b, n, now);
  free(b);
}

/* Send `l4` as fragments of at most `chunk` payload bytes (a multiple of 8). */
static inline void t_send_frags(struct h_stack *h, uint8_t proto, uint16_t id, const uint8_t *l4,
                                size_t len, size_t chunk, us_time_t now) {
  uint8_t *b = malloc(20 + chunk);
  assert_non_null(b);
  for (size_t off = 0; off < len; off += chunk) {
    size_t n = len - off < chunk ? len - off : chunk;
    struct t_ip ih = { .src = T_PEER,
                       .dst = T_US,
                       .proto = proto,
                       .id = id,
                       .frag_off = (uint16_t)off,
                       .mf = off + n < len };
    size_t tot = t_ip_build(b, &ih, l4 + off, n);
    h_input(h, b, tot, now);
  }
  free(b);
}

/* A checked view of one emitted IPv4 datagram (or fragment). */
struct t_out {
  const uint8_t *pkt;
  size_t len;
  size_t hl;
  uint16_t id, frag_off;
  bool mf, df;
  uint8_t proto;
  uint32_t src, dst;
  const uint8_t *payload;
  size_t payload_len;
};

/* Check an emitted packet's IPv4 header (version, IHL, length, checksum)
 * and fill `o`. */
static inline void t_out_check(const struct h_pkt *p, struct t_out *o) {
  assert_non_null(p);
  assert_true(p->len >= 20);
  assert_int_equal(p->data[0] >> 4, 4);
  size_t hl = (size_t)(p->data[0] & 15) * 4;
  assert_true(hl >= 20 && hl <= p->len);
  assert_int_equal(t_get16(p->data + 2), p->len);
  assert_int_equal(t_csum(p->data, hl), 0);
  o->pkt = p->data;
  o->len = p->len;
  o->hl = hl;
  o->id = t_get16(p->data + 4);
  uint16_t f = t_get16(p->data + 6);
  o->df = f & 0x4000;
  o->mf = f & 0x2000;
  o->frag_off = (uint16_t)((f & 0x1fff) * 8);
  o->proto = p->data[9];
  o->src = t_get32(p->data + 12);
  o->dst = t_get32(p->data + 16);
  o->payload = p->data + hl;
  o->payload_len = p->len - hl;
}

/*
 * Collect every pending captured packet into one datagram: a single
 * unfragmented one, or fragments of one ID (in any order) which must tile
 * [0, total) exactly with no overlap and 8-byte alignment. Returns a
 * malloc'd payload (caller frees) and its length; checks every fragment
 * fits `mtu`. `first` gets the header of the first packet.
 */
static inline uint8_t *t_collect(struct h_capture *cap, size_t mtu, size_t *len_out,
                                 struct t_out *first, size_t *nfrags) {
  uint8_t *buf = calloc(1, 65536);
  uint8_t *seen = calloc(1, 65536);
  assert_non_null(buf);
  assert_non_null(seen);
  size_t total = 0, got = 0, n = 0;
  bool have_last = false;
  const struct h_pkt *p;
  int id = -1;
  while ((p = h_capture_take(cap)) != NULL) {
    struct t_out o;
    t_out_check(p, &o);
    assert_true(o.len <= mtu);
    if (n == 0)
      *first = o;
    if (id >= 0)
      assert_int_equal(o.id, id);
    id = o.id;
    n++;
    if (o.mf)
      assert_int_equal(o.payload_len % 8, 0);
    for (size_t i = 0; i < o.payload_len; i++) {
      assert_false(seen[o.frag_off + i]);
      seen[o.frag_off + i] = 1;
    }
    memcpy(buf + o.frag_off, o.payload, o.payload_len);
    got += o.payload_len;
    if (!o.mf) {
      assert_false(have_last);
      have_last = true;
      total = o.frag_off + o.payload_len;
    }
  }
  assert_true(n > 0);
  assert_true(have_last);
  assert_int_equal(got, total);
  free(seen);
  *len_out = total;
  if (nfrags)
    *nfrags = n;
  return buf;
}

static inline uint64_t t_stat(struct h_stack *h, enum us_stat id) {
  return us_stack_stat(h->s, id);
}

#endif
