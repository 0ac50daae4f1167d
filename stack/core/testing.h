/*
 * testing.h - hooks for tests only (never used by the daemon).
 */
#ifndef USTACK_CORE_TESTING_H
#define USTACK_CORE_TESTING_H

#include <stdbool.h>
#include <stdint.h>

struct us_stack;

/* Make the k-th pool allocation from now fail (k >= 1); 0 turns it off.
 * Covers packet buffers, TCBs, sockets, reassembly contexts and TLS
 * connections: every allocation that calls us_stack_alloc_should_fail(). */
void us_stack_fail_alloc_at(struct us_stack *s, uint64_t k);
/* How many allocations were made since creation. */
uint64_t us_stack_alloc_count(const struct us_stack *s);

/* Check expensive internal invariants on every poll (the TCP timer queue
 * against every TCB's deadlines); a broken one aborts (US_ASSERT). */
void us_stack_check_invariants(struct us_stack *s, bool on);

#endif
