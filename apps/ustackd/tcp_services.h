/*
 * tcp_services.h - the TCP services of ustackd (RFC 862 echo, RFC 863
 * discard, RFC 864 chargen, a seeded source, a hashing sink) and the
 * active-open client, as svc_desc rows (svc.h). All of them use only the
 * public socket API.
 *
 *   tcp_services.c  the listeners: --tcp-echo/discard/chargen/source/sink
 *                   PORT, --source-bytes N, --seed N
 *   tcp_client.c    --connect ADDR:PORT, --client-send N,
 *                   --client-delay MS, --client-exit
 *   tcp_conn.c      one connection of any of them: read, write, hash, log
 */
#ifndef USTACKD_TCP_SERVICES_H
#define USTACKD_TCP_SERVICES_H

#include <stdbool.h>
#include <stdint.h>

#include "svc.h"

/* The settings the TCP services share (the block of tcp_svc_group). */
struct tcp_svc_settings {
  uint64_t source_bytes;  /* what --tcp-source sends per connection */
  uint64_t seed;          /* seed of the source/client stream */
  uint64_t client_send;   /* bytes the client sends before shutdown */
  us_time_t client_delay; /* start the client this long after start-up */
  bool client_exit;       /* ustackd exits when the client finishes */
  unsigned clients;       /* --connect given */
};
extern const struct svc_group tcp_svc_group;

extern const struct svc_desc svc_tcp_echo, svc_tcp_discard, svc_tcp_chargen, svc_tcp_source,
    svc_tcp_sink, svc_source_bytes, svc_seed;
extern const struct svc_desc svc_connect, svc_client_send, svc_client_delay, svc_client_exit;

#endif
