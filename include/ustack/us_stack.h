/*
 * us_stack.h - the stack object: created from a config, fed packets and
 * time, emits packets through a us_device.
 *
 * Threading: a us_stack is used from one thread at a time. No function here
 * blocks, sleeps, reads a clock or makes a system call.
 */
#ifndef USTACK_US_STACK_H
#define USTACK_US_STACK_H

#include "us_config.h"
#include "us_device.h"
#include "us_err.h"
#include "us_stats.h"
#include "us_types.h"

typedef struct us_stack us_stack;

/*
 * Create a stack. `cfg` and `dev` are copied. Every pool is allocated here;
 * nothing is allocated afterwards. Returns NULL if `cfg` is invalid or memory
 * runs out (the reason is logged to cfg->log).
 */
us_stack *us_stack_create(const struct us_config *cfg, const struct us_device *dev);

/* Free everything. Open sockets are dropped without sending anything. */
void us_stack_destroy(us_stack *s);

/*
 * One IPv4 datagram arrived from the link. `pkt` is BORROWED: the stack
 * copies what it keeps before returning. Output caused by it (replies,
 * ACKs) may be emitted before return or deferred to the next poll, which
 * flushes coalesced ACKs: call us_stack_poll() after a batch of inputs.
 */
void us_stack_input(us_stack *s, const uint8_t *pkt, size_t len, us_time_t now);

/*
 * What the device knows about a received packet that its bytes do not say
 * (docs/OFFLOAD.md). ONLY a driver whose far end is the local kernel (the
 * TUN with IFF_VNET_HDR) may hand it in: the core believes the checksum
 * flags without verifying anything, because those packets never crossed a
 * wire. A packet from anywhere else goes through us_stack_input().
 *
 *   US_RX_CSUM_PARTIAL: the transport checksum was never computed; its
 *     field holds the pseudo-header sum. csum_start/csum_offset (counted
 *     from the IPv4 header) must name the TCP or UDP checksum field of this
 *     very packet, or the packet is dropped (ip_in_bad_offload).
 *   US_RX_CSUM_VALID: the kernel verified the transport checksum.
 *   gso_size > 0: a GSO super-packet (TCP/IPv4 only), up to 65535 bytes
 *     with a payload larger than the MSS; counted as ip_gso_in. The core
 *     accepts any TCP payload that fits the datagram, so this is
 *     information, not permission.
 * Unknown flag bits, or offload metadata on a fragment, drop the packet.
 */
#define US_RX_CSUM_PARTIAL 0x1u
#define US_RX_CSUM_VALID   0x2u
struct us_rx_meta {
  uint32_t flags;
  uint16_t csum_start;
  uint16_t csum_offset;
  uint16_t gso_size;
};

/*
 * Zero-copy input (docs/ARCHITECTURE.md section 8): a buffer from the stack's packet pools to
 * read the next datagram into, holding at least `want` bytes (0: the
 * link MTU; *cap says how many), or NULL when the pools have none to spare (then read into
 * your own buffer). Pass the bytes read to us_stack_input() or
 * us_stack_input_meta() at this same address: the stack then keeps the
 * buffer instead of copying what it holds on to (TCP's received data),
 * and the next call returns a fresh buffer. Input at any other address
 * is copied as before. The buffer stays the stack's: do not free it.
 */
uint8_t *us_stack_rx_buffer(us_stack *s, size_t want, size_t *cap);

/* us_stack_input() with metadata; `meta` NULL is us_stack_input(). */
void us_stack_input_meta(us_stack *s, const uint8_t *pkt, size_t len, const struct us_rx_meta *meta,
                         us_time_t now);

/*
 * Run everything due at `now` (timers, deferred ACKs, pending output) and
 * return the next deadline: the caller should call again no later than that.
 * US_TIME_NEVER when nothing is pending. `now` must not go backwards.
 */
us_time_t us_stack_poll(us_stack *s, us_time_t now);

/* The configuration the stack runs with. */
const struct us_config *us_stack_config(const us_stack *s);

/* Counter value. */
uint64_t us_stack_stat(const us_stack *s, enum us_stat id);

/* Pool occupancy: tests check that every pool is back to full. */
struct us_pool_usage {
  uint32_t pkt_free, pkt_total;
  uint32_t big_free, big_total;
  uint32_t tcb_free, tcb_total;
  uint32_t tcp_sndbuf_free, tcp_rcvbuf_free, tcp_buf_total; /* each pool */
  uint32_t udp_free, udp_total;
  uint32_t reass_active;
  uint32_t ooo_bytes;
  /* TCBs in TIME-WAIT without a handle, and the most kept before the
   * oldest ends early (us_config.tcp_max_time_wait; docs/TCP.md). */
  uint32_t tcp_time_wait, tcp_time_wait_max;
};
void us_stack_pool_usage(const us_stack *s, struct us_pool_usage *out);

/* True when every pool is full: no packet, TCB or socket is held. */
bool us_stack_pools_full(const us_stack *s);

/* Change the log level at run time. */
void us_stack_set_log_level(us_stack *s, enum us_log_level level);

#endif
