/*
 * tcp_syncookie.c - SYN cookies (RFC 4987 section 3.6) for a listener
 * whose SYN queue is full (HOSTILE RES-1, cfg.tcp_syncookies).
 *
 * When a listener's SYN queue is full, a new SYN gets a SYN-ACK and no
 * state: its ISS is a cookie carrying what the connection needs, and the
 * peer's ACK rebuilds it (tcp_input.c). Nothing already in the queue is
 * evicted, so every peer we answered completes its handshake. The cookie:
 *   bits 31..28  T, a 64-second time counter (mod 16)
 *   bits 27..25  index of the peer's MSS in a small table
 *   bits 24..0   MAC = SipHash-2-4(secret; 4-tuple, peer ISN, T, index)
 * The ACK that completes the handshake returns ISS+1; a MAC that matches
 * for T now or one interval ago rebuilds the connection. The secret is
 * drawn from the injected random source at creation.
 *
 * What a cookie cannot remember: window scaling and SACK-permitted are not
 * offered in a cookie SYN-ACK (so such a connection has a 64 KB window).
 */
#include "core/rand.h"
#include "tcp_int.h"

#define COOKIE_PERIOD_US US_SEC(64)

static const uint16_t cookie_mss[8] = {64, 536, 1200, 1360, 1400, 1440, 1460, 8960};

static uint32_t cookie_mac(const struct us_stack *s, us_ip4_t laddr, uint16_t lport,
                           us_ip4_t raddr, uint16_t rport, uint32_t irs, uint32_t tc,
                           uint32_t idx) {
  uint32_t w[6] = {laddr, raddr, (uint32_t)lport << 16 | rport, irs, tc, idx};
  uint8_t b[24];
  for (int i = 0; i < 6; i++)
    for (int k = 0; k < 4; k++)
      b[4 * i + k] = (uint8_t)(w[i] >> (8 * k));
  return (uint32_t)us_siphash24(s->tcp->cookie_key, b, sizeof b) & 0x1ffffffu;
}

uint32_t tcp_syncookie_make(struct us_stack *s, us_ip4_t laddr, uint16_t lport, us_ip4_t raddr,
                            uint16_t rport, uint32_t irs, uint16_t peer_mss, us_time_t now) {
  uint32_t idx = 0;
  for (uint32_t i = 0; i < 8; i++)
    if (cookie_mss[i] <= peer_mss)
      idx = i;
  uint32_t tc = (uint32_t)((uint64_t)now / COOKIE_PERIOD_US) & 0xf;
  return tc << 28 | idx << 25 | cookie_mac(s, laddr, lport, raddr, rport, irs, tc, idx);
}

bool tcp_syncookie_check(struct us_stack *s, us_ip4_t laddr, uint16_t lport, us_ip4_t raddr,
                         uint16_t rport, uint32_t irs, uint32_t cookie, us_time_t now,
                         uint16_t *mss) {
  uint32_t tc = cookie >> 28, idx = (cookie >> 25) & 7;
  uint32_t cur = (uint32_t)((uint64_t)now / COOKIE_PERIOD_US) & 0xf;
  uint32_t age = (cur - tc) & 0xf;
  if (age > 1)
    return false; /* older than one to two periods */
  if (cookie_mac(s, laddr, lport, raddr, rport, irs, tc, idx) != (cookie & 0x1ffffffu))
    return false;
  *mss = cookie_mss[idx];
  return true;
}
