/*
 * addr.c - address classes (RFC 1122 3.2.1.3, RFC 5735 / RFC 6890).
 *
 * One interface with one address and an on-link prefix: that is all the
 * routing a host of this stack needs.
 */
#include "core/stack.h"
#include "ip.h"
#include "wire/ipv6.h"

static uint32_t prefix_mask(uint8_t len) {
  if (len == 0)
    return 0;
  if (len >= 32)
    return 0xffffffffu;
  return 0xffffffffu << (32 - len);
}

bool us_ip4_is_local(const struct us_stack *s, uint32_t addr) { return addr == s->cfg.addr; }

bool us_ip4_is_broadcast(const struct us_stack *s, uint32_t addr) {
  if (addr == 0xffffffffu)
    return true; /* limited broadcast */
  uint32_t mask = prefix_mask(s->cfg.prefix_len);
  /* A /31 or /32 has no directed broadcast (RFC 3021). */
  if (s->cfg.prefix_len >= 31)
    return false;
  return (addr & mask) == (s->cfg.addr & mask) && (addr & ~mask) == ~mask;
}

bool us_ip4_is_multicast(uint32_t addr) { return (addr >> 28) == 0xe; }

bool us_ip4_is_martian_src(const struct us_stack *s, uint32_t addr) {
  uint8_t top = (uint8_t)(addr >> 24);
  if (top == 0 || top == 127)
    return true; /* "this network" and loopback (RFC 1122 3.2.1.3) */
  if (top >= 224)
    return true; /* multicast, 240/4 reserved, limited broadcast */
  if (us_ip4_is_broadcast(s, addr))
    return true;                   /* our subnet's broadcast */
  return us_ip4_is_local(s, addr); /* LAND: our own address as source */
}

/* Either family (ip.h). IPv6 is on when cfg.addr6 is not all zero. */
static bool ip6_on(const struct us_stack *s) { return !us_ip6_addr_is_unspecified(s->cfg.addr6); }

bool us_ip_is_local(const struct us_stack *s, us_addr_t a) {
  if (us_addr_is_v4(a))
    return us_ip4_is_local(s, us_addr_ip4(a));
  return us_addr_is_v6(a) && ip6_on(s) && us_addr_eq(a, us_addr_v6(s->cfg.addr6));
}

bool us_ip_local_addr(const struct us_stack *s, uint8_t family, us_addr_t *out) {
  if (family == US_AF_INET) {
    *out = us_addr_v4(s->cfg.addr);
    return true;
  }
  if (family == US_AF_INET6 && ip6_on(s)) {
    *out = us_addr_v6(s->cfg.addr6);
    return true;
  }
  return false;
}

/* IPv6: the unspecified and loopback addresses, multicast, IPv4-mapped
 * (never on the wire, RFC 4291 2.5.5.2) and our own address (LAND). */
bool us_ip_is_martian(const struct us_stack *s, us_addr_t a) {
  if (us_addr_is_v4(a))
    return us_ip4_is_martian_src(s, us_addr_ip4(a));
  if (!us_addr_is_v6(a))
    return true;
  return us_ip6_addr_is_unspecified(a.b) || us_ip6_addr_is_loopback(a.b) ||
         us_ip6_addr_is_multicast(a.b) || us_ip6_addr_is_v4mapped(a.b) || us_ip_is_local(s, a);
}
