/*
 * tcp_syncookie.c - SYN cookies (RFC 4987 section 3.6) for a listener
 * whose SYN queue is full (HOSTILE RES-1, cfg.tcp_syncookies).
 *
 * When a listener's SYN queue is full, a new SYN gets a SYN-ACK and no
 * state: its ISS is a cookie carrying what the connection needs, and the
 * peer's ACK rebuilds it (tcp_listen.c). Nothing already in the queue is
 * evicted, so every peer we answered completes its handshake. The cookie:
 *   bits 31..28  T, a 64-second time counter (mod 16)
 *   bits 27..25  index of the peer's MSS in a small table
 *   bits 24..0   MAC = SipHash-2-4(secret; 4-tuple, peer ISN, T, index,
 *                options word)
 * The ACK that completes the handshake returns ISS+1; a MAC that matches
 * for T now or one interval ago rebuilds the connection. The secret is
 * drawn from the injected random source at creation.
 *
 * The other SYN options ride in the timestamp (RFC 7323), as Linux's
 * cookies do: when the SYN carries TSopt and timestamps are on, the
 * SYN-ACK offers TSopt, and the low TCP_COOKIE_OPT_BITS bits of its TSval
 * hold what was agreed:
 *   bits 3..0  the peer's window-scale shift (0..14), 0xF: no WS option
 *   bit  4     SACK-permitted
 *   bit  5     ECN (RFC 3168 6.1.1: an ECN-setup SYN that cfg.tcp_ecn lets
 *              us accept; the SYN-ACK then carries ECE)
 * The peer must echo that TSval in the TSecr of its ACK (RFC 7323 4.3),
 * so the bits come back without state. They are also an input of the MAC
 * (the "options word", with a bit saying TSopt was offered), so a forged
 * TSecr that changes them fails the cookie like a forged ISS, and the
 * decoded options are checked against what we would offer now (a shift
 * above 14 cannot be decoded; ECN while cfg.tcp_ecn is off is refused).
 * An ACK without TSopt can only complete a cookie whose SYN-ACK had none.
 *
 * The TSval stays monotonic: it is the connection's own TS clock
 * (tcp_ts.c, the same per-4-tuple offset the rebuilt TCB uses) with the
 * low bits replaced, and stepped back one 2^6-tick period when that put it
 * ahead of the clock. So it is at most 63 ms behind the clock and never
 * ahead: every later segment of the connection has a TSval at least as
 * large, and the peer's PAWS (RFC 7323 5.3) never sees time go backwards.
 * Against an earlier incarnation of the 4-tuple it may be up to 63 ms
 * behind that incarnation's last segment; the peer does not compare them
 * (it starts TS.Recent from this SYN-ACK, 4.3 (1)), and our own reopening
 * of a TIME-WAIT pair never uses a cookie (tcp_listen.c).
 *
 * Without TSopt in the SYN (or with timestamps off) the cookie keeps the
 * MSS only: no WS, SACK-permitted, TSopt or ECE in its SYN-ACK, so that
 * connection has a window of at most 64 KB and no SACK (docs/TCP.md).
 */
#include "core/rand.h"
#include "tcp_int.h"

#define COOKIE_PERIOD_US US_SEC(64)
#define OPT_WS_MASK      0xfu
#define OPT_SACK         (1u << 4)
#define OPT_ECN          (1u << 5)
#define OPT_TS           (1u << 8) /* MAC input only: TSopt offered, bits 5..0 valid */

static const uint16_t cookie_mss[8] = { 64, 536, 1200, 1360, 1400, 1440, 1460, 8960 };

static uint32_t cookie_mac(const struct us_stack *s, us_addr_t laddr, uint16_t lport,
                           us_addr_t raddr, uint16_t rport, uint32_t irs, uint32_t tc, uint32_t idx,
                           uint32_t optw) {
  uint32_t w[4] = { irs, tc, idx, optw };
  uint8_t b[TCP_TUPLE_KEY_LEN + 16];
  tcp_tuple_key(b, laddr, lport, raddr, rport);
  for (int i = 0; i < 4; i++)
    for (int k = 0; k < 4; k++)
      b[TCP_TUPLE_KEY_LEN + 4 * i + k] = (uint8_t)(w[i] >> (8 * k));
  return (uint32_t)us_siphash24(tcp_layer(s)->cookie_key, b, sizeof b) & 0x1ffffffu;
}

/* The options word a cookie's MAC covers. */
static uint32_t opt_word(const struct tcp_cookie_opts *o) {
  if (!o->ts)
    return 0;
  uint32_t w = OPT_TS | (o->ws_ok ? o->ws : OPT_WS_MASK);
  if (o->sack)
    w |= OPT_SACK;
  if (o->ecn)
    w |= OPT_ECN;
  return w;
}

