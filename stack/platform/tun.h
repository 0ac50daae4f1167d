/*
 * tun.h - a Linux TUN device (IFF_TUN | IFF_NO_PI): raw IPv4 datagrams in
 * and out of a file descriptor, no link-layer header, no packet-info
 * prefix.
 *
 * us_tun_open() creates the interface (or attaches to an existing,
 * persistent TUN of that name), sets its MTU, gives the HOST side of the
 * link its address with the stack's address as the peer, and brings the
 * link up. The host kernel then routes the prefix into the TUN, and what it
 * sends there is what us_tun_read() returns.
 */
#ifndef USTACK_PLATFORM_TUN_H
#define USTACK_PLATFORM_TUN_H

#include "ustack/us_device.h"
#include "ustack/us_types.h"

#define US_TUN_NAME_MAX 16 /* IFNAMSIZ, including the NUL */

struct us_tun_cfg {
  const char *name;  /* "tun0"; at most 15 characters */
  us_ip4_t host;     /* the kernel's address on the link (--host) */
  us_ip4_t peer;     /* the stack's address (--addr) */
  uint8_t prefix;    /* on-link prefix length, 1..32 */
  uint16_t mtu;      /* link MTU */
};

struct us_tun {
  int fd;
  char name[US_TUN_NAME_MAX];
  int ifindex;
  /* Counters of the device itself (the stack counts its own drops). */
  uint64_t rx_packets, rx_bytes, rx_errors;
  uint64_t tx_packets, tx_bytes;
  uint64_t tx_eagain; /* dropped: the kernel's TUN queue was full */
  uint64_t tx_errors; /* dropped: write() failed otherwise */
};

/*
 * Open and configure. Returns 0, or -1 with ONE line in `err` saying what
 * is wrong in words a user can act on (no permission, the interface is
 * used by another process, an address is already taken, ...). On failure
 * nothing is left open.
 */
int us_tun_open(struct us_tun *t, const struct us_tun_cfg *cfg, char *err, size_t errlen);

/* Close the descriptor. A TUN we created disappears with it. */
void us_tun_close(struct us_tun *t);

/*
 * Read one packet (non-blocking). Returns its length, 0 when nothing is
 * waiting (EAGAIN), or -errno on failure. A packet longer than `cap` is
 * truncated by the kernel; `cap` of 65536 never truncates.
 */
long us_tun_read(struct us_tun *t, uint8_t *buf, size_t cap);

/* The output device: tx() writes one packet; a full queue is a counted
 * drop (tx_eagain), never a block. */
struct us_device us_tun_device(struct us_tun *t);

#endif
