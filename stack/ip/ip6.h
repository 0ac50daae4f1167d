/*
 * ip6.h - the IPv6 layer (RFC 8200) and ICMPv6 (RFC 4443) as seen by the
 * stack assembly and the transports. docs/IPV6.md.
 *
 * IPv6 is on when cfg.addr6 is set. The link is a point-to-point TUN, so
 * there is no neighbor discovery: a datagram goes to the device with its
 * IPv6 header and nothing else.
 */
#ifndef USTACK_IP_IP6_H
#define USTACK_IP_IP6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pkt.h"
#include "ustack/us_types.h"
#include "wire/ipv6.h"

struct us_stack;
struct us_rx_meta;

/* True when the stack has an IPv6 address (cfg.addr6 not all zero). */
bool us_ip6_enabled(const struct us_stack *s);
/* Our address (cfg.addr6). */
bool us_ip6_is_local(const struct us_stack *s, const uint8_t a[US_IP6_ADDR_LEN]);
/* A source no real peer has: unspecified, loopback, multicast, IPv4-mapped
 * (RFC 4291 2.5.5.2: never on the wire) or our own address (LAND). */
bool us_ip6_is_martian_src(const struct us_stack *s, const uint8_t a[US_IP6_ADDR_LEN]);

/* One IPv6 datagram from the link. BORROWS `b`. Validates, walks the
 * extension headers, reassembles, and delivers to ICMPv6 or a transport.
 * `meta` (may be NULL) is the device's offload metadata. */
void us_ip6_input(struct us_stack *s, const uint8_t *b, size_t len, const struct us_rx_meta *meta,
                  us_time_t now);

/*
 * Send a datagram to `dst` from our IPv6 address. CONSUMES `pkt`, whose
 * data is the upper-layer header and payload (with at least 48 bytes of
 * headroom). A datagram larger than the path MTU (us_ip6_pmtu) is
 * fragmented (RFC 8200 4.5; the MTU is at least 1280, RFC 8200 5). Returns 0, US_ERR_MSGSIZE
 * (beyond 65535 bytes of payload), US_ERR_ADDRNOTAVAIL (IPv6 is off) or
 * US_ERR_NOMEM.
 */
int us_ip6_output(struct us_stack *s, struct us_pkt *pkt, const uint8_t dst[US_IP6_ADDR_LEN],
                  uint8_t next_hdr, uint8_t tclass, us_time_t now);

/* The path MTU towards `dst` (RFC 8201): what a packet too big taught us
 * in the last 10 minutes, else the link MTU. IPv6 output fragments at it;
 * a transport may size its segments by it. */
uint32_t us_ip6_pmtu(struct us_stack *s, const uint8_t dst[US_IP6_ADDR_LEN], us_time_t now);
/* Lower the estimate for `dst` to `mtu` (raised to 1280 if below, never
 * above the current estimate). icmp6.c calls it for every packet too big
 * whose quote is about a datagram we sent. */
void us_ip6_pmtu_update(struct us_stack *s, const uint8_t dst[US_IP6_ADDR_LEN], uint32_t mtu,
                        us_time_t now);

/*
 * Send a TCP segment the device finishes (us_device.h): its checksum field
 * holds the pseudo-header sum and the device completes it; with gso_size
 * > 0 it is a super-segment (US_DEV_TSO6) the device cuts into segments of
 * gso_size payload bytes. Never fragmented. Only when the device has the
 * caps (tcp_output checks). CONSUMES `pkt`.
 */
int us_ip6_output_offload(struct us_stack *s, struct us_pkt *pkt,
                          const uint8_t dst[US_IP6_ADDR_LEN], uint8_t next_hdr, uint8_t tclass,
                          uint16_t csum_offset, uint16_t gso_size, us_time_t now);

/*
 * Send an ICMPv6 error (RFC 4443 3) about `orig`, the offending datagram
 * from its IPv6 header on (`len` bytes of it; at most 1232 are quoted, RFC
 * 4443 2.4 (c)). `info` is the 32-bit field after the checksum (the
 * pointer of a parameter problem). Applies RFC 4443 2.4 (e): never about
 * an ICMPv6 error, to a multicast destination (but for packet too big and
 * an unknown option of action 10) or an unspecified, multicast or martian
 * source; and the rate limit (2.4 (f), cfg.icmp_err_rate).
 */
void us_icmp6_send_error(struct us_stack *s, const uint8_t *orig, size_t len, uint8_t type,
                         uint8_t code, uint32_t info, us_time_t now);

#endif
