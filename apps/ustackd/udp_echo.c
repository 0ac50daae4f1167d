/*
 * udp_echo.c - the echo service of RFC 862 over UDP: every datagram that
 * arrives on the port goes back to its sender, byte for byte.
 *
 * It uses only the public socket API, like any application would.
 */
#include "svc.h"

#include <stdio.h>
#include <stdlib.h>

struct udp_echo {
  struct svc_handler h; /* first: the loop finds us through the user pointer */
  uint16_t port;
  us_sock_t sock;
  uint64_t echoed, dropped;
  uint8_t buf[65536]; /* above the largest UDP payload (65507): never truncates */
};

static void echo_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t events,
                          us_time_t now) {
  struct udp_echo *e = (struct udp_echo *)self;
  if (!(events & US_EV_READABLE))
    return;
  /* Readiness is edge-reported: drain the queue. It is bounded by
   * cfg.udp_rx_queue and nothing arrives while we run, so this ends; the
   * explicit bound only guards against a broken stack. */
  for (unsigned i = 0; i < 65536; i++) {
    us_endpoint_t src;
    long n = us_udp_recvfrom(s, sock, e->buf, sizeof e->buf, &src);
    if (n < 0)
      break; /* US_ERR_AGAIN: drained */
    long w = us_udp_sendto(s, sock, src, e->buf, (size_t)n, now);
    if (w < 0)
      e->dropped++; /* no buffer: UDP may lose it, the client retries */
    else
      e->echoed++;
  }
}

static int echo_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  (void)shared;
  uint16_t port;
  if (svc_parse_port(arg, &port, err, errlen) != 0)
    return -1;
  struct udp_echo *e = calloc(1, sizeof *e);
  if (!e) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  e->h.on_event = echo_on_event;
  e->port = port;
  *state = e;
  return 0;
}

static int echo_start(void *state, void *shared, us_stack *s, us_time_t now, char *err,
                      size_t errlen) {
  (void)shared;
  (void)now;
  struct udp_echo *e = state;
  int rc = us_udp_open(s, &e->sock);
  if (rc == 0)
    rc = us_udp_bind(s, e->sock, e->port);
  if (rc == 0)
    rc = us_sock_set_user(s, e->sock, &e->h);
  if (rc != 0) {
    snprintf(err, errlen, "udp echo on port %u: %s", (unsigned)e->port, us_strerror(rc));
    return -1;
  }
  return 0;
}

static void echo_stop(void *state, void *shared, us_stack *s, us_time_t now) {
  (void)shared;
  struct udp_echo *e = state;
  if (!e)
    return;
  if (s && us_sock_valid(e->sock))
    us_udp_close(s, e->sock);
  free(e);
}

const struct svc_desc svc_udp_echo = {
  .option = "--udp-echo",
  .metavar = "PORT",
  .help = "echo UDP datagrams on PORT (RFC 862)",
  .parse = echo_parse,
  .start = echo_start,
  .stop = echo_stop,
};
