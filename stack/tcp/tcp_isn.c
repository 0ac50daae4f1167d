/*
 * tcp_isn.c - initial sequence numbers (RFC 6528) and ephemeral ports
 * (RFC 6056).
 *
 * ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 * (RFC 6528 section 3): F is SipHash-2-4 over the 4-tuple (the 128-bit
 * addresses of either family, tcp_tuple_key) under a 128-bit secret drawn from
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
  us_rand_bytes(s, tcp_layer(s)->isn_key, sizeof tcp_layer(s)->isn_key);
  us_rand_bytes(s, tcp_layer(s)->port_key, sizeof tcp_layer(s)->port_key);
  us_rand_bytes(s, tcp_layer(s)->cookie_key, sizeof tcp_layer(s)->cookie_key);
  tcp_layer(s)->port_next = us_rand_u32(s);
}

void tcp_tuple_key(uint8_t out[TCP_TUPLE_KEY_LEN], us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                   uint16_t rport) {
  out[0] = laddr.family;
  memcpy(out + 1, laddr.b, 16);
  memcpy(out + 17, raddr.b, 16);
  out[33] = (uint8_t)(lport >> 8);
  out[34] = (uint8_t)lport;
  out[35] = (uint8_t)(rport >> 8);
  out[36] = (uint8_t)rport;
}

uint32_t tcp_isn(struct us_stack *s, us_addr_t laddr, uint16_t lport, us_addr_t raddr,
                 uint16_t rport, us_time_t now) {
  if (tcp_layer(s)->iss_forced)
    return tcp_layer(s)->iss_value;
  uint8_t b[TCP_TUPLE_KEY_LEN];
  tcp_tuple_key(b, laddr, lport, raddr, rport);
  uint32_t f = (uint32_t)us_siphash24(tcp_layer(s)->isn_key, b, sizeof b);
  return f + (uint32_t)((uint64_t)now / 4u);
}

int tcp_pick_ephemeral(struct us_stack *s, us_addr_t laddr, us_addr_t raddr, uint16_t rport,
                       uint16_t *port) {
  /* F(local address, remote address, remote port): the local port is
   * what is being chosen. */
  uint8_t b[TCP_TUPLE_KEY_LEN];
  tcp_tuple_key(b, laddr, 0, raddr, rport);
  uint32_t offset = (uint32_t)us_siphash24(tcp_layer(s)->port_key, b, sizeof b);
  for (uint32_t i = 0; i < EPH_N; i++) {
    uint16_t p = (uint16_t)(EPH_MIN + (offset + tcp_layer(s)->port_next + i) % EPH_N);
    /* Free for this destination: no connection with the same 4-tuple and
     * no listener or bound socket on the port. */
    if (tcb_lookup(s, laddr, p, raddr, rport) || tcb_port_used(s, p, false))
      continue;
    tcp_layer(s)->port_next += i + 1;
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
