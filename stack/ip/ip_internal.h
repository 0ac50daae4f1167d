/*
 * ip_internal.h - state and helpers shared by the files of stack/ip.
 * Nothing outside stack/ip includes this.
 */
#ifndef USTACK_IP_INTERNAL_H
#define USTACK_IP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pkt.h"
#include "core/stack.h"
#include "core/tbucket.h"
#include "ustack/us_types.h"
#include "ip.h"
#include "wire/ipv4.h"

struct us_stack;

/* RFC 791 3.2 / RFC 815 / RFC 8200 4.5: one datagram being reassembled,
 * keyed by (family, src, dst, id, and for IPv4 the protocol; RFC 8200 4.5
 * keys IPv6 on the addresses and the identification alone). Data goes
 * straight into a 64 KiB buffer at its offset; `blocks` records which
 * 8-byte blocks hold data, which makes the overlap test and the
 * completeness test simple and bounded. The first fragment's header is
 * kept: IPv4's header, or IPv6's unfragmentable part (the fixed header and
 * the extension headers before the fragment header), at most
 * US_REASS_HDR_MAX bytes. */
#define US_REASS_BLOCKS  (65536 / 8)
#define US_REASS_HDR_MAX 256
struct us_reass_ctx {
  bool used;
  uint8_t family; /* 4 or 6 */
  uint8_t src[16], dst[16];
  uint32_t id;
  uint8_t proto;
  struct us_pkt *buf; /* payload at us_pkt_data(buf) + offset */
  uint64_t blocks[US_REASS_BLOCKS / 64];
  uint32_t received; /* payload bytes held */
  uint32_t total;    /* payload length, known once the last fragment came */
  bool have_last, have_first;
  uint8_t first_hdr[US_REASS_HDR_MAX];
  uint16_t first_hdr_len;
  uint16_t first_len;    /* data bytes of the first fragment */
  uint16_t first_nh_ptr; /* IPv6: offset of the Next Header field holding 44 */
  uint8_t first_next;    /* IPv6: the first fragment's fragment header Next Header */
  us_time_t deadline;
};

/* One fragment as the reassembly engine sees it, either family. */
struct us_reass_frag {
  uint8_t family;           /* 4 or 6 */
  uint8_t src[16], dst[16]; /* IPv4 as ::ffff:a.b.c.d */
  uint32_t id;
  uint8_t proto; /* IPv4 protocol; 0 for IPv6 */
  uint16_t off;  /* bytes */
  bool mf;
  const uint8_t *data; /* the fragment's data */
  uint32_t len;
  /* The header to keep if this is the first fragment (IPv4: the whole
   * header; IPv6: the unfragmentable part, <= US_REASS_HDR_MAX bytes). */
  const uint8_t *hdr;
  uint16_t hdr_len;
  uint16_t nh_ptr; /* IPv6: offset in hdr of the Next Header field holding 44 */
  uint8_t next;    /* IPv6: this fragment header's Next Header */
};

/* A path MTU learnt from a packet too big (pmtu6.c); mtu 0 = free. */
#define US_PMTU6_ENTRIES 16
struct us_pmtu6 {
  uint8_t dst[16];
  uint16_t mtu;
  us_time_t expires;
};

struct us_ip_layer {
  uint16_t next_id; /* IP identification, seeded at random */
  struct us_tbucket echo_tb;
  struct us_tbucket err_tb;
  struct us_reass_ctx *reass; /* cfg.reass_contexts entries */
  uint32_t reass_count;
  uint32_t reass_used;
  uint32_t reass_bytes; /* payload bytes held by all contexts */
  /* IPv6 (ip6_*.c, icmp6.c): its own ICMP limits, apart from IPv4's. */
  struct us_tbucket echo6_tb;
  struct us_tbucket err6_tb;
  struct us_pmtu6 pmtu6[US_PMTU6_ENTRIES];
  /* The transports, by protocol number (us_ip_register_proto). */
  us_l4_input_fn l4_input[256];
  us_l4_icmp_err_fn l4_icmp_err[256];
};

/* The layer's state (core/stack.h, "one slot per layer"). */
static inline struct us_ip_layer *ip_layer(const struct us_stack *s) {
  return s->layer[US_LAYER_IP];
}

/* Hand a complete, validated datagram to its protocol handler, or answer
 * protocol unreachable. Borrows `ip`. */
void us_ip4_dispatch(struct us_stack *s, const struct us_ip4_hdr *ip, us_time_t now);

/* Reassembly (reass.c), for both families. us_reass_input BORROWS the
 * fragment; when it completes a datagram it returns it as a packet the
 * caller owns (data: the whole datagram, header first, its length fields
 * rewritten and fragmentation gone), else NULL. */
int us_reass_init(struct us_stack *s);
void us_reass_fini(struct us_stack *s);
struct us_pkt *us_reass_input(struct us_stack *s, const struct us_reass_frag *f, us_time_t now);
us_time_t us_reass_poll(struct us_stack *s, us_time_t now);

/* ICMP input (icmp.c), called by us_ip4_dispatch for protocol 1. */
void us_icmp_input(struct us_stack *s, const struct us_ip4_hdr *ip, us_time_t now);

/* IPv6 ICMP input (icmp6.c): `msg`/`len` is the ICMPv6 message of the
 * datagram `ip`. Borrows both. */
struct us_ip6_hdr;
void us_icmp6_input(struct us_stack *s, const struct us_ip6_hdr *ip, const uint8_t *msg, size_t len,
                    us_time_t now);

#endif
