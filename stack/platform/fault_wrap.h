/*
 * fault_wrap.h - the fault injector (stack/fault/fault.h) on the daemon's
 * link: a us_device that sends through its TX direction, an rx sink that
 * receives through its RX direction, and the loop tick that releases held
 * packets. Like the pcap tee, the wrapper is a struct the caller owns and
 * that outlives the stack and the loop.
 *
 * WIRING IN ustackd (what `--fault SPEC` and `--fault-seed N` do):
 *
 *   option parsing: us_fault_check(spec, err, n) -> one line, exit 2
 *   uint64_t seed = seed_given ? N : us_fault_seed_from_os();
 *   d.fault = us_fault_create(spec, seed, err, sizeof err);   // NULL: fail
 *   fprintf(stderr, "ustackd: fault injector: '%s' seed=%llu\n", spec, seed);
 *   us_fault_wrap_init(&d.fault_wrap, d.fault);
 *   // Output: stack -> [pcap tee] -> injector TX -> TUN, so the capture
 *   // shows what the stack sent and tshark on the TUN what crossed the link.
 *   struct us_device dev = us_tun_device(&d.tun);
 *   if (d.fault) dev = us_fault_wrap_tx(&d.fault_wrap, &dev, NULL, NULL);
 *   ... pcap tee wraps dev, us_stack_create(&cfg, &dev) ...
 *   // Input: TUN -> injector RX -> [pcap tee] -> stack.
 *   ... rx = stack input, pcap tee wraps rx ...
 *   if (d.fault) rx = us_fault_wrap_rx(&d.fault_wrap, &rx);
 *   // After us_loop_create:
 *   us_fault_wrap_set_clock(&d.fault_wrap, us_fault_clock_ref,
 *                           (void *)us_loop_now_ref(d.loop));
 *   us_loop_add_tick(d.loop, us_fault_tick, d.fault); // releases held packets
 *   // Exit and SIGUSR1: char b[2048]; us_fault_format(d.fault, b, sizeof b);
 *   //   fputs(b, stderr);   (lines "fault seed=N tx: seen=... dropped=...")
 *   // Control socket (ctl_ext_fn passed to ctl_serve):
 *   //   char b[4096];
 *   //   if (!us_fault_ctl_command(d->fault, cmd, b, sizeof b)) return 0;
 *   //   fputs(b, out); return 1;
 *   us_fault_destroy(d.fault) after the loop and the stack are gone.
 */
#ifndef USTACK_PLATFORM_FAULT_WRAP_H
#define USTACK_PLATFORM_FAULT_WRAP_H

#include "fault/fault.h"
#include "fault_seed.h"
#include "rxsink.h"
#include "ustack/us_device.h"
#include "ustack/us_types.h"

struct us_fault_wrap {
  struct us_fault *fault;
  struct us_device next_tx;  /* where output goes once the injector lets it out */
  struct us_rx_sink next_rx; /* where input goes once the injector lets it in */
  /* The time of a tx call (output arrives through us_device without a
   * `now`). NULL: the last `now` the injector saw. */
  us_time_t (*clock)(void *ctx);
  void *clock_ctx;
};

/* Start a wrapper around injector `f` (nothing wired yet). */
void us_fault_wrap_init(struct us_fault_wrap *w, struct us_fault *f);

/*
 * Returns a us_device whose tx passes each packet through the TX direction
 * and then to `inner` (copied). The time of a tx call is `clock(clock_ctx)`
 * when a clock is given, else the last `now` the injector saw (the loop
 * calls us_fault_tick before us_stack_poll and the RX sink with each
 * wake-up's time, so that is current).
 */
struct us_device us_fault_wrap_tx(struct us_fault_wrap *w, const struct us_device *inner,
                                  us_time_t (*clock)(void *ctx), void *clock_ctx);
/* Set or change the TX wrapper's clock later (the loop, whose time the
 * clock reads, is created after the stack that owns the wrapped device). */
void us_fault_wrap_set_clock(struct us_fault_wrap *w, us_time_t (*clock)(void *ctx),
                             void *clock_ctx);
/* A clock for us_fault_wrap_tx that reads *(const us_time_t *)ctx, e.g.
 * with ctx = (void *)us_loop_now_ref(loop). */
us_time_t us_fault_clock_ref(void *ctx);

/*
 * Returns an rx sink (rxsink.h) that passes each packet through the RX
 * direction and then to `inner` (copied), with now = the release time
 * (us_fault_now).
 */
struct us_rx_sink us_fault_wrap_rx(struct us_fault_wrap *w, const struct us_rx_sink *inner);

/* us_fault_poll with the loop's tick signature (loop.h us_loop_tick_fn):
 * us_loop_add_tick(loop, us_fault_tick, f). */
us_time_t us_fault_tick(void *f, us_time_t now);

#endif
