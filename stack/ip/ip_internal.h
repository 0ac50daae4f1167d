/*
 * ip_internal.h - state and helpers shared by the files of stack/ip.
 * Nothing outside stack/ip includes this.
 */
#ifndef USTACK_IP_INTERNAL_H
#define USTACK_IP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pkt.h"
#include "core/tbucket.h"
#include "ustack/us_types.h"
#include "wire/ipv4.h"

struct us_stack;

/* RFC 791 3.2 / RFC 815: one datagram being reassembled, keyed by
 * (src, dst, protocol, id). Data goes straight into a 64 KiB buffer at its
 * offset; `blocks` records which 8-byte blocks hold data, which makes the
 * overlap test and the completeness test simple and bounded. */
#define US_REASS_BLOCKS (65536 / 8)
struct us_reass_ctx {
  bool used;
  uint32_t src, dst;
  uint16_t id;
  uint8_t proto;
  struct us_pkt *buf; /* payload at us_pkt_data(buf) + offset */
  uint64_t blocks[US_REASS_BLOCKS / 64];
  uint32_t received; /* payload bytes held */
  uint32_t total;    /* payload length, known once the last fragment came */
  bool have_last, have_first;
  uint8_t first_hdr[US_IP4_HDR_MAX];
  uint8_t first_hdr_len;
  us_time_t deadline;
};

struct us_ip_layer {
  uint16_t next_id; /* IP identification, seeded at random */
  struct us_tbucket echo_tb;
  struct us_tbucket err_tb;
  struct us_reass_ctx *reass; /* cfg.reass_contexts entries */
  uint32_t reass_count;
  uint32_t reass_used;
  uint32_t reass_bytes; /* payload bytes held by all contexts */
};

/* Hand a complete, validated datagram to its protocol handler, or answer
 * protocol unreachable. Borrows `ip`. */
void us_ip4_dispatch(struct us_stack *s, const struct us_ip4_hdr *ip, us_time_t now);

/* Reassembly (reass.c). `raw` is the fragment as received (its header is
 * kept if it is the first fragment). Borrows both. Dispatches the datagram
 * when it is complete. */
int us_reass_init(struct us_stack *s);
void us_reass_fini(struct us_stack *s);
void us_reass_input(struct us_stack *s, const uint8_t *raw, const struct us_ip4_hdr *ip,
                    us_time_t now);
us_time_t us_reass_poll(struct us_stack *s, us_time_t now);

/* ICMP input (icmp.c), called by us_ip4_dispatch for protocol 1. */
void us_icmp_input(struct us_stack *s, const struct us_ip4_hdr *ip, us_time_t now);

#endif
