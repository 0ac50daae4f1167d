/*
 * us_device.h - the output seam of the stack.
 *
 * The core never writes to a file descriptor: every packet it emits is a
 * whole IPv4 or IPv6 datagram handed to `tx`. The bytes are BORROWED: `tx` must copy
 * or send them before it returns, and must not keep the pointer. The TUN
 * device, the pcap tee, the fault injector and the unit tests' capture device
 * all implement this one interface, so they stack like wrappers.
 *
 * Offloads (docs/OFFLOAD.md). A device whose far end can finish a packet
 * for us advertises it in `caps` and implements `tx_meta`. A plain device
 * leaves both zero; the stack then sends only what it always sent: IPv4
 * datagrams no larger than the MTU, every checksum complete, through `tx`.
 * When `caps` is non-zero the stack may instead call `tx_meta` with:
 *
 *   US_DEV_CSUM: a TCP segment, over IPv4 or IPv6, whose checksum field
 *     holds only the sum of the pseudo-header (RFC 9293 3.1, RFC 8200 8.1:
 *     addresses, protocol, TCP length), folded but not complemented. The
 *     device (the kernel behind the TUN) adds the bytes from csum_start to
 *     the end and stores the complement at csum_start + csum_offset. The
 *     IPv4 header checksum is always complete.
 *   US_DEV_TSO4 (only together with US_DEV_CSUM): a TCP/IPv4 super-segment
 *     of up to 65535 bytes: one IPv4 header (total length = the whole
 *     datagram), one TCP header, and a payload that the device cuts into
 *     segments of gso_size bytes (the last may be shorter). Each segment
 *     gets a copy of the headers with the sequence number advanced, the IP
 *     length and ID fixed up, PSH and FIN only on the last, and its own
 *     checksum. The super-segment itself always carries a partial checksum.
 *   US_DEV_TSO6 (only together with US_DEV_CSUM): the same for TCP/IPv6:
 *     one 40-byte IPv6 header (payload length = the rest), no extension
 *     headers, each segment's payload length fixed up.
 *
 * A wrapper (pcap tee) that passes offloaded packets on copies `caps` and
 * implements `tx_meta`; one that cannot (the fault injector) leaves `caps`
 * zero, and the stack sends it only plain packets.
 *
 * Re-entry: `tx` and `tx_meta` must NOT call back into the stack that
 * called them: no us_stack_input, us_stack_poll, socket call or
 * us_stack_destroy on that us_stack. They run from inside those very calls
 * (input answering with an ACK, poll firing a retransmission, us_tcp_send
 * emitting a segment), at a point where the connection's state is being
 * updated and the packet may sit in a buffer the stack reuses as soon as
 * `tx` returns (IPv4 fragmentation builds each fragment's header in front
 * of the next one's data). A device that loops packets back, or hands them
 * to a second stack that could answer synchronously, queues a copy and
 * delivers it after the call returns; that is what the unit tests' two-stack
 * link and examples/sansio_test.c do. Doing I/O (write to a TUN, append to a
 * capture) and touching the device's own state is all `tx` may do.
 */
#ifndef USTACK_US_DEVICE_H
#define USTACK_US_DEVICE_H

#include "us_types.h"

#define US_DEV_CSUM 0x1u /* completes partial TCP checksums */
#define US_DEV_TSO4 0x2u /* segments TCP/IPv4 super-segments (needs US_DEV_CSUM) */
#define US_DEV_TSO6 0x4u /* segments TCP/IPv6 super-segments (needs US_DEV_CSUM) */

/* What the device must do to a packet before it goes on the link. */
struct us_tx_meta {
  bool csum_partial;    /* complete the transport checksum: */
  uint16_t csum_start;  /*   sum from here (bytes from the IP header) to the end */
  uint16_t csum_offset; /*   and store it at csum_start + csum_offset */
  uint16_t gso_size;    /* 0: one packet; else TCP payload bytes per segment */
};

struct us_device {
  void (*tx)(void *ctx, const uint8_t *pkt, size_t len);
  void *ctx;
  /* Offloads: zero for a plain device. tx_meta is required when caps != 0
   * (us_stack_create clears caps, with a warning, when it is missing). */
  uint32_t caps;
  void (*tx_meta)(void *ctx, const uint8_t *pkt, size_t len, const struct us_tx_meta *m);
};

#endif
