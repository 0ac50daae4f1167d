/*
 * config.c - us_config_default() and the checks of us_stack_create(),
 * composed from the layers: each layer owns its fields, their defaults
 * and their checks (core/config.c, ip/ip_config.c, udp/udp.c,
 * tcp/tcp_config.c). Only what spans layers is decided here.
 */
#include "config.h"

#include <string.h>

#include "core/config.h"
#include "core/handle.h"
#include "ip/ip.h"
#include "tcp/tcp.h"
#include "udp/udp.h"

void us_config_default(struct us_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  us_core_defaults(cfg);
  us_ip_defaults(cfg);
  us_udp_defaults(cfg);
  us_tcp_defaults(cfg);
}

const char *stack_config_check(const struct us_config *c) {
  const char *why = us_core_config_check(c);
  if (!why)
    why = us_ip_config_check(c);
  if (!why && (c->max_udp_sockets + c->max_tcp_sockets == 0 ||
               (uint64_t)c->max_udp_sockets + c->max_tcp_sockets > US_HANDLE_MAX))
    why = "max_udp_sockets + max_tcp_sockets must be 1..1048575";
  if (!why)
    why = us_tcp_config_check(c);
  return why;
}
