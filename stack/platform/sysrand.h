/*
 * sysrand.h - the kernel's random bytes (getrandom(2)) as the stack's
 * us_rand_source. Tests inject a seeded source instead.
 */
#ifndef USTACK_PLATFORM_SYSRAND_H
#define USTACK_PLATFORM_SYSRAND_H

#include "ustack/us_config.h"

/* A source whose fill() never fails: it aborts if the kernel has no
 * randomness to give, because ISNs and ports must not be guessable. */
struct us_rand_source us_sysrand_source(void);

/* The fill function itself (ctx is unused). */
void us_sysrand_fill(void *ctx, void *buf, size_t len);

#endif
