/*
 * ipv6_ext.c - the bounded walk of the IPv6 extension-header chain
 * (RFC 8200 4, RFC 5095, RFC 6946, RFC 7112); see ipv6_ext.h for the rules.
 *
 * Offsets are size_t from the start of the datagram and every header's
 * length is checked against `len` before a byte of it is read, so the walk
 * cannot leave the buffer; each step moves forward by at least 8 bytes and
 * there are at most US_IP6_EXT_MAX steps, so it cannot loop.
 */
#include "ipv6_ext.h"

#include <string.h>

#include "bytes.h"
#include "ipv6.h"

#define FRAG_HDR_LEN 8

static bool is_ext(uint8_t nh) {
  return nh == US_IP6_NH_HOPOPTS || nh == US_IP6_NH_ROUTING || nh == US_IP6_NH_FRAGMENT ||
         nh == US_IP6_NH_DSTOPTS;
}

static enum us_ip6_ext_verdict problem(struct us_ip6_chain *c, enum us_ip6_ext_verdict v,
                                       uint8_t code, size_t ptr, bool unless_mcast) {
  c->icmp = true;
  c->icmp_code = code;
  c->icmp_ptr = (uint32_t)ptr;
  c->icmp_unless_mcast = unless_mcast;
  return v;
}

static bool option_known(uint8_t type) {
  return type == US_IP6_OPT_PADN || type == US_IP6_OPT_ROUTER_ALERT;
}

/* The options of a hop-by-hop or destination options header at `off`,
 * `hlen` bytes long (already inside the datagram). RFC 8200 4.2: the two
 * high bits of an unknown type say what to do. */
static enum us_ip6_ext_verdict walk_options(const uint8_t *d, size_t off, size_t hlen,
                                            struct us_ip6_chain *c) {
  size_t i = off + 2, end = off + hlen;
  while (i < end) {
    uint8_t type = d[i];
    if (type == US_IP6_OPT_PAD1) {
      i++;
      continue;
    }
    if (end - i < 2 || (size_t)d[i + 1] + 2 > end - i)
      return US_IP6_EXT_BAD_OPTION;
    if (!option_known(type)) {
      switch (type >> 6) {
      case 0: /* 00: skip over it */
        break;
      case 1: /* 01: discard */
        return US_IP6_EXT_OPT_UNKNOWN;
      case 2: /* 10: discard and send a parameter problem, multicast or not */
        return problem(c, US_IP6_EXT_OPT_UNKNOWN, US_ICMP6_PARAM_OPTION, i, false);
      default: /* 11: the same, unless the destination was multicast */
        return problem(c, US_IP6_EXT_OPT_UNKNOWN, US_ICMP6_PARAM_OPTION, i, true);
      }
    }
    i += (size_t)d[i + 1] + 2;
  }
  return US_IP6_EXT_OK;
}

/* RFC 4443 3.4 / RFC 7112 5: a first fragment without the whole chain. */
static enum us_ip6_ext_verdict incomplete(struct us_ip6_chain *c) {
  return problem(c, US_IP6_EXT_INCOMPLETE, US_ICMP6_PARAM_INCOMPLETE, 0, false);
}

/* A fragment header at `off` (8 bytes inside the datagram), named by the
 * Next Header field at `ptr`. Returns OK with c->frag set for a real
 * fragment, OK with c->frag clear for an atomic one. */
static enum us_ip6_ext_verdict fragment(const uint8_t *d, size_t len, size_t off, size_t ptr,
                                        bool allow_frag, struct us_ip6_chain *c) {
  uint16_t w = us_get16(d + off + 2);
  uint16_t fo = w & 0xfff8u;
  bool mf = (w & 1) != 0;
  if (fo == 0 && !mf) {
    c->atomic = true; /* RFC 6946 4: processed as if not fragmented */
    return US_IP6_EXT_OK;
  }
  if (!allow_frag)
    return US_IP6_EXT_FRAG_NESTED;
  size_t data = len - off - FRAG_HDR_LEN;
  /* RFC 8200 4.5: both discarded with a parameter problem, code 0. */
  if (mf && (data & 7) != 0)
    return problem(c, US_IP6_EXT_FRAG_BAD_LEN, US_ICMP6_PARAM_HEADER, 4, false);
  size_t unfrag = off - US_IP6_HDR_LEN;
  if (unfrag + fo + data > US_IP6_MAX_PAYLOAD)
    return problem(c, US_IP6_EXT_FRAG_TOO_BIG, US_ICMP6_PARAM_HEADER, off + 2, false);
  c->frag = true;
  c->frag_mf = mf;
  c->frag_off = fo;
  c->frag_id = us_get32(d + off + 4);
  c->frag_hdr_off = (uint32_t)off;
  c->frag_nh_ptr = (uint32_t)ptr;
  c->frag_next = d[off];
  c->frag_data_off = (uint32_t)(off + FRAG_HDR_LEN);
  return US_IP6_EXT_OK;
}

