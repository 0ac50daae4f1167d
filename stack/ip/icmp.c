/*
 * icmp.c - ICMP for IPv4 (RFC 792, RFC 1122 3.2.2).
 *
 * Input: echo requests are answered (rate-limited, never to a broadcast);
 * errors about datagrams we sent are checked and passed to the protocol
 * that sent them (for "fragmentation needed", with the next-hop MTU made
 * usable: RFC 1191); the rest is counted and ignored.
 *
 * Output: destination unreachable, under the RFC 1122 3.2.2 rules and a
 * token bucket. The quote is the offending IP header (with its options)
 * plus the first min(8, available) bytes of its payload: exactly what
 * RFC 792 asks for, what RFC 1122 3.2.2 requires at minimum, and small
 * enough that a quote can never read past what was received.
 */
#include <string.h>

#include "core/log.h"
#include "core/stack.h"
#include "core/stats.h"
#include "ip.h"
#include "ip_internal.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/icmp4.h"

#define QUOTE_PAYLOAD 8 /* RFC 792: "the first 64 bits of the data" */

/* RFC 792 echo (3.2.2.6 of RFC 1122): the reply carries the request's
 * identifier, sequence number and data unchanged. A 65507-byte request
 * arrives reassembled; the reply is built in one buffer (a large one when
 * needed) and us_ip4_output fragments it. */
static void echo_reply(struct us_stack *s, const struct us_ip4_hdr *ip,
                       const struct us_icmp4_hdr *req, us_time_t now) {
  if (!us_ip4_is_local(s, ip->dst)) {
    /* Smurf amplification: never answer a broadcast echo (RFC 1122
     * 3.2.2.6 makes it a MAY; RFC 2644 says don't). */
    US_STAT_INC(s, icmp_in_echo_bcast);
    return;
  }
  if (!us_tbucket_take(&ip_layer(s)->echo_tb, s->cfg.icmp_echo_rate, s->cfg.icmp_echo_burst, now)) {
    US_STAT_INC(s, icmp_out_echo_rate_limited);
    US_STAT_INC(s, icmp_out_rate_limited);
    return;
  }
  size_t n = US_ICMP_HDR_LEN + req->payload_len;
  struct us_pkt *p = us_pkt_alloc(s, n);
  uint8_t *out = p ? us_pkt_put(p, n) : NULL;
  if (!out) {
    us_pkt_free(s, p);
    US_STAT_INC(s, icmp_out_no_buffer);
    return;
  }
  memcpy(out + US_ICMP_HDR_LEN, req->payload, req->payload_len);
  struct us_icmp4_hdr rep = { .type = US_ICMP_ECHO_REPLY, .code = 0, .rest = req->rest };
  us_icmp4_build(&rep, out, n, req->payload_len);
  if (us_ip4_output(s, p, ip->src, US_IPPROTO_ICMP, false, now) == 0)
    US_STAT_INC(s, icmp_out_echo_reps);
}

/* RFC 1191 section 7: the MTU plateaus, for routers that report none. */
static const uint16_t mtu_plateaus[] = { 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68 };

/* Fragmentation needed (type 3 code 4): the next-hop MTU is the low 16
 * bits of the second word (RFC 1191 4). A router that predates RFC 1191
 * sends 0: estimate with the largest plateau below the quoted datagram's
 * length (RFC 1191 5 and 7), or 0 when none is below it (the datagram was
 * smaller than any MTU: the report is bogus). The transport judges the
 * value against its own estimate and floor. */
static uint32_t frag_needed_mtu(struct us_stack *s, uint32_t rest, size_t qtot) {
  US_STAT_INC(s, icmp_in_frag_needed);
  uint32_t mtu = rest & 0xffffu;
  if (mtu != 0)
    return mtu;
  US_STAT_INC(s, icmp_in_frag_needed_plateau);
  for (size_t i = 0; i < sizeof mtu_plateaus / sizeof mtu_plateaus[0]; i++)
    if (mtu_plateaus[i] < qtot)
      return mtu_plateaus[i];
  return 0;
}

