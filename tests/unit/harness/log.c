/*
 * log.c - the harness's one log switch: US_TEST_LOG sends the stacks' logs
 * to stderr.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void log_line(void *ctx, enum us_log_level level, const char *line) {
  static const char *names[] = { "ERROR", "WARN", "INFO", "DEBUG", "TRACE" };
  fprintf(stderr, "  %s %s %s\n", ctx ? (const char *)ctx : "stack",
          (unsigned)level < 5 ? names[level] : "?", line);
}

enum us_log_level h_log_level(void) {
  const char *v = getenv("US_TEST_LOG");
  if (!v || !*v || !strcmp(v, "error"))
    return US_LOG_ERROR;
  if (!strcmp(v, "warn"))
    return US_LOG_WARN;
  if (!strcmp(v, "debug"))
    return US_LOG_DEBUG;
  if (!strcmp(v, "trace"))
    return US_LOG_TRACE;
  return US_LOG_INFO;
}

struct us_log_sink h_log_sink(const char *name) {
  return (struct us_log_sink){ .fn = log_line, .ctx = (void *)name };
}

void h_log_config(struct us_config *cfg, const char *name) {
  cfg->log = h_log_sink(name);
  cfg->log_level = h_log_level();
}
