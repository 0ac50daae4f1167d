/*
 * handle.c - socket handles and the readiness-event list (see handle.h).
 *
 * Handle encoding: v = gen << 20 | (index + 1). Index + 1 keeps v != 0 for
 * every live handle, and generations start at 1 and skip 0 on wrap, so a
 * handle value is never reused until the 12-bit generation wraps in one
 * slot.
 */
#include "handle.h"

#include <stdlib.h>

#include "stack.h"

int us_handle_table_init(struct us_handle_table *t, uint32_t count) {
  if (count == 0 || count > US_HANDLE_MAX)
    return -1;
  t->count = count;
  t->slots = calloc(count, sizeof *t->slots);
  t->free_stack = calloc(count, sizeof *t->free_stack);
  t->marked = calloc(count, sizeof *t->marked);
  if (!t->slots || !t->free_stack || !t->marked) {
    us_handle_table_fini(t);
    return -1;
  }
  /* Nothing is written per slot here: slots are handed out in index
   * order first (nfresh), so a table sized for a million sockets costs
   * memory only for the slots ever used. Freed slots go on free_stack. */
  t->nfree = count;
  t->nstack = 0;
  t->nfresh = 0;
  t->nmarked = 0;
  return 0;
}

void us_handle_table_fini(struct us_handle_table *t) {
  free(t->slots);
  free(t->free_stack);
  free(t->marked);
  t->slots = NULL;
  t->free_stack = NULL;
  t->marked = NULL;
  t->count = t->nfree = t->nmarked = t->nstack = t->nfresh = 0;
}

us_sock_t us_handle_alloc(struct us_stack *s, uint8_t kind, void *obj) {
  struct us_handle_table *t = &s->handles;
  if (t->nfree == 0 || us_stack_alloc_should_fail(s))
    return US_SOCK_INVALID;
  uint32_t i;
  if (t->nstack > 0) {
    i = t->free_stack[--t->nstack];
  } else {
    i = t->nfresh++;
    t->slots[i].gen = 1;
  }
  t->nfree--;
  struct us_handle_slot *sl = &t->slots[i];
  sl->kind = (uint8_t)kind;
  sl->obj = obj;
  sl->user = NULL;
  /* `marked` is left alone: it says whether the index is on the event
   * list, which may still hold it from the slot's previous life. */
  return us_handle_make(i, sl->gen);
}

struct us_handle_slot *us_handle_slot(struct us_stack *s, us_sock_t h) {
  struct us_handle_table *t = &s->handles;
  uint32_t idx = us_handle_index1(h);
  if (idx == 0 || idx > t->count)
    return NULL;
  struct us_handle_slot *sl = &t->slots[idx - 1];
  if (sl->kind == US_HK_FREE || sl->gen != (uint16_t)(h.v >> US_HANDLE_IDX_BITS))
    return NULL;
  return sl;
}

void us_handle_free(struct us_stack *s, us_sock_t h) {
  struct us_handle_table *t = &s->handles;
  struct us_handle_slot *sl = us_handle_slot(s, h);
  if (!sl)
    return;
  sl->kind = US_HK_FREE;
  sl->obj = NULL;
  sl->user = NULL;
  sl->gen = (uint16_t)((sl->gen + 1) & US_HANDLE_GEN_MASK);
  if (sl->gen == 0)
    sl->gen = 1;
  /* A marked slot stays on the list (and keeps `marked`); the drain
   * skips slots that are free or whose generation moved on. */
  t->free_stack[t->nstack++] = us_handle_index1(h) - 1;
  t->nfree++;
}

void *us_handle_get(struct us_stack *s, us_sock_t h, uint8_t kind) {
  struct us_handle_slot *sl = us_handle_slot(s, h);
  return sl && sl->kind == kind ? sl->obj : NULL;
}

void us_handle_mark(struct us_stack *s, us_sock_t h) {
  struct us_handle_table *t = &s->handles;
  struct us_handle_slot *sl = us_handle_slot(s, h);
  if (!sl || sl->marked)
    return;
  sl->marked = true;
  t->marked[t->nmarked++] = us_handle_index1(h) - 1;
}
