/*
 * ip4_input.c - IPv4 input (RFC 791, RFC 1122 3.2.1), and the layer's
 * set-up.
 *
 * Input runs in a fixed order, each failure dropped and counted under its
 * own reason: header validation (stack/wire parses it once), source
 * routing, destination, source, then fragments go to reassembly and whole
 * datagrams to the handler registered for their protocol.
 */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/stack.h"
#include "core/stats.h"
#include "ip.h"
#include "ip_internal.h"
#include "ustack/us_err.h"
#include "ustack/us_stack.h"
#include "wire/checksum.h"
#include "wire/icmp4.h"

static void ip_fini(struct us_stack *s) {
  if (!ip_layer(s))
    return;
  us_reass_fini(s);
  free(ip_layer(s));
  s->layer[US_LAYER_IP] = NULL;
}

static us_time_t ip_poll(struct us_stack *s, us_time_t now) { return us_reass_poll(s, now); }

int us_ip_init(struct us_stack *s) {
  struct us_ip_layer *ip = calloc(1, sizeof *ip);
  if (!ip)
    return US_ERR_NOMEM;
  s->layer[US_LAYER_IP] = ip;
  /* RFC 6864 4.1 / RFC 7739: a predictable ID sequence leaks traffic
   * volume and helps blind fragment injection; start at a random value. */
  ip->next_id = (uint16_t)us_rand_u32(s);
  if (us_reass_init(s) != 0) {
    ip_fini(s);
    return US_ERR_NOMEM;
  }
  us_stack_register_layer(s, ip_poll, ip_fini);
  return 0;
}

void us_ip_register_proto(struct us_stack *s, uint8_t proto, us_l4_input_fn input,
                          us_l4_icmp_err_fn icmp_err) {
  ip_layer(s)->l4_input[proto] = input;
  ip_layer(s)->l4_icmp_err[proto] = icmp_err;
}

/* The transport's view of an IPv4 datagram (ip.h). */
static void ip4_info(const struct us_ip4_hdr *ip, struct us_ipinfo *ii) {
  ii->src = us_addr_v4(ip->src);
  ii->dst = us_addr_v4(ip->dst);
  ii->pseudo = us_csum_pseudo(ii->src, ii->dst, ip->proto);
  ii->payload = ip->payload;
  ii->payload_len = ip->payload_len;
  ii->proto = ip->proto;
  ii->ecn = ip->tos & 3;
  ii->ttl = ip->ttl;
  ii->l4_csum_trusted = ip->l4_csum_trusted;
  ii->ip4 = ip;
}

void us_ip4_dispatch(struct us_stack *s, const struct us_ip4_hdr *ip, us_time_t now) {
  /* ICMP is part of this layer: called directly, so an IPv6 datagram
   * whose next header says 1 never reaches ICMPv4 through the table. */
  if (ip->proto == US_IPPROTO_ICMP) {
    US_STAT_INC(s, ip_in_delivers);
    us_icmp_input(s, ip, now);
    return;
  }
  us_l4_input_fn fn = ip_layer(s)->l4_input[ip->proto];
  if (fn) {
    struct us_ipinfo ii;
    ip4_info(ip, &ii);
    US_STAT_INC(s, ip_in_delivers);
    fn(s, &ii, now);
    return;
  }
  US_STAT_INC(s, ip_in_unknown_protos);
  /* RFC 1122 3.2.2.1: protocol unreachable for a protocol we lack (the
   * send function applies the RFC 1122 3.2.2 exceptions). */
  us_icmp_send_unreach(s, ip, US_ICMP_UNREACH_PROTO, now);
}

static void count_parse_error(struct us_stack *s, enum us_ip4_parse_result r) {
  switch (r) {
  case US_IP4_TOO_SHORT:
    US_STAT_INC(s, ip_in_too_short);
    break;
  case US_IP4_BAD_VERSION:
    US_STAT_INC(s, ip_in_bad_version);
    break;
  case US_IP4_BAD_IHL:
    US_STAT_INC(s, ip_in_bad_ihl);
    break;
  case US_IP4_BAD_LEN:
    US_STAT_INC(s, ip_in_bad_len);
    break;
  case US_IP4_BAD_CSUM:
    US_STAT_INC(s, ip_in_bad_csum);
    break;
  case US_IP4_BAD_OPTIONS:
    US_STAT_INC(s, ip_in_bad_options);
    break;
  case US_IP4_OK:
    return;
  }
  /* The MIB-II aggregate counts every header error as well. */
  US_STAT_INC(s, ip_in_hdr_errors);
}

/* Where the transport checksum field sits, from the transport header. */
static int l4_csum_field(uint8_t proto) {
  switch (proto) {
  case US_IPPROTO_TCP:
    return 16; /* RFC 9293 3.1 */
  case US_IPPROTO_UDP:
    return 6; /* RFC 768 */
  default:
    return -1;
  }
}

/*
 * Device metadata (us_rx_meta, docs/OFFLOAD.md): it comes from the local
 * kernel, which made the datagram or checked it, so it is believed; but it
 * must describe THIS datagram, else the datagram is dropped: a partial
 * checksum must name the TCP/UDP checksum field right after the IP header,
 * and a GSO super-packet must be one whole TCP datagram.
 */
