/*
 * loop.h - the daemon's event loop: one thread, one epoll.
 *
 * One wake-up (docs/ARCHITECTURE.md section 8):
 *   1. epoll_wait, with the timeout armed at the earliest deadline;
 *   2. read the clock ONCE: that `now` serves the whole wake-up;
 *   3. read a batch of packets from the TUN (until EAGAIN or batch_max) and
 *      hand each to the rx sink (by default us_stack_input);
 *   4. run the ticks (service timers), then us_stack_poll (which flushes
 *      the output the batch caused, ACKs coalesced), then the dispatch hook
 *      (socket events to their handlers); repeat step 4 while the dispatch
 *      hook reports work, a bounded number of times, since handlers may
 *      queue output and make new events;
 *   5. call the idle hooks (pcap flush) and sleep until the next deadline.
 * SIGINT and SIGTERM arrive through a signalfd and end run() cleanly;
 * other watched signals (SIGUSR1, SIGHUP) go to the signal hook.
 */
#ifndef USTACK_PLATFORM_LOOP_H
#define USTACK_PLATFORM_LOOP_H

#include "rxsink.h"
#include "tun.h"
#include "ustack/us_stack.h"

struct us_loop;

typedef void (*us_loop_fd_fn)(void *ctx, int fd, uint32_t epoll_events, us_time_t now);
/* Run what is due at `now`; return the next deadline (US_TIME_NEVER). */
typedef us_time_t (*us_loop_tick_fn)(void *ctx, us_time_t now);
/* Called before sleeping. */
typedef void (*us_loop_idle_fn)(void *ctx, us_time_t now);
/* Drain socket events; return how many were handled. */
typedef size_t (*us_loop_dispatch_fn)(void *ctx, us_stack *s, us_time_t now);
/* A watched signal other than SIGINT/SIGTERM arrived. */
typedef void (*us_loop_signal_fn)(void *ctx, int signo, us_time_t now);

struct us_loop_cfg {
  us_stack *stack;
  struct us_tun *tun;
  unsigned batch_max;           /* packets per wake-up; 0 = 64 */
  struct us_rx_sink rx;         /* rx.rx NULL = us_stack_input(stack) */
  us_loop_dispatch_fn dispatch; /* may be NULL */
  void *dispatch_ctx;
  us_loop_signal_fn on_signal; /* SIGUSR1, SIGHUP; may be NULL */
  void *signal_ctx;
  struct us_log_sink log; /* the loop's own warnings */
  enum us_log_level log_level;
};

struct us_loop_stats {
  uint64_t wakeups;
  uint64_t rx_batches;
  uint64_t rx_batch_full; /* batches that stopped at batch_max */
  uint64_t dispatch_rounds_capped;
};

/*
 * Create the loop: epoll instance, the TUN registered, SIGINT, SIGTERM,
 * SIGUSR1 and SIGHUP blocked and routed to a signalfd (the old mask comes
 * back at destroy). NULL with one line in err on failure.
 */
struct us_loop *us_loop_create(const struct us_loop_cfg *cfg, char *err, size_t errlen);
void us_loop_destroy(struct us_loop *l);

/* Watch another descriptor (a control socket, a client). 0 or -errno. */
int us_loop_add_fd(struct us_loop *l, int fd, uint32_t epoll_events, us_loop_fd_fn fn, void *ctx);
int us_loop_mod_fd(struct us_loop *l, int fd, uint32_t epoll_events);
int us_loop_del_fd(struct us_loop *l, int fd);

/* Hooks (at most 16 each). 0, or -1 when the table is full. */
int us_loop_add_tick(struct us_loop *l, us_loop_tick_fn fn, void *ctx);
int us_loop_add_idle(struct us_loop *l, us_loop_idle_fn fn, void *ctx);

/*
 * Run until SIGINT/SIGTERM or us_loop_stop(). Returns the signal number
 * that ended it, 0 after us_loop_stop(), or -1 on a fatal error (the TUN
 * went away; logged).
 */
int us_loop_run(struct us_loop *l);

/* Make run() return after the current wake-up (callable from hooks). */
void us_loop_stop(struct us_loop *l);

/* The time read at the start of the current wake-up, and a pointer to it
 * for wrappers that need it without a parameter (us_pcap_tee.now). */
us_time_t us_loop_now(const struct us_loop *l);
const us_time_t *us_loop_now_ref(const struct us_loop *l);

void us_loop_get_stats(const struct us_loop *l, struct us_loop_stats *out);

#endif
