/*
 * test_fault_ipv6.c - the fault injector's classification of IPv6 packets
 * (stack/fault/fault_match.c): the transport atoms mean over IPv6 what
 * they mean over IPv4, also behind extension headers (RFC 8200 4) and in
 * a first fragment; `icmp` is ICMPv6 there; `ip4` and `ip6` ask for the
 * family; a later fragment, a refused chain or a packet that is not IP
 * stays out of the transport atoms; handshakes are tracked over IPv6.
 *
 * Packets are real IPv6 headers without checksums (the injector does not
 * check them). Helpers are in fault_test.h.
 */
#include "fault_test.h"

/* Extension headers in front of the transport header. */
enum ext {
  EXT_NONE,
  EXT_OPTS,       /* hop-by-hop and destination options (PadN) */
  EXT_FRAG_FIRST, /* a fragment header, offset 0, more fragments */
  EXT_FRAG_LATER, /* a fragment header, offset 8, the last fragment */
  EXT_ATOMIC,     /* a fragment header, offset 0, no more: RFC 6946 */
  EXT_RH0,        /* routing type 0 with segments left: refused (RFC 5095) */
};

#define NH_HOPOPTS  0
#define NH_ROUTING  43
#define NH_FRAGMENT 44
#define NH_ICMPV6   58
#define NH_DSTOPTS  60

static const uint8_t A6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t B6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

/* An 8-byte options header (Next Header, length 0, one PadN of 4). */
static size_t put_opts(uint8_t *p, uint8_t next) {
  memset(p, 0, 8);
  p[0] = next;
  p[2] = 1; /* PadN */
  p[3] = 4;
  return 8;
}

static size_t put_frag(uint8_t *p, uint8_t next, uint16_t off, bool more) {
  memset(p, 0, 8);
  p[0] = next;
  h_wr16(p + 2, (uint16_t)(off | (more ? 1 : 0)));
  h_wr32(p + 4, 0x1234);
  return 8;
}

/* Type 0, one address, Segments Left 1. */
static size_t put_rh0(uint8_t *p, uint8_t next) {
  memset(p, 0, 24);
  p[0] = next;
  p[1] = 2;
  p[3] = 1;
  memcpy(p + 8, B6, 16);
  return 24;
}

/* The extension chain `ext` in front of `proto` at p; returns its length
 * and sets *first to the Next Header value of the fixed header. */
static size_t put_ext(uint8_t *p, enum ext ext, uint8_t proto, uint8_t *first) {
  size_t n = 0;
  switch (ext) {
  case EXT_NONE:
    *first = proto;
    return 0;
  case EXT_OPTS:
    *first = NH_HOPOPTS;
    n = put_opts(p, NH_DSTOPTS);
    return n + put_opts(p + n, proto);
  case EXT_FRAG_FIRST:
    *first = NH_FRAGMENT;
    return put_frag(p, proto, 0, true);
  case EXT_FRAG_LATER:
    *first = NH_FRAGMENT;
    return put_frag(p, proto, 8, false);
  case EXT_ATOMIC:
    *first = NH_FRAGMENT;
    return put_frag(p, proto, 0, false);
  case EXT_RH0:
    *first = NH_ROUTING;
    return put_rh0(p, proto);
  }
  return 0;
}

/* IPv6 from `src` to `dst`, extension headers `ext`, then TCP (flags),
 * UDP or ICMPv6 (echo request) with `payload` bytes. */
static size_t mk6(uint8_t *b, const uint8_t *src, const uint8_t *dst, enum ext ext, uint8_t proto,
                  uint16_t sport, uint16_t dport, uint8_t flags, size_t payload) {
  memset(b, 0, MAXPKT);
  b[0] = 0x60;
  b[7] = 64;
  memcpy(b + 8, src, 16);
  memcpy(b + 24, dst, 16);
  size_t off = 40 + put_ext(b + 40, ext, proto, &b[6]);
  uint8_t *l4 = b + off;
  size_t l4len;
  if (proto == 6) {
    h_wr16(l4, sport);
    h_wr16(l4 + 2, dport);
    l4[12] = 5 << 4;
    l4[13] = flags;
    l4len = 20 + payload;
  } else if (proto == 17) {
    h_wr16(l4, sport);
    h_wr16(l4 + 2, dport);
    h_wr16(l4 + 4, (uint16_t)(8 + payload));
    l4len = 8 + payload;
  } else {
    l4[0] = 128; /* echo request */
    l4len = 8 + payload;
  }
  for (size_t i = 0; i < payload; i++)
    b[off + l4len - payload + i] = (uint8_t)(0xa0 + i);
  size_t len = off + l4len;
  h_wr16(b + 4, (uint16_t)(len - 40));
  return len;
}

