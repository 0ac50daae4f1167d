/* sysrand.c - getrandom(2), with /dev/urandom as the fallback. */
#include "sysrand.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

static int urandom_fill(uint8_t *p, size_t len) {
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      close(fd);
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  close(fd);
  return 0;
}

void us_sysrand_fill(void *ctx, void *buf, size_t len) {
  (void)ctx;
  uint8_t *p = buf;
  while (len > 0) {
    /* getrandom() returns at most 32 MiB per call and may be interrupted
     * by a signal before the pool is initialised: loop on both. */
    ssize_t n = getrandom(p, len, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      if (urandom_fill(p, len) == 0)
        return;
      fputs("ustack: no source of random bytes (getrandom and /dev/urandom failed)\n", stderr);
      abort();
    }
    p += n;
    len -= (size_t)n;
  }
}

struct us_rand_source us_sysrand_source(void) {
  return (struct us_rand_source){ .fill = us_sysrand_fill, .ctx = NULL };
}