static bool apply_rx_meta(struct us_stack *s, struct us_ip4_hdr *ip, const struct us_rx_meta *m) {
  const uint32_t known = US_RX_CSUM_PARTIAL | US_RX_CSUM_VALID;
  if (m->flags == 0 && m->gso_size == 0)
    return true;
  bool fragment = ip->mf || ip->frag_off != 0;
  int field = l4_csum_field(ip->proto);
  bool ok = !(m->flags & ~known) && !fragment;
  if (ok && m->gso_size > 0)
    ok = ip->proto == US_IPPROTO_TCP;
  if (ok && (m->flags & US_RX_CSUM_PARTIAL))
    ok = field >= 0 && m->csum_start == ip->hdr_len && m->csum_offset == field &&
         (uint32_t)m->csum_offset + 2 <= ip->payload_len;
  if (ok && (m->flags & US_RX_CSUM_VALID))
    ok = field >= 0;
  if (!ok) {
    US_STAT_INC(s, ip_in_bad_offload);
    return false;
  }
  if (m->gso_size > 0)
    US_STAT_INC(s, ip_gso_in);
  if (m->flags & known) {
    ip->l4_csum_trusted = true;
    US_STAT_INC(s, ip_in_csum_offload);
  }
  return true;
}

/* An IPv4 address as the reassembly key holds it: ::ffff:a.b.c.d. */
static void mapped(uint8_t out[16], uint32_t a) {
  memset(out, 0, 10);
  out[10] = out[11] = 0xff;
  out[12] = (uint8_t)(a >> 24);
  out[13] = (uint8_t)(a >> 16);
  out[14] = (uint8_t)(a >> 8);
  out[15] = (uint8_t)a;
}

/* A fragment goes to reassembly (reass.c); the datagram it completes, if
 * any, comes back to be dispatched here. `raw` is the fragment's header
 * as received, kept if it is the first. */
static void reassemble(struct us_stack *s, const uint8_t *raw, const struct us_ip4_hdr *ip,
                       us_time_t now) {
  struct us_reass_frag f = {
    .family = 4,
    .id = ip->id,
    .proto = ip->proto,
    .off = ip->frag_off,
    .mf = ip->mf,
    .data = ip->payload,
    .len = ip->payload_len,
    .hdr = raw,
    .hdr_len = ip->hdr_len,
  };
  mapped(f.src, ip->src);
  mapped(f.dst, ip->dst);
  struct us_pkt *whole = us_reass_input(s, &f, now);
  if (!whole)
    return;
  struct us_ip4_hdr w;
  if (US_ALWAYS(us_ip4_parse(us_pkt_data(whole), whole->len, &w) == US_IP4_OK))
    us_ip4_dispatch(s, &w, now);
  us_pkt_free(s, whole);
}

void us_ip4_input(struct us_stack *s, const uint8_t *b, size_t len, const struct us_rx_meta *meta,
                  us_time_t now) {
  US_STAT_INC(s, ip_in_receives);
  struct us_ip4_hdr ip;
  enum us_ip4_parse_result r = us_ip4_parse(b, len, &ip);
  if (r != US_IP4_OK) {
    count_parse_error(s, r);
    return;
  }
  if (meta && !apply_rx_meta(s, &ip, meta))
    return;
  if (ip.trimmed)
    US_STAT_INC(s, ip_in_trimmed); /* link padding: never payload (RFC 1122 3.2.1) */

  /* RFC 7126 4.3/4.4: hosts should drop LSRR/SSRR; RFC 1122 MUST-51..53
   * asks to honour them. We drop them: a reply along an attacker-chosen
   * route is how source routing is abused. */
  if (ip.src_route) {
    US_STAT_INC(s, ip_in_src_route);
    return;
  }

  /* Destination (RFC 1122 3.2.1.3). Multicast: we join no group.
   * Broadcast only makes sense for datagram protocols: UDP, and ICMP (whose
   * echo handler refuses to answer broadcasts); TCP to a broadcast address
   * is discarded (MUST-57). */
  if (!us_ip4_is_local(s, ip.dst)) {
    if (us_ip4_is_multicast(ip.dst)) {
      US_STAT_INC(s, ip_in_multicast);
      return;
    }
    if (!us_ip4_is_broadcast(s, ip.dst)) {
      US_STAT_INC(s, ip_in_addr_errors);
      return;
    }
    if (ip.proto != US_IPPROTO_UDP && ip.proto != US_IPPROTO_ICMP) {
      US_STAT_INC(s, ip_in_bcast_proto);
      return;
    }
  }

  /* A martian source cannot be answered and is never a real peer
   * (RFC 1122 3.2.1.3, MUST-63; LAND). */
  if (us_ip4_is_martian_src(s, ip.src)) {
    US_STAT_INC(s, ip_in_martian);
    return;
  }

  /* TTL: RFC 1122 3.2.1.7 says a host MUST NOT discard a datagram just
   * because its TTL is below 2, so a TTL of 0 is accepted. */

  if (ip.mf || ip.frag_off != 0) {
    reassemble(s, b, &ip, now);
    return;
  }
  us_ip4_dispatch(s, &ip, now);
}

uint32_t us_ip_reass_active(const struct us_stack *s) {
  return ip_layer(s) ? ip_layer(s)->reass_used : 0;
}
