/*
 * sock_common.c - the calls of us_socket.h that every kind of socket
 * shares: readiness events, the user pointer and the pending error. They
 * need only the handle table; each kind answers through the events and
 * error hooks its layer put in the table (handle.h).
 */
#include <string.h>

#include "handle.h"
#include "stack.h"
#include "ustack/us_err.h"
#include "ustack/us_socket.h"

static uint32_t slot_events(us_stack *s, struct us_handle_slot *sl) {
  us_handle_events_fn fn = s->handles.events_fn[sl->kind];
  return fn ? fn(s, sl->obj) : 0;
}

size_t us_stack_events(us_stack *s, struct us_event *out, size_t max) {
  struct us_handle_table *t = &s->handles;
  size_t n = 0, i = 0;
  for (; i < t->nmarked && n < max; i++) {
    uint32_t idx = t->marked[i];
    struct us_handle_slot *sl = &t->slots[idx];
    sl->marked = false;
    if (sl->kind == US_HK_FREE)
      continue;
    out[n].sock = us_handle_make(idx, sl->gen);
    out[n].events = slot_events(s, sl);
    n++;
  }
  /* Keep what did not fit for the next drain, in order. */
  memmove(t->marked, t->marked + i, (t->nmarked - i) * sizeof *t->marked);
  t->nmarked -= (uint32_t)i;
  return n;
}

uint32_t us_sock_events(us_stack *s, us_sock_t sock) {
  struct us_handle_slot *sl = us_handle_slot(s, sock);
  return sl ? slot_events(s, sl) : 0;
}

int us_sock_set_user(us_stack *s, us_sock_t sock, void *user) {
  struct us_handle_slot *sl = us_handle_slot(s, sock);
  if (!sl)
    return US_ERR_BADF;
  sl->user = user;
  return 0;
}

void *us_sock_user(us_stack *s, us_sock_t sock) {
  struct us_handle_slot *sl = us_handle_slot(s, sock);
  return sl ? sl->user : NULL;
}

int us_sock_error(us_stack *s, us_sock_t sock) {
  struct us_handle_slot *sl = us_handle_slot(s, sock);
  if (!sl)
    return US_ERR_BADF;
  us_handle_error_fn fn = s->handles.error_fn[sl->kind];
  return fn ? fn(s, sl->obj) : 0;
}
