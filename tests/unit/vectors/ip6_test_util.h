/*
 * ip6_test_util.h - helpers shared by the IPv6 unit tests (test_wire_ipv6.c,
 * test_ip6_input.c, test_icmp6.c, test_reass6.c, test_hostile_ip6.c).
 *
 * The builders are the harness's (harness.h: H_IP6, h_icmp6_build,
 * h_udp_build, h_pseudo6) or, like them, poke bytes and use the
 * harness's checksum, never stack/wire, so the code under test cannot build
 * its own inputs.
 */
#ifndef USTACK_TEST_IP6_UTIL_H
#define USTACK_TEST_IP6_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* fd00::1 (the kernel's side of the TUN) and fd00::2 (the stack's). */
static const uint8_t T6_PEER[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t T6_US[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };
static const uint8_t T6_OTHER[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9 };
static const uint8_t T6_ALL_NODES[16] = { 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t T6_MLD2_ROUTERS[16] = { 0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x16 };

/* Give a stack fd00::2 (use as h_stack_init's tweak). */
static inline void t6_tweak(struct us_config *c) { memcpy(c->addr6, T6_US, 16); }

/* The 40-byte header. */
static inline void t6_hdr(uint8_t *out, const uint8_t src[16], const uint8_t dst[16], uint8_t nh,
                          uint16_t plen, uint8_t hop) {
  out[0] = 0x60;
  out[1] = out[2] = out[3] = 0;
  h_wr16(out + 4, plen);
  out[6] = nh;
  out[7] = hop;
  memcpy(out + 8, src, 16);
  memcpy(out + 24, dst, 16);
}

/* Reference pseudo-header sum (RFC 8200 8.1), unfolded: the harness's. */
static inline uint32_t t6_pseudo(const uint8_t src[16], const uint8_t dst[16], uint32_t len,
                                 uint8_t nh) {
  return h_pseudo6(src, dst, nh, len);
}

/* An ICMPv6 message with a correct checksum into out; returns its length. */
static inline size_t t6_icmp(uint8_t *out, const uint8_t src[16], const uint8_t dst[16],
                             uint8_t type, uint8_t code, uint32_t rest, const void *data,
                             size_t len) {
  return h_icmp6_build(out, H_IP6(src, dst, 58), type, code, rest, data, len);
}

/* A UDP datagram over IPv6 with a correct checksum (never 0: RFC 8200 8.1). */
static inline size_t t6_udp(uint8_t *out, const uint8_t src[16], const uint8_t dst[16],
                            uint16_t sport, uint16_t dport, const void *data, size_t len) {
  return h_udp_build(out, H_IP6(src, dst, 17), sport, dport, data, len);
}

/* A fragment header (8 bytes). */
static inline void t6_frag(uint8_t *out, uint8_t next, uint16_t off, bool mf, uint32_t id) {
  out[0] = next;
  out[1] = 0;
  h_wr16(out + 2, (uint16_t)((off & 0xfff8) | (mf ? 1 : 0)));
  h_wr32(out + 4, id);
}

/* An options header of `units` * 8 bytes: next, length, then `opts`
 * (opt_len bytes), then PadN/Pad1 to the end. */
static inline size_t t6_opts(uint8_t *out, uint8_t next, size_t units, const uint8_t *opts,
                             size_t opt_len) {
  size_t n = units * 8;
  memset(out, 0, n);
  out[0] = next;
  out[1] = (uint8_t)(units - 1);
  if (opt_len)
    memcpy(out + 2, opts, opt_len);
  size_t pad = n - 2 - opt_len;
  if (pad == 1) {
    out[2 + opt_len] = 0;
  } else if (pad >= 2) {
    out[2 + opt_len] = 1;
    out[3 + opt_len] = (uint8_t)(pad - 2);
  }
  return n;
}

/* A routing header (8 bytes plus `units` * 8 of addresses). */
static inline size_t t6_routing(uint8_t *out, uint8_t next, uint8_t type, uint8_t segs_left,
                                size_t units) {
  size_t n = 8 + units * 8;
  memset(out, 0, n);
  out[0] = next;
  out[1] = (uint8_t)units;
  out[2] = type;
  out[3] = segs_left;
  return n;
}

/* Feed header + `l4` (len bytes, protocol nh) from src to dst. */
static inline void t6_send(struct h_stack *h, const uint8_t src[16], const uint8_t dst[16],
                           uint8_t nh, const void *l4, size_t len, us_time_t now) {
  uint8_t *b = malloc(40 + len + 1);
  assert_non_null(b);
  t6_hdr(b, src, dst, nh, (uint16_t)len, 64);
  if (len)
    memcpy(b + 40, l4, len);
  h_input(h, b, 40 + len, now);
  free(b);
}

/* Send `l4` (protocol nh) from PEER to US as fragments of at most `chunk`
 * data bytes (a multiple of 8), in order, with identification `id`. */
static inline void t6_send_frags(struct h_stack *h, uint8_t nh, uint32_t id, const uint8_t *l4,
                                 size_t len, size_t chunk, us_time_t now) {
  uint8_t *b = malloc(48 + chunk);
  assert_non_null(b);
  for (size_t off = 0; off < len; off += chunk) {
    size_t n = len - off < chunk ? len - off : chunk;
    t6_hdr(b, T6_PEER, T6_US, 44, (uint16_t)(8 + n), 64);
    t6_frag(b + 40, nh, (uint16_t)off, off + n < len, id);
    memcpy(b + 48, l4 + off, n);
    h_input(h, b, 48 + n, now);
  }
  free(b);
}

/* A checked view of one emitted IPv6 packet. */
struct t6_out {
  const uint8_t *pkt;
  size_t len;
  uint8_t nh, hop;
  const uint8_t *src, *dst;
  const uint8_t *payload;
  size_t payload_len;
};

static inline void t6_out_check(const struct h_pkt *p, struct t6_out *o) {
  assert_non_null(p);
  assert_true(p->len >= 40);
  assert_int_equal(p->data[0] >> 4, 6);
  assert_int_equal(h_rd16(p->data + 4), p->len - 40);
  o->pkt = p->data;
  o->len = p->len;
  o->nh = p->data[6];
  o->hop = p->data[7];
  o->src = p->data + 8;
  o->dst = p->data + 24;
  o->payload = p->data + 40;
  o->payload_len = p->len - 40;
}

/* The next emitted packet, which must be an ICMPv6 message to PEER from US
 * with a correct checksum; returns a pointer to the message. */
static inline const uint8_t *t6_take_icmp(struct h_stack *h, size_t *len) {
  const struct h_pkt *p = h_capture_take(&h->cap);
  assert_non_null(p);
  struct t6_out o;
  t6_out_check(p, &o);
  assert_int_equal(o.nh, 58);
  assert_memory_equal(o.src, T6_US, 16);
  assert_memory_equal(o.dst, T6_PEER, 16);
  assert_int_equal(h_csum_fold(h_csum_add(t6_pseudo(o.src, o.dst, (uint32_t)o.payload_len, 58),
                                          o.payload, o.payload_len)),
                   0);
  *len = o.payload_len;
  return o.payload;
}

/*
 * Collect every pending captured packet into one datagram's upper-layer
 * bytes: a single unfragmented IPv6 packet (no extension headers), or
 * fragments (fixed header + fragment header) of one identification that
 * tile [0, total) with no overlap, each within `mtu`. Returns a malloc'd
 * copy (caller frees); `nh` gets the upper-layer protocol.
 */
static inline uint8_t *t6_collect(struct h_capture *cap, size_t mtu, size_t *len_out, uint8_t *nh,
                                  size_t *nfrags) {
  uint8_t *buf = calloc(1, 65536);
  uint8_t *seen = calloc(1, 65536);
  assert_non_null(buf);
  assert_non_null(seen);
  size_t total = 0, got = 0, n = 0;
  bool have_last = false, have_id = false;
  uint32_t id = 0;
  const struct h_pkt *p;
  while ((p = h_capture_take(cap)) != NULL) {
    struct t6_out o;
    t6_out_check(p, &o);
    assert_true(p->len <= mtu);
    assert_memory_equal(o.src, T6_US, 16);
    n++;
    if (o.nh != 44) {
      assert_int_equal(n, 1); /* a whole datagram comes alone */
      memcpy(buf, o.payload, o.payload_len);
      *nh = o.nh;
      *len_out = o.payload_len;
      assert_null(h_capture_take(cap));
      *nfrags = 1;
      free(seen);
      return buf;
    }
    assert_true(o.payload_len > 8);
    const uint8_t *fh = o.payload;
    uint16_t w = h_rd16(fh + 2);
    size_t off = w & 0xfff8;
    bool mf = w & 1;
    size_t dl = o.payload_len - 8;
    if (have_id)
      assert_int_equal(h_rd32(fh + 4), id);
    id = h_rd32(fh + 4);
    have_id = true;
    if (off == 0)
      *nh = fh[0];
    if (mf)
      assert_int_equal(dl % 8, 0);
    else {
      have_last = true;
      total = off + dl;
    }
    for (size_t i = 0; i < dl; i++) {
      assert_false(seen[off + i]);
      seen[off + i] = 1;
    }
    memcpy(buf + off, fh + 8, dl);
    got += dl;
  }
  assert_true(have_last);
  assert_int_equal(got, total);
  *len_out = total;
  *nfrags = n;
  free(seen);
  return buf;
}

/* Send an echo request with `n` data bytes (fragmented at `chunk` when it
 * does not fit 1500), collect the reply and check it byte for byte;
 * returns the number of packets the reply took. */
static inline size_t t6_echo(struct h_stack *h, size_t n, uint16_t id, uint16_t seq, size_t chunk,
                             size_t mtu, us_time_t now) {
  uint8_t *pay = malloc(n + 1);
  for (size_t i = 0; i < n; i++)
    pay[i] = (uint8_t)(i * 13 + seq);
  uint8_t *icmp = malloc(8 + n);
  size_t len = t6_icmp(icmp, T6_PEER, T6_US, 128, 0, (uint32_t)id << 16 | seq, pay, n);
  if (40 + len <= 1500)
    t6_send(h, T6_PEER, T6_US, 58, icmp, len, now);
  else
    t6_send_frags(h, 58, 0x1000u + seq, icmp, len, chunk, now);
  size_t rlen, nfr;
  uint8_t nh = 0;
  uint8_t *r = t6_collect(&h->cap, mtu, &rlen, &nh, &nfr);
  assert_int_equal(nh, 58);
  assert_int_equal(rlen, 8 + n);
  assert_int_equal(r[0], 129);
  assert_int_equal(r[1], 0);
  assert_int_equal(h_rd16(r + 4), id);
  assert_int_equal(h_rd16(r + 6), seq);
  assert_memory_equal(r + 8, pay, n);
  assert_int_equal(h_csum_fold(h_csum_add(t6_pseudo(T6_US, T6_PEER, (uint32_t)rlen, 58), r, rlen)),
                   0);
  free(r);
  free(icmp);
  free(pay);
  return nfr;
}

#endif
