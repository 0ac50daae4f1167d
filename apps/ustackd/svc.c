/*
 * svc.c - the daemon's service plumbing: event dispatch by user pointer,
 * service poll hooks, small shared helpers.
 */
#include "svc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define EVENT_BATCH 64
/* Upper bound on drains per call: each drain empties the changed list,
 * and handlers only add sockets they touched, so this is never reached
 * in practice; it keeps one call bounded whatever a handler does. */
#define MAX_DRAINS  64

size_t svc_dispatch(us_stack *s, us_time_t now) {
  struct us_event ev[EVENT_BATCH];
  size_t total = 0;
  for (unsigned round = 0; round < MAX_DRAINS; round++) {
    size_t n = us_stack_events(s, ev, EVENT_BATCH);
    for (size_t i = 0; i < n; i++) {
      /* A handler earlier in this batch may have closed this socket:
       * us_sock_user() then sees a stale handle and returns NULL. */
      struct svc_handler *h = us_sock_user(s, ev[i].sock);
      if (h && h->on_event)
        h->on_event(h, s, ev[i].sock, ev[i].events, now);
    }
    total += n;
    if (n < EVENT_BATCH)
      break;
  }
  return total;
}

void svc_dispatch_events(us_stack *s, us_time_t now) { (void)svc_dispatch(s, now); }

struct poll_entry {
  svc_poll_fn fn;
  void *ctx;
};

/* The daemon is one process with one stack: a file-level table is the
 * simplest registry (the stack itself has no globals). */
static struct poll_entry polls[SVC_MAX_POLL];

int svc_add_poll(svc_poll_fn fn, void *ctx) {
  for (unsigned i = 0; i < SVC_MAX_POLL; i++) {
    if (!polls[i].fn) {
      polls[i] = (struct poll_entry){ .fn = fn, .ctx = ctx };
      return 0;
    }
  }
  return -1;
}

void svc_remove_poll(svc_poll_fn fn, void *ctx) {
  for (unsigned i = 0; i < SVC_MAX_POLL; i++)
    if (polls[i].fn == fn && polls[i].ctx == ctx)
      polls[i] = (struct poll_entry){ 0 };
}

us_time_t svc_poll_all(us_stack *s, us_time_t now) {
  us_time_t next = US_TIME_NEVER;
  for (unsigned i = 0; i < SVC_MAX_POLL; i++) {
    if (!polls[i].fn)
      continue;
    us_time_t d = polls[i].fn(polls[i].ctx, s, now);
    if (d < next)
      next = d;
  }
  return next;
}

int svc_parse_port(const char *arg, uint16_t *port, char *err, size_t errlen) {
  char *end = NULL;
  errno = 0;
  long v = arg ? strtol(arg, &end, 10) : 0;
  if (!arg || *arg == '\0' || *end != '\0' || errno != 0 || v < 1 || v > 65535) {
    snprintf(err, errlen, "bad port '%s' (1..65535)", arg ? arg : "");
    return -1;
  }
  *port = (uint16_t)v;
  return 0;
}

int svc_parse_u64(const char *arg, uint64_t *out, char *err, size_t errlen) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = arg ? strtoull(arg, &end, 10) : 0;
  if (!arg || *arg == '\0' || *arg == '-' || *end != '\0' || errno != 0) {
    snprintf(err, errlen, "'%s' is not a non-negative integer", arg ? arg : "");
    return -1;
  }
  *out = v;
  return 0;
}
