/*
 * gen_corpus.c - writes the seed corpus of the fuzz targets from the
 * malformed-packet vectors of docs/HOSTILE.md (the same cases the
 * unit tests test_hostile_*.c send), plus well-formed traffic so the
 * fuzzers start from inputs that reach deep into the stack.
 *
 *   fuzz_gen_corpus <dir>    writes <dir>/<target>/<name> files
 *
 * The files are committed under tests/fuzz/corpus/; rerun after changing
 * the vectors here.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

#define P 0x0a000001u
#define S 0x0a000002u

static const char *root;

static void put(const char *target, const char *name, const uint8_t *b, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", root, target);
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    perror(path);
    exit(1);
  }
  snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

/* IPv4 header (+options) + payload, checksums right. Returns the length. */
static size_t ip(uint8_t *out, uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *opt,
                 size_t optlen, const uint8_t *pay, size_t plen, uint16_t frag) {
  size_t hl = 20 + optlen;
  memset(out, 0, hl);
  out[0] = (uint8_t)(0x40 | (hl / 4));
  fz_put16(out + 2, (uint16_t)(hl + plen));
  fz_put16(out + 4, 0x4242);
  fz_put16(out + 6, frag);
  out[8] = 64;
  out[9] = proto;
  fz_put32(out + 12, src);
  fz_put32(out + 16, dst);
  if (optlen)
    memcpy(out + 20, opt, optlen);
  if (plen)
    memcpy(out + hl, pay, plen);
  fz_fix_ip(out, hl + plen);
  return hl + plen;
}

/* TCP header with raw options (padded with EOL to 4) + payload; checksum
 * right for src/dst. */
static size_t tcp(uint8_t *out, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack, uint8_t flags,
                  uint16_t wnd, uint16_t urp, const uint8_t *opt, size_t optlen, size_t plen,
                  uint32_t src, uint32_t dst) {
  size_t ol = (optlen + 3) & ~(size_t)3;
  size_t hl = 20 + ol;
  memset(out, 0, hl + plen);
  fz_put16(out, sp);
  fz_put16(out + 2, dp);
  fz_put32(out + 4, seq);
  fz_put32(out + 8, ack);
  out[12] = (uint8_t)((hl / 4) << 4);
  out[13] = flags;
  fz_put16(out + 14, wnd);
  fz_put16(out + 18, urp);
  if (optlen)
    memcpy(out + 20, opt, optlen);
  for (size_t i = 0; i < plen; i++)
    out[hl + i] = (uint8_t)('A' + i % 26);
  fz_fix_l4(out, hl + plen, 16, src, dst, 6);
  return hl + plen;
}

/* ---- fuzz_ipv4_parse ----------------------------------------------------- */

