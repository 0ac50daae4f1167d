/*
 * assert.h - checks for programmer errors (broken contracts), never for bad
 * network input (that is dropped and counted).
 *
 * US_ASSERT aborts in every build: a broken invariant in a network stack is
 * worse than a crash (memory the next line would corrupt, a pool count that
 * no longer adds up).
 *
 * US_BUG(msg) is for a bug the caller has already contained: it refused the
 * bad step, counted it and logged it (tcp_illegal_transitions). A debug build
 * (no NDEBUG: the ASan/UBSan unit build, fuzzing) aborts there so the bug is
 * found; a release build (NDEBUG: Release, RelWithDebInfo, the daemon)
 * survives it, and the counter says it happened. US_BUG_ABORTS tells tests
 * which of the two to expect.
 *
 * US_ALWAYS(x)/US_NEVER(x) wrap defensive checks that
 * validation upstream makes impossible; they evaluate to x so the defensive
 * branch stays in release code.
 */
#ifndef USTACK_CORE_ASSERT_H
#define USTACK_CORE_ASSERT_H

#include <stdbool.h>

void us_assert_fail(const char *expr, const char *file, int line);

#define US_ASSERT(x) ((x) ? (void)0 : us_assert_fail(#x, __FILE__, __LINE__))
#ifdef NDEBUG
#define US_BUG_ABORTS 0
#define US_BUG(msg)   ((void)0)
#else
#define US_BUG_ABORTS 1
#define US_BUG(msg)   us_assert_fail((msg), __FILE__, __LINE__)
#endif
#define US_ALWAYS(x) (x)
#define US_NEVER(x)  (x)

#endif
