/*
 * stack.h - the stack object, seen from inside.
 *
 * struct us_stack holds all state of one stack: config, counters, pools,
 * the handle table, and a slot for each layer's state. There is no global
 * mutable state anywhere, so two stacks run side by side in one process.
 *
 * Layers register their poll and fini hooks here at creation
 * (stack/assembly/stack.c does the assembly), so that poll asks every
 * layer for its next deadline and destroy frees them top down without the
 * core naming any of them. Transports register with IP the same way
 * (us_ip_register_proto in ip/ip.h), so the link-time arrows keep pointing
 * down.
 */
#ifndef USTACK_CORE_STACK_H
#define USTACK_CORE_STACK_H

#include "ustack/us_config.h"
#include "ustack/us_device.h"
#include "ustack/us_stats.h"
#include "ustack/us_types.h"

#include "handle.h"
#include "pkt.h"

struct us_stack;

/* Run due work at `now`; return the layer's next deadline. */
typedef us_time_t (*us_layer_poll_fn)(struct us_stack *s, us_time_t now);
typedef void (*us_layer_fini_fn)(struct us_stack *s);

#define US_MAX_LAYERS 8

struct us_stack {
  struct us_config cfg;
  struct us_device dev;
  enum us_log_level log_level;
  us_time_t now; /* the latest time handed in (for logs) */

  uint64_t stats[US_STAT_COUNT];

  struct us_pkt_pool pkts; /* MTU-sized */
  struct us_pkt_pool big;  /* 64 KiB */
  /* Zero-copy input (pkt.h): the buffer handed out for the next read,
   * and the one the datagram being processed sits in. */
  struct us_pkt *rx_reserved;
  struct us_pkt *rx_pkt;
  struct us_handle_table handles;

  /* Fallback generator when no rand source is configured (tests). */
  uint64_t rand_state;

  /* Test hook (SQLite-style fault simulation): when non-zero, the
   * alloc_fail_at-th pool allocation from now fails. Counted in
   * alloc_count. See us_stack_fail_alloc_at() in core/testing.h. */
  uint64_t alloc_count;
  uint64_t alloc_fail_at;
  bool check_invariants; /* us_stack_check_invariants() */

  /* The state of each layer above core, one slot per layer. A layer
   * names its slot in its own header (US_LAYER_IP in ip/ip.h,
   * US_LAYER_UDP in udp/udp.h, US_LAYER_TCP in tcp/tcp.h), keeps its
   * state struct private (struct us_tcp_layer, ...) and reads the slot
   * back typed (tcp_layer(s), ...): the core knows slots, not layers. */
  void *layer[US_MAX_LAYERS];

  us_layer_poll_fn pollers[US_MAX_LAYERS];
  us_layer_fini_fn finis[US_MAX_LAYERS];
  unsigned nlayers;
};

/* Register a layer's poll and fini hooks (either may be NULL). */
void us_stack_register_layer(struct us_stack *s, us_layer_poll_fn poll, us_layer_fini_fn fini);

/*
 * Hand one finished IPv4 datagram to the device. BORROWS `bytes`. All
 * output goes through here, so it is the one place that counts and traces
 * what leaves the stack.
 */
void us_stack_tx(struct us_stack *s, const uint8_t *bytes, size_t len);

/* The same for a packet the device must finish (us_device.h): only called
 * when s->dev.caps has the offload the metadata asks for. BORROWS `bytes`. */
void us_stack_tx_meta(struct us_stack *s, const uint8_t *bytes, size_t len,
                      const struct us_tx_meta *m);

/* For the allocation-failure test hook: true if this allocation must fail. */
bool us_stack_alloc_should_fail(struct us_stack *s);

#endif
