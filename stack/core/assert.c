/* assert.c - where a broken invariant ends the process, loudly. */
#include "assert.h"

#include <stdio.h>
#include <stdlib.h>

void us_assert_fail(const char *expr, const char *file, int line) {
  fprintf(stderr, "ustack: assertion failed: %s (%s:%d)\n", expr, file, line);
  abort();
}