static void ipv4_vectors(void) {
  uint8_t b[2048], pay[64];
  memset(pay, 0x11, sizeof pay);
  size_t n = ip(b, P, S, 17, NULL, 0, pay, 16, 0);
  put("fuzz_ipv4_parse", "valid_udp", b, n);
  for (int v = 0; v < 16; v += 5) { /* IP-1: versions 0, 5, 10, 15 */
    uint8_t c[40];
    memcpy(c, b, 36);
    c[0] = (uint8_t)(v << 4 | 5);
    char name[32];
    snprintf(name, sizeof name, "ip1_version_%d", v);
    put("fuzz_ipv4_parse", name, c, 36);
  }
  for (int ihl = 0; ihl < 5; ihl++) { /* IP-2 */
    uint8_t c[40];
    memcpy(c, b, 36);
    c[0] = (uint8_t)(0x40 | ihl);
    char name[32];
    snprintf(name, sizeof name, "ip2_ihl_%d", ihl);
    put("fuzz_ipv4_parse", name, c, 36);
  }
  { /* IP-3: IHL 15 in a 20-byte packet */
    uint8_t c[20];
    ip(c, P, S, 6, NULL, 0, NULL, 0, 0);
    c[0] = 0x4f;
    put("fuzz_ipv4_parse", "ip3_ihl15_in_20", c, 20);
  }
  { /* IP-4: total length 0 and < IHL*4 */
    uint8_t c[40];
    memcpy(c, b, 36);
    fz_put16(c + 2, 0);
    put("fuzz_ipv4_parse", "ip4_totlen_0", c, 36);
    fz_put16(c + 2, 12);
    put("fuzz_ipv4_parse", "ip4_totlen_12", c, 36);
  }
  { /* IP-5: claims 1500, 40 present */
    uint8_t c[40];
    memcpy(c, b, 36);
    fz_put16(c + 2, 1500);
    put("fuzz_ipv4_parse", "ip5_totlen_gt_received", c, 36);
  }
  { /* IP-6: trailing padding */
    uint8_t c[64];
    memcpy(c, b, n);
    memset(c + n, 0xee, 64 - n);
    put("fuzz_ipv4_parse", "ip6_padding", c, 64);
  }
  { /* IP-7 */
    uint8_t c[40];
    memcpy(c, b, 36);
    c[10] ^= 0xff;
    put("fuzz_ipv4_parse", "ip7_bad_csum", c, 36);
  }
  { /* IP-8: options */
    uint8_t nops[40];
    memset(nops, 1, 40);
    n = ip(b, P, S, 17, nops, 40, pay, 8, 0);
    put("fuzz_ipv4_parse", "ip8_40_nops", b, n);
    const uint8_t len0[4] = { 0x44, 0, 0, 0 };
    n = ip(b, P, S, 17, len0, 4, pay, 8, 0);
    put("fuzz_ipv4_parse", "ip8_optlen_0", b, n);
    const uint8_t len1[4] = { 0x44, 1, 0, 0 };
    n = ip(b, P, S, 17, len1, 4, pay, 8, 0);
    put("fuzz_ipv4_parse", "ip8_optlen_1", b, n);
    const uint8_t past[4] = { 0x44, 40, 0, 0 };
    n = ip(b, P, S, 17, past, 4, pay, 8, 0);
    put("fuzz_ipv4_parse", "ip8_optlen_past", b, n);
    const uint8_t lsrr[8] = { 131, 7, 4, 10, 0, 0, 9, 0 };
    n = ip(b, P, S, 17, lsrr, 8, pay, 8, 0);
    put("fuzz_ipv4_parse", "ip8_lsrr", b, n);
    const uint8_t ssrr[8] = { 137, 7, 4, 10, 0, 0, 9, 0 };
    n = ip(b, P, S, 17, ssrr, 8, pay, 8, 0);
    put("fuzz_ipv4_parse", "ip8_ssrr", b, n);
    const uint8_t unk[4] = { 0x9e, 4, 0xab, 0xcd };
    n = ip(b, P, S, 17, unk, 4, pay, 8, 0);
    put("fuzz_ipv4_parse", "ip8_unknown", b, n);
    const uint8_t lone[4] = { 1, 1, 1, 0x44 };
    n = ip(b, P, S, 17, lone, 4, pay, 8, 0);
    put("fuzz_ipv4_parse", "ip8_lone_kind", b, n);
  }
  /* Fragments (FR-*) */
  n = ip(b, P, S, 1, NULL, 0, pay, 16, 0x2000);
  put("fuzz_ipv4_parse", "fr_first", b, n);
  n = ip(b, P, S, 1, NULL, 0, pay, 16, 0x1fff);
  put("fuzz_ipv4_parse", "fr2_ping_of_death", b, n);
}

/* ---- fuzz_tcp_parse ---------------------------------------------------------- */

static void tcp_put(const char *name, const uint8_t *opt, size_t optlen, uint8_t flags,
                    size_t plen) {
  uint8_t b[8 + 60 + 64];
  fz_put32(b, P);
  fz_put32(b + 4, S);
  size_t n = tcp(b + 8, 40000, 80, 1000, 2000, flags, 65535, 0, opt, optlen, plen, P, S);
  put("fuzz_tcp_parse", name, b, 8 + n);
}

