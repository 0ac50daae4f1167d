/*
 * fault_match.c - see fault_match.h. The header layouts are RFC 791
 * (IPv4), RFC 8200 section 3 (IPv6), RFC 9293 section 3.1 (TCP), RFC 768
 * (UDP), RFC 792 and RFC 4443 (ICMP, ICMPv6).
 */
#include "fault_match.h"

#include <string.h>

#include "wire/bytes.h"
#include "wire/ipv4.h"
#include "wire/ipv6.h"
#include "wire/ipv6_ext.h"
#include "wire/tcp.h"

#define UDP_HDR_LEN 8

/* ICMP of the packet's own family: ICMPv4 in IPv4, ICMPv6 in IPv6. */
static bool is_icmp(const struct fault_pkt *pi) {
  if (pi->family == US_AF_INET6)
    return pi->proto == US_IP6_NH_ICMPV6;
  return pi->proto == US_IPPROTO_ICMP;
}

/* The transport header of a first (or only) fragment: `l4len` bytes. */
static void classify_l4(const uint8_t *l4, size_t l4len, struct fault_pkt *pi) {
  if (pi->proto == US_IPPROTO_TCP) {
    if (l4len < US_TCP_HDR_MIN)
      return;
    size_t doff = (size_t)(l4[12] >> 4) * 4;
    if (doff < US_TCP_HDR_MIN || doff > l4len)
      return;
    pi->sport = us_get16(l4);
    pi->dport = us_get16(l4 + 2);
    pi->tflags = l4[13];
    pi->payload = (uint32_t)(l4len - doff);
    pi->l4 = true;
  } else if (pi->proto == US_IPPROTO_UDP) {
    if (l4len < UDP_HDR_LEN)
      return;
    pi->sport = us_get16(l4);
    pi->dport = us_get16(l4 + 2);
    pi->payload = (uint32_t)(l4len - UDP_HDR_LEN);
    pi->l4 = true;
  } else if (is_icmp(pi)) {
    pi->l4 = true;
  }
}

static void classify4(const uint8_t *b, size_t len, struct fault_pkt *pi) {
  if (len < US_IP4_HDR_MIN)
    return;
  size_t ihl = (size_t)(b[0] & 0x0f) * 4;
  size_t tot = us_get16(b + 2);
  if (ihl < US_IP4_HDR_MIN || ihl > len || tot < ihl)
    return;
  /* A total length beyond the bytes (a truncated packet) reads what is
   * there; link padding past the total length is not payload. */
  size_t end = tot < len ? tot : len;
  pi->family = US_AF_INET;
  pi->proto = b[9];
  pi->src = us_addr_v4(us_get32(b + 12));
  pi->dst = us_addr_v4(us_get32(b + 16));
  if ((us_get16(b + 6) & 0x1fff) != 0)
    return; /* not the first fragment */
  classify_l4(b + ihl, end - ihl, pi);
}

static void classify6(const uint8_t *b, size_t len, struct fault_pkt *pi) {
  if (len < US_IP6_HDR_LEN)
    return;
  /* As over IPv4: a payload length beyond the bytes (a truncated packet)
   * reads what is there; link padding past it is not payload. */
  size_t tot = US_IP6_HDR_LEN + us_get16(b + 4);
  size_t end = tot < len ? tot : len;
  pi->family = US_AF_INET6;
  pi->proto = b[6];
  pi->src = us_addr_v6(b + 8);
  pi->dst = us_addr_v6(b + 24);
  struct us_ip6_chain ch;
  if (us_ip6_walk(b, end, true, &ch) != US_IP6_EXT_OK)
    return; /* a chain a destination would refuse: no transport */
  pi->proto = ch.proto;
  if (ch.frag && ch.frag_off != 0)
    return; /* not the first fragment */
  classify_l4(b + ch.l4_off, end - ch.l4_off, pi);
}

void fault_classify(const uint8_t *b, size_t len, struct fault_pkt *pi) {
  memset(pi, 0, sizeof *pi);
  if (len < 1)
    return;
  if ((b[0] >> 4) == 4)
    classify4(b, len, pi);
  else if ((b[0] >> 4) == 6)
    classify6(b, len, pi);
}

static bool atom_true(const struct fault_atom *a, const struct fault_pkt *pi) {
  bool tcp = fault_pkt_is_tcp(pi);
  bool udp = pi->l4 && pi->proto == US_IPPROTO_UDP;
  uint8_t fl = pi->tflags;
  switch (a->kind) {
  case FAULT_AT_IP:
    return true;
  case FAULT_AT_TCP:
    return tcp;
  case FAULT_AT_UDP:
    return udp;
  case FAULT_AT_ICMP:
    return pi->l4 && is_icmp(pi);
  case FAULT_AT_SYN:
    return tcp && (fl & US_TH_SYN) && !(fl & US_TH_ACK);
  case FAULT_AT_SYNACK:
    return tcp && (fl & US_TH_SYN) && (fl & US_TH_ACK);
  case FAULT_AT_ACK:
    return tcp && (fl & US_TH_ACK);
  case FAULT_AT_PUREACK:
    return tcp && (fl & US_TH_ACK) && !(fl & (US_TH_SYN | US_TH_FIN | US_TH_RST)) &&
           pi->payload == 0;
  case FAULT_AT_FIN:
    return tcp && (fl & US_TH_FIN);
  case FAULT_AT_RST:
    return tcp && (fl & US_TH_RST);
  case FAULT_AT_PSH:
    return tcp && (fl & US_TH_PSH);
  case FAULT_AT_URG:
    return tcp && (fl & US_TH_URG);
  case FAULT_AT_DATA:
    return (tcp || udp) && pi->payload > 0;
  case FAULT_AT_SPORT:
    return (tcp || udp) && pi->sport == a->port;
  case FAULT_AT_DPORT:
    return (tcp || udp) && pi->dport == a->port;
  case FAULT_AT_PORT:
    return (tcp || udp) && (pi->sport == a->port || pi->dport == a->port);
  case FAULT_AT_IP4:
    return pi->family == US_AF_INET;
  case FAULT_AT_IP6:
    return pi->family == US_AF_INET6;
  default:
    return false;
  }
}

bool fault_atoms_match(const struct fault_atom *atoms, uint32_t natoms,
                       const struct fault_pkt *pi) {
  for (uint32_t i = 0; i < natoms; i++)
    if (atom_true(&atoms[i], pi) == atoms[i].neg)
      return false;
  return true;
}