void tcp_syncookie_opts(const struct us_stack *s, const struct us_tcp_seg *syn,
                        struct tcp_cookie_opts *o) {
  *o = (struct tcp_cookie_opts){ 0 };
  /* RFC 7323 3.2: TSopt in the SYN-ACK only if the SYN had it. */
  o->ts = s->cfg.tcp_timestamps && syn->has_ts;
  if (!o->ts)
    return; /* MSS only: nowhere to keep the rest */
  o->ws_ok = syn->has_ws;
  o->ws = syn->ws > US_TCP_WS_MAX ? US_TCP_WS_MAX : syn->ws; /* RFC 7323 2.3 */
  o->sack = syn->sack_perm;
  uint8_t both = US_TH_ECE | US_TH_CWR;
  o->ecn = s->cfg.tcp_ecn != US_TCP_ECN_OFF && (syn->flags & both) == both;
  o->tsecr = syn->tsval;
}

uint32_t tcp_syncookie_tsval(const struct us_stack *s, us_addr_t laddr, uint16_t lport,
                             us_addr_t raddr, uint16_t rport, const struct tcp_cookie_opts *o,
                             us_time_t now) {
  uint32_t clock = tcp_ts_clock(s, laddr, lport, raddr, rport, now);
  uint32_t low = (1u << TCP_COOKIE_OPT_BITS) - 1;
  uint32_t v = (clock & ~low) | (opt_word(o) & low);
  if ((int32_t)(v - clock) > 0)
    v -= 1u << TCP_COOKIE_OPT_BITS; /* never ahead of the clock (PAWS) */
  return v;
}

uint32_t tcp_syncookie_make(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                            uint16_t rport, uint32_t irs, uint16_t peer_mss,
                            const struct tcp_cookie_opts *o, us_time_t now) {
  uint32_t idx = 0;
  for (uint32_t i = 0; i < 8; i++)
    if (cookie_mss[i] <= peer_mss)
      idx = i;
  uint32_t tc = (uint32_t)((uint64_t)now / COOKIE_PERIOD_US) & 0xf;
  tcp_layer(s)->cookie_sent = true;
  tcp_layer(s)->cookie_sent_at = now;
  return tc << 28 | idx << 25 |
         cookie_mac(s, laddr, lport, raddr, rport, irs, tc, idx, opt_word(o));
}

/* The options an ACK brings back: from its TSecr if it has TSopt. False
 * if they are not options we would offer now. */
static bool opts_from_ack(const struct us_stack *s, const struct us_tcp_seg *ack,
                          struct tcp_cookie_opts *o) {
  *o = (struct tcp_cookie_opts){ 0 };
  if (!ack->has_ts)
    return true; /* MSS only; the MAC says whether the SYN-ACK agreed */
  if (!s->cfg.tcp_timestamps)
    return false; /* we would not have offered TSopt */
  uint32_t w = ack->tsecr;
  o->ts = true;
  o->ws_ok = (w & OPT_WS_MASK) != OPT_WS_MASK;
  o->ws = o->ws_ok ? (uint8_t)(w & OPT_WS_MASK) : 0;
  o->sack = (w & OPT_SACK) != 0;
  o->ecn = (w & OPT_ECN) != 0;
  if (o->ecn && s->cfg.tcp_ecn == US_TCP_ECN_OFF)
    return false;
  return true;
}

/* A cookie is valid for one to two periods, so an ACK at a listener can
 * only be one if a cookie went out within two. Otherwise it is not looked
 * at (Linux checks cookies only after a recent SYN queue overflow, too):
 * a flood of ACKs with made-up cookies then costs no hash, and its one
 * chance in 2^25 each of passing the MAC is never taken while no flood
 * fills the SYN queue. */
bool tcp_syncookie_recent(const struct us_stack *s, us_time_t now) {
  return tcp_layer(s)->cookie_sent && now - tcp_layer(s)->cookie_sent_at <= 2 * COOKIE_PERIOD_US;
}

bool tcp_syncookie_check(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                         uint16_t rport, const struct us_tcp_seg *ack, us_time_t now, uint16_t *mss,
                         struct tcp_cookie_opts *o) {
  uint32_t irs = ack->seq - 1, cookie = ack->ack - 1;
  uint32_t tc = cookie >> 28, idx = (cookie >> 25) & 7;
  uint32_t cur = (uint32_t)((uint64_t)now / COOKIE_PERIOD_US) & 0xf;
  uint32_t age = (cur - tc) & 0xf;
  if (age > 1)
    return false; /* older than one to two periods */
  if (!opts_from_ack(s, ack, o))
    return false;
  if (cookie_mac(s, laddr, lport, raddr, rport, irs, tc, idx, opt_word(o)) != (cookie & 0x1ffffffu))
    return false;
  if (o->ts) {
    /* The echoed TSval is one we sent within the cookie's lifetime: not
     * from the future, not older than two periods (in 1 ms ticks). Checked
     * after the MAC, so a flood of forged ACKs costs one hash each. */
    uint32_t clock = tcp_ts_clock(s, laddr, lport, raddr, rport, now);
    uint32_t ago = clock - ack->tsecr;
    if ((int32_t)ago < 0 || ago > 2 * (uint32_t)(COOKIE_PERIOD_US / 1000))
      return false;
  }
  *mss = cookie_mss[idx];
  return true;
}