static void tcp_vectors(void) {
  const uint8_t all[] = { 2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7 };
  tcp_put("syn_all_options", all, sizeof all, 0x02, 0);
  const uint8_t sack[] = { 1, 1, 5, 34, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0,
                           4, 0, 0, 0,  5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8, 0 };
  tcp_put("ack_sack_4", sack, sizeof sack, 0x10, 10);
  tcp_put("data_no_opts", NULL, 0, 0x18, 40);
  const uint8_t o1a[] = { 0x22, 0, 1, 1 };
  tcp_put("opt1_len0", o1a, 4, 0x02, 0);
  const uint8_t o1b[] = { 0x22, 1, 1, 1 };
  tcp_put("opt1_len1", o1b, 4, 0x02, 0);
  const uint8_t o2a[] = { 2, 4, 5, 0xb4, 0x22, 30, 0, 0 };
  tcp_put("opt2_past_end", o2a, 8, 0x02, 0);
  const uint8_t o2b[] = { 1, 1, 1, 2 };
  tcp_put("opt2_lone_kind", o2b, 4, 0x02, 0);
  const uint8_t o2c[] = { 0, 2, 0, 0xff, 3, 9, 9, 9 };
  tcp_put("opt2_eol_garbage", o2c, 8, 0x02, 0);
  const uint8_t o3a[] = { 2, 3, 5, 0 };
  tcp_put("opt3_mss_len3", o3a, 4, 0x02, 0);
  const uint8_t o3b[] = { 2, 4, 0, 0 };
  tcp_put("opt3_mss_0", o3b, 4, 0x02, 0);
  const uint8_t o4[] = { 1, 3, 3, 200 };
  tcp_put("opt4_ws_200", o4, 4, 0x02, 0);
  const uint8_t o5[] = { 1, 1, 5, 11, 0, 0, 0, 9, 0, 0, 0, 1, 0 };
  tcp_put("opt5_sack_len11", o5, sizeof o5, 0x10, 0);
  const uint8_t o6[] = { 8, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
  tcp_put("opt6_ts_len9", o6, sizeof o6, 0x10, 0);
  const uint8_t o7[] = { 1, 2, 4, 5, 0xb4, 2, 4, 2, 0x18 };
  tcp_put("opt7_unaligned_dup_mss", o7, sizeof o7, 0x02, 0);
  { /* TH-2: DO < 5, DO = 15 on a 24-byte segment */
    uint8_t b[8 + 24];
    fz_put32(b, P);
    fz_put32(b + 4, S);
    tcp(b + 8, 40000, 80, 1, 0, 0x02, 100, 0, NULL, 0, 4, P, S);
    b[8 + 12] = 0x40;
    fz_fix_l4(b + 8, 24, 16, P, S, 6);
    put("fuzz_tcp_parse", "th2_doff4", b, sizeof b);
    b[8 + 12] = 0xf0;
    fz_fix_l4(b + 8, 24, 16, P, S, 6);
    put("fuzz_tcp_parse", "th2_doff15_in_24", b, sizeof b);
  }
}

/* ---- fuzz_udp_icmp_parse --------------------------------------------------------- */

static void udp_icmp_vectors(void) {
  uint8_t b[9 + 128];
  b[0] = 1;
  fz_put32(b + 1, P);
  fz_put32(b + 5, S);
  /* UDP datagram with 5 bytes */
  uint8_t *u = b + 9;
  memset(u, 0, 13);
  fz_put16(u, 1234);
  fz_put16(u + 2, 7);
  fz_put16(u + 4, 13);
  memcpy(u + 8, "hello", 5);
  fz_fix_l4(u, 13, 6, P, S, 17);
  put("fuzz_udp_icmp_parse", "udp_hello", b, 9 + 13);
  fz_put16(u + 4, 200);
  put("fuzz_udp_icmp_parse", "udp_len_past", b, 9 + 13);
  fz_put16(u + 4, 3);
  put("fuzz_udp_icmp_parse", "udp_len_3", b, 9 + 13);
  /* ICMP echo, odd payload */
  uint8_t *m = b + 9;
  memset(m, 0, 17);
  m[0] = 8;
  fz_put32(m + 4, 0x12340001);
  memcpy(m + 8, "abcdefghi", 9);
  fz_fix_l4(m, 17, 2, 0, 0, 1);
  put("fuzz_udp_icmp_parse", "icmp_echo_odd", b, 9 + 17);
  put("fuzz_udp_icmp_parse", "icmp_short", b, 9 + 6);
}

/* ---- fuzz_stack ------------------------------------------------------------------ */

struct rec {
  uint8_t buf[16384];
  size_t n;
};

static void rec_add(struct rec *r, uint16_t flags, uint16_t dt_ms, const uint8_t *pkt, size_t len) {
  fz_put16(r->buf + r->n, (uint16_t)(flags | len));
  fz_put16(r->buf + r->n + 2, dt_ms);
  memcpy(r->buf + r->n + 4, pkt, len);
  r->n += 4 + len;
}

/* A TCP datagram from P for the record stream. For FZ_REL_SEQ records
 * seq/ack are offsets from the connection's next numbers. */
static size_t conn_seg(uint8_t *out, uint16_t sp, uint32_t seq, uint32_t ack, uint8_t flags,
                       uint16_t wnd, uint16_t urp, const uint8_t *opt, size_t optlen, size_t plen) {
  uint8_t t[60 + 1460];
  size_t tl = tcp(t, sp, 80, seq, ack, flags, wnd, urp, opt, optlen, plen, P, S);
  return ip(out, P, S, 6, NULL, 0, t, tl, 0x4000);
}

static void stack_vectors(void) {
  uint8_t pkt[2048];
  const uint16_t FR = FZ_FIX_CSUM | FZ_REL_SEQ, F = FZ_FIX_CSUM;
  struct rec r;

  /* Data both ways, then FIN: the normal life of the connection. */
  r.n = 0;
  rec_add(&r, FR, 10, pkt, conn_seg(pkt, 40000, 0, 0, 0x18, 65535, 0, NULL, 0, 100));
  rec_add(&r, FR, 50, pkt, conn_seg(pkt, 40000, 100, 1500, 0x10, 65535, 0, NULL, 0, 0));
  rec_add(&r, FR, 50, pkt, conn_seg(pkt, 40000, 100, 3000, 0x11, 65535, 0, NULL, 0, 0));
  put("fuzz_stack", "conn_data_fin", r.buf, r.n);

  /* Out of order with a hole, then the hole (RES-2 / reassembly). */
  r.n = 0;
  rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 200, 0, 0x10, 65535, 0, NULL, 0, 100));
  rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 400, 0, 0x10, 65535, 0, NULL, 0, 100));
  rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 0, 0, 0x10, 65535, 0, NULL, 0, 200));
  rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 300, 0, 0x10, 65535, 0, NULL, 0, 100));
  put("fuzz_stack", "conn_ooo", r.buf, r.n);

  /* RSTs (SEQ-1), SYN in ESTABLISHED (SEQ-2), optimistic ACK (SEQ-3). */
  r.n = 0;
  rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 5, 0, 0x04, 0, 0, NULL, 0, 0));
  rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 0, 0, 0x02, 65535, 0, NULL, 0, 0));
  rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 0, 100000, 0x10, 65535, 0, NULL, 0, 0));
  rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 0, 0, 0x04, 0, 0, NULL, 0, 0));
  put("fuzz_stack", "conn_rst_syn_ack", r.buf, r.n);

  /* Zero window then open (WIN-1), URG (URG-1), SACK (OPT-5). */
  r.n = 0;
  rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 0, 0, 0x10, 0, 0, NULL, 0, 0));
  rec_add(&r, FR, 3000, pkt, conn_seg(pkt, 40000, 0, 0, 0x10, 0, 0, NULL, 0, 0));
  rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 0, 0, 0x30, 65535, 0xffff, NULL, 0, 10));
  const uint8_t sack[] = { 1, 1, 5, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0 };
  rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 10, 0, 0x10, 65535, 0, sack, sizeof sack, 0));
  put("fuzz_stack", "conn_zwnd_urg_sack", r.buf, r.n);

  /* SACK recovery on the connection: S has data out (the application
   * writes 1500 bytes per event); P reports holes with duplicate ACKs and
   * SACK blocks (offsets from S's ISS+1), then acknowledges everything. */
  r.n = 0;
  for (int i = 0; i < 4; i++)
    rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 0, 0, 0x18, 65535, 0, NULL, 0, 10));
  {
    uint8_t sk[20] = { 1, 1, 5, 18 };
    fz_put32(sk + 4, 1500);
    fz_put32(sk + 8, 3000);
    fz_put32(sk + 12, 4500);
    fz_put32(sk + 16, 6000);
    for (int i = 0; i < 4; i++)
      rec_add(&r, FR, 1, pkt, conn_seg(pkt, 40000, 40, 0, 0x10, 65535, 0, sk, sizeof sk, 0));
    rec_add(&r, FR, 300, pkt, conn_seg(pkt, 40000, 40, 6000, 0x10, 65535, 0, NULL, 0, 0));
  }
  put("fuzz_stack", "conn_sack", r.buf, r.n);

  /* A new SYN with options to the listener, SYN+FIN, flag soup. */
  r.n = 0;
  const uint8_t synopt[] = { 2, 4, 0, 0, 1, 3, 3, 200, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0 };
  rec_add(&r, F, 1, pkt, conn_seg(pkt, 40001, 777, 0, 0x02, 65535, 0, synopt, sizeof synopt, 0));
  rec_add(&r, F, 1, pkt, conn_seg(pkt, 40002, 777, 0, 0x03, 65535, 0, NULL, 0, 0));
  rec_add(&r, F, 1, pkt, conn_seg(pkt, 40003, 777, 0, 0xff, 65535, 0, NULL, 0, 0));
  rec_add(&r, F, 1, pkt, conn_seg(pkt, 40004, 777, 0, 0x00, 65535, 0, NULL, 0, 0));
  put("fuzz_stack", "listener_syns", r.buf, r.n);

  /* UDP echo, ICMP echo, unknown protocol, a fragmented ping. */
  r.n = 0;
  uint8_t u[8 + 32];
  memset(u, 'u', sizeof u);
  fz_put16(u, 1234);
  fz_put16(u + 2, 7);
  fz_put16(u + 4, sizeof u);
  fz_fix_l4(u, sizeof u, 6, P, S, 17);
  rec_add(&r, F, 1, pkt, ip(pkt, P, S, 17, NULL, 0, u, sizeof u, 0));
  uint8_t e[8 + 23];
  memset(e, 'e', sizeof e);
  e[0] = 8;
  e[1] = 0;
  fz_fix_l4(e, sizeof e, 2, 0, 0, 1);
  rec_add(&r, F, 1, pkt, ip(pkt, P, S, 1, NULL, 0, e, sizeof e, 0));
  rec_add(&r, F, 1, pkt, ip(pkt, P, S, 0x22, NULL, 0, e, 11, 0));
  uint8_t big[8 + 48];
  memset(big, 'f', sizeof big);
  big[0] = 8;
  big[1] = 0;
  fz_fix_l4(big, sizeof big, 2, 0, 0, 1);
  rec_add(&r, F, 1, pkt, ip(pkt, P, S, 1, NULL, 0, big, 24, 0x2000));
  rec_add(&r, F, 1, pkt, ip(pkt, P, S, 1, NULL, 0, big + 24, 32, 3));
  put("fuzz_stack", "udp_icmp_frag", r.buf, r.n);

  /* ICMP errors quoting the connection (IC-4..IC-6). */
  r.n = 0;
  uint8_t q[8 + 20 + 8];
  memset(q, 0, sizeof q);
  q[0] = 3;
  q[1] = 4;
  fz_put16(q + 6, 68);
  uint8_t *qi = q + 8;
  qi[0] = 0x45;
  fz_put16(qi + 2, 40);
  qi[8] = 64;
  qi[9] = 6;
  fz_put32(qi + 12, S);
  fz_put32(qi + 16, P);
  fz_put16(qi + 20, 80);
  fz_put16(qi + 22, 40000);
  fz_fix_l4(q, sizeof q, 2, 0, 0, 1);
  rec_add(&r, F, 1, pkt, ip(pkt, P, S, 1, NULL, 0, q, sizeof q, 0));
  q[1] = 3;
  fz_fix_l4(q, sizeof q, 2, 0, 0, 1);
  rec_add(&r, F, 1, pkt, ip(pkt, P, S, 1, NULL, 0, q, sizeof q, 0));
  put("fuzz_stack", "icmp_errors", r.buf, r.n);

  /* The active open completed by a SYN-ACK, then data both ways, then an
   * RST (SYN-SENT paths; HS-2). */
  r.n = 0;
  {
    const uint16_t FA = FZ_FIX_CSUM | FZ_REL_ACTIVE;
    uint8_t t[60 + 100];
    size_t tl =
        tcp(t, 5000, 0, 9000, 0, 0x12, 65535, 0, (const uint8_t[]){ 2, 4, 5, 0xb4 }, 4, 0, P, S);
    rec_add(&r, FA, 5, pkt, ip(pkt, P, S, 6, NULL, 0, t, tl, 0x4000));
    tl = tcp(t, 5000, 0, 9001, 0, 0x18, 65535, 0, NULL, 0, 100, P, S);
    rec_add(&r, FA, 5, pkt, ip(pkt, P, S, 6, NULL, 0, t, tl, 0x4000));
    tl = tcp(t, 5000, 0, 9101, 1500, 0x10, 65535, 0, NULL, 0, 0, P, S);
    rec_add(&r, FA, 50, pkt, ip(pkt, P, S, 6, NULL, 0, t, tl, 0x4000));
    tl = tcp(t, 5000, 0, 9101, 0, 0x04, 0, 0, NULL, 0, 0, P, S);
    rec_add(&r, F, 50, pkt, ip(pkt, P, S, 6, NULL, 0, t, tl, 0x4000));
  }
  put("fuzz_stack", "active_open", r.buf, r.n);

  /* The same active open with timestamps (S offers TSopt in its SYN): the
   * SYN-ACK negotiates them, then in-order data, an old TSval (PAWS), a
   * segment without TSopt, a wrapped TSval and an RST with an old TSval
   * (RFC 7323 3.2, 5.3). */
  r.n = 0;
  {
    const uint16_t FA = FZ_FIX_CSUM | FZ_REL_ACTIVE;
    uint8_t t[60 + 100], ts[12] = { 1, 1, 8, 10 };
    uint8_t synack[16] = { 2, 4, 5, 0xb4, 1, 1, 8, 10 };
    fz_put32(synack + 8, 0xfffffff0u);
    size_t tl = tcp(t, 5000, 0, 9000, 0, 0x12, 65535, 0, synack, sizeof synack, 0, P, S);
    rec_add(&r, FA, 5, pkt, ip(pkt, P, S, 6, NULL, 0, t, tl, 0x4000));
    static const uint32_t tsv[] = { 0xfffffff8u, 0xfffffff0u, 0, 0x10u };
    uint32_t seq = 9001;
    for (int i = 0; i < 4; i++) {
      fz_put32(ts + 4, tsv[i]);
      tl = tcp(t, 5000, 0, seq, 0, 0x18, 65535, 0, ts, i == 2 ? 0 : sizeof ts, 50, P, S);
      rec_add(&r, FA, 5, pkt, ip(pkt, P, S, 6, NULL, 0, t, tl, 0x4000));
      seq += 50;
    }
    fz_put32(ts + 4, 1);
    tl = tcp(t, 5000, 0, seq, 0, 0x04, 0, 0, ts, sizeof ts, 0, P, S);
    rec_add(&r, F, 50, pkt, ip(pkt, P, S, 6, NULL, 0, t, tl, 0x4000));
  }
  put("fuzz_stack", "active_open_ts", r.buf, r.n);

  /* Raw malformed datagrams (no fix-ups). */
  r.n = 0;
  uint8_t m[40];
  memset(m, 0, sizeof m);
  m[0] = 0x4f;
  rec_add(&r, 0, 1, m, 20);
  m[0] = 0x45;
  fz_put16(m + 2, 1500);
  rec_add(&r, 0, 1, m, 40);
  put("fuzz_stack", "raw_malformed", r.buf, r.n);
}

