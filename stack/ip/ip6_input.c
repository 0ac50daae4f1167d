/*
 * ip6_input.c - IPv6 input (RFC 8200).
 *
 * Input runs in a fixed order, each failure dropped and counted under its
 * own reason: the fixed header (stack/wire parses it once), IPv6 on at
 * all, the destination (multicast only to count the neighbor discovery and
 * MLD traffic the kernel sends on the link), the source, the extension-
 * header chain (wire/ipv6_ext.c, which also says which ICMPv6 parameter
 * problem RFC 8200 wants sent), then fragments go to reassembly, whose
 * whole datagram comes back here and is walked again, and whole datagrams
 * to ICMPv6 or the transport.
 */
#include <string.h>

#include "core/assert.h"
#include "core/stack.h"
#include "core/stats.h"
#include "ip6.h"
#include "wire/checksum.h"
#include "ip_internal.h"
#include "ustack/us_stack.h"
#include "wire/icmp6.h"
#include "wire/ipv6_ext.h"

static void count_parse_error(struct us_stack *s, enum us_ip6_parse_result r) {
  switch (r) {
  case US_IP6_TOO_SHORT:
    US_STAT_INC(s, ip6_in_too_short);
    break;
  case US_IP6_BAD_VERSION:
    US_STAT_INC(s, ip6_in_bad_version);
    break;
  case US_IP6_BAD_LEN:
    US_STAT_INC(s, ip6_in_bad_len);
    break;
  case US_IP6_ZERO_LEN:
    US_STAT_INC(s, ip6_in_zero_len);
    break;
  case US_IP6_JUMBO:
    US_STAT_INC(s, ip6_in_jumbo);
    break;
  case US_IP6_OK:
    return;
  }
  US_STAT_INC(s, ip6_in_hdr_errors);
}

static void count_walk_error(struct us_stack *s, enum us_ip6_ext_verdict v) {
  switch (v) {
  case US_IP6_EXT_TRUNCATED:
    US_STAT_INC(s, ip6_in_ext_truncated);
    break;
  case US_IP6_EXT_HBH_NOT_FIRST:
    US_STAT_INC(s, ip6_in_hbh_not_first);
    break;
  case US_IP6_EXT_TOO_LONG:
    US_STAT_INC(s, ip6_in_ext_too_long);
    break;
  case US_IP6_EXT_BAD_OPTION:
    US_STAT_INC(s, ip6_in_bad_option);
    break;
  case US_IP6_EXT_OPT_UNKNOWN:
    US_STAT_INC(s, ip6_in_unknown_option);
    break;
  case US_IP6_EXT_RH0:
    US_STAT_INC(s, ip6_in_rh0);
    break;
  case US_IP6_EXT_RH_UNKNOWN:
    US_STAT_INC(s, ip6_in_rh_unknown);
    break;
  case US_IP6_EXT_FRAG_BAD_LEN:
  case US_IP6_EXT_FRAG_TOO_BIG:
    US_STAT_INC(s, ip6_in_frag_bad);
    break;
  case US_IP6_EXT_FRAG_NESTED:
    US_STAT_INC(s, ip6_in_frag_nested);
    break;
  case US_IP6_EXT_INCOMPLETE:
    US_STAT_INC(s, ip6_in_frag_incomplete);
    break;
  case US_IP6_EXT_OK:
    return;
  }
  US_STAT_INC(s, ip6_in_hdr_errors);
}

static size_t dgram_len(const struct us_ip6_hdr *ip) {
  return US_IP6_HDR_LEN + (size_t)ip->payload_len;
}

/* ff01::1 and ff02::1, the all-nodes groups every node is in (RFC 4291
 * 2.7.1). */
static bool all_nodes(const uint8_t a[US_IP6_ADDR_LEN]) {
  static const uint8_t tail[14] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
  return a[0] == 0xff && (a[1] == 0x01 || a[1] == 0x02) && memcmp(a + 2, tail, 14) == 0;
}

/*
 * Multicast: we join no group but all-nodes, and the kernel on the other
 * end of the TUN sends router solicitations, MLD reports and neighbor
 * solicitations to the all-routers, MLD and solicited-node groups. On a
 * point-to-point link none of them needs an answer (docs/IPV6.md), so
 * they are counted as what they are and dropped. An echo request to
 * all-nodes is answered from our address, as RFC 4443 4.2 says it should
 * be (`ping -6 ff02::1%tun0`), under the same rate limit as any echo.
 * Anything else multicast is counted as such; no error is ever sent about
 * a multicast datagram.
 */
