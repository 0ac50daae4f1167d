/*
 * icmp6.c - ICMPv6 (RFC 4443) for a host on a point-to-point link.
 *
 * Input: echo requests are answered (rate-limited); errors about datagrams
 * we sent are checked (the quote must hold an IPv6 header from our address
 * and, behind its extension headers, 8 bytes of the upper-layer header)
 * and passed to the protocol that sent them, packet too big with its MTU
 * raised to 1280 when it reports less (RFC 8201 4); neighbor discovery and
 * MLD are counted and ignored (no ND on a TUN, docs/IPV6.md); the rest is
 * counted and ignored (RFC 4443 2.4 (b): unknown informational messages
 * are discarded, unknown errors passed up only if we could).
 *
 * Output: errors under RFC 4443 2.4 (e) and a token bucket (2.4 (f)),
 * quoting as much of the offending datagram as keeps the error within the
 * minimum MTU (2.4 (c)).
 */
#include <string.h>

#include "core/stack.h"
#include "core/stats.h"
#include "ip6.h"
#include "ip_internal.h"
#include "wire/bytes.h"
#include "wire/icmp6.h"
#include "wire/ipv6_ext.h"

/* RFC 4443 4.2: the reply carries the request's identifier, sequence
 * number and data unchanged, from our unicast address (the request's
 * destination, or for a request to all-nodes the address it MUST come
 * from). A 65527-byte request arrives reassembled; us_ip6_output
 * fragments the reply. */
static void echo_reply(struct us_stack *s, const struct us_ip6_hdr *ip,
                       const struct us_icmp6_hdr *req, us_time_t now) {
  if (!us_tbucket_take(&ip_layer(s)->echo6_tb, s->cfg.icmp_echo_rate, s->cfg.icmp_echo_burst,
                       now)) {
    US_STAT_INC(s, icmp6_out_rate_limited);
    return;
  }
  size_t n = US_ICMP6_HDR_LEN + req->payload_len;
  struct us_pkt *p = us_pkt_alloc(s, n);
  uint8_t *out = p ? us_pkt_put(p, n) : NULL;
  if (!out) {
    us_pkt_free(s, p);
    US_STAT_INC(s, icmp6_out_no_buffer);
    return;
  }
  memcpy(out + US_ICMP6_HDR_LEN, req->payload, req->payload_len);
  struct us_icmp6_hdr rep = { .type = US_ICMP6_ECHO_REPLY, .code = 0, .rest = req->rest };
  us_icmp6_build(&rep, s->cfg.addr6, ip->src, out, n, req->payload_len);
  if (us_ip6_output(s, p, ip->src, US_IP6_NH_ICMPV6, 0, now) == 0)
    US_STAT_INC(s, icmp6_out_echo_reps);
}

/* RFC 8201 4: a packet too big below the minimum MTU does not lower the
 * estimate below 1280 (RFC 8021: no atomic fragments either). */
static uint32_t ptb_mtu(struct us_stack *s, uint32_t mtu) {
  if (mtu < US_IP6_MIN_MTU) {
    US_STAT_INC(s, icmp6_in_pkt_too_big_small);
    return US_IP6_MIN_MTU;
  }
  return mtu;
}

/* An error quoting one of our datagrams: check the quote before anything
 * reads it (Ripple20 CVE-2020-11898/11910), then hand the upper-layer
 * bytes to the protocol that sent the datagram. */
static void error_input(struct us_stack *s, const struct us_icmp6_hdr *h, us_time_t now) {
  const uint8_t *q = h->payload;
  size_t qlen = h->payload_len;
  struct us_ip6_hdr inner;
  /* The quote may be cut anywhere (RFC 4443 2.4 (c)): parse the fixed
   * header over what is there, but never beyond the length it claims. */
  if (qlen < US_IP6_HDR_LEN || (q[0] >> 4) != 6) {
    US_STAT_INC(s, icmp6_in_bad_quote);
    return;
  }
  memcpy(inner.src, q + 8, US_IP6_ADDR_LEN);
  memcpy(inner.dst, q + 24, US_IP6_ADDR_LEN);
  size_t claimed = US_IP6_HDR_LEN + (size_t)us_get16(q + 4);
  size_t avail = qlen < claimed ? qlen : claimed;
  if (!us_ip6_is_local(s, inner.src)) {
    US_STAT_INC(s, icmp6_in_bad_quote); /* not about a datagram we sent */
    return;
  }
  uint8_t proto;
  size_t l4;
  if (!us_ip6_find_upper(q, avail, &proto, &l4) || avail - l4 < 8) {
    US_STAT_INC(s, icmp6_in_bad_quote); /* no upper-layer header to match */
    return;
  }
  uint32_t info = h->rest;
  if (h->type == US_ICMP6_PKT_TOO_BIG) {
    info = ptb_mtu(s, info);
    us_ip6_pmtu_update(s, inner.dst, info, now); /* for our own output (pmtu6.c) */
  }
  us_l4_icmp_err_fn fn = proto == US_IPPROTO_ICMP ? NULL : ip_layer(s)->l4_icmp_err[proto];
  if (!fn) {
    US_STAT_INC(s, icmp6_in_err_no_handler);
    return;
  }
  fn(s, h->type, h->code, info, us_addr_v6(inner.src), us_addr_v6(inner.dst), q + l4, avail - l4,
     now);
}

