/*
 * tun.h - a Linux TUN device (IFF_TUN | IFF_NO_PI): raw IPv4 and IPv6
 * datagrams in and out of a file descriptor, no link-layer header, no
 * packet-info prefix (the version nibble tells them apart).
 *
 * Offloads (docs/OFFLOAD.md): with cfg.offload the device is opened with
 * IFF_VNET_HDR, so a struct virtio_net_hdr travels in front of every
 * packet both ways. Our writes may then carry partial checksums and TSO
 * super-segments (us_device caps US_DEV_CSUM | US_DEV_TSO4), and
 * TUNSETOFFLOAD (TUN_F_CSUM | TUN_F_TSO4) lets the kernel send us GSO
 * super-packets and partial checksums, which us_tun_read() reports as
 * us_rx_meta. When the kernel refuses a step, the device runs without that
 * part and `offload_note` says so in one line.
 *
 * us_tun_open() creates the interface (or attaches to an existing,
 * persistent TUN of that name), sets its MTU, gives the HOST side of the
 * link its address with the stack's address as the peer, and brings the
 * link up. With cfg.ip6 it does the same for IPv6 (tun_addr6.c: without
 * Duplicate Address Detection; a TUN has no Neighbor Discovery). The host
 * kernel then routes the prefixes into the TUN, and what it sends there is
 * what us_tun_read() returns.
 */
#ifndef USTACK_PLATFORM_TUN_H
#define USTACK_PLATFORM_TUN_H

#include "ustack/us_device.h"
#include "ustack/us_stack.h"
#include "ustack/us_types.h"

#define US_TUN_NAME_MAX 16 /* IFNAMSIZ, including the NUL */

struct us_tun_cfg {
  const char *name; /* "tun0"; at most 15 characters */
  us_ip4_t host;    /* the kernel's address on the link (--host) */
  us_ip4_t peer;    /* the stack's address (--addr) */
  uint8_t prefix;   /* on-link prefix length, 1..32 */
  uint16_t mtu;     /* link MTU */
  bool offload;     /* try IFF_VNET_HDR + TUNSETOFFLOAD (ustackd: unless --no-offload) */
  /* IPv6 (ustackd --host6, --addr6, --prefix6). */
  bool ip6;          /* give the link an IPv6 address too */
  bool ip6_optional; /* a kernel without IPv6 on the link: note it, go on */
  uint8_t host6[16]; /* the kernel's IPv6 address, network order */
  uint8_t peer6[16]; /* the stack's IPv6 address */
  uint8_t prefix6;   /* on-link prefix length, 1..128 */
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
  /* Offloads. */
  bool vnet_hdr;          /* a virtio_net_hdr precedes every packet */
  uint32_t caps;          /* US_DEV_* the device offers the stack (tx side) */
  bool rx_offload;        /* TUNSETOFFLOAD accepted: GSO and partial checksums come in */
  char offload_note[160]; /* why an offload is off ("" when all is on or not asked) */
  bool ip6;               /* the link has its IPv6 address */
  char ip6_note[160];     /* why IPv6 is off although asked (ip6_optional), or "" */
  uint64_t rx_gso, rx_csum_partial, rx_csum_valid;
  uint64_t rx_vnet_bad; /* dropped: a virtio header we cannot honour */
  uint64_t tx_gso, tx_csum_partial;
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
 * Read one packet (non-blocking) into buf. Returns its length, 0 when
 * nothing is waiting (EAGAIN), or -errno on failure. A packet longer than
 * `cap` is truncated by the kernel; `cap` of 65536 never truncates (the
 * virtio header is read apart, not into buf). `meta` gets the packet's
 * offload metadata (all zero without IFF_VNET_HDR). A packet whose virtio
 * header we cannot honour is dropped (rx_vnet_bad) and the next is read.
 */
long us_tun_read(struct us_tun *t, uint8_t *buf, size_t cap, struct us_rx_meta *meta);

/* The output device: tx() writes one packet; a full queue is a counted
 * drop (tx_eagain), never a block. With IFF_VNET_HDR it also has
 * tx_meta and the caps above. */
struct us_device us_tun_device(struct us_tun *t);

/* Turn the virtio header into us_rx_meta (exposed for the unit tests).
 * `h` is the 10-byte header as read (little-endian, TUNSETVNETLE).
 * Returns false for one we cannot honour: an unknown GSO type (only TCPv4
 * is enabled), a GSO type with gso_size 0, or a partial checksum outside
 * the packet. */
bool us_tun_vnet_to_meta(const uint8_t h[10], size_t pkt_len, struct us_rx_meta *meta);
/* The 10-byte header for the packet `pkt` we send (meta NULL: a plain
 * packet). */
void us_tun_meta_to_vnet(const struct us_tx_meta *m, const uint8_t *pkt, size_t pkt_len,
                         uint8_t h[10]);

#endif