static void multicast_input(struct us_stack *s, const struct us_ip6_hdr *ip, us_time_t now) {
  struct us_ip6_chain c;
  size_t len = dgram_len(ip);
  if (us_ip6_walk(ip->raw, len, true, &c) == US_IP6_EXT_OK && !c.frag &&
      c.proto == US_IP6_NH_ICMPV6 && c.l4_off < len) {
    uint8_t type = ip->raw[c.l4_off];
    if (type == US_ICMP6_MLD_QUERY || type == US_ICMP6_MLD_REPORT || type == US_ICMP6_MLD_DONE ||
        type == US_ICMP6_MLD2_REPORT) {
      US_STAT_INC(s, icmp6_in_mld);
      return;
    }
    if (type >= US_ICMP6_ND_RS && type <= US_ICMP6_ND_REDIRECT) {
      US_STAT_INC(s, icmp6_in_nd);
      return;
    }
    if (type == US_ICMP6_ECHO_REQUEST && all_nodes(ip->dst)) {
      if (us_ip6_is_martian_src(s, ip->src)) {
        US_STAT_INC(s, ip6_in_martian);
        return;
      }
      US_STAT_INC(s, ip6_in_delivers);
      us_icmp6_input(s, ip, ip->raw + c.l4_off, len - c.l4_off, now);
      return;
    }
  }
  US_STAT_INC(s, ip6_in_multicast);
}

/* A whole datagram whose chain was walked to `c`: to ICMPv6, or to the
 * transport, or answered with a parameter problem (RFC 8200 4: an
 * unrecognised Next Header, code 1, pointing at it). `trusted`: the
 * device vouched for the transport checksum (rx_meta). */
static void deliver(struct us_stack *s, const struct us_ip6_hdr *ip, const struct us_ip6_chain *c,
                    bool trusted, us_time_t now) {
  size_t len = dgram_len(ip);
  switch (c->proto) {
  case US_IP6_NH_ICMPV6:
    US_STAT_INC(s, ip6_in_delivers);
    us_icmp6_input(s, ip, ip->raw + c->l4_off, len - c->l4_off, now);
    return;
  case US_IP6_NH_NONE:
    US_STAT_INC(s, ip6_in_no_next); /* RFC 8200 4.7: ignore what follows */
    return;
  default:
    break;
  }
  us_l4_input_fn fn = ip_layer(s)->l4_input[c->proto];
  if (fn && c->proto != US_IPPROTO_ICMP) {
    /* The transport's view (ip.h); ICMPv4 never runs over IPv6. */
    struct us_ipinfo ii = {
      .src = us_addr_v6(ip->src),
      .dst = us_addr_v6(ip->dst),
      .payload = ip->raw + c->l4_off,
      .payload_len = (uint32_t)(len - c->l4_off),
      .proto = c->proto,
      .ecn = ip->tclass & 3,
      .ttl = ip->hop_limit,
      .l4_csum_trusted = trusted,
      .ip6 = ip->raw,
      .ip6_len = len,
    };
    ii.pseudo = us_csum_pseudo(ii.src, ii.dst, c->proto);
    US_STAT_INC(s, ip6_in_delivers);
    fn(s, &ii, now);
    return;
  }
  US_STAT_INC(s, ip6_in_unknown_protos);
  us_icmp6_send_error(s, ip->raw, len, US_ICMP6_PARAM_PROBLEM, US_ICMP6_PARAM_NEXT_HDR,
                      c->proto_ptr, now);
}

/* Walk the chain of `ip` and act on the verdict; true with `c` filled
 * when the datagram goes on. `allow_frag` is false for a reassembled one. */
static bool walk(struct us_stack *s, const struct us_ip6_hdr *ip, bool allow_frag,
                 struct us_ip6_chain *c, us_time_t now) {
  enum us_ip6_ext_verdict v = us_ip6_walk(ip->raw, dgram_len(ip), allow_frag, c);
  if (v == US_IP6_EXT_OK) {
    if (c->atomic)
      US_STAT_INC(s, ip6_in_atomic_frags);
    return true;
  }
  count_walk_error(s, v);
  /* The destination is our unicast address here, so the action-11 rule
   * ("unless multicast") never holds anything back. */
  if (c->icmp)
    us_icmp6_send_error(s, ip->raw, dgram_len(ip), US_ICMP6_PARAM_PROBLEM, c->icmp_code,
                        c->icmp_ptr, now);
  return false;
}

/* A reassembled datagram: parsed and walked again from the start (a
 * fragment header in it now is a nested one), then delivered. */
static void deliver_reassembled(struct us_stack *s, struct us_pkt *whole, us_time_t now) {
  struct us_ip6_hdr ip;
  struct us_ip6_chain c;
  if (US_ALWAYS(us_ip6_parse(us_pkt_data(whole), whole->len, &ip) == US_IP6_OK) &&
      walk(s, &ip, false, &c, now))
    deliver(s, &ip, &c, false, now);
  us_pkt_free(s, whole);
}