/* ---- IPv6 (fuzz_ipv6_parse and IPv6 records for fuzz_stack) --------------- */

static const uint8_t P6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t S6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

/* A datagram from P6 to S6: fixed header, `ext` (extension headers, the
 * first named by nh), then the upper layer `up` of protocol `last` with its
 * checksum made right when it follows the fixed header directly. */
static size_t ip6(uint8_t *out, uint8_t nh, const uint8_t *ext, size_t elen, const uint8_t *up,
                  size_t ulen) {
  memset(out, 0, 40);
  out[0] = 0x60;
  fz_put16(out + 4, (uint16_t)(elen + ulen));
  out[6] = nh;
  out[7] = 64;
  memcpy(out + 8, P6, 16);
  memcpy(out + 24, S6, 16);
  if (elen)
    memcpy(out + 40, ext, elen);
  if (ulen)
    memcpy(out + 40 + elen, up, ulen);
  if (elen == 0)
    fz_fix_ip6(out, 40 + ulen);
  return 40 + elen + ulen;
}

/* An ICMPv6 echo request of `n` data bytes, checksummed for P6 -> S6. */
static size_t echo6(uint8_t *m, size_t n) {
  uint8_t h[40] = { 0 };
  memcpy(h + 8, P6, 16);
  memcpy(h + 24, S6, 16);
  memset(m, 0, 8 + n);
  m[0] = 128;
  fz_put32(m + 4, 0x00420001);
  for (size_t i = 0; i < n; i++)
    m[8 + i] = (uint8_t)i;
  fz_put16(m + 2, fz_fold(fz_sum(fz_pseudo6(h, 58, (uint32_t)(8 + n)), m, 8 + n)));
  return 8 + n;
}

