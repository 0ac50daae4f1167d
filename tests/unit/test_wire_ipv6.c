/*
 * test_wire_ipv6.c - the IPv6 wire code: us_ip6_parse/us_ip6_build round
 * trips and a table of malformed headers (RFC 8200 3), the pseudo-header
 * sum against a reference, the extension-header walk (RFC 8200 4, RFC 5095,
 * RFC 6946, RFC 7112) verdict by verdict with the ICMPv6 code and pointer
 * each asks for, and ICMPv6 parse/build (RFC 4443). Every parsed input
 * sits in a heap buffer of exactly its length, so ASan catches a read past
 * what was "received".
 */
#include "harness.h"
#include "vectors/ip6_test_util.h"
#include "wire/icmp6.h"
#include "wire/ipv6.h"
#include "wire/ipv6_ext.h"

/* Copy `n` bytes to a heap buffer of exactly n bytes. */
static uint8_t *exact(const uint8_t *b, size_t n) {
  uint8_t *p = malloc(n ? n : 1);
  assert_non_null(p);
  memcpy(p, b, n);
  return p;
}

static void test_round_trip(void **st) {
  (void)st;
  struct us_ip6_hdr h = {
    .tclass = 0xb8, .flow = 0xabcde, .payload_len = 12, .next_hdr = 17, .hop_limit = 255
  };
  memcpy(h.src, T6_PEER, 16);
  memcpy(h.dst, T6_US, 16);
  uint8_t b[52] = { 0 };
  assert_int_equal(us_ip6_build(&h, b, 39), 0);
  assert_int_equal(us_ip6_build(&h, b, sizeof b), 40);
  assert_int_equal(b[0], 0x6b); /* version 6, tclass high nibble b */
  assert_int_equal(b[1], 0x8a); /* tclass low nibble 8, flow high nibble a */
  assert_int_equal(h_rd16(b + 2), 0xbcde);
  struct us_ip6_hdr p;
  uint8_t *x = exact(b, sizeof b);
  assert_int_equal(us_ip6_parse(x, sizeof b, &p), US_IP6_OK);
  assert_int_equal(p.tclass, 0xb8);
  assert_int_equal(p.flow, 0xabcde);
  assert_int_equal(p.payload_len, 12);
  assert_int_equal(p.next_hdr, 17);
  assert_int_equal(p.hop_limit, 255);
  assert_memory_equal(p.src, T6_PEER, 16);
  assert_memory_equal(p.dst, T6_US, 16);
  assert_ptr_equal(p.raw, x);
  assert_ptr_equal(p.payload, x + 40);
  assert_int_equal(p.trimmed, 0);
  /* Link padding past the payload length is left out and counted. */
  assert_int_equal(us_ip6_parse(x, 50, &p), US_IP6_BAD_LEN); /* 10 of 12 bytes */
  free(x);
  b[5] = 4; /* payload length 4 of 12 received */
  x = exact(b, sizeof b);
  assert_int_equal(us_ip6_parse(x, sizeof b, &p), US_IP6_OK);
  assert_int_equal(p.payload_len, 4);
  assert_int_equal(p.trimmed, 8);
  free(x);
}

struct bad {
  const char *name;
  size_t len;      /* bytes received */
  uint8_t version; /* 6 unless set */
  uint16_t plen;   /* payload length field */
  uint8_t nh;
  enum us_ip6_parse_result want;
};

static void test_parse_table(void **st) {
  (void)st;
  static const struct bad cases[] = {
    { "empty", 0, 6, 0, 17, US_IP6_TOO_SHORT },
    { "39 bytes", 39, 6, 0, 17, US_IP6_TOO_SHORT },
    { "version 4", 48, 4, 8, 17, US_IP6_BAD_VERSION },
    { "version 0", 48, 0, 8, 17, US_IP6_BAD_VERSION },
    { "payload length beyond the bytes", 48, 6, 9, 17, US_IP6_BAD_LEN },
    { "payload length 65535, 8 bytes there", 48, 6, 65535, 17, US_IP6_BAD_LEN },
    { "zero payload length, UDP", 48, 6, 0, 17, US_IP6_ZERO_LEN },
    { "zero payload length, hop-by-hop: jumbogram", 48, 6, 0, 0, US_IP6_JUMBO },
    { "zero payload length, no next header", 40, 6, 0, 59, US_IP6_OK },
    { "exact", 48, 6, 8, 17, US_IP6_OK },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct bad *c = &cases[i];
    uint8_t b[64] = { 0 };
    t6_hdr(b, T6_PEER, T6_US, c->nh, c->plen, 64);
    b[0] = (uint8_t)(c->version << 4);
    uint8_t *x = exact(b, c->len);
    struct us_ip6_hdr p;
    enum us_ip6_parse_result r = us_ip6_parse(c->len ? x : NULL, c->len, &p);
    if (r != c->want)
      fail_msg("%s: got %d, want %d", c->name, r, c->want);
    free(x);
  }
}

