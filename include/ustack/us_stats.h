/*
 * us_stats.h - counters: one X-macro list, one enum, one name table.
 *
 * Every packet the stack drops is counted under the reason it was dropped,
 * so "what happened to my packet?" is answered by a counter, not a debugger.
 * The lists live in stats/<layer>.def, one file per layer that owns them,
 * one US_STAT_DEF(name, "description") line per counter. The macro name is
 * prefixed so that including this header never touches a short name (X) an
 * embedding program may use; scripts/check-counters.sh fails on a counter
 * that nothing increments.
 */
#ifndef USTACK_US_STATS_H
#define USTACK_US_STATS_H

#include <stdint.h>

enum us_stat {
#define US_STAT_DEF(name, desc) US_STAT_##name,
#include "stats/core.def"
#include "stats/ip.def"
#include "stats/ip6.def"
#include "stats/udp.def"
#include "stats/tcp.def"
#include "stats/tls.def"
#undef US_STAT_DEF
  US_STAT_COUNT
};

/* "ip_in_bad_csum" for US_STAT_ip_in_bad_csum; NULL when out of range. */
const char *us_stat_name(enum us_stat id);
/* One line saying what the counter counts; NULL when out of range. */
const char *us_stat_desc(enum us_stat id);

#endif
