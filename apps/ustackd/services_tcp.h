/*
 * services_tcp.h - the TCP services of ustackd (RFC 862 echo, RFC 863
 * discard, RFC 864 chargen, a seeded source, a hashing sink) and the
 * active-open client. All of them use only the public socket API and plug
 * into the event loop through svc.h.
 */
#ifndef USTACKD_SERVICES_TCP_H
#define USTACKD_SERVICES_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ustack/ustack.h"

struct svc_tcp_opts {
  uint16_t echo, discard, chargen, source, sink; /* 0 = off */
  uint64_t source_bytes;                         /* what --tcp-source sends per connection */
  uint64_t seed;                                 /* seed of the source/client stream */
  /* Active open: connect to connect_addr:connect_port when set. */
  us_ip4_t connect_addr;
  uint16_t connect_port;
  uint64_t client_send;   /* bytes the client sends before shutdown */
  bool client_exit;       /* ustackd exits when the client finishes */
  us_time_t client_delay; /* start the client this long after start-up */
};

/* Open the listeners. On failure writes one line to `err` and returns a
 * us_err. */
int svc_tcp_start(us_stack *s, const struct svc_tcp_opts *o, us_time_t now, char *err,
                  size_t errlen);
/* Timers of the services (the client's start); returns the next deadline. */
us_time_t svc_tcp_poll(us_stack *s, us_time_t now);
/* True once the client finished (or failed); *status is 0 on success. */
bool svc_tcp_client_finished(int *status);
/* Close every listener and connection (orderly). */
void svc_tcp_stop(us_stack *s, us_time_t now);

#endif
