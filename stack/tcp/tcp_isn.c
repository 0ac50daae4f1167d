/*
 * tcp_isn.c - initial sequence numbers (RFC 6528) and ephemeral ports
 * (RFC 6056).
 *
 * ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 * (RFC 6528 section 3): F is SipHash-2-4 under a 128-bit secret drawn from
 * the injected random source at creation, M is the 4-microsecond clock of
 * RFC 9293 3.4.1, taken from `now`. A new stack draws a new secret, so
 * ISNs differ across restarts (HOSTILE ISN-1).
 *
 * Ephemeral ports for connect() use RFC 6056 algorithm 3 ("simple
 * hash-based"): the search starts at F(local, remote, secret) + a counter,
 * so ports are unpredictable to an off-path host and different
 * destinations do not share a sequence. Ports for bind(0) start at a random
 * offset (algorithm 1). The range is the IANA dynamic range 49152..65535.
 */
#include <string.h>

#include "core/rand.h"
#include "tcp_int.h"

#define EPH_MIN 49152u
#define EPH_MAX 65535u
#define EPH_N   (EPH_MAX - EPH_MIN + 1u)

void tcp_isn_init(struct us_stack *s) {
  us_rand_bytes(s, s->tcp->isn_key, sizeof s->tcp->isn_key);
  us_rand_bytes(s, s->tcp->port_key, sizeof s->tcp->port_key);
  us_rand_bytes(s, s->tcp->cookie_key, sizeof s->tcp->cookie_key);
  s->tcp->port_next = us_rand_u32(s);
}

static void put32le(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t tcp_isn(struct us_stack *s, us_ip4_t laddr, uint16_t lport, us_ip4_t raddr, uint16_t rport,
                 us_time_t now) {
  if (s->tcp->iss_forced)
    return s->tcp->iss_value;
  uint8_t b[12];
  put32le(b, laddr);
  put32le(b + 4, raddr);
  put32le(b + 8, (uint32_t)lport << 16 | rport);
  uint32_t f = (uint32_t)us_siphash24(s->tcp->isn_key, b, sizeof b);
  return f + (uint32_t)((uint64_t)now / 4u);
}

int tcp_pick_ephemeral(struct us_stack *s, us_ip4_t raddr, uint16_t rport, uint16_t *port) {
  uint8_t b[12];
  put32le(b, s->cfg.addr);
  put32le(b + 4, raddr);
  put32le(b + 8, rport);
  uint32_t offset = (uint32_t)us_siphash24(s->tcp->port_key, b, sizeof b);
  for (uint32_t i = 0; i < EPH_N; i++) {
    uint16_t p = (uint16_t)(EPH_MIN + (offset + s->tcp->port_next + i) % EPH_N);
    /* Free for this destination: no connection with the same 4-tuple and
     * no listener or bound socket on the port. */
    if (tcb_lookup(s, s->cfg.addr, p, raddr, rport) || tcb_port_used(s, p, false))
      continue;
    s->tcp->port_next += i + 1;
    *port = p;
    return 0;
  }
  return US_ERR_ADDRNOTAVAIL;
}

int tcp_pick_bind_port(struct us_stack *s, uint16_t *port) {
  uint32_t start = us_rand_u32(s);
  for (uint32_t i = 0; i < EPH_N; i++) {
    uint16_t p = (uint16_t)(EPH_MIN + (start + i) % EPH_N);
    if (!tcb_port_used(s, p, true)) {
      *port = p;
      return 0;
    }
  }
  return US_ERR_ADDRNOTAVAIL;
}
