/*
 * rxsink.h - the input seam, the mirror image of us_device.
 *
 * The loop hands every packet it reads from the TUN to one us_rx_sink; by
 * default that is us_stack_input. Wrappers (the pcap tee, the fault
 * injector) are sinks that do their work and pass the packet to the next
 * sink, so they stack the same way us_device wrappers do on output.
 * The bytes are BORROWED for the duration of the call.
 */
#ifndef USTACK_PLATFORM_RXSINK_H
#define USTACK_PLATFORM_RXSINK_H

#include "ustack/us_stack.h"
#include "ustack/us_types.h"

/* `meta` is the TUN's offload metadata for the packet (NULL when the TUN
 * runs without offloads); a wrapper passes it on unchanged or, if it
 * changes or delays the packet, drops it (docs/OFFLOAD.md). */
struct us_rx_sink {
  void (*rx)(void *ctx, const uint8_t *pkt, size_t len, const struct us_rx_meta *meta,
             us_time_t now);
  void *ctx;
};

/* A sink that feeds a us_stack (ctx is the us_stack *). */
void us_rx_stack_input(void *stack, const uint8_t *pkt, size_t len, const struct us_rx_meta *meta,
                       us_time_t now);

#endif
