/*
 * log.c - format one line and hand it to the injected sink.
 * The line starts with the stack's last known time in seconds, so logs read
 * on the same clock as the pcap and the timers.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

#include "stack.h"

void us_log_emit(struct us_stack *s, enum us_log_level level, const char *fmt, ...) {
  char line[512];
  int n = snprintf(line, sizeof line, "[%lld.%06lld] ", (long long)(s->now / 1000000),
                   (long long)(s->now % 1000000));
  if (n < 0 || (size_t)n >= sizeof line)
    n = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  s->cfg.log.fn(s->cfg.log.ctx, level, line);
}

char *us_ip4_str(uint32_t addr, char buf[16]) {
  snprintf(buf, 16, "%u.%u.%u.%u", (unsigned)(addr >> 24), (unsigned)(addr >> 16) & 255u,
           (unsigned)(addr >> 8) & 255u, (unsigned)addr & 255u);
  return buf;
}

char *us_ep_str(us_addr_t addr, uint16_t port, char buf[US_ENDPOINT_STRLEN]) {
  us_endpoint_format(us_endpoint(addr, port), buf, US_ENDPOINT_STRLEN);
  return buf;
}
