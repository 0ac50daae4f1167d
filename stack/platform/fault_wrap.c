/* fault_wrap.c - see fault_wrap.h. */
#include "fault_wrap.h"

#include <string.h>

void us_fault_wrap_init(struct us_fault_wrap *w, struct us_fault *f) {
  memset(w, 0, sizeof *w);
  w->fault = f;
}

static void wrap_dev_tx(void *ctx, const uint8_t *pkt, size_t len) {
  struct us_fault_wrap *w = ctx;
  us_time_t last = us_fault_now(w->fault);
  us_time_t now = w->clock ? w->clock(w->clock_ctx) : last;
  if (now < last)
    now = last;
  us_fault_process(w->fault, US_FAULT_TX, pkt, len, now, w->next_tx.tx, w->next_tx.ctx);
}

struct us_device us_fault_wrap_tx(struct us_fault_wrap *w, const struct us_device *inner,
                                  us_time_t (*clock)(void *ctx), void *clock_ctx) {
  w->next_tx = *inner;
  w->clock = clock;
  w->clock_ctx = clock_ctx;
  struct us_device dev = { wrap_dev_tx, w };
  return dev;
}

void us_fault_wrap_set_clock(struct us_fault_wrap *w, us_time_t (*clock)(void *ctx),
                             void *clock_ctx) {
  if (!w)
    return;
  w->clock = clock;
  w->clock_ctx = clock_ctx;
}

us_time_t us_fault_clock_ref(void *ctx) { return *(const us_time_t *)ctx; }

/* The injector models a wire: what it delivers carries no offload
 * metadata (a corrupted packet must fail its checksum), and its device
 * offers no offloads (caps 0), so the stack sends it only MSS-sized
 * packets with full checksums. ustackd runs it with offloads off
 * (docs/OFFLOAD.md). */
static void wrap_rx_deliver(void *ctx, const uint8_t *pkt, size_t len) {
  struct us_fault_wrap *w = ctx;
  if (w->next_rx.rx)
    w->next_rx.rx(w->next_rx.ctx, pkt, len, NULL, us_fault_now(w->fault));
}

static void wrap_rx_sink(void *ctx, const uint8_t *pkt, size_t len, const struct us_rx_meta *meta,
                         us_time_t now) {
  (void)meta;
  struct us_fault_wrap *w = ctx;
  us_fault_process(w->fault, US_FAULT_RX, pkt, len, now, wrap_rx_deliver, w);
}

struct us_rx_sink us_fault_wrap_rx(struct us_fault_wrap *w, const struct us_rx_sink *inner) {
  w->next_rx = *inner;
  struct us_rx_sink sink = { wrap_rx_sink, w };
  return sink;
}

us_time_t us_fault_tick(void *f, us_time_t now) { return us_fault_poll(f, now); }
