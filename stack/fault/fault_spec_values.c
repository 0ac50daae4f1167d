/*
 * fault_spec_values.c - the value syntax of the spec language (N, PCT,
 * TIME, SIZE, RATE, WIN in fault_spec.h) and the token helpers the parser
 * shares. No locale, no exponents, no signs: what a user types in a spec.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fault_spec_int.h"

int fault_perr(struct fault_pctx *p, const char *fmt, ...) {
  if (!p->err || p->errlen == 0)
    return -1;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (p->clause > 0)
    snprintf(p->err, p->errlen, "fault spec clause %d '%s': %s", p->clause, p->text, msg);
  else
    snprintf(p->err, p->errlen, "fault spec: %s", msg);
  return -1;
}

/* The next `delim`-separated token of *cur (possibly empty), or NULL at
 * the end. Unlike strtok, "a,,b" gives an empty token, so it is reported. */
char *fault_split_next(char **cur, char delim) {
  char *tok = *cur;
  if (!tok)
    return NULL;
  char *d = strchr(tok, delim);
  if (d) {
    *d = '\0';
    *cur = d + 1;
  } else {
    *cur = NULL;
  }
  return tok;
}

char *fault_trim(char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  return s;
}

/* A plain decimal: digits, optionally '.' digits. Sets *end past it.
 * Returns false when there is no digit. No locale, no exponent, no sign. */
static bool parse_decimal(const char *s, double *out, const char **end) {
  double v = 0;
  bool any = false;
  const char *q = s;
  while (*q >= '0' && *q <= '9') {
    v = v * 10 + (*q - '0');
    q++;
    any = true;
    if (v > 1e15)
      return false;
  }
  if (*q == '.') {
    q++;
    double scale = 0.1;
    while (*q >= '0' && *q <= '9') {
      v += (*q - '0') * scale;
      scale /= 10;
      q++;
      any = true;
    }
  }
  *out = v;
  *end = q;
  return any;
}

int fault_parse_uint(struct fault_pctx *p, const char *key, const char *v, uint64_t max,
                     uint64_t *out) {
  if (*v < '0' || *v > '9')
    return fault_perr(p, "%s: '%s' is not a whole number", key, v);
  uint64_t x = 0;
  for (const char *q = v; *q; q++) {
    if (*q < '0' || *q > '9')
      return fault_perr(p, "%s: '%s' is not a whole number", key, v);
    x = x * 10 + (uint64_t)(*q - '0');
    if (x > max)
      return fault_perr(p, "%s: %s is above the maximum %llu", key, v, (unsigned long long)max);
  }
  *out = x;
  return 0;
}

int fault_parse_pct(struct fault_pctx *p, const char *key, const char *v, double *out) {
  double x = 0;
  const char *end;
  if (!parse_decimal(v, &x, &end) || *end != '%' || end[1] != '\0')
    return fault_perr(p, "%s: '%s' is not a percentage (write e.g. 5%% or 0.5%%)", key, v);
  if (x > 100)
    return fault_perr(p, "%s: %s is above 100%%", key, v);
  *out = x / 100.0;
  return 0;
}

int fault_parse_time(struct fault_pctx *p, const char *key, const char *v, us_time_t *out) {
  double x = 0;
  const char *end;
  if (!parse_decimal(v, &x, &end))
    return fault_perr(p, "%s: '%s' is not a time (write e.g. 20ms, 1.5s, 250us)", key, v);
  double mul;
  if (strcmp(end, "us") == 0)
    mul = 1;
  else if (strcmp(end, "ms") == 0)
    mul = 1e3;
  else if (strcmp(end, "s") == 0)
    mul = 1e6;
  else if (*end == '\0')
    return fault_perr(p, "%s: '%s' needs a unit: us, ms or s", key, v);
  else
    return fault_perr(p, "%s: unknown time unit '%s' in '%s' (use us, ms or s)", key, end, v);
  double us = x * mul;
  if (us > (double)FAULT_TIME_MAX)
    return fault_perr(p, "%s: %s is longer than a day", key, v);
  *out = (us_time_t)(us + 0.5);
  return 0;
}

int fault_parse_size(struct fault_pctx *p, const char *key, const char *v, uint64_t *out) {
  double x = 0;
  const char *end;
  if (!parse_decimal(v, &x, &end))
    return fault_perr(p, "%s: '%s' is not a size (write e.g. 3000B, 15kB, 64KiB)", key, v);
  double mul;
  if (strcmp(end, "B") == 0)
    mul = 1;
  else if (strcmp(end, "kB") == 0 || strcmp(end, "KB") == 0)
    mul = 1e3;
  else if (strcmp(end, "KiB") == 0)
    mul = 1024;
  else if (strcmp(end, "MB") == 0)
    mul = 1e6;
  else if (strcmp(end, "MiB") == 0)
    mul = 1048576;
  else if (*end == '\0')
    return fault_perr(p, "%s: '%s' needs a unit: B, kB, KiB, MB or MiB", key, v);
  else
    return fault_perr(p, "%s: unknown size unit '%s' in '%s' (use B, kB, KiB, MB, MiB)", key, end,
                      v);
  double b = x * mul;
  if (b < 1 || b > 1e12)
    return fault_perr(p, "%s: %s is out of range (1B..1000GB)", key, v);
  *out = (uint64_t)b;
  return 0;
}

int fault_parse_rate(struct fault_pctx *p, const char *key, const char *v, uint64_t *out) {
  double x = 0;
  const char *end;
  if (!parse_decimal(v, &x, &end))
    return fault_perr(p, "%s: '%s' is not a rate (write e.g. 10mbit, 500kbit, 2MBps)", key, v);
  static const struct {
    const char *unit;
    double bytes_per_unit;
  } units[] = {
    { "bit", 1.0 / 8 }, { "kbit", 1e3 / 8 }, { "mbit", 1e6 / 8 }, { "gbit", 1e9 / 8 },
    { "Bps", 1 },       { "kBps", 1e3 },     { "MBps", 1e6 },     { "GBps", 1e9 },
  };
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(end, units[i].unit) == 0) {
      double r = x * units[i].bytes_per_unit;
      if (r < 1 || r > 1e12)
        return fault_perr(p, "%s: %s is out of range (8bit..8000gbit)", key, v);
      *out = (uint64_t)r;
      return 0;
    }
  }
  if (*end == '\0')
    return fault_perr(
        p, "%s: '%s' needs a unit: bit, kbit, mbit, gbit (per second) or Bps, kBps, MBps", key, v);
  return fault_perr(
      p, "%s: unknown rate unit '%s' in '%s' (use bit, kbit, mbit, gbit, Bps, kBps, MBps)", key,
      end, v);
}

int fault_parse_window(struct fault_pctx *p, const char *key, const char *v, us_time_t *from,
                       us_time_t *to) {
  char buf[64];
  if (strlen(v) >= sizeof buf)
    return fault_perr(p, "%s: '%s' is too long", key, v);
  strcpy(buf, v);
  char *dash = strchr(buf, '-');
  if (!dash)
    return fault_perr(p, "%s: '%s' is not a window (write FROM-TO, e.g. 5s-25s, or FROM- )", key,
                      v);
  *dash = '\0';
  if (fault_parse_time(p, key, fault_trim(buf), from) < 0)
    return -1;
  char *rest = fault_trim(dash + 1);
  if (*rest == '\0') {
    *to = US_TIME_NEVER;
    return 0;
  }
  if (fault_parse_time(p, key, rest, to) < 0)
    return -1;
  if (*to <= *from)
    return fault_perr(p, "%s: window '%s' ends before it starts", key, v);
  return 0;
}
