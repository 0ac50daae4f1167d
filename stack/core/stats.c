/* stats.c - the counter name and description tables (see us_stats.h). */
#include <stddef.h>

#include "ustack/us_stats.h"

static const char *const stat_names[US_STAT_COUNT] = {
#define US_STAT_DEF(name, desc) #name,
#include "ustack/stats/core.def"
#include "ustack/stats/ip.def"
#include "ustack/stats/ip6.def"
#include "ustack/stats/udp.def"
#include "ustack/stats/tcp.def"
#include "ustack/stats/tls.def"
#undef US_STAT_DEF
};

static const char *const stat_descs[US_STAT_COUNT] = {
#define US_STAT_DEF(name, desc) desc,
#include "ustack/stats/core.def"
#include "ustack/stats/ip.def"
#include "ustack/stats/ip6.def"
#include "ustack/stats/udp.def"
#include "ustack/stats/tcp.def"
#include "ustack/stats/tls.def"
#undef US_STAT_DEF
};

const char *us_stat_name(enum us_stat id) {
  return (unsigned)id < US_STAT_COUNT ? stat_names[id] : NULL;
}

const char *us_stat_desc(enum us_stat id) {
  return (unsigned)id < US_STAT_COUNT ? stat_descs[id] : NULL;
}