static void test_pseudo_sum(void **st) {
  (void)st;
  uint32_t lens[] = { 0, 8, 1232, 65535, 0x12345 };
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    uint32_t a = us_ip6_pseudo_sum(T6_PEER, T6_MLD2_ROUTERS, lens[i], 58);
    uint32_t b = t6_pseudo(T6_PEER, T6_MLD2_ROUTERS, lens[i], 58);
    assert_int_equal(h_csum_fold(a), h_csum_fold(b));
  }
}

static void test_addr_classes(void **st) {
  (void)st;
  uint8_t a[16] = { 0 };
  assert_true(us_ip6_addr_is_unspecified(a));
  assert_false(us_ip6_addr_is_loopback(a));
  a[15] = 1;
  assert_true(us_ip6_addr_is_loopback(a));
  assert_false(us_ip6_addr_is_unspecified(a));
  a[10] = a[11] = 0xff;
  assert_true(us_ip6_addr_is_v4mapped(a));
  assert_true(us_ip6_addr_is_multicast(T6_ALL_NODES));
  assert_false(us_ip6_addr_is_multicast(T6_US));
  uint8_t ll[16] = { 0xfe, 0x80 };
  assert_true(us_ip6_addr_is_linklocal(ll));
  ll[1] = 0xc0; /* fec0::/10, the old site-local */
  assert_false(us_ip6_addr_is_linklocal(ll));
}

/* ---- the extension-header walk ------------------------------------------ */

struct pk {
  uint8_t b[512];
  size_t n; /* bytes written so far */
};

static void pk_start(struct pk *p, uint8_t nh) {
  memset(p, 0, sizeof *p);
  t6_hdr(p->b, T6_PEER, T6_US, nh, 0, 64);
  p->n = 40;
}
static void pk_add(struct pk *p, const uint8_t *b, size_t n) {
  memcpy(p->b + p->n, b, n);
  p->n += n;
}
static void pk_zeros(struct pk *p, size_t n) {
  memset(p->b + p->n, 0, n);
  p->n += n;
}

/* Fix the payload length and walk a copy of exactly the datagram. */
static enum us_ip6_ext_verdict pk_walk(struct pk *p, bool allow_frag, struct us_ip6_chain *c) {
  h_wr16(p->b + 4, (uint16_t)(p->n - 40));
  uint8_t *x = exact(p->b, p->n);
  enum us_ip6_ext_verdict v = us_ip6_walk(x, p->n, allow_frag, c);
  free(x);
  return v;
}

static void test_walk_plain(void **st) {
  (void)st;
  struct pk p;
  struct us_ip6_chain c;
  pk_start(&p, 17);
  pk_zeros(&p, 8);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_OK);
  assert_int_equal(c.proto, 17);
  assert_int_equal(c.l4_off, 40);
  assert_int_equal(c.proto_ptr, 6);
  assert_int_equal(c.nhdrs, 0);
  assert_false(c.frag);
  assert_false(c.icmp);

  /* Hop-by-hop (Router Alert, as MLD sends it), destination options
   * (PadN), routing type 0 with Segments Left 0 (ignored), then UDP. */
  uint8_t ra[4] = { 5, 2, 0, 0 }, hdr[64];
  pk_start(&p, 0);
  pk_add(&p, hdr, t6_opts(hdr, 60, 1, ra, sizeof ra));
  pk_add(&p, hdr, t6_opts(hdr, 43, 2, NULL, 0));
  pk_add(&p, hdr, t6_routing(hdr, 17, 0, 0, 2));
  size_t l4 = p.n;
  pk_zeros(&p, 8);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_OK);
  assert_int_equal(c.proto, 17);
  assert_int_equal(c.l4_off, l4);
  assert_int_equal(c.proto_ptr, l4 - 24); /* the routing header's Next Header */
  assert_int_equal(c.nhdrs, 3);

  /* An unknown option with action 00 is skipped; Pad1 works. */
  uint8_t skip[6] = { 0x1e, 1, 0xaa, 0, 0, 0 }; /* type 0x1e len 1, Pad1 x3 */
  pk_start(&p, 60);
  pk_add(&p, hdr, t6_opts(hdr, 59, 1, skip, sizeof skip));
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_OK);
  assert_int_equal(c.proto, 59);
}

