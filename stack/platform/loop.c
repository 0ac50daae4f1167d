/* loop.c - epoll + signalfd event loop around one us_stack. */
#include "loop.h"

#include "clock.h"
#include "logsink.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define MAX_FDS       64
#define MAX_HOOKS     16
#define DEFAULT_BATCH 64
/* Rounds of tick/poll/dispatch per wake-up before we yield to epoll. */
#define MAX_ROUNDS    8
/* Big enough for any IPv4 datagram, a GSO super-packet included (the
 * virtio header is read apart, tun.c): the kernel never truncates. */
#define RX_BUF        65536

enum fd_kind { FD_FREE = 0, FD_TUN, FD_SIGNAL, FD_USER };

struct fd_entry {
  enum fd_kind kind;
  int fd;
  us_loop_fd_fn fn;
  void *ctx;
};

struct tick_hook {
  us_loop_tick_fn fn;
  void *ctx;
};

struct idle_hook {
  us_loop_idle_fn fn;
  void *ctx;
};

struct us_loop {
  struct us_loop_cfg cfg;
  int epfd;
  int sigfd;
  sigset_t old_mask;
  bool mask_set;
  bool stop;
  int exit_code;
  us_time_t now;
  struct fd_entry fds[MAX_FDS];
  struct tick_hook ticks[MAX_HOOKS];
  unsigned nticks;
  struct idle_hook idles[MAX_HOOKS];
  unsigned nidles;
  struct us_loop_stats st;
  uint8_t rxbuf[RX_BUF];
};

void us_rx_stack_input(void *stack, const uint8_t *pkt, size_t len, const struct us_rx_meta *meta,
                       us_time_t now) {
  us_stack_input_meta(stack, pkt, len, meta, now);
}

static struct fd_entry *fd_slot(struct us_loop *l, int fd) {
  for (unsigned i = 0; i < MAX_FDS; i++)
    if (l->fds[i].kind != FD_FREE && l->fds[i].fd == fd)
      return &l->fds[i];
  return NULL;
}

static int fd_register(struct us_loop *l, enum fd_kind kind, int fd, uint32_t events,
                       us_loop_fd_fn fn, void *ctx) {
  if (fd < 0)
    return -EBADF;
  if (fd_slot(l, fd))
    return -EEXIST;
  for (unsigned i = 0; i < MAX_FDS; i++) {
    struct fd_entry *e = &l->fds[i];
    if (e->kind != FD_FREE)
      continue;
    struct epoll_event ev = { .events = events, .data.ptr = e };
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
      return -errno;
    *e = (struct fd_entry){ .kind = kind, .fd = fd, .fn = fn, .ctx = ctx };
    return 0;
  }
  return -ENOSPC;
}

struct us_loop *us_loop_create(const struct us_loop_cfg *cfg, char *err, size_t errlen) {
  if (!cfg->stack || !cfg->tun || cfg->tun->fd < 0) {
    snprintf(err, errlen, "event loop: no stack or no TUN");
    return NULL;
  }
  struct us_loop *l = calloc(1, sizeof *l);
  if (!l) {
    snprintf(err, errlen, "event loop: out of memory");
    return NULL;
  }
  l->cfg = *cfg;
  if (l->cfg.batch_max == 0)
    l->cfg.batch_max = DEFAULT_BATCH;
  if (!l->cfg.rx.rx)
    l->cfg.rx = (struct us_rx_sink){ .rx = us_rx_stack_input, .ctx = cfg->stack };
  l->sigfd = -1;
  l->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (l->epfd < 0) {
    snprintf(err, errlen, "event loop: epoll_create1: %s", strerror(errno));
    free(l);
    return NULL;
  }
  /* Signals become readable events, so a handler never runs in the middle
   * of stack code and shutdown happens between two wake-ups. */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &mask, &l->old_mask) != 0) {
    snprintf(err, errlen, "event loop: sigprocmask: %s", strerror(errno));
    goto fail;
  }
  l->mask_set = true;
  l->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (l->sigfd < 0) {
    snprintf(err, errlen, "event loop: signalfd: %s", strerror(errno));
    goto fail;
  }
  int rc = fd_register(l, FD_SIGNAL, l->sigfd, EPOLLIN, NULL, NULL);
  if (rc == 0)
    rc = fd_register(l, FD_TUN, cfg->tun->fd, EPOLLIN, NULL, NULL);
  if (rc != 0) {
    snprintf(err, errlen, "event loop: epoll_ctl: %s", strerror(-rc));
    goto fail;
  }
  l->now = us_clock_now();
  return l;
