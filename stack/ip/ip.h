/*
 * ip.h - the IPv4 layer as seen by the layers above it (udp, tcp) and by
 * the stack assembly in stack/assembly/stack.c.
 */
#ifndef USTACK_IP_IP_H
#define USTACK_IP_IP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pkt.h"
#include "ustack/us_types.h"
#include "wire/ipv4.h"

struct us_stack;

/* The layer's slot in struct us_stack (core/stack.h). */
#define US_LAYER_IP 0

/*
 * What a transport handler receives from IP input, whichever the IP
 * version: one validated datagram addressed to us, after reassembly, with
 * link padding trimmed. Everything is BORROWED for the duration of the call.
 */
struct us_ipinfo {
  us_addr_t src, dst;
  /* The pseudo-header sum without the length (wire/checksum.h,
   * us_csum_pseudo of src, dst, proto): the transport adds its length. */
  uint32_t pseudo;
  const uint8_t *payload; /* the transport header and data */
  uint32_t payload_len;
  uint8_t proto; /* IPv4 protocol / IPv6 upper-layer next header */
  uint8_t ecn;   /* the ECN field (RFC 3168 5): TOS or traffic class & 3 */
  uint8_t ttl;   /* TTL, or the IPv6 hop limit */
  /* Never from the wire: the device's metadata says the local kernel made
   * or verified this datagram (us_rx_meta), so the transport skips its
   * checksum check. */
  bool l4_csum_trusted;
  /* For an ICMP error about this datagram (us_ip_send_port_unreach): the
   * IPv4 header as parsed, or the IPv6 datagram from its header on
   * (ip6_len bytes); the other is NULL. */
  const struct us_ip4_hdr *ip4;
  const uint8_t *ip6;
  size_t ip6_len;
};
typedef void (*us_l4_input_fn)(struct us_stack *s, const struct us_ipinfo *ii, us_time_t now);

/*
 * An ICMP error arrived quoting a datagram of this protocol that we sent.
 * `type`/`code` are those of ICMPv4 or ICMPv6, as qsrc's family says;
 * `quote` is the quoted transport header bytes (at least 8, maybe more);
 * `qsrc`/`qdst` the quoted IP addresses. Borrowed for the call.
 */
typedef void (*us_l4_icmp_err_fn)(struct us_stack *s, uint8_t type, uint8_t code, uint32_t info,
                                  us_addr_t qsrc, us_addr_t qdst, const uint8_t *quote,
                                  size_t quote_len, us_time_t now);

/* The transport for protocol number `proto` (IPv4 protocol, IPv6 upper-
 * layer next header: one IANA registry): IP input hands it the datagrams
 * of that protocol, and ICMP/ICMPv6 the errors that quote one. Either
 * function may be NULL. Called by the transports' set-up. */
void us_ip_register_proto(struct us_stack *s, uint8_t proto, us_l4_input_fn input,
                          us_l4_icmp_err_fn icmp_err);

/* Set up IPv4, ICMP and fragment reassembly; registers the ICMP handler and
 * the layer's poll (reassembly timeouts). Returns 0 or a us_err. */
int us_ip_init(struct us_stack *s);

/* The layer's part of a us_config (ip_config.c): its defaults, and NULL
 * when its fields are usable or else why not (one line). The assembly
 * composes every layer's. */
struct us_config;
void us_ip_defaults(struct us_config *cfg);
const char *us_ip_config_check(const struct us_config *cfg);

/* One datagram from the link. BORROWS `b`. Validates, reassembles, and
 * dispatches to the handler registered for the protocol. `meta` (may be
 * NULL) is the device's offload metadata (us_rx_meta in us_stack.h). */
struct us_rx_meta;
void us_ip4_input(struct us_stack *s, const uint8_t *b, size_t len, const struct us_rx_meta *meta,
                  us_time_t now);

/*
 * Send a datagram to `dst` from our address. CONSUMES `pkt`, whose data is
 * the transport header and payload (with at least 20 bytes of headroom for
 * the IP header). Datagrams larger than the MTU are fragmented unless `df`.
 * Returns 0, US_ERR_MSGSIZE (too large, or DF and above the MTU) or
 * US_ERR_NOMEM (no buffer for a fragment).
 */
int us_ip4_output(struct us_stack *s, struct us_pkt *pkt, uint32_t dst, uint8_t proto, bool df,
                  us_time_t now);
/* The same with this TOS byte (its low two bits are the ECN field, RFC
 * 3168 5: TCP sets ECT(0) on new data of an ECN-capable connection). */
int us_ip4_output_tos(struct us_stack *s, struct us_pkt *pkt, uint32_t dst, uint8_t proto, bool df,
                      uint8_t tos, us_time_t now);

