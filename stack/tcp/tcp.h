/*
 * tcp.h - the TCP layer's entry points for the stack assembly and the
 * socket API (stack/sock). Internals live in the other tcp_*.h files.
 */
#ifndef USTACK_TCP_TCP_H
#define USTACK_TCP_TCP_H

struct us_stack;

/* Set up the TCB pool and register protocol 6 and the layer poll. Returns 0
 * or a us_err. The public us_tcp_* functions of us_socket.h are implemented
 * in this layer. */
int us_tcp_init(struct us_stack *s);

/* TCBs in use and total, out-of-order bytes held (for us_stack_pool_usage). */
void us_tcp_pool_usage(const struct us_stack *s, uint32_t *used, uint32_t *total,
                       uint32_t *ooo_bytes);

#endif
