/*
 * config.h - the core's part of struct us_config: its defaults and its
 * checks. Each layer keeps its own part the same way (ip/ip.h, udp/udp.h,
 * tcp/tcp.h); stack/assembly/config.c composes them into
 * us_config_default() and the checks us_stack_create() makes.
 */
#ifndef USTACK_CORE_CONFIG_H
#define USTACK_CORE_CONFIG_H

#include "ustack/us_config.h"

/* Set the core's fields (logging, the packet pool) to their defaults. */
void us_core_defaults(struct us_config *cfg);
/* NULL when the core's fields are usable, else why not (one line). */
const char *us_core_config_check(const struct us_config *cfg);

#endif
