/*
 * stack_core.c - the parts of the stack object that need no layer above
 * core: layer registration, the single output point, counters and the
 * allocation-failure hook. Creation, input and poll are assembled in
 * stack/assembly/stack.c, the one place that knows every layer.
 */
#include <stddef.h>

#include "stack.h"
#include "testing.h"

void us_stack_register_layer(struct us_stack *s, us_layer_poll_fn poll, us_layer_fini_fn fini) {
  if (s->nlayers >= US_MAX_LAYERS)
    return;
  s->pollers[s->nlayers] = poll;
  s->finis[s->nlayers] = fini;
  s->nlayers++;
}

void us_stack_tx(struct us_stack *s, const uint8_t *bytes, size_t len) {
  if (s->dev.tx)
    s->dev.tx(s->dev.ctx, bytes, len);
}

void us_stack_tx_meta(struct us_stack *s, const uint8_t *bytes, size_t len,
                      const struct us_tx_meta *m) {
  if (s->dev.tx_meta)
    s->dev.tx_meta(s->dev.ctx, bytes, len, m);
}

bool us_stack_alloc_should_fail(struct us_stack *s) {
  s->alloc_count++;
  if (s->alloc_fail_at == 0)
    return false;
  if (--s->alloc_fail_at == 0)
    return true;
  return false;
}

void us_stack_fail_alloc_at(struct us_stack *s, uint64_t k) { s->alloc_fail_at = k; }

uint64_t us_stack_alloc_count(const struct us_stack *s) { return s->alloc_count; }

uint64_t us_stack_stat(const struct us_stack *s, enum us_stat id) {
  return (unsigned)id < US_STAT_COUNT ? s->stats[id] : 0;
}

const struct us_config *us_stack_config(const struct us_stack *s) { return &s->cfg; }

void us_stack_set_log_level(struct us_stack *s, enum us_log_level level) { s->log_level = level; }

void us_stack_check_invariants(struct us_stack *s, bool on) { s->check_invariants = on; }
