/*
 * tun_addr6.h - give the host side of a TUN link its IPv6 address
 * (tun_addr6.c, rtnetlink), for us_tun_open().
 */
#ifndef USTACK_PLATFORM_TUN_ADDR6_H
#define USTACK_PLATFORM_TUN_ADDR6_H

#include <stdint.h>

/*
 * Add `local` (the kernel's address) with `peer` (the stack's) and the
 * on-link prefix length to interface `ifindex`, without Duplicate Address
 * Detection. Returns 0 or -errno (-EACCES: IPv6 is disabled on the
 * interface; -EAFNOSUPPORT: the kernel has no IPv6).
 */
int us_tun_addr6_set(int ifindex, const uint8_t local[16], const uint8_t peer[16], uint8_t prefix);

#endif
