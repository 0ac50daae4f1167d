/*
 * addr6.c - IPv6 address classes for one interface with one address
 * (RFC 4291 2.4). There is no prefix and no route: the TUN is
 * point-to-point, so everything we send goes to the device.
 */
#include <string.h>

#include "core/stack.h"
#include "ip6.h"

bool us_ip6_enabled(const struct us_stack *s) { return !us_ip6_addr_is_unspecified(s->cfg.addr6); }

bool us_ip6_is_local(const struct us_stack *s, const uint8_t a[US_IP6_ADDR_LEN]) {
  return us_ip6_enabled(s) && memcmp(a, s->cfg.addr6, US_IP6_ADDR_LEN) == 0;
}

bool us_ip6_is_martian_src(const struct us_stack *s, const uint8_t a[US_IP6_ADDR_LEN]) {
  /* RFC 4291 2.5.2 (unspecified: only in neighbor discovery, which we do
   * not answer), 2.5.3 (loopback: never leaves a node), 2.7 (multicast is
   * never a source), 2.5.5.2 and RFC 4942 2.2 (IPv4-mapped on the wire is
   * a spoofing vector); and our own address (LAND). */
  return us_ip6_addr_is_unspecified(a) || us_ip6_addr_is_loopback(a) ||
         us_ip6_addr_is_multicast(a) || us_ip6_addr_is_v4mapped(a) || us_ip6_is_local(s, a);
}
