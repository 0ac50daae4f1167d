/*
 * udp.h - the UDP layer as seen by the stack assembly. The socket calls
 * are the public ones of us_socket.h.
 */
#ifndef USTACK_UDP_UDP_H
#define USTACK_UDP_UDP_H

struct us_stack;

/* The layer's slot in struct us_stack (core/stack.h). */
#define US_LAYER_UDP 1
/* The kind of UDP sockets in the handle table (core/handle.h). */
#define US_HK_UDP    1

/* Set up UDP: registers protocol 17. Returns 0 or a us_err. */
int us_udp_init(struct us_stack *s);

/* Set UDP's fields of a us_config (sockets, queue length) to their
 * defaults; the assembly composes the layers' defaults. */
struct us_config;
void us_udp_defaults(struct us_config *cfg);

#endif
