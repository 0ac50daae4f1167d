/*
 * packet.c - building the packets a test feeds and checking the IP
 * headers of the ones a stack emits (see harness.h). Plain byte pokes and
 * the harness's own checksum: nothing from stack/wire.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* ---- building ------------------------------------------------------------------ */

const uint8_t h_peer6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
const uint8_t h_us6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

struct h_ip h_ip6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto) {
  struct h_ip ip = { .family = 6, .proto = proto };
  memcpy(ip.src6, src, 16);
  memcpy(ip.dst6, dst, 16);
  return ip;
}

struct h_ip h_ip6_to_us(uint8_t proto) {
  return h_ip6(h_peer6, h_us6, proto);
}

/* RFC 8200 3: version 6, traffic class, flow label 0, payload length,
 * next header, hop limit, the addresses. */
static size_t ip6_build(uint8_t *out, const struct h_ip *ip, const void *payload, size_t len) {
  if (len)
    memmove(out + 40, payload, len); /* it may already be there */
  h_wr32(out, 6u << 28 | (uint32_t)ip->tos << 20);
  h_wr16(out + 4, (uint16_t)len);
  out[6] = ip->proto;
  out[7] = ip->ttl ? ip->ttl : 64;
  memcpy(out + 8, ip->src6, 16);
  memcpy(out + 24, ip->dst6, 16);
  return 40 + len;
}

size_t h_ip_build(uint8_t *out, const struct h_ip *ip, const void *payload, size_t len) {
  if (ip->family == 6)
    return ip6_build(out, ip, payload, len);
  size_t hl = 20 + ip->opt_len;
  memset(out, 0, 20);
  out[0] = (uint8_t)(0x40 | (hl / 4));
  out[1] = ip->tos;
  h_wr16(out + 2, (uint16_t)(hl + len));
  h_wr16(out + 4, ip->id);
  uint16_t frag = (uint16_t)(ip->frag_off >> 3);
  if (ip->df)
    frag |= 0x4000;
  if (ip->mf)
    frag |= 0x2000;
  h_wr16(out + 6, frag);
  out[8] = ip->ttl ? ip->ttl : 64;
  out[9] = ip->proto;
  h_wr32(out + 12, ip->src);
  h_wr32(out + 16, ip->dst);
  if (ip->opt_len)
    memcpy(out + 20, ip->opts, ip->opt_len);
  h_wr16(out + 10, h_csum(out, hl));
  if (len)
    memmove(out + hl, payload, len); /* it may already be there */
  return hl + len;
}

uint32_t h_ip_pseudo(const struct h_ip *ip, size_t len) {
  if (ip->family == 6)
    return h_pseudo6(ip->src6, ip->dst6, ip->proto, (uint32_t)len);
  return h_pseudo4(ip->src, ip->dst, ip->proto, (uint32_t)len);
}

/* Type, code, the rest of the header and the data; checksum field 0. */
static size_t icmp_fill(uint8_t *out, uint8_t type, uint8_t code, uint32_t rest, const void *data,
                        size_t len) {
  out[0] = type;
  out[1] = code;
  h_wr16(out + 2, 0);
  h_wr32(out + 4, rest);
  if (len)
    memcpy(out + 8, data, len);
  return 8 + len;
}

size_t h_icmp_build(uint8_t *out, uint8_t type, uint8_t code, uint32_t rest, const void *data,
                    size_t len) {
  size_t n = icmp_fill(out, type, code, rest, data, len);
  h_wr16(out + 2, h_csum(out, n));
  return n;
}

size_t h_icmp6_build(uint8_t *out, const struct h_ip *ip, uint8_t type, uint8_t code, uint32_t rest,
                     const void *data, size_t len) {
  struct h_ip icmp6 = *ip;
  icmp6.proto = 58;
  size_t n = icmp_fill(out, type, code, rest, data, len);
  h_wr16(out + 2, h_csum_fold(h_csum_add(h_ip_pseudo(&icmp6, n), out, n)));
  return n;
}

size_t h_udp_build(uint8_t *out, const struct h_ip *ip, uint16_t sport, uint16_t dport,
                   const void *data, size_t len) {
  struct h_ip udp = *ip;
  udp.proto = 17;
  h_wr16(out, sport);
  h_wr16(out + 2, dport);
  h_wr16(out + 4, (uint16_t)(8 + len));
  h_wr16(out + 6, 0);
  if (len)
    memcpy(out + 8, data, len);
  uint16_t c = h_csum_fold(h_csum_add(h_ip_pseudo(&udp, 8 + len), out, 8 + len));
  h_wr16(out + 6, c ? c : 0xffff); /* RFC 768: a computed 0 is sent as all ones */
  return 8 + len;
}

