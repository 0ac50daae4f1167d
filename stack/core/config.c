/*
 * config.c - the core's defaults and checks (config.h). Each value says
 * where it comes from.
 */
#include "config.h"

void us_core_defaults(struct us_config *cfg) {
  cfg->log_level = US_LOG_WARN;
  cfg->pkt_count = 1024;
}

const char *us_core_config_check(const struct us_config *cfg) {
  if (cfg->pkt_count < 16)
    return "pkt_count must be at least 16";
  return NULL;
}