enum us_ip6_ext_verdict us_ip6_walk(const uint8_t *d, size_t len, bool allow_frag,
                                    struct us_ip6_chain *c) {
  memset(c, 0, sizeof *c);
  if (d == NULL || len < US_IP6_HDR_LEN)
    return US_IP6_EXT_TRUNCATED;
  uint8_t nh = d[6];
  size_t ptr = 6, off = US_IP6_HDR_LEN;
  /* Past the fragment header of a first fragment: the rest belongs to the
   * fragmentable part, processed after reassembly (RFC 8200 4.5), so only
   * its lengths are walked here (RFC 7112). */
  bool probe = false;
  while (is_ext(nh)) {
    if (c->nhdrs == US_IP6_EXT_MAX)
      return US_IP6_EXT_TOO_LONG;
    c->nhdrs++;
    if (nh == US_IP6_NH_HOPOPTS && off != US_IP6_HDR_LEN)
      return problem(c, US_IP6_EXT_HBH_NOT_FIRST, US_ICMP6_PARAM_NEXT_HDR, ptr, false);
    size_t hlen = FRAG_HDR_LEN;
    if (nh != US_IP6_NH_FRAGMENT) {
      if (len - off < 2)
        return probe ? incomplete(c) : US_IP6_EXT_TRUNCATED;
      hlen = ((size_t)d[off + 1] + 1) * 8; /* RFC 8200 4.3: 8-octet units beyond the first 8 */
    }
    if (hlen > len - off)
      return probe ? incomplete(c) : US_IP6_EXT_TRUNCATED;

    enum us_ip6_ext_verdict v = US_IP6_EXT_OK;
    if (nh == US_IP6_NH_FRAGMENT && probe) {
      v = US_IP6_EXT_FRAG_NESTED; /* a fragment inside a fragment */
    } else if (nh == US_IP6_NH_FRAGMENT) {
      v = fragment(d, len, off, ptr, allow_frag, c);
      if (v == US_IP6_EXT_OK && c->frag) {
        if (c->frag_off != 0) {
          /* Not the first fragment: nothing behind the header can be read. */
          c->proto = c->frag_next;
          c->proto_ptr = (uint32_t)off;
          c->l4_off = c->frag_data_off;
          return US_IP6_EXT_OK;
        }
        probe = true;
      }
    } else if (probe) {
      /* Lengths only (see above). */
    } else if (nh == US_IP6_NH_ROUTING) {
      uint8_t type = d[off + 2], segs_left = d[off + 3];
      /* RFC 8200 4.4: Segments Left 0 means ignore it, whatever the type. */
      if (segs_left != 0)
        v = problem(c, type == 0 ? US_IP6_EXT_RH0 : US_IP6_EXT_RH_UNKNOWN, US_ICMP6_PARAM_HEADER,
                    off + 2, false);
    } else {
      v = walk_options(d, off, hlen, c);
    }
    if (v != US_IP6_EXT_OK)
      return v;
    ptr = off;
    nh = d[off];
    off += hlen;
  }
  c->proto = nh;
  c->proto_ptr = (uint32_t)ptr;
  c->l4_off = (uint32_t)off;
  if (probe && len - off < us_ip6_l4_min(nh, d + off, len - off))
    return incomplete(c);
  return US_IP6_EXT_OK;
}

size_t us_ip6_l4_min(uint8_t proto, const uint8_t *h, size_t avail) {
  switch (proto) {
  case US_IP6_NH_TCP: {
    size_t need = 20; /* RFC 9293 3.1 */
    if (avail >= 13 && (size_t)(h[12] >> 4) * 4 > need)
      need = (size_t)(h[12] >> 4) * 4; /* its options are header too */
    return need;
  }
  case US_IP6_NH_UDP:
    return 8; /* RFC 768 */
  case US_IP6_NH_ICMPV6:
    return 8; /* RFC 4443 2.1 */
  default:
    return 0;
  }
}

bool us_ip6_find_upper(const uint8_t *d, size_t len, uint8_t *proto, size_t *off) {
  if (d == NULL || len < US_IP6_HDR_LEN)
    return false;
  uint8_t nh = d[6];
  size_t o = US_IP6_HDR_LEN;
  for (int n = 0; is_ext(nh); n++) {
    if (n == US_IP6_EXT_MAX || len - o < 2)
      return false;
    size_t hlen = nh == US_IP6_NH_FRAGMENT ? FRAG_HDR_LEN : ((size_t)d[o + 1] + 1) * 8;
    if (hlen > len - o)
      return false;
    if (nh == US_IP6_NH_FRAGMENT && (us_get16(d + o + 2) & 0xfff8u) != 0)
      return false; /* a later fragment: no upper-layer header in it */
    nh = d[o];
    o += hlen;
  }
  *proto = nh;
  *off = o;
  return true;
}