size_t h_tcp_build(uint8_t *out, const struct h_ip *ip, const struct h_tcp *t) {
  struct h_ip tcp = *ip;
  tcp.proto = 6;
  size_t hl = 20 + t->opt_len;
  memset(out, 0, 20);
  h_wr16(out, t->sport);
  h_wr16(out + 2, t->dport);
  h_wr32(out + 4, t->seq);
  h_wr32(out + 8, t->ack);
  out[12] = (uint8_t)((t->has_doff ? t->doff : hl / 4) << 4 | (t->reserved & 15));
  out[13] = t->flags;
  h_wr16(out + 14, t->wnd);
  h_wr16(out + 18, t->urp);
  if (t->opt_len)
    memcpy(out + 20, t->opts, t->opt_len);
  if (t->len)
    memmove(out + hl, t->data, t->len); /* it may already be there */
  h_wr16(out + 16, h_csum_fold(h_csum_add(h_ip_pseudo(&tcp, hl + t->len), out, hl + t->len)));
  return hl + t->len;
}

const char *h_tcp_flags(uint8_t flags, char *out) {
  static const struct {
    uint8_t bit;
    char c;
  } f[] = { { 0x02, 'S' }, { 0x01, 'F' }, { 0x04, 'R' }, { 0x08, 'P' },
            { 0x20, 'U' }, { 0x10, '.' }, { 0x40, 'E' }, { 0x80, 'W' } };
  int n = 0;
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (flags & f[i].bit)
      out[n++] = f[i].c;
  out[n] = 0;
  return out;
}

void h_send(struct h_stack *h, uint32_t src, uint32_t dst, uint8_t proto, const void *l4,
            size_t len, us_time_t now) {
  uint8_t *b = malloc(20 + len + 1);
  assert_non_null(b);
  struct h_ip ih = { .src = src, .dst = dst, .proto = proto, .id = 0x4242 };
  size_t n = h_ip_build(b, &ih, l4, len);
  h_input(h, b, n, now);
  free(b);
}

void h_send_frags(struct h_stack *h, uint8_t proto, uint16_t id, const uint8_t *l4, size_t len,
                  size_t chunk, us_time_t now) {
  uint8_t *b = malloc(20 + chunk);
  assert_non_null(b);
  for (size_t off = 0; off < len; off += chunk) {
    size_t n = len - off < chunk ? len - off : chunk;
    struct h_ip ih = { .src = H_PEER,
                       .dst = H_US,
                       .proto = proto,
                       .id = id,
                       .frag_off = (uint16_t)off,
                       .mf = off + n < len };
    size_t tot = h_ip_build(b, &ih, l4 + off, n);
    h_input(h, b, tot, now);
  }
  free(b);
}

/* ---- checking what a stack emitted ----------------------------------------------- */

void h_out_check(const struct h_pkt *p, struct h_out *o) {
  assert_non_null(p);
  assert_true(p->len >= 20);
  assert_int_equal(p->data[0] >> 4, 4);
  size_t hl = (size_t)(p->data[0] & 15) * 4;
  assert_true(hl >= 20 && hl <= p->len);
  assert_int_equal(h_rd16(p->data + 2), p->len);
  assert_int_equal(h_csum(p->data, hl), 0);
  o->pkt = p->data;
  o->len = p->len;
  o->hl = hl;
  o->id = h_rd16(p->data + 4);
  uint16_t f = h_rd16(p->data + 6);
  o->df = f & 0x4000;
  o->mf = f & 0x2000;
  o->frag_off = (uint16_t)((f & 0x1fff) * 8);
  o->proto = p->data[9];
  o->src = h_rd32(p->data + 12);
  o->dst = h_rd32(p->data + 16);
  o->payload = p->data + hl;
  o->payload_len = p->len - hl;
}

uint8_t *h_collect(struct h_capture *cap, size_t mtu, size_t *len_out, struct h_out *first,
                   size_t *nfrags) {
  uint8_t *buf = calloc(1, 65536);
  uint8_t *seen = calloc(1, 65536);
  assert_non_null(buf);
  assert_non_null(seen);
  size_t total = 0, got = 0, n = 0;
  bool have_last = false;
  const struct h_pkt *p;
  int id = -1;
  while ((p = h_capture_take(cap)) != NULL) {
    struct h_out o;
    h_out_check(p, &o);
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