/*
 * Send a TCP super-segment (us_device.h, US_DEV_TSO4): like us_ip4_output
 * but never fragmented; the device cuts it into segments of `gso_size`
 * payload bytes and completes the checksum, whose field must already hold
 * the pseudo-header sum. Only when the device has US_DEV_TSO4 (or, with
 * gso_size 0, US_DEV_CSUM). CONSUMES `pkt`.
 */
int us_ip4_output_offload(struct us_stack *s, struct us_pkt *pkt, uint32_t dst, uint8_t proto,
                          bool df, uint8_t tos, uint16_t csum_offset, uint16_t gso_size,
                          us_time_t now);

/*
 * What a transport hands to us_ip_output with a packet, whichever the IP
 * version (dst's family picks it). IPv4 sends from cfg.addr, the address
 * every IPv4 socket has as its local one.
 */
struct us_ip_tx {
  us_addr_t src, dst;
  uint8_t proto;
  uint8_t tos; /* IPv4 TOS / IPv6 traffic class; the low 2 bits are ECN */
  bool df;     /* IPv4: don't fragment (IPv6 routers never fragment) */
  /* Offload (us_device.h): `offload` asks the device to finish the
   * checksum at csum_offset from the transport header, and with gso_size
   * > 0 to cut a TCP super-segment (us_ip4_output_offload,
   * us_ip6_output_offload). */
  bool offload;
  uint16_t csum_offset, gso_size;
};

/*
 * Send a transport datagram. CONSUMES `pkt` (data: the transport header
 * and payload, with headroom for the IP header). Returns 0 or a us_err as
 * us_ip4_output / us_ip6_output do (US_ERR_ADDRNOTAVAIL for IPv6 while the
 * stack has no IPv6 address).
 */
int us_ip_output(struct us_stack *s, struct us_pkt *pkt, const struct us_ip_tx *tx, us_time_t now);

/* Address classes of either family, for the transports. */
/* Our own unicast address (IPv4: cfg.addr). */
bool us_ip_is_local(const struct us_stack *s, us_addr_t a);
/* Our address of this family, the source of what we send to it; false
 * when the stack has none. */
bool us_ip_local_addr(const struct us_stack *s, uint8_t family, us_addr_t *out);
/* An address no real peer can have (us_ip4_is_martian_src for IPv4). */
bool us_ip_is_martian(const struct us_stack *s, us_addr_t a);

/* RFC 1122 4.1.3.1 / RFC 4443 3.1: destination unreachable, port
 * unreachable, about the datagram `ii` (as us_icmp_send_unreach, with its
 * exceptions and rate limit). */
void us_ip_send_port_unreach(struct us_stack *s, const struct us_ipinfo *ii, us_time_t now);

/* Address classes (RFC 1122 3.2.1.3, RFC 5735): used to refuse martian
 * sources and broadcast/multicast destinations (MUST-57, MUST-63). */
bool us_ip4_is_local(const struct us_stack *s, uint32_t addr);     /* our address */
bool us_ip4_is_broadcast(const struct us_stack *s, uint32_t addr); /* limited or subnet broadcast */
bool us_ip4_is_multicast(uint32_t addr);
/* A source no real peer can have: 0.0.0.0/8, 127/8, multicast, broadcast,
 * 240/4, or our own address. */
bool us_ip4_is_martian_src(const struct us_stack *s, uint32_t addr);

/* Send ICMP destination unreachable about `orig` (the datagram as received,
 * header + payload). Applies RFC 1122 3.2.2 (never about an ICMP error, a
 * non-first fragment, a broadcast/multicast or martian datagram) and the
 * rate limit. */
void us_icmp_send_unreach(struct us_stack *s, const struct us_ip4_hdr *orig, uint8_t code,
                          us_time_t now);

/*
 * ICMP errors reach the transport registered for the protocol
 * (us_ip_register_proto) only after icmp.c has checked the quote: inner version 4,
 * inner IHL >= 5 with IHL*4 + 8 bytes present, an inner total length that
 * covers them, and an inner source that is our address. The arguments:
 * `type`/`code` as received; `info` is the ICMP header's second 32-bit
 * word as on the wire (for destination unreachable code 4 the next-hop
 * MTU is `info & 0xffff`, RFC 1191; for parameter problem the pointer is
 * `info >> 24`); `quote`/`quote_len` are the quoted transport bytes (at
 * least 8, never beyond the inner total length).
 *
 * Reassembled datagrams are delivered with their first fragment's header
 * (MF and offset cleared, total length and checksum rewritten) stored
 * right before the payload.
 */

/* Bytes held by reassembly, and contexts in use (for us_stack_pool_usage). */
uint32_t us_ip_reass_active(const struct us_stack *s);

#endif