fail:
  us_loop_destroy(l);
  return NULL;
}

void us_loop_destroy(struct us_loop *l) {
  if (!l)
    return;
  if (l->sigfd >= 0)
    close(l->sigfd);
  if (l->epfd >= 0)
    close(l->epfd);
  if (l->mask_set) {
    /* Drop signals that arrived after the loop stopped reading them, so
     * unblocking does not kill us with a late SIGTERM mid-cleanup: the
     * caller is already shutting down. */
    sigset_t pending;
    if (sigpending(&pending) == 0) {
      int signals[] = { SIGINT, SIGTERM, SIGUSR1, SIGHUP };
      for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        if (sigismember(&pending, signals[i]) == 1) {
          sigset_t one;
          sigemptyset(&one);
          sigaddset(&one, signals[i]);
          int got;
          sigwait(&one, &got);
        }
      }
    }
    sigprocmask(SIG_SETMASK, &l->old_mask, NULL);
  }
  free(l);
}

int us_loop_add_fd(struct us_loop *l, int fd, uint32_t epoll_events, us_loop_fd_fn fn, void *ctx) {
  if (!fn)
    return -EINVAL;
  return fd_register(l, FD_USER, fd, epoll_events, fn, ctx);
}

int us_loop_mod_fd(struct us_loop *l, int fd, uint32_t epoll_events) {
  struct fd_entry *e = fd_slot(l, fd);
  if (!e || e->kind != FD_USER)
    return -ENOENT;
  struct epoll_event ev = { .events = epoll_events, .data.ptr = e };
  return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}

int us_loop_del_fd(struct us_loop *l, int fd) {
  struct fd_entry *e = fd_slot(l, fd);
  if (!e || e->kind != FD_USER)
    return -ENOENT;
  epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
  /* The slot may still be named by an event later in this wake-up's
   * array: FD_FREE makes the dispatcher skip it. */
  e->kind = FD_FREE;
  e->fd = -1;
  return 0;
}

int us_loop_add_tick(struct us_loop *l, us_loop_tick_fn fn, void *ctx) {
  if (l->nticks >= MAX_HOOKS)
    return -1;
  l->ticks[l->nticks++] = (struct tick_hook){ .fn = fn, .ctx = ctx };
  return 0;
}

int us_loop_add_idle(struct us_loop *l, us_loop_idle_fn fn, void *ctx) {
  if (l->nidles >= MAX_HOOKS)
    return -1;
  l->idles[l->nidles++] = (struct idle_hook){ .fn = fn, .ctx = ctx };
  return 0;
}

void us_loop_stop(struct us_loop *l) { l->stop = true; }
us_time_t us_loop_now(const struct us_loop *l) { return l->now; }
const us_time_t *us_loop_now_ref(const struct us_loop *l) { return &l->now; }
void us_loop_get_stats(const struct us_loop *l, struct us_loop_stats *out) { *out = l->st; }

static us_time_t min_time(us_time_t a, us_time_t b) { return a < b ? a : b; }

/* Step 3: read until EAGAIN or the batch cap. Returns -1 if the TUN is
 * unusable (the loop then stops with an error). */
static int read_batch(struct us_loop *l) {
  unsigned n = 0;
  l->st.rx_batches++;
  while (n < l->cfg.batch_max) {
    struct us_rx_meta meta;
    /* ARCHITECTURE 8: read straight into one of the stack's buffers, so the
     * data TCP keeps is copied only into the application's buffer
     * (us_stack_rx_buffer); our own buffer when the stack has none. */
    size_t cap = 0;
    size_t want = l->cfg.tun->vnet_hdr ? sizeof l->rxbuf : 0; /* 0: the MTU */
    uint8_t *buf = us_stack_rx_buffer(l->cfg.stack, want, &cap);
    if (!buf) {
      buf = l->rxbuf;
      cap = sizeof l->rxbuf;
    }
    long len = us_tun_read(l->cfg.tun, buf, cap, &meta);
    if (len == 0)
      return 0; /* EAGAIN: drained */
    if (len < 0) {
      us_logf(&l->cfg.log, l->cfg.log_level, US_LOG_ERROR, "TUN %s: read failed: %s",
              l->cfg.tun->name, strerror((int)-len));
      /* EBADFD: the interface was deleted under us. */
      return (len == -EBADFD || len == -EBADF || len == -EIO) ? -1 : 0;
    }
    l->cfg.rx.rx(l->cfg.rx.ctx, buf, (size_t)len, l->cfg.tun->vnet_hdr ? &meta : NULL, l->now);
    n++;
  }
  /* Level-triggered epoll reports the rest on the next wait. */
  l->st.rx_batch_full++;
  return 0;
}