static void test_walk_options(void **st) {
  (void)st;
  struct {
    uint8_t type;
    enum us_ip6_ext_verdict want;
    bool icmp, unless_mcast;
  } cases[] = {
    { 0x3e, US_IP6_EXT_OK, false, false },          /* 00: skip */
    { 0x7e, US_IP6_EXT_OPT_UNKNOWN, false, false }, /* 01: discard */
    { 0xbe, US_IP6_EXT_OPT_UNKNOWN, true, false },  /* 10: discard + ICMP */
    { 0xfe, US_IP6_EXT_OPT_UNKNOWN, true, true },   /* 11: ... unless multicast */
    { 0xc2, US_IP6_EXT_OPT_UNKNOWN, true, true },   /* jumbo payload: not ours */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    for (int hbh = 0; hbh < 2; hbh++) {
      struct pk p;
      struct us_ip6_chain c;
      uint8_t opt[6] = { 1, 0, cases[i].type, 2, 0, 0 }; /* PadN(0), then the option */
      uint8_t hdr[16];
      pk_start(&p, hbh ? 0 : 60);
      pk_add(&p, hdr, t6_opts(hdr, 59, 1, opt, sizeof opt));
      enum us_ip6_ext_verdict v = pk_walk(&p, true, &c);
      if (v != cases[i].want || c.icmp != cases[i].icmp)
        fail_msg("option 0x%02x: verdict %d icmp %d", cases[i].type, v, c.icmp);
      if (c.icmp) {
        assert_int_equal(c.icmp_code, US_ICMP6_PARAM_OPTION);
        assert_int_equal(c.icmp_ptr, 40 + 4); /* the option's type byte */
        assert_int_equal(c.icmp_unless_mcast, cases[i].unless_mcast);
      }
    }
  }

  /* An option running past its header; a type byte alone at the end. */
  struct pk p;
  struct us_ip6_chain c;
  uint8_t hdr[16];
  uint8_t over[6] = { 0x1e, 5, 0, 0, 0, 0 };
  pk_start(&p, 60);
  pk_add(&p, hdr, t6_opts(hdr, 59, 1, over, sizeof over));
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_BAD_OPTION);
  assert_false(c.icmp);
  uint8_t last[6] = { 1, 3, 0, 0, 0, 0x1e }; /* PadN over 5 bytes, then a type byte */
  pk_start(&p, 60);
  pk_add(&p, hdr, t6_opts(hdr, 59, 1, last, sizeof last));
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_BAD_OPTION);
}

static void test_walk_structure(void **st) {
  (void)st;
  struct pk p;
  struct us_ip6_chain c;
  uint8_t hdr[64];

  /* Hop-by-hop after a destination options header: RFC 8200 4.1. */
  pk_start(&p, 60);
  pk_add(&p, hdr, t6_opts(hdr, 0, 1, NULL, 0));
  pk_add(&p, hdr, t6_opts(hdr, 59, 1, NULL, 0));
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_HBH_NOT_FIRST);
  assert_true(c.icmp);
  assert_int_equal(c.icmp_code, US_ICMP6_PARAM_NEXT_HDR);
  assert_int_equal(c.icmp_ptr, 40); /* the destination options' Next Header */

  /* Eight headers pass, nine are too many. */
  for (int n = 8; n <= 9; n++) {
    pk_start(&p, 60);
    for (int i = 0; i < n; i++)
      pk_add(&p, hdr, t6_opts(hdr, i == n - 1 ? 59 : 60, 1, NULL, 0));
    assert_int_equal(pk_walk(&p, true, &c), n == 8 ? US_IP6_EXT_OK : US_IP6_EXT_TOO_LONG);
  }

  /* A header whose length runs past the datagram, and one cut before its
   * length byte. */
  pk_start(&p, 60);
  t6_opts(hdr, 59, 1, NULL, 0);
  hdr[1] = 3; /* says 32 bytes */
  pk_add(&p, hdr, 8);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_TRUNCATED);
  assert_false(c.icmp);
  pk_start(&p, 60);
  pk_add(&p, hdr, 1);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_TRUNCATED);
  pk_start(&p, 44);
  pk_zeros(&p, 7); /* a fragment header needs 8 */
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_TRUNCATED);
}

