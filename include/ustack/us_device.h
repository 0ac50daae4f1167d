/*
 * us_device.h - the output seam of the stack.
 *
 * The core never writes to a file descriptor: every packet it emits is a
 * whole IPv4 datagram handed to `tx`. The bytes are BORROWED: `tx` must copy
 * or send them before it returns, and must not keep the pointer. The TUN
 * device, the pcap tee, the fault injector and the unit tests' capture device
 * all implement this one interface, so they stack like wrappers.
 */
#ifndef USTACK_US_DEVICE_H
#define USTACK_US_DEVICE_H

#include "us_types.h"

struct us_device {
  void (*tx)(void *ctx, const uint8_t *pkt, size_t len);
  void *ctx;
};

#endif