static void read_signals(struct us_loop *l) {
  struct signalfd_siginfo si;
  for (int i = 0; i < 16; i++) {
    ssize_t n = read(l->sigfd, &si, sizeof si);
    if (n != (ssize_t)sizeof si)
      return;
    int signo = (int)si.ssi_signo;
    if (signo == SIGINT || signo == SIGTERM) {
      l->stop = true;
      l->exit_code = signo;
    } else if (l->cfg.on_signal) {
      l->cfg.on_signal(l->cfg.signal_ctx, signo, l->now);
    }
  }
}

/* Step 4: ticks, poll, dispatch; again while handlers made work. */
static us_time_t run_rounds(struct us_loop *l) {
  us_time_t next = US_TIME_NEVER;
  unsigned round;
  for (round = 0; round < MAX_ROUNDS; round++) {
    next = US_TIME_NEVER;
    for (unsigned i = 0; i < l->nticks; i++) {
      next = min_time(next, l->ticks[i].fn(l->ticks[i].ctx, l->now));
    }
    next = min_time(next, us_stack_poll(l->cfg.stack, l->now));
    if (!l->cfg.dispatch || l->cfg.dispatch(l->cfg.dispatch_ctx, l->cfg.stack, l->now) == 0)
      break;
  }
  if (round == MAX_ROUNDS) {
    /* Still busy: come straight back after looking at the descriptors. */
    l->st.dispatch_rounds_capped++;
    next = l->now;
  }
  return next;
}

static int timeout_ms(us_time_t next, us_time_t now) {
  if (next == US_TIME_NEVER)
    return -1;
  if (next <= now)
    return 0;
  us_time_t d = next - now;
  /* Round up: waking a little late is harmless, waking early spins. */
  us_time_t ms = (d + 999) / 1000;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

int us_loop_run(struct us_loop *l) {
  struct epoll_event evs[32];
  l->stop = false;
  l->exit_code = 0;
  l->now = us_clock_now();
  int result = 0;
  while (!l->stop) {
    us_time_t next = run_rounds(l);
    for (unsigned i = 0; i < l->nidles; i++)
      l->idles[i].fn(l->idles[i].ctx, l->now);
    if (l->stop)
      break;
    int n = epoll_wait(l->epfd, evs, (int)(sizeof evs / sizeof evs[0]), timeout_ms(next, l->now));
    /* Step 2: the one clock read of this wake-up. */
    l->now = us_clock_now();
    l->st.wakeups++;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      us_logf(&l->cfg.log, l->cfg.log_level, US_LOG_ERROR, "epoll_wait: %s", strerror(errno));
      result = -1;
      break;
    }
    for (int i = 0; i < n; i++) {
      struct fd_entry *e = evs[i].data.ptr;
      switch (e->kind) {
      case FD_TUN:
        if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
          us_logf(&l->cfg.log, l->cfg.log_level, US_LOG_ERROR, "TUN %s: device error",
                  l->cfg.tun->name);
          result = -1;
          l->stop = true;
        } else if (read_batch(l) != 0) {
          result = -1;
          l->stop = true;
        }
        break;
      case FD_SIGNAL:
        read_signals(l);
        break;
      case FD_USER:
        e->fn(e->ctx, e->fd, evs[i].events, l->now);
        break;
      case FD_FREE:
        break;
      }
    }
  }
  if (result == 0)
    result = l->exit_code;
  /* Flush what the last wake-up produced. */
  us_stack_poll(l->cfg.stack, l->now);
  for (unsigned i = 0; i < l->nidles; i++)
    l->idles[i].fn(l->idles[i].ctx, l->now);
  return result;
}
