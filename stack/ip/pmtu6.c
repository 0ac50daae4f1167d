/*
 * pmtu6.c - the IPv6 path MTU of the destinations we send to (RFC 8201).
 *
 * A packet too big (icmp6.c, its quote checked to be about a datagram we
 * sent) lowers the estimate for its destination, never below 1280 (RFC
 * 8201 4: the minimum link MTU; RFC 8021: no atomic fragments) and never
 * up (RFC 8201 4: a packet too big does not raise it). IPv6 output
 * fragments at the estimate, so UDP and ICMPv6 datagrams fit the path
 * too. An estimate is forgotten after 10 minutes (RFC 8201 5.3 suggests
 * that long before trying larger), when the link MTU applies again.
 *
 * The table is small and fixed (US_PMTU6_ENTRIES): when full, the entry
 * that expires first makes room. Forgetting an entry only costs a packet
 * too big, so a flood of forged ones with checked quotes can at worst
 * make us fragment at 1280 for a while; it can never raise anything or
 * take memory.
 */
#include <string.h>

#include "core/stack.h"
#include "core/stats.h"
#include "ip6.h"
#include "ip_internal.h"

#define PMTU6_LIFETIME US_SEC(600) /* RFC 8201 5.3 */

static struct us_pmtu6 *find(struct us_stack *s, const uint8_t dst[US_IP6_ADDR_LEN],
                             us_time_t now) {
  for (size_t i = 0; i < US_PMTU6_ENTRIES; i++) {
    struct us_pmtu6 *e = &ip_layer(s)->pmtu6[i];
    if (e->mtu == 0)
      continue;
    if (e->expires <= now) {
      e->mtu = 0; /* forgotten: the link MTU again */
      continue;
    }
    if (memcmp(e->dst, dst, US_IP6_ADDR_LEN) == 0)
      return e;
  }
  return NULL;
}

uint32_t us_ip6_pmtu(struct us_stack *s, const uint8_t dst[US_IP6_ADDR_LEN], us_time_t now) {
  const struct us_pmtu6 *e = find(s, dst, now);
  return e && e->mtu < s->cfg.mtu ? e->mtu : s->cfg.mtu;
}

void us_ip6_pmtu_update(struct us_stack *s, const uint8_t dst[US_IP6_ADDR_LEN], uint32_t mtu,
                        us_time_t now) {
  if (mtu < US_IP6_MIN_MTU)
    mtu = US_IP6_MIN_MTU;
  if (mtu >= us_ip6_pmtu(s, dst, now)) {
    US_STAT_INC(s, icmp6_in_pkt_too_big_ignored); /* never raised (RFC 8201 4) */
    return;
  }
  struct us_pmtu6 *e = find(s, dst, now);
  if (!e) {
    e = &ip_layer(s)->pmtu6[0];
    for (size_t i = 0; i < US_PMTU6_ENTRIES; i++) {
      struct us_pmtu6 *c = &ip_layer(s)->pmtu6[i];
      if (c->mtu == 0) {
        e = c;
        break;
      }
      if (c->expires < e->expires)
        e = c;
    }
    memcpy(e->dst, dst, US_IP6_ADDR_LEN);
  }
  e->mtu = (uint16_t)mtu;
  e->expires = now + PMTU6_LIFETIME;
  US_STAT_INC(s, ip6_pmtu_lowered);
}