static void ipv6_vectors(void) {
  uint8_t b[4096], m[2048], e[512];
  size_t ml = echo6(m, 32);
  put("fuzz_ipv6_parse", "echo", b, ip6(b, 58, NULL, 0, m, ml));
  /* Hop-by-hop (Router Alert), destination options (an unknown option of
   * each action), routing type 0 with and without segments left. */
  uint8_t hbh[8] = { 60, 0, 5, 2, 0, 0, 1, 0 };
  uint8_t dst[16] = { 43, 1, 0x1e, 1, 0, 0x5e, 1, 0, 0x9e, 1, 0, 0xde, 1, 0, 1, 0 };
  uint8_t rh0[24] = { 58, 2, 0, 1 };
  memcpy(e, hbh, 8);
  memcpy(e + 8, dst, 16);
  memcpy(e + 24, rh0, 24);
  put("fuzz_ipv6_parse", "chain_hbh_dst_rh0", b, ip6(b, 0, e, 48, m, ml));
  rh0[3] = 0;
  put("fuzz_ipv6_parse", "rh0_segs_left_0", b, ip6(b, 43, rh0, 24, m, ml));
  /* Nine destination options headers (one past the chain limit). */
  for (int i = 0; i < 9; i++) {
    uint8_t *h = e + 8 * i;
    memset(h, 0, 8);
    h[0] = i == 8 ? 58 : 60;
    h[2] = 1;
    h[3] = 4;
  }
  put("fuzz_ipv6_parse", "chain_too_long", b, ip6(b, 60, e, 72, m, ml));
  /* Fragments: a first one, a later one, an atomic one, a tiny first. */
  uint8_t fh[16] = { 58, 0, 0, 1, 0, 0, 0, 7 };
  put("fuzz_ipv6_parse", "frag_first", b, ip6(b, 44, fh, 8, m, 32));
  fh[3] = 0x20;
  put("fuzz_ipv6_parse", "frag_later", b, ip6(b, 44, fh, 8, m + 32, ml - 32));
  fh[3] = 0;
  put("fuzz_ipv6_parse", "frag_atomic", b, ip6(b, 44, fh, 8, m, ml));
  uint8_t tiny[16] = { 60, 0, 0, 1, 0, 0, 0, 8, 58, 0, 1, 4, 0, 0, 0, 0 };
  put("fuzz_ipv6_parse", "frag_tiny_first", b, ip6(b, 44, tiny, 16, NULL, 0));
  /* Jumbogram and zero payload length. */
  uint8_t jumbo[8] = { 58, 0, 0xc2, 4, 0, 1, 0x11, 0x70 };
  size_t n = ip6(b, 0, jumbo, 8, m, ml);
  fz_put16(b + 4, 0);
  put("fuzz_ipv6_parse", "jumbo", b, n);
  n = ip6(b, 58, NULL, 0, m, ml);
  fz_put16(b + 4, 0);
  put("fuzz_ipv6_parse", "zero_len", b, n);
  /* An ICMPv6 error quoting a datagram. */
  uint8_t q[128];
  size_t ql = ip6(q, 17, NULL, 0, m, 16);
  memcpy(q + 8, S6, 16);
  memcpy(q + 24, P6, 16);
  uint8_t err[256] = { 2, 0, 0, 0, 0, 0, 0x05, 0x00 };
  memcpy(err + 8, q, ql);
  n = ip6(b, 58, NULL, 0, err, 8 + ql);
  put("fuzz_ipv6_parse", "ptb", b, n);
}

