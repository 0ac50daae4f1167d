/*
 * config.h - the whole us_config, composed from each layer's part.
 */
#ifndef USTACK_ASSEMBLY_CONFIG_H
#define USTACK_ASSEMBLY_CONFIG_H

#include "ustack/us_config.h"

/* NULL when `cfg` can make a stack, else why not (one line): each layer
 * checks its own fields, and this checks what spans them (the handle
 * table holds the UDP and TCP sockets together). */
const char *stack_config_check(const struct us_config *cfg);

#endif