/* RFC 8200 4.5: fragments are reassembled on (source, destination,
 * identification); the unfragmentable part of the first is kept. */
static void reassemble(struct us_stack *s, const struct us_ip6_hdr *ip,
                       const struct us_ip6_chain *c, us_time_t now) {
  if (c->frag_hdr_off > US_REASS_HDR_MAX) {
    /* Headers before the fragment header that no real sender puts there
     * in such length: refused rather than held for every fragment. */
    US_STAT_INC(s, ip6_reasm_hdr_too_long);
    return;
  }
  struct us_reass_frag f = {
    .family = 6,
    .id = c->frag_id,
    .proto = 0,
    .off = c->frag_off,
    .mf = c->frag_mf,
    .data = ip->raw + c->frag_data_off,
    .len = (uint32_t)(dgram_len(ip) - c->frag_data_off),
    .hdr = ip->raw,
    .hdr_len = (uint16_t)c->frag_hdr_off,
    .nh_ptr = (uint16_t)c->frag_nh_ptr,
    .next = c->frag_next,
  };
  memcpy(f.src, ip->src, US_IP6_ADDR_LEN);
  memcpy(f.dst, ip->dst, US_IP6_ADDR_LEN);
  struct us_pkt *whole = us_reass_input(s, &f, now);
  if (whole)
    deliver_reassembled(s, whole, now);
}

/*
 * Device metadata (us_rx_meta, docs/OFFLOAD.md) for an IPv6 datagram: the
 * local kernel may hand us a TCP or UDP datagram with its checksum left
 * partial or already checked, which is believed when it describes THIS
 * datagram (the checksum field of its upper-layer header, found by the
 * walk, and no fragment), and a GSO super-packet when it is one whole TCP
 * datagram (TUN_F_TSO6); anything else is dropped.
 */
static bool rx_meta(struct us_stack *s, const struct us_ip6_chain *c, const struct us_rx_meta *m,
                    size_t len, bool *trusted) {
  const uint32_t known = US_RX_CSUM_PARTIAL | US_RX_CSUM_VALID;
  if (m->flags == 0 && m->gso_size == 0)
    return true;
  int field = c->proto == US_IP6_NH_TCP ? 16 : c->proto == US_IP6_NH_UDP ? 6 : -1;
  bool ok = !(m->flags & ~known) && !c->frag && field >= 0;
  if (ok && m->gso_size > 0)
    ok = c->proto == US_IP6_NH_TCP;
  if (ok && (m->flags & US_RX_CSUM_PARTIAL))
    ok = m->csum_start == c->l4_off && m->csum_offset == field &&
         (size_t)c->l4_off + (size_t)field + 2 <= len;
  if (!ok) {
    US_STAT_INC(s, ip_in_bad_offload);
    return false;
  }
  if (m->gso_size > 0)
    US_STAT_INC(s, ip_gso_in);
  if (m->flags & known) {
    US_STAT_INC(s, ip_in_csum_offload);
    *trusted = true;
  }
  return true;
}

void us_ip6_input(struct us_stack *s, const uint8_t *b, size_t len, const struct us_rx_meta *meta,
                  us_time_t now) {
  US_STAT_INC(s, ip6_in_receives);
  struct us_ip6_hdr ip;
  enum us_ip6_parse_result r = us_ip6_parse(b, len, &ip);
  if (r != US_IP6_OK) {
    count_parse_error(s, r);
    return;
  }
  if (!us_ip6_enabled(s)) {
    US_STAT_INC(s, ip6_in_off);
    return;
  }
  if (ip.trimmed)
    US_STAT_INC(s, ip6_in_trimmed); /* link padding: never payload */

  if (us_ip6_addr_is_multicast(ip.dst)) {
    multicast_input(s, &ip, now);
    return;
  }
  if (!us_ip6_is_local(s, ip.dst)) {
    US_STAT_INC(s, ip6_in_addr_errors);
    return;
  }
  if (us_ip6_is_martian_src(s, ip.src)) {
    US_STAT_INC(s, ip6_in_martian);
    return;
  }
  /* Hop limit: RFC 8200 3 has routers discard at 0; a host takes what is
   * addressed to it, as IPv4 hosts do (RFC 1122 3.2.1.7). */

  struct us_ip6_chain c;
  if (!walk(s, &ip, true, &c, now))
    return;
  bool trusted = false;
  if (meta && !rx_meta(s, &c, meta, dgram_len(&ip), &trusted))
    return;
  if (c.frag) {
    reassemble(s, &ip, &c, now);
    return;
  }
  deliver(s, &ip, &c, trusted, now);
}
