/*
 * fault_match.h - packet classification for the injector's rules: what a
 * match such as `tcp.ack&dport:9` looks at in a packet.
 *
 * A rule's match is a conjunction of atoms (fault_spec.h has the grammar);
 * each atom is a question about one classified packet. Classification
 * reads only the few fields the atoms ask about, and it is lenient on
 * purpose: the injector models a link, and a link carries a datagram
 * whatever its checksums say, so a corrupted or truncated packet is still
 * classified as far as its bytes go. It does not use the validating
 * parsers of stack/wire (which reject a bad checksum) for the fixed
 * headers for that reason; every length is still checked against the
 * bytes received before use.
 *
 * IPv4 (RFC 791) and IPv6 (RFC 8200) carry the same transport atoms: tcp,
 * udp and their flags, ports and data, and icmp, which is ICMP over IPv4
 * and ICMPv6 (RFC 4443) over IPv6. `ip4` and `ip6` ask for the family.
 * Over IPv6 the upper-layer header is found with stack/wire's walk of the
 * extension-header chain (wire/ipv6_ext.h); a chain that walk refuses (a
 * destination would discard the packet) leaves the packet `ip6` without a
 * transport, like a fragment other than the first.
 */
#ifndef USTACK_FAULT_MATCH_H
#define USTACK_FAULT_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/us_types.h"

enum fault_atom_kind {
  FAULT_AT_IP,
  FAULT_AT_TCP,
  FAULT_AT_UDP,
  FAULT_AT_ICMP,
  FAULT_AT_SYN,
  FAULT_AT_SYNACK,
  FAULT_AT_ACK,
  FAULT_AT_PUREACK,
  FAULT_AT_FIN,
  FAULT_AT_RST,
  FAULT_AT_PSH,
  FAULT_AT_URG,
  FAULT_AT_DATA,
  FAULT_AT_SPORT,
  FAULT_AT_DPORT,
  FAULT_AT_PORT,
  FAULT_AT_IP4,
  FAULT_AT_IP6,
};

struct fault_atom {
  uint8_t kind; /* enum fault_atom_kind */
  bool neg;
  uint16_t port; /* FAULT_AT_SPORT, _DPORT, _PORT */
};

/* What classification found in one packet. */
struct fault_pkt {
  uint8_t family;     /* US_AF_INET/INET6 when the IP header was read, else US_AF_NONE */
  bool l4;            /* proto's header was read: ports, flags, payload are valid */
  uint8_t proto;      /* IPv4 protocol, or the upper layer behind IPv6's chain */
  us_addr_t src, dst; /* IPv4 held IPv4-mapped (us_types.h) */
  uint16_t sport, dport;
  uint8_t tflags; /* TCP flags (US_TH_*) */
  uint32_t payload;
};

/* Classify `len` bytes. A packet that is neither IPv4 nor IPv6, or whose
 * IP header does not fit, is still a packet: it matches `ip` and negated
 * atoms only. A fragment other than the first (its transport header is
 * elsewhere) matches its family too. */
void fault_classify(const uint8_t *b, size_t len, struct fault_pkt *pi);

/* True when every atom holds (a negated atom when it does not). */
bool fault_atoms_match(const struct fault_atom *atoms, uint32_t natoms, const struct fault_pkt *pi);

/* Small questions the engine asks too (handshake tracking). */
static inline bool fault_pkt_is_tcp(const struct fault_pkt *pi) { return pi->l4 && pi->proto == 6; }

#endif
