/*
 * ref_tun.h - open and configure a TUN for the reference programs of
 * scripts/bench.sh (tun-limit, lwip-ref). Configured as ustackd configures
 * its TUN (stack/platform/tun.c): the host address on the link, the stack's
 * address as the point-to-point peer, the prefix, the MTU, link up. Plain
 * Linux ioctls, nothing of ustack: the references must not depend on the
 * code they measure.
 */
#ifndef USTACK_APPS_REF_TUN_H
#define USTACK_APPS_REF_TUN_H

#include <stdbool.h>
#include <stdint.h>

struct ref_tun {
  const char *dev;
  uint32_t host, addr; /* host order: our end, the stack's end */
  unsigned prefix, mtu;
  bool no_config; /* only open it: somebody else configures the link */
};

/* The non-blocking TUN fd, or -1 with errno set and *what naming the step
 * that failed (for "prog: what: strerror(errno)"). */
int ref_tun_open(const struct ref_tun *t, const char **what);

#endif