/* Does `match` act on the packet? One rule, dropping. */
static bool matches(const char *match, const uint8_t *b, size_t len) {
  char spec[128];
  snprintf(spec, sizeof spec, "rx:match=%s,action=drop", match);
  struct us_fault *f = mk(spec, 1);
  struct sink *s = sink_new(f);
  us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
  bool hit = s->n == 0;
  us_fault_destroy(f);
  free(s);
  return hit;
}

static void test_match6_atoms(void **state) {
  (void)state;
  struct {
    const char *match;
    enum ext ext;
    uint8_t proto; /* 6 tcp, 17 udp, 58 icmpv6 */
    uint8_t flags;
    size_t payload;
    uint16_t sport, dport;
    bool want;
  } cases[] = {
    { "ip", EXT_NONE, 6, 0x10, 0, 1, 2, true },
    { "ip6", EXT_NONE, 6, 0x10, 0, 1, 2, true },
    { "ip4", EXT_NONE, 6, 0x10, 0, 1, 2, false },
    { "tcp", EXT_NONE, 6, 0x10, 0, 1, 2, true },
    { "tcp", EXT_NONE, 17, 0, 0, 1, 2, false },
    { "udp", EXT_NONE, 17, 0, 0, 1, 2, true },
    { "icmp", EXT_NONE, NH_ICMPV6, 0, 0, 0, 0, true },
    { "icmp", EXT_NONE, 6, 0x10, 0, 1, 2, false },
    { "icmp&ip6", EXT_OPTS, NH_ICMPV6, 0, 4, 0, 0, true },
    { "tcp.syn", EXT_NONE, 6, 0x02, 0, 1, 2, true },
    { "tcp.syn", EXT_NONE, 6, 0x12, 0, 1, 2, false },
    { "tcp.synack", EXT_NONE, 6, 0x12, 0, 1, 2, true },
    { "tcp.ack", EXT_NONE, 6, 0x12, 0, 1, 2, true },
    { "tcp.pureack", EXT_NONE, 6, 0x10, 0, 1, 2, true },
    { "tcp.pureack", EXT_NONE, 6, 0x10, 5, 1, 2, false },
    { "tcp.fin", EXT_NONE, 6, 0x11, 0, 1, 2, true },
    { "tcp.rst", EXT_NONE, 6, 0x04, 0, 1, 2, true },
    { "tcp.psh&data", EXT_NONE, 6, 0x18, 3, 1, 2, true },
    { "tcp.urg", EXT_NONE, 6, 0x30, 3, 1, 2, true },
    { "data", EXT_NONE, 17, 0, 1, 1, 2, true },
    { "data", EXT_NONE, 6, 0x10, 0, 1, 2, false },
    { "sport:80", EXT_NONE, 6, 0x10, 0, 80, 2, true },
    { "dport:80", EXT_NONE, 6, 0x10, 0, 80, 2, false },
    { "udp&dport:53", EXT_NONE, 17, 0, 0, 9, 53, true },
    { "port:443", EXT_NONE, 6, 0x10, 0, 443, 9, true },
    /* Behind hop-by-hop and destination options: the same answers. */
    { "tcp.syn&dport:80", EXT_OPTS, 6, 0x02, 0, 9, 80, true },
    { "tcp.pureack", EXT_OPTS, 6, 0x10, 0, 1, 2, true },
    { "udp&data", EXT_OPTS, 17, 0, 4, 1, 2, true },
    /* A first fragment carries the transport header. */
    { "tcp.psh&dport:80", EXT_FRAG_FIRST, 6, 0x18, 4, 9, 80, true },
    { "udp&sport:7", EXT_FRAG_FIRST, 17, 0, 8, 7, 9, true },
    /* An atomic fragment is as if not fragmented (RFC 6946). */
    { "tcp.fin", EXT_ATOMIC, 6, 0x11, 0, 1, 2, true },
    /* A later fragment: its family, nothing of the transport. */
    { "ip6", EXT_FRAG_LATER, 6, 0x02, 0, 1, 2, true },
    { "tcp", EXT_FRAG_LATER, 6, 0x02, 0, 1, 2, false },
    { "!tcp", EXT_FRAG_LATER, 6, 0x02, 0, 1, 2, true },
    { "udp", EXT_FRAG_LATER, 17, 0, 8, 1, 2, false },
    /* A chain a destination refuses: ip6, no transport. */
    { "ip6", EXT_RH0, 6, 0x02, 0, 1, 2, true },
    { "tcp.syn", EXT_RH0, 6, 0x02, 0, 1, 2, false },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t b[MAXPKT];
    size_t len = mk6(b, A6, B6, cases[i].ext, cases[i].proto, cases[i].sport, cases[i].dport,
                     cases[i].flags, cases[i].payload);
    if (matches(cases[i].match, b, len) != cases[i].want)
      fail_msg("case %zu: match=%s: want %s", i, cases[i].match,
               cases[i].want ? "match" : "no match");
  }
}