void us_icmp6_input(struct us_stack *s, const struct us_ip6_hdr *ip, const uint8_t *msg, size_t len,
                    us_time_t now) {
  US_STAT_INC(s, icmp6_in_msgs);
  struct us_icmp6_hdr h;
  if (us_icmp6_parse(ip->src, ip->dst, msg, len, &h) != US_ICMP6_OK) {
    US_STAT_INC(s, icmp6_in_errors);
    return;
  }
  switch (h.type) {
  case US_ICMP6_ECHO_REQUEST:
    US_STAT_INC(s, icmp6_in_echos);
    echo_reply(s, ip, &h, now);
    break;
  case US_ICMP6_ECHO_REPLY:
    US_STAT_INC(s, icmp6_in_echo_reps);
    break;
  case US_ICMP6_DEST_UNREACH:
    US_STAT_INC(s, icmp6_in_dest_unreachs);
    error_input(s, &h, now);
    break;
  case US_ICMP6_PKT_TOO_BIG:
    US_STAT_INC(s, icmp6_in_pkt_too_bigs);
    error_input(s, &h, now);
    break;
  case US_ICMP6_TIME_EXCEEDED:
    US_STAT_INC(s, icmp6_in_time_excds);
    error_input(s, &h, now);
    break;
  case US_ICMP6_PARAM_PROBLEM:
    US_STAT_INC(s, icmp6_in_parm_probs);
    error_input(s, &h, now);
    break;
  case US_ICMP6_MLD_QUERY:
  case US_ICMP6_MLD_REPORT:
  case US_ICMP6_MLD_DONE:
  case US_ICMP6_MLD2_REPORT:
    US_STAT_INC(s, icmp6_in_mld);
    break;
  case US_ICMP6_ND_RS:
  case US_ICMP6_ND_RA:
  case US_ICMP6_ND_NS:
  case US_ICMP6_ND_NA:
  case US_ICMP6_ND_REDIRECT:
    US_STAT_INC(s, icmp6_in_nd);
    break;
  default:
    US_STAT_INC(s, icmp6_in_other);
    break;
  }
}

/* RFC 4443 2.4 (e.1, e.2): is `orig` itself an ICMPv6 error or a redirect
 * (or cut before we can tell its type, which is then taken as one)? */
static bool is_icmp6_error(const uint8_t *orig, size_t len) {
  uint8_t proto;
  size_t off;
  /* By the header lengths alone: the error may be about the very header
   * the walk refused (an RH0 in front of an ICMPv6 error). */
  if (!us_ip6_find_upper(orig, len, &proto, &off) || proto != US_IP6_NH_ICMPV6)
    return false;
  return off >= len || us_icmp6_is_error(orig[off]) || orig[off] == US_ICMP6_ND_REDIRECT;
}

/* RFC 4443 2.4 (e): the cases that get no error. */
static bool error_allowed(struct us_stack *s, const uint8_t *orig, size_t len, uint8_t type,
                          uint8_t code) {
  const uint8_t *src = orig + 8, *dst = orig + 24;
  if (is_icmp6_error(orig, len))
    return false;
  /* (e.3): to a multicast destination only packet too big and a
   * parameter problem about an unknown option of action 10. */
  if (us_ip6_addr_is_multicast(dst) &&
      !(type == US_ICMP6_PKT_TOO_BIG ||
        (type == US_ICMP6_PARAM_PROBLEM && code == US_ICMP6_PARAM_OPTION)))
    return false;
  /* (e.6): a source that does not name one node; and a martian, which no
   * real peer has. */
  return !us_ip6_is_martian_src(s, src);
}

void us_icmp6_send_error(struct us_stack *s, const uint8_t *orig, size_t len, uint8_t type,
                         uint8_t code, uint32_t info, us_time_t now) {
  if (len < US_IP6_HDR_LEN || !us_ip6_enabled(s) || !error_allowed(s, orig, len, type, code)) {
    US_STAT_INC(s, icmp6_out_suppressed);
    return;
  }
  if (!us_tbucket_take(&ip_layer(s)->err6_tb, s->cfg.icmp_err_rate, s->cfg.icmp_err_burst, now)) {
    US_STAT_INC(s, icmp6_out_rate_limited);
    return;
  }
  size_t qlen = len < US_ICMP6_ERR_QUOTE_MAX ? len : US_ICMP6_ERR_QUOTE_MAX;
  size_t n = US_ICMP6_HDR_LEN + qlen;
  struct us_pkt *p = us_pkt_alloc(s, n);
  uint8_t *out = p ? us_pkt_put(p, n) : NULL;
  if (!out) {
    us_pkt_free(s, p);
    US_STAT_INC(s, icmp6_out_no_buffer);
    return;
  }
  uint8_t to[US_IP6_ADDR_LEN];
  memcpy(to, orig + 8, US_IP6_ADDR_LEN);
  memcpy(out + US_ICMP6_HDR_LEN, orig, qlen);
  struct us_icmp6_hdr h = { .type = type, .code = code, .rest = info };
  us_icmp6_build(&h, s->cfg.addr6, to, out, n, qlen);
  if (us_ip6_output(s, p, to, US_IP6_NH_ICMPV6, 0, now) != 0)
    return;
  switch (type) {
  case US_ICMP6_DEST_UNREACH:
    US_STAT_INC(s, icmp6_out_dest_unreachs);
    break;
  case US_ICMP6_TIME_EXCEEDED:
    US_STAT_INC(s, icmp6_out_time_excds);
    break;
  default:
    US_STAT_INC(s, icmp6_out_parm_probs);
    break;
  }
}
