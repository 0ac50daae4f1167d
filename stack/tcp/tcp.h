/*
 * tcp.h - the TCP layer as the stack assembly sees it (set-up, config,
 * pool usage, its slot and socket kind), plus hooks for tests. The socket
 * calls are the public ones of us_socket.h; internals live in tcp_int.h.
 */
#ifndef USTACK_TCP_TCP_H
#define USTACK_TCP_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/us_socket.h"

struct us_stack;

/* The layer's slot in struct us_stack (core/stack.h). */
#define US_LAYER_TCP 2
/* The kind of TCP sockets in the handle table (core/handle.h). */
#define US_HK_TCP    2

/* Set up the TCP layer (tcp_layer.c): pools, protocol 6, the layer poll. Returns 0
 * or a us_err. The public us_tcp_* functions of us_socket.h are implemented
 * in this layer. */
int us_tcp_init(struct us_stack *s);

/* The layer's part of a us_config (tcp_config.c): its defaults, and NULL
 * when its fields are usable or else why not (one line). */
struct us_config;
void us_tcp_defaults(struct us_config *cfg);
const char *us_tcp_config_check(const struct us_config *cfg);

/* TCBs in use and total, out-of-order bytes held (for us_stack_pool_usage). */
/* Free send and receive buffers, and the size of each pool. */
void us_tcp_buf_usage(const struct us_stack *s, uint32_t *snd_free, uint32_t *rcv_free,
                      uint32_t *total);
void us_tcp_pool_usage(const struct us_stack *s, uint32_t *used, uint32_t *total,
                       uint32_t *ooo_bytes);
/* TIME-WAIT TCBs without a handle, and their cap (tcp_timewait.c). */
void us_tcp_time_wait_usage(const struct us_stack *s, uint32_t *count, uint32_t *max);

/* How many times a TCB went from `from` to `to` (every change goes through tcp_set_state): tests assert
 * "this scenario took exactly these edges". */
uint64_t us_tcp_edge_count(const struct us_stack *s, enum us_tcp_state from, enum us_tcp_state to);

/* Test hook: when `on`, every new connection uses `iss` as its initial
 * send sequence number (to cross the 2^32 wrap early, HOSTILE SEQ-6). */
void us_tcp_test_force_iss(struct us_stack *s, bool on, uint32_t iss);

#endif