static void stack_vectors6(void) {
  uint8_t pkt[2048], m[4096];
  const uint16_t F = FZ_FIX_CSUM;
  struct rec r;

  /* Echo, an echo behind extension headers, a fragmented echo, RH0, an
   * unknown next header, UDP to the echo port, what the kernel sends (a
   * router solicitation to ff02::2, MLDv2 behind hop-by-hop). */
  r.n = 0;
  size_t ml = echo6(m, 56);
  rec_add(&r, F, 1, pkt, ip6(pkt, 58, NULL, 0, m, ml));
  uint8_t dst[8] = { 58, 0, 1, 4, 0, 0, 0, 0 };
  rec_add(&r, 0, 1, pkt, ip6(pkt, 60, dst, 8, m, ml));
  size_t big = echo6(m, 2000);
  uint8_t fh[8] = { 58, 0, 0, 1, 0, 0, 0x12, 0x34 };
  rec_add(&r, 0, 1, pkt, ip6(pkt, 44, fh, 8, m, 1232));
  fz_put16(fh + 2, 1232);
  rec_add(&r, 0, 1, pkt, ip6(pkt, 44, fh, 8, m + 1232, big - 1232));
  uint8_t rh0[24] = { 58, 2, 0, 1 };
  rec_add(&r, 0, 1, pkt, ip6(pkt, 43, rh0, 24, m, ml));
  rec_add(&r, F, 1, pkt, ip6(pkt, 253, NULL, 0, m, 16));
  uint8_t u[16] = { 0x9c, 0x40, 0, 7, 0, 16, 0, 0, 'h', 'e', 'l', 'l', 'o', '6', '!', '\n' };
  rec_add(&r, F, 1, pkt, ip6(pkt, 17, NULL, 0, u, sizeof u));
  size_t n = ip6(pkt, 58, NULL, 0, m, 8);
  pkt[0] = 0x60;
  pkt[8] = 0xfe;
  pkt[9] = 0x80;
  memset(pkt + 24, 0, 16);
  pkt[24] = 0xff;
  pkt[25] = 2;
  pkt[39] = 2;
  pkt[40] = 133;
  rec_add(&r, F, 1, pkt, n);
  put("fuzz_stack", "ipv6_mix", r.buf, r.n);

  /* A fragment flood and an overlap, then the reassembly timeout. */
  r.n = 0;
  for (int i = 0; i < 6; i++) {
    fz_put16(fh + 2, 8 | 1);
    fz_put32(fh + 4, (uint32_t)i);
    rec_add(&r, 0, 1, pkt, ip6(pkt, 44, fh, 8, m, 64));
  }
  fz_put16(fh + 2, 1);
  fz_put32(fh + 4, 99);
  rec_add(&r, 0, 1, pkt, ip6(pkt, 44, fh, 8, m, 64));
  fz_put16(fh + 2, 56);
  rec_add(&r, 0, 1, pkt, ip6(pkt, 44, fh, 8, m, 64));
  rec_add(&r, 0, 40000, pkt, ip6(pkt, 59, NULL, 0, NULL, 0));
  put("fuzz_stack", "ipv6_frags", r.buf, r.n);
}

