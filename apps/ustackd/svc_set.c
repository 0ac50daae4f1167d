/*
 * svc_set.c - the services of one run (svc.h): each option occurrence an
 * instance in command-line order, each group's shared block allocated on
 * the first use of one of its options, and the start, stop and finished
 * steps over all of them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "svc.h"

/* The group's block, allocated (zeroed) the first time it is needed. */
static void *group_block(struct svc_set *set, const struct svc_group *g, char *err, size_t errlen) {
  for (unsigned i = 0; i < set->ngroups; i++)
    if (set->groups[i].group == g)
      return set->groups[i].shared;
  if (set->ngroups >= SVC_MAX_GROUPS) {
    snprintf(err, errlen, "too many service groups (at most %d)", SVC_MAX_GROUPS);
    return NULL;
  }
  void *b = calloc(1, g->size ? g->size : 1);
  if (!b) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  set->groups[set->ngroups].group = g;
  set->groups[set->ngroups].shared = b;
  set->ngroups++;
  return b;
}

int svc_set_parse(struct svc_set *set, const struct svc_desc *sd, const char *arg, char *err,
                  size_t errlen) {
  char serr[256] = "";
  if (set->n >= SVC_MAX_INSTANCES) {
    snprintf(err, errlen, "too many services (at most %d)", SVC_MAX_INSTANCES);
    return -1;
  }
  struct svc_instance *si = &set->inst[set->n];
  *si = (struct svc_instance){ .desc = sd };
  if (sd->group) {
    si->shared = group_block(set, sd->group, serr, sizeof serr);
    if (!si->shared) {
      snprintf(err, errlen, "%s: %s", sd->option, serr);
      return -1;
    }
  }
  if (sd->parse && sd->parse(arg, si->shared, &si->state, serr, sizeof serr) != 0) {
    snprintf(err, errlen, "%s: %s", sd->option, serr);
    return -1;
  }
  set->n++;
  return 0;
}

int svc_set_check(struct svc_set *set, char *err, size_t errlen) {
  for (unsigned i = 0; i < set->ngroups; i++) {
    const struct svc_group *g = set->groups[i].group;
    if (g->check && g->check(set->groups[i].shared, err, errlen) != 0)
      return -1;
  }
  return 0;
}

int svc_set_start(struct svc_set *set, us_stack *s, us_time_t now, char *err, size_t errlen) {
  for (unsigned i = 0; i < set->n; i++) {
    struct svc_instance *si = &set->inst[i];
    char serr[256] = "";
    if (si->desc->start && si->desc->start(si->state, si->shared, s, now, serr, sizeof serr) != 0) {
      snprintf(err, errlen, "%s: %s", si->desc->option, serr);
      return -1;
    }
    si->started = true;
  }
  return 0;
}

bool svc_set_finished(struct svc_set *set, int *status) {
  for (unsigned i = 0; i < set->n; i++) {
    struct svc_instance *si = &set->inst[i];
    if (si->started && si->desc->finished && si->desc->finished(si->state, si->shared, status))
      return true;
  }
  return false;
}

void svc_set_stop(struct svc_set *set, us_stack *s, us_time_t now) {
  for (unsigned i = set->n; i-- > 0;) {
    struct svc_instance *si = &set->inst[i];
    if (si->stopped)
      continue;
    si->stopped = true;
    if (si->desc->stop)
      si->desc->stop(si->state, si->shared, si->started ? s : NULL, now);
    si->state = NULL;
  }
}

void svc_set_free(struct svc_set *set) {
  for (unsigned i = 0; i < set->ngroups; i++) {
    free(set->groups[i].shared);
    set->groups[i].shared = NULL;
  }
  set->ngroups = 0;
}
