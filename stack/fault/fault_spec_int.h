/*
 * fault_spec_int.h - the spec parser's own interface between its files:
 * fault_spec.c (spec, clauses, items), fault_spec_values.c (the value
 * syntax: N, PCT, TIME, SIZE, RATE, WIN), fault_spec_link.c (link
 * impairments) and fault_spec_rule.c (rules: match, action, count, skip,
 * when). Nothing outside the parser includes it.
 */
#ifndef USTACK_FAULT_SPEC_INT_H
#define USTACK_FAULT_SPEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault_spec.h"

/* Where an error goes and which clause it is about. */
struct fault_pctx {
  char *err;
  size_t errlen;
  int clause;       /* 1-based; 0 = the spec as a whole */
  const char *text; /* the clause as written */
};

/* One key=value item of a clause (both trimmed, both non-empty). */
struct fault_item {
  char *key, *val;
};

/* Write "fault spec clause N '<clause>': <message>" into p->err; returns
 * -1 so a caller can `return fault_perr(...)`. */
__attribute__((format(printf, 2, 3))) int fault_perr(struct fault_pctx *p, const char *fmt, ...);

/* The next `delim`-separated token of *cur (possibly empty), or NULL at
 * the end. Unlike strtok, "a,,b" gives an empty token, so it is reported. */
char *fault_split_next(char **cur, char delim);
/* `s` without leading and trailing blanks (trailing ones cut in place). */
char *fault_trim(char *s);

/* The value syntax. Each returns 0, or -1 with the error written; `key`
 * names the item in the message. */
int fault_parse_uint(struct fault_pctx *p, const char *key, const char *v, uint64_t max,
                     uint64_t *out);
int fault_parse_pct(struct fault_pctx *p, const char *key, const char *v, double *out);
int fault_parse_time(struct fault_pctx *p, const char *key, const char *v, us_time_t *out);
int fault_parse_size(struct fault_pctx *p, const char *key, const char *v, uint64_t *out);
int fault_parse_rate(struct fault_pctx *p, const char *key, const char *v, uint64_t *out);
int fault_parse_window(struct fault_pctx *p, const char *key, const char *v, us_time_t *from,
                       us_time_t *to);

/* A clause with match= (a rule) / without (link impairments and
 * blackholes), for the directions in `dirmask`. */
int fault_parse_rule(struct fault_pctx *p, struct fault_conf *c, uint8_t dirmask,
                     struct fault_item *it, int nit);
int fault_parse_link(struct fault_pctx *p, struct fault_conf *c, uint8_t dirmask,
                     struct fault_item *it, int nit);

#endif
