/* stats.h - incrementing the counters of us_stats.h from inside the stack. */
#ifndef USTACK_CORE_STATS_H
#define USTACK_CORE_STATS_H

#include "ustack/us_stats.h"

#define US_STAT_INC(s, name)    ((s)->stats[US_STAT_##name]++)
#define US_STAT_ADD(s, name, n) ((s)->stats[US_STAT_##name] += (uint64_t)(n))
#define US_STAT_DEC(s, name)    ((s)->stats[US_STAT_##name]--)

#endif