/* An error quoting one of our datagrams: check the quote before anything
 * reads it (Ripple20 CVE-2020-11898/11910), then pass the transport bytes
 * to the protocol's handler. */
static void error_input(struct us_stack *s, const struct us_icmp4_hdr *h, us_time_t now) {
  const uint8_t *q = h->payload;
  size_t qlen = h->payload_len;
  if (qlen < US_IP4_HDR_MIN || (q[0] >> 4) != 4) {
    US_STAT_INC(s, icmp_in_bad_quote);
    return;
  }
  size_t ihl = (size_t)(q[0] & 0x0f) * 4;
  /* RFC 1122 3.2.2: the quote holds the header and at least 8 bytes. */
  if (ihl < US_IP4_HDR_MIN || ihl + 8 > qlen) {
    US_STAT_INC(s, icmp_in_bad_quote);
    return;
  }
  size_t qtot = us_get16(q + 2);
  if (qtot < ihl + 8) {
    US_STAT_INC(s, icmp_in_bad_quote); /* the quoted datagram claims less than is quoted */
    return;
  }
  uint8_t proto = q[9];
  uint32_t qsrc = us_get32(q + 12), qdst = us_get32(q + 16);
  if (!us_ip4_is_local(s, qsrc)) {
    US_STAT_INC(s, icmp_in_bad_quote); /* not about a datagram we sent */
    return;
  }
  /* Transport bytes: what was quoted, but never more than the quoted
   * datagram said it carried. */
  size_t tlen = qlen - ihl;
  if (tlen > qtot - ihl)
    tlen = qtot - ihl;
  uint32_t info = h->rest;
  if (h->type == US_ICMP_DEST_UNREACH && h->code == US_ICMP_UNREACH_NEEDFRAG)
    info = frag_needed_mtu(s, h->rest, qtot);
  us_l4_icmp_err_fn fn = ip_layer(s)->l4_icmp_err[proto];
  if (!fn) {
    US_STAT_INC(s, icmp_in_err_no_handler);
    return;
  }
  fn(s, h->type, h->code, info, us_addr_v4(qsrc), us_addr_v4(qdst), q + ihl, tlen, now);
}

void us_icmp_input(struct us_stack *s, const struct us_ip4_hdr *ip, us_time_t now) {
  US_STAT_INC(s, icmp_in_msgs);
  struct us_icmp4_hdr h;
  if (us_icmp4_parse(ip->payload, ip->payload_len, &h) != US_ICMP4_OK) {
    US_STAT_INC(s, icmp_in_errors);
    return;
  }
  switch (h.type) {
  case US_ICMP_ECHO_REQUEST:
    US_STAT_INC(s, icmp_in_echos);
    echo_reply(s, ip, &h, now);
    break;
  case US_ICMP_ECHO_REPLY:
    US_STAT_INC(s, icmp_in_echo_reps);
    break;
  case US_ICMP_DEST_UNREACH:
    US_STAT_INC(s, icmp_in_dest_unreachs);
    error_input(s, &h, now);
    break;
  case US_ICMP_TIME_EXCEEDED:
    US_STAT_INC(s, icmp_in_time_excds);
    error_input(s, &h, now);
    break;
  case US_ICMP_PARAM_PROBLEM:
    US_STAT_INC(s, icmp_in_parm_probs);
    error_input(s, &h, now);
    break;
  case US_ICMP_SOURCE_QUENCH:
    US_STAT_INC(s, icmp_in_src_quenchs); /* RFC 6633: MUST ignore */
    break;
  case US_ICMP_REDIRECT:
    US_STAT_INC(s, icmp_in_redirects); /* one interface, one route */
    break;
  case US_ICMP_TIMESTAMP:
    US_STAT_INC(s, icmp_in_timestamps); /* RFC 1122 3.2.2.8 MAY; not answered */
    break;
  case US_ICMP_ADDR_MASK:
    US_STAT_INC(s, icmp_in_addr_masks); /* RFC 1122 3.2.2.9: not an agent */
    break;
  default:
    US_STAT_INC(s, icmp_in_other);
    break;
  }
}

