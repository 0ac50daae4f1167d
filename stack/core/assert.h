/*
 * assert.h - checks for programmer errors (broken contracts), never for bad
 * network input (that is dropped and counted).
 *
 * US_ASSERT aborts in every build: a broken invariant in a network stack is
 * worse than a crash. US_ALWAYS(x)/US_NEVER(x) wrap defensive checks that
 * validation upstream makes impossible; they evaluate to x so the defensive
 * branch stays in release code.
 */
#ifndef USTACK_CORE_ASSERT_H
#define USTACK_CORE_ASSERT_H

#include <stdbool.h>

void us_assert_fail(const char *expr, const char *file, int line);

#define US_ASSERT(x) ((x) ? (void)0 : us_assert_fail(#x, __FILE__, __LINE__))
#define US_ALWAYS(x) (x)
#define US_NEVER(x) (x)

#endif
