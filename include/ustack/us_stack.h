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
};
void us_stack_pool_usage(const us_stack *s, struct us_pool_usage *out);

/* True when every pool is full: no packet, TCB or socket is held. */
bool us_stack_pools_full(const us_stack *s);

/* Change the log level at run time. */
void us_stack_set_log_level(us_stack *s, enum us_log_level level);

#endif
