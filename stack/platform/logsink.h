/*
 * logsink.h - a us_log_sink that prints to stderr, one line per message,
 * with the wall-clock time and the level.
 */
#ifndef USTACK_PLATFORM_LOGSINK_H
#define USTACK_PLATFORM_LOGSINK_H

#include "ustack/us_config.h"

/* A sink writing "HH:MM:SS.mmm <prog> <level>: <line>" to stderr.
 * `prog` must outlive the sink (a string literal or argv[0]). */
struct us_log_sink us_stderr_log_sink(const char *prog);

/* The sink function itself; ctx is the program name (may be NULL). */
void us_stderr_log(void *ctx, enum us_log_level level, const char *line);

/* printf-style helper for code outside the stack (the daemon, the loop)
 * that logs through the same sink. Does nothing when sink->fn is NULL or
 * `level` is above `max`. */
void us_logf(const struct us_log_sink *sink, enum us_log_level max, enum us_log_level level,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "error", "warn", "info", "debug", "trace". */
const char *us_log_level_name(enum us_log_level level);

/* Parse one of the names above. 0 on success, -1 if unknown. */
int us_log_level_parse(const char *name, enum us_log_level *out);

#endif