static void test_match6_family(void **state) {
  (void)state;
  uint8_t b[MAXPKT];
  /* IPv4: ip4, not ip6; its ICMP is `icmp`, protocol 58 is not. */
  size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x02, 0, 1);
  assert_true(matches("ip4&tcp.syn", b, len));
  assert_false(matches("ip6", b, len));
  len = mk_udp(b, 1, 2, 0, 1);
  b[9] = 1;
  assert_true(matches("icmp&ip4", b, len));
  b[9] = NH_ICMPV6;
  assert_false(matches("icmp", b, len));
  /* Over IPv6, protocol 1 is not ICMP. */
  len = mk6(b, A6, B6, EXT_NONE, 1, 0, 0, 0, 8);
  assert_false(matches("icmp", b, len));
  assert_true(matches("ip6&!icmp", b, len));
  /* Not IP: only `ip` and negations, neither family. */
  uint8_t junk[12] = { 0x60, 0, 0, 0, 0, 4, 6, 64 };
  assert_true(matches("ip", junk, sizeof junk));
  assert_false(matches("ip6", junk, sizeof junk));
  assert_false(matches("ip4", junk, sizeof junk));
  assert_true(matches("!ip6&!ip4&!tcp", junk, sizeof junk));
}

static void test_match6_truncated(void **state) {
  (void)state;
  uint8_t b[MAXPKT];
  /* Cut after the TCP header: still TCP (a link carries what it carries),
   * as over IPv4; the payload length field is not believed past the bytes. */
  size_t len = mk6(b, A6, B6, EXT_OPTS, 6, 9, 80, 0x18, 100);
  size_t cut = 40 + 16 + 20 + 2;
  assert_true(matches("tcp.psh&dport:80&data", b, cut));
  /* Cut inside the extension headers: ip6, nothing more. */
  assert_true(matches("ip6", b, 40 + 12));
  assert_false(matches("tcp", b, 40 + 12));
  /* Cut inside the TCP header. */
  assert_false(matches("tcp", b, 40 + 16 + 10));
  /* Link padding past the payload length is not data. */
  len = mk6(b, A6, B6, EXT_NONE, 6, 9, 80, 0x10, 0);
  assert_true(matches("tcp.pureack", b, len + 6));
}

static void test_match6_handshake(void **state) {
  (void)state;
  /* when=handshake over IPv6: the peer's ACKs are dropped until the
   * handshake is over, as over IPv4. */
  struct us_fault *f = mk("rx:match=tcp.ack,when=handshake,action=drop", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  size_t len = mk6(b, A6, B6, EXT_NONE, 6, 5000, 80, 0x02, 0); /* SYN */
  us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
  len = mk6(b, B6, A6, EXT_NONE, 6, 80, 5000, 0x12, 0); /* SYN-ACK */
  us_fault_process(f, US_FAULT_TX, b, len, 1, sink_deliver, s);
  len = mk6(b, A6, B6, EXT_NONE, 6, 5000, 80, 0x10, 0); /* ACK: dropped */
  us_fault_process(f, US_FAULT_RX, b, len, 2, sink_deliver, s);
  assert_int_equal(s->n, 2);
  /* An IPv4 connection with the same ports is another connection: no
   * SYN of its own was seen, so its ACK passes. */
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x10, 0, 9);
  us_fault_process(f, US_FAULT_RX, b, len, 3, sink_deliver, s);
  assert_int_equal(s->n, 3);
  /* The IPv6 one is still in its handshake: a data segment (with ACK) is
   * dropped too. */
  len = mk6(b, A6, B6, EXT_OPTS, 6, 5000, 80, 0x18, 10);
  us_fault_process(f, US_FAULT_RX, b, len, 4, sink_deliver, s);
  assert_int_equal(s->n, 3);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.rule_dropped, 2);
  us_fault_destroy(f);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_match6_atoms),
    cmocka_unit_test(test_match6_family),
    cmocka_unit_test(test_match6_truncated),
    cmocka_unit_test(test_match6_handshake),
  };
  return H_RUN("fault_ipv6", tests);
}