/* ---- fuzz_fault ----------------------------------------------------------- */

/* One record of fuzz_fault's packet mode: [u16 RX bit | length][u8 ms]. */
static size_t fault_rec(uint8_t *out, bool rx, uint8_t dt_ms, const uint8_t *pkt, size_t len) {
  fz_put16(out, (uint16_t)((rx ? 0x8000u : 0) | len));
  out[2] = dt_ms;
  memcpy(out + 3, pkt, len);
  return 3 + len;
}

/* IPv6 + hop-by-hop options (PadN) + TCP header, no checksum (the
 * injector checks none). */
static size_t ip6_tcp_hbh(uint8_t *out, uint8_t flags, uint16_t dport) {
  memset(out, 0, 68);
  out[0] = 0x60;
  fz_put16(out + 4, 28);
  out[6] = 0; /* hop-by-hop */
  out[7] = 64;
  out[8] = 0xfd;
  out[23] = 1;
  out[24] = 0xfd;
  out[39] = 2;
  out[40] = 6; /* then TCP */
  out[42] = 1; /* PadN */
  out[43] = 4;
  fz_put16(out + 48, 5000);
  fz_put16(out + 50, dport);
  out[60] = 5 << 4;
  out[61] = flags;
  return 68;
}

static void fault_vectors(void) {
  static const char *const specs[] = {
    "rx:loss=5%,burst=3;tx:delay=20ms,jitter=5ms",
    "tx:match=tcp.synack,count=2,action=drop;rx:match=ip6&tcp.ack,when=handshake,action=drop",
    "both:reorder=2%,gap=3;both:dup=1%;both:corrupt=1%,bits=1;tx:blackhole=5s-25s",
    "rx:rate=10mbit,bucket=15kB,qlen=50;match=udp&dport:53&!ip4,action=dup:2",
    "loss=90%,burst=2",
  };
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    uint8_t b[256];
    b[0] = 1;
    size_t n = strlen(specs[i]);
    memcpy(b + 1, specs[i], n);
    char name[32];
    snprintf(name, sizeof name, "spec_%zu", i);
    put("fuzz_fault", name, b, 1 + n);
  }
  /* A TCP/IPv4 handshake with data both ways, then IPv6 segments behind
   * a hop-by-hop header, a UDP datagram to port 53 and junk. */
  static uint8_t r[32768];
  uint8_t seg[1200], pkt[1300];
  size_t n = 0;
  r[n++] = 0;
  size_t l = tcp(seg, 5000, 80, 1, 0, 0x02, 65535, 0, NULL, 0, 0, P, S);
  l = ip(pkt, P, S, 6, NULL, 0, seg, l, 0);
  n += fault_rec(r + n, true, 0, pkt, l);
  l = tcp(seg, 80, 5000, 100, 2, 0x12, 65535, 0, NULL, 0, 0, S, P);
  l = ip(pkt, S, P, 6, NULL, 0, seg, l, 0);
  n += fault_rec(r + n, false, 1, pkt, l);
  l = tcp(seg, 5000, 80, 2, 101, 0x10, 65535, 0, NULL, 0, 0, P, S);
  l = ip(pkt, P, S, 6, NULL, 0, seg, l, 0);
  n += fault_rec(r + n, true, 1, pkt, l);
  for (int i = 0; i < 6; i++) {
    l = tcp(seg, 5000, 80, 2 + (uint32_t)i * 100, 101, 0x18, 65535, 0, NULL, 0, 100, P, S);
    l = ip(pkt, P, S, 6, NULL, 0, seg, l, 0);
    n += fault_rec(r + n, true, 2, pkt, l);
    l = tcp(seg, 80, 5000, 101, 102 + (uint32_t)i * 100, 0x10, 65535, 0, NULL, 0, 0, S, P);
    l = ip(pkt, S, P, 6, NULL, 0, seg, l, 0);
    n += fault_rec(r + n, false, 0, pkt, l);
  }
  /* A burst the TX shaper (1 Mbit/s, 3000 B, 4 waiting) must queue and
   * then drop from. */
  for (int i = 0; i < 10; i++) {
    l = tcp(seg, 8080, 5001, 1 + (uint32_t)i * 1000, 1, 0x10, 65535, 0, NULL, 0, 1000, S, P);
    l = ip(pkt, S, P, 6, NULL, 0, seg, l, 0);
    n += fault_rec(r + n, false, 0, pkt, l);
  }
  l = ip6_tcp_hbh(pkt, 0x02, 80);
  n += fault_rec(r + n, false, 5, pkt, l);
  l = ip6_tcp_hbh(pkt, 0x12, 80);
  n += fault_rec(r + n, true, 5, pkt, l);
  uint8_t udp[16] = { 0x13, 0x88, 0, 53, 0, 16 };
  l = ip(pkt, P, S, 17, NULL, 0, udp, sizeof udp, 0);
  n += fault_rec(r + n, false, 60, pkt, l);
  uint8_t junk[7] = { 0x6f, 1, 2, 3, 4, 5, 6 };
  n += fault_rec(r + n, true, 200, junk, sizeof junk);
  put("fuzz_fault", "trace_v4_v6", r, n);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
    return 2;
  }
  root = argv[1];
  if (mkdir(root, 0755) != 0 && errno != EEXIST) {
    perror(root);
    return 1;
  }
  ipv4_vectors();
  tcp_vectors();
  udp_icmp_vectors();
  stack_vectors();
  ipv6_vectors();
  stack_vectors6();
  fault_vectors();
  return 0;
}