/* Informational ICMP types (RFC 792, RFC 950): anything else is an error
 * or unknown, and RFC 1122 3.2.2 forbids answering it with an error. */
static bool icmp_is_query(uint8_t type) {
  switch (type) {
  case 0:  /* echo reply */
  case 8:  /* echo request */
  case 13: /* timestamp */
  case 14: /* timestamp reply */
  case 15: /* information request */
  case 16: /* information reply */
  case 17: /* address mask request */
  case 18: /* address mask reply */
    return true;
  default:
    return false;
  }
}

void us_icmp_send_unreach(struct us_stack *s, const struct us_ip4_hdr *orig, uint8_t code,
                          us_time_t now) {
  /* RFC 1122 3.2.2: never about an ICMP error, a non-first fragment, a
   * broadcast or multicast datagram, or one whose source does not name a
   * single host. */
  bool icmp_err =
      orig->proto == US_IPPROTO_ICMP && (orig->payload_len < 1 || !icmp_is_query(orig->payload[0]));
  if (icmp_err || orig->frag_off != 0 || !us_ip4_is_local(s, orig->dst) ||
      us_ip4_is_martian_src(s, orig->src)) {
    US_STAT_INC(s, icmp_out_suppressed);
    return;
  }
  if (!us_tbucket_take(&ip_layer(s)->err_tb, s->cfg.icmp_err_rate, s->cfg.icmp_err_burst, now)) {
    US_STAT_INC(s, icmp_out_rate_limited);
    return;
  }
  size_t qpay = orig->payload_len < QUOTE_PAYLOAD ? orig->payload_len : QUOTE_PAYLOAD;
  size_t n = US_ICMP_HDR_LEN + orig->hdr_len + qpay;
  struct us_pkt *p = us_pkt_alloc(s, n);
  uint8_t *out = p ? us_pkt_put(p, n) : NULL;
  if (!out) {
    us_pkt_free(s, p);
    US_STAT_INC(s, icmp_out_no_buffer);
    return;
  }
  /* The quoted header is rebuilt from the parsed fields (as received:
   * total length, flags, checksum and options unchanged), so a caller's
   * us_ip4_hdr need not sit right behind its header bytes. */
  uint8_t *q = out + US_ICMP_HDR_LEN;
  uint16_t frag = (uint16_t)(orig->frag_off >> 3);
  if (orig->df)
    frag |= 0x4000;
  if (orig->mf)
    frag |= 0x2000;
  q[0] = (uint8_t)(0x40 | (orig->hdr_len / 4));
  q[1] = orig->tos;
  us_put16(q + 2, orig->total_len);
  us_put16(q + 4, orig->id);
  us_put16(q + 6, frag);
  q[8] = orig->ttl;
  q[9] = orig->proto;
  us_put16(q + 10, orig->csum);
  us_put32(q + 12, orig->src);
  us_put32(q + 16, orig->dst);
  if (orig->hdr_len > US_IP4_HDR_MIN) {
    if (orig->options && orig->opt_len == orig->hdr_len - US_IP4_HDR_MIN)
      memcpy(q + US_IP4_HDR_MIN, orig->options, orig->opt_len);
    else
      memset(q + US_IP4_HDR_MIN, US_IPOPT_EOL, orig->hdr_len - US_IP4_HDR_MIN);
  }
  memcpy(q + orig->hdr_len, orig->payload, qpay);

  struct us_icmp4_hdr h = { .type = US_ICMP_DEST_UNREACH, .code = code, .rest = 0 };
  us_icmp4_build(&h, out, n, n - US_ICMP_HDR_LEN);
  if (us_ip4_output(s, p, orig->src, US_IPPROTO_ICMP, false, now) == 0)
    US_STAT_INC(s, icmp_out_dest_unreachs);
}