static void test_walk_routing(void **st) {
  (void)st;
  struct pk p;
  struct us_ip6_chain c;
  uint8_t hdr[64];
  /* RH0 with a segment left: RFC 5095 3, pointer at the Routing Type. */
  pk_start(&p, 43);
  pk_add(&p, hdr, t6_routing(hdr, 59, 0, 1, 2));
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_RH0);
  assert_true(c.icmp);
  assert_int_equal(c.icmp_code, US_ICMP6_PARAM_HEADER);
  assert_int_equal(c.icmp_ptr, 42);
  /* Any other type with a segment left: RFC 8200 4.4. */
  for (uint8_t type = 1; type < 6; type++) {
    pk_start(&p, 43);
    pk_add(&p, hdr, t6_routing(hdr, 59, type, 2, 2));
    assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_RH_UNKNOWN);
    assert_int_equal(c.icmp_ptr, 42);
    /* ... and with none left it is ignored. */
    pk_start(&p, 43);
    pk_add(&p, hdr, t6_routing(hdr, 59, type, 0, 2));
    assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_OK);
  }
}

static void test_walk_fragments(void **st) {
  (void)st;
  struct pk p;
  struct us_ip6_chain c;
  uint8_t hdr[64];

  /* Atomic fragment: skipped, the walk reaches UDP (RFC 6946). */
  pk_start(&p, 44);
  t6_frag(hdr, 17, 0, false, 7);
  pk_add(&p, hdr, 8);
  pk_zeros(&p, 8);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_OK);
  assert_true(c.atomic);
  assert_false(c.frag);
  assert_int_equal(c.proto, 17);
  assert_int_equal(c.l4_off, 48);
  /* ... also where no fragment may be. */
  assert_int_equal(pk_walk(&p, false, &c), US_IP6_EXT_OK);

  /* First fragment behind a destination options header, holding UDP's
   * header and 8 bytes. */
  pk_start(&p, 60);
  pk_add(&p, hdr, t6_opts(hdr, 44, 1, NULL, 0));
  t6_frag(hdr, 17, 0, true, 0xabcdef01);
  pk_add(&p, hdr, 8);
  pk_zeros(&p, 16);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_OK);
  assert_true(c.frag);
  assert_true(c.frag_mf);
  assert_int_equal(c.frag_off, 0);
  assert_int_equal(c.frag_id, 0xabcdef01);
  assert_int_equal(c.frag_hdr_off, 48);
  assert_int_equal(c.frag_nh_ptr, 40);
  assert_int_equal(c.frag_next, 17);
  assert_int_equal(c.frag_data_off, 56);
  assert_int_equal(c.proto, 17);
  assert_int_equal(c.l4_off, 56);
  /* A fragment where none may be (after reassembly). */
  assert_int_equal(pk_walk(&p, false, &c), US_IP6_EXT_FRAG_NESTED);

  /* A later fragment: the walk stops at its header. */
  pk_start(&p, 44);
  t6_frag(hdr, 6, 1232, false, 9);
  pk_add(&p, hdr, 8);
  pk_zeros(&p, 3);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_OK);
  assert_true(c.frag);
  assert_false(c.frag_mf);
  assert_int_equal(c.frag_off, 1232);
  assert_int_equal(c.proto, 6);

  /* M set and 12 data bytes: RFC 8200 4.5, pointer at Payload Length. */
  pk_start(&p, 44);
  t6_frag(hdr, 17, 8, true, 9);
  pk_add(&p, hdr, 8);
  pk_zeros(&p, 12);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_FRAG_BAD_LEN);
  assert_true(c.icmp);
  assert_int_equal(c.icmp_code, 0);
  assert_int_equal(c.icmp_ptr, 4);

  /* Offset + length beyond 65535: pointer at the Fragment Offset. */
  pk_start(&p, 44);
  t6_frag(hdr, 17, 65528, false, 9);
  pk_add(&p, hdr, 8);
  pk_zeros(&p, 8);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_FRAG_TOO_BIG);
  assert_int_equal(c.icmp_ptr, 42);
  /* 65520 + 8 + 8 bytes of unfragmentable part: still too big. */
  pk_start(&p, 60);
  pk_add(&p, hdr, t6_opts(hdr, 44, 1, NULL, 0));
  t6_frag(hdr, 17, 65520, false, 9);
  pk_add(&p, hdr, 8);
  pk_zeros(&p, 8);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_FRAG_TOO_BIG);
  assert_int_equal(c.icmp_ptr, 50);
  /* 65520 + 15: fits. */
  pk_start(&p, 44);
  t6_frag(hdr, 17, 65520, false, 9);
  pk_add(&p, hdr, 8);
  pk_zeros(&p, 15);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_OK);
}

