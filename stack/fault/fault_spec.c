/*
 * fault_spec.c - a spec into clauses, a clause into its direction and
 * key=value items, then to the rule or link parser (fault_spec.h has the
 * grammar). us_fault_check() is the parser on its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_spec_int.h"

#define FAULT_MAX_ITEMS 24

/* An optional "tx:", "rx:" or "both:" in front of the first '='. Sets
 * *dirmask and returns the rest of the clause (NULL after an error). */
static char *parse_dir(struct fault_pctx *p, char *cl, uint8_t *dirmask) {
  *dirmask = 3;
  char *colon = strchr(cl, ':');
  char *eq = strchr(cl, '=');
  if (!colon || (eq && colon > eq))
    return cl;
  *colon = '\0';
  char *d = fault_trim(cl);
  if (strcmp(d, "tx") == 0)
    *dirmask = 1u << US_FAULT_TX;
  else if (strcmp(d, "rx") == 0)
    *dirmask = 1u << US_FAULT_RX;
  else if (strcmp(d, "both") == 0)
    *dirmask = 3;
  else {
    fault_perr(p, "unknown direction '%s' (use tx, rx or both)", d);
    return NULL;
  }
  return colon + 1;
}

/* item { ',' item } into it[], each split at its '=' and trimmed.
 * Returns the number of items, or -1. */
static int parse_items(struct fault_pctx *p, char *cl, struct fault_item *it) {
  int nit = 0;
  char *cur = cl;
  for (char *tok = fault_split_next(&cur, ','); tok; tok = fault_split_next(&cur, ',')) {
    char *t = fault_trim(tok);
    if (*t == '\0')
      return fault_perr(p, "empty item (two commas in a row?)");
    if (nit == FAULT_MAX_ITEMS)
      return fault_perr(p, "more than %d items", FAULT_MAX_ITEMS);
    char *e = strchr(t, '=');
    if (!e)
      return fault_perr(p, "item '%s' has no '=' (write key=value)", t);
    *e = '\0';
    it[nit].key = fault_trim(t);
    it[nit].val = fault_trim(e + 1);
    if (*it[nit].key == '\0')
      return fault_perr(p, "item '=%s' has no key", it[nit].val);
    if (*it[nit].val == '\0')
      return fault_perr(p, "key '%s' has no value", it[nit].key);
    nit++;
  }
  if (nit == 0)
    return fault_perr(p, "no key=value item after the direction");
  return nit;
}

static bool has_key(const struct fault_item *it, int nit, const char *key) {
  for (int i = 0; i < nit; i++)
    if (strcmp(it[i].key, key) == 0)
      return true;
  return false;
}

/* A rule takes each key once; a link clause checks that per group. */
static int unique_keys(struct fault_pctx *p, const struct fault_item *it, int nit) {
  for (int i = 0; i < nit; i++)
    for (int j = i + 1; j < nit; j++)
      if (strcmp(it[i].key, it[j].key) == 0)
        return fault_perr(p, "key '%s' given twice", it[i].key);
  return 0;
}

/* clause := [ dir ':' ] item { ',' item }; with match= it is a rule. */
static int parse_clause(struct fault_pctx *p, struct fault_conf *c, char *cl) {
  uint8_t dirmask;
  cl = parse_dir(p, cl, &dirmask);
  if (!cl)
    return -1;
  cl = fault_trim(cl);
  if (*cl == '\0')
    return fault_perr(p, "no key=value item after the direction");
  struct fault_item it[FAULT_MAX_ITEMS];
  int nit = parse_items(p, cl, it);
  if (nit < 0)
    return -1;
  if (has_key(it, nit, "match")) {
    if (unique_keys(p, it, nit) < 0)
      return -1;
    return fault_parse_rule(p, c, dirmask, it, nit);
  }
  return fault_parse_link(p, c, dirmask, it, nit);
}

/* spec := clause { ';' clause } */
int fault_spec_parse(const char *spec, struct fault_conf *c, char *err, size_t errlen) {
  struct fault_pctx p = { err, errlen, 0, "" };
  memset(c, 0, sizeof *c);
  if (!spec)
    spec = "";
  size_t n = strlen(spec);
  if (n >= FAULT_SPEC_MAX)
    return fault_perr(&p, "longer than %d bytes", FAULT_SPEC_MAX - 1);
  memcpy(c->spec, spec, n + 1);
  char buf[FAULT_SPEC_MAX];
  memcpy(buf, spec, n + 1);
  char orig[FAULT_SPEC_MAX];
  char *cur = buf;
  int idx = 0;
  for (char *cl = fault_split_next(&cur, ';'); cl; cl = fault_split_next(&cur, ';')) {
    char *t = fault_trim(cl);
    if (*t == '\0')
      continue; /* "a;;b" and a trailing ';' are harmless */
    idx++;
    snprintf(orig, sizeof orig, "%s", t);
    p.clause = idx;
    p.text = orig;
    if (parse_clause(&p, c, t) < 0)
      return -1;
  }
  return 0;
}

int us_fault_check(const char *spec, char *err, size_t errlen) {
  struct fault_conf *c = malloc(sizeof *c);
  if (!c) {
    if (err && errlen)
      snprintf(err, errlen, "fault spec: out of memory");
    return -1;
  }
  int rc = fault_spec_parse(spec, c, err, errlen);
  free(c);
  return rc;
}
