/* logsink.c - stderr log sink; the only place log lines meet a file. */
#include "logsink.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = { "error", "warn", "info", "debug", "trace" };

const char *us_log_level_name(enum us_log_level level) {
  if ((unsigned)level < sizeof level_names / sizeof level_names[0])
    return level_names[level];
  return "?";
}

int us_log_level_parse(const char *name, enum us_log_level *out) {
  for (unsigned i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
    if (strcmp(name, level_names[i]) == 0) {
      *out = (enum us_log_level)i;
      return 0;
    }
  }
  return -1;
}

void us_stderr_log(void *ctx, enum us_log_level level, const char *line) {
  const char *prog = ctx ? (const char *)ctx : "ustack";
  struct timespec ts;
  struct tm tm;
  char stamp[32] = "";
  clock_gettime(CLOCK_REALTIME, &ts);
  if (gmtime_r(&ts.tv_sec, &tm))
    snprintf(stamp, sizeof stamp, "%02d:%02d:%02d.%03ld", tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000);
  /* One fprintf per line: stderr is unbuffered, so lines from one process
   * never interleave mid-line. */
  fprintf(stderr, "%s %s %s: %s\n", stamp, prog, us_log_level_name(level), line);
}

struct us_log_sink us_stderr_log_sink(const char *prog) {
  return (struct us_log_sink){ .fn = us_stderr_log, .ctx = (void *)(uintptr_t)prog };
}

void us_logf(const struct us_log_sink *sink, enum us_log_level max, enum us_log_level level,
             const char *fmt, ...) {
  if (!sink || !sink->fn || level > max)
    return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  sink->fn(sink->ctx, level, line);
}