/* RFC 7112: a first fragment must hold every header up to and including
 * the upper-layer header. */
static void test_walk_tiny_first(void **st) {
  (void)st;
  struct pk p;
  struct us_ip6_chain c;
  uint8_t hdr[64];

  /* A destination options header after the fragment header, the UDP
   * header pushed into the next fragment. */
  pk_start(&p, 44);
  t6_frag(hdr, 60, 0, true, 1);
  pk_add(&p, hdr, 8);
  pk_add(&p, hdr, t6_opts(hdr, 17, 1, NULL, 0));
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_INCOMPLETE);
  assert_true(c.icmp);
  assert_int_equal(c.icmp_code, US_ICMP6_PARAM_INCOMPLETE);
  assert_int_equal(c.icmp_ptr, 0);

  /* The options header itself cut by the fragment. */
  pk_start(&p, 44);
  t6_frag(hdr, 60, 0, true, 1);
  pk_add(&p, hdr, 8);
  t6_opts(hdr, 17, 2, NULL, 0);
  pk_add(&p, hdr, 8); /* 8 of its 16 bytes */
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_INCOMPLETE);

  /* TCP: 20 bytes are not enough when the data offset says 32. */
  pk_start(&p, 44);
  t6_frag(hdr, 6, 0, true, 1);
  pk_add(&p, hdr, 8);
  pk_zeros(&p, 24);
  p.b[p.n - 24 + 12] = 8 << 4;
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_INCOMPLETE);
  p.b[p.n - 24 + 12] = 5 << 4;
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_OK);

  /* A second fragment header inside the first fragment. */
  pk_start(&p, 44);
  t6_frag(hdr, 44, 0, true, 1);
  pk_add(&p, hdr, 8);
  t6_frag(hdr, 17, 0, true, 2);
  pk_add(&p, hdr, 8);
  pk_zeros(&p, 8);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_FRAG_NESTED);

  /* An unknown option after the fragment header is not judged until the
   * datagram is whole (RFC 8200 4.5: it is in the fragmentable part). */
  uint8_t opt[4] = { 0xbe, 2, 0, 0 };
  pk_start(&p, 44);
  t6_frag(hdr, 60, 0, true, 1);
  pk_add(&p, hdr, 8);
  pk_add(&p, hdr, t6_opts(hdr, 17, 1, opt, sizeof opt));
  pk_zeros(&p, 8);
  assert_int_equal(pk_walk(&p, true, &c), US_IP6_EXT_OK);
  assert_int_equal(c.proto, 17);
}

/* The lengths-only search for the upper layer, which ignores the rules
 * (used to judge datagrams the walk refused). */
static void test_find_upper(void **st) {
  (void)st;
  struct pk p;
  uint8_t hdr[64], proto = 0;
  size_t off = 0;
  /* RH0 with segments left, which the walk refuses: found behind it. */
  pk_start(&p, 43);
  pk_add(&p, hdr, t6_routing(hdr, 58, 0, 1, 2));
  pk_zeros(&p, 8);
  h_wr16(p.b + 4, (uint16_t)(p.n - 40));
  uint8_t *x = exact(p.b, p.n);
  assert_true(us_ip6_find_upper(x, p.n, &proto, &off));
  assert_int_equal(proto, 58);
  assert_int_equal(off, 64);
  /* Cut inside the routing header. */
  assert_false(us_ip6_find_upper(x, 50, &proto, &off));
  assert_false(us_ip6_find_upper(x, 39, &proto, &off));
  free(x);
  /* Through a first fragment; not through a later one. */
  pk_start(&p, 44);
  t6_frag(hdr, 17, 0, true, 1);
  pk_add(&p, hdr, 8);
  x = exact(p.b, p.n);
  assert_true(us_ip6_find_upper(x, p.n, &proto, &off));
  assert_int_equal(proto, 17);
  assert_int_equal(off, 48); /* may equal len: the header itself is cut */
  free(x);
  pk_start(&p, 44);
  t6_frag(hdr, 17, 8, true, 1);
  pk_add(&p, hdr, 8);
  x = exact(p.b, p.n);
  assert_false(us_ip6_find_upper(x, p.n, &proto, &off));
  free(x);
  /* Nine headers: too many. */
  pk_start(&p, 60);
  for (int i = 0; i < 9; i++)
    pk_add(&p, hdr, t6_opts(hdr, 60, 1, NULL, 0));
  x = exact(p.b, p.n);
  assert_false(us_ip6_find_upper(x, p.n, &proto, &off));
  free(x);
}

static void test_l4_min(void **st) {
  (void)st;
  uint8_t tcp[20] = { 0 };
  assert_int_equal(us_ip6_l4_min(6, tcp, 0), 20);
  tcp[12] = 15 << 4;
  assert_int_equal(us_ip6_l4_min(6, tcp, 20), 60);
  tcp[12] = 2 << 4; /* below 5: the fixed header still counts */
  assert_int_equal(us_ip6_l4_min(6, tcp, 20), 20);
  assert_int_equal(us_ip6_l4_min(17, NULL, 0), 8);
  assert_int_equal(us_ip6_l4_min(58, NULL, 0), 8);
  assert_int_equal(us_ip6_l4_min(59, NULL, 0), 0);
}

/* ---- ICMPv6 -------------------------------------------------------------- */

static void test_icmp6(void **st) {
  (void)st;
  uint8_t data[13] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 };
  uint8_t b[64];
  memcpy(b + 8, data, sizeof data);
  struct us_icmp6_hdr h = { .type = 128, .code = 0, .rest = 0x12340001 };
  assert_int_equal(us_icmp6_build(&h, T6_US, T6_PEER, b, 20, sizeof data), 0); /* cap */
  assert_int_equal(us_icmp6_build(&h, T6_US, T6_PEER, b, sizeof b, sizeof data), 8);
  size_t n = 8 + sizeof data;
  /* The reference sum (odd length) agrees. */
  assert_int_equal(h_csum_fold(h_csum_add(t6_pseudo(T6_US, T6_PEER, (uint32_t)n, 58), b, n)), 0);
  uint8_t ref[64];
  assert_int_equal(t6_icmp(ref, T6_US, T6_PEER, 128, 0, 0x12340001, data, sizeof data), n);
  assert_memory_equal(ref, b, n);

  uint8_t *x = exact(b, n);
  struct us_icmp6_hdr p;
  assert_int_equal(us_icmp6_parse(T6_US, T6_PEER, x, n, &p), US_ICMP6_OK);
  assert_int_equal(p.type, 128);
  assert_int_equal(p.rest, 0x12340001);
  assert_ptr_equal(p.payload, x + 8);
  assert_int_equal(p.payload_len, sizeof data);
  /* The pseudo-header is covered: other addresses, other sum. */
  assert_int_equal(us_icmp6_parse(T6_US, T6_OTHER, x, n, &p), US_ICMP6_BAD_CSUM);
  assert_int_equal(us_icmp6_parse(T6_PEER, T6_US, x, n, &p), US_ICMP6_OK); /* symmetric */
  x[9] ^= 0x40;
  assert_int_equal(us_icmp6_parse(T6_US, T6_PEER, x, n, &p), US_ICMP6_BAD_CSUM);
  free(x);
  x = exact(b, 7);
  assert_int_equal(us_icmp6_parse(T6_US, T6_PEER, x, 7, &p), US_ICMP6_TOO_SHORT);
  free(x);
  assert_true(us_icmp6_is_error(4));
  assert_false(us_icmp6_is_error(128));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_parse_table),
    cmocka_unit_test(test_pseudo_sum),     cmocka_unit_test(test_addr_classes),
    cmocka_unit_test(test_walk_plain),     cmocka_unit_test(test_walk_options),
    cmocka_unit_test(test_walk_structure), cmocka_unit_test(test_walk_routing),
    cmocka_unit_test(test_walk_fragments), cmocka_unit_test(test_walk_tiny_first),
    cmocka_unit_test(test_find_upper),     cmocka_unit_test(test_l4_min),
    cmocka_unit_test(test_icmp6),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
