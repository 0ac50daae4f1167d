/*
 * test_fault.c - the impairment layer (stack/platform/fault.h) on a virtual
 * clock: the grammar (accepted and rejected specs, with the message), replay
 * from a seed, each impairment measured on many packets, each rule kind,
 * run-time changes, bounded memory and re-entrancy.
 *
 * Packets are real IPv4 headers (checksums are not needed: the injector
 * does not check them) whose payload starts with a 32-bit packet id, so the
 * sink can tell which packet came out when. Statistical tolerances are a
 * few standard deviations wide; the seeds are fixed, so the runs are exact
 * replays and cannot flake.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform/fault_wrap.h"

/* ---- Packets ------------------------------------------------------------ */

#define IP_A   0x0a000001u
#define IP_B   0x0a000002u
#define MAXPKT 1600

static void wr16(uint8_t *b, uint16_t v) {
  b[0] = (uint8_t)(v >> 8);
  b[1] = (uint8_t)v;
}
static void wr32(uint8_t *b, uint32_t v) {
  b[0] = (uint8_t)(v >> 24);
  b[1] = (uint8_t)(v >> 16);
  b[2] = (uint8_t)(v >> 8);
  b[3] = (uint8_t)v;
}

/* IPv4 + TCP (20-byte header) + `payload` bytes, the first four of which
 * (when there are four) are `id`. Returns the length. */
static size_t mk_tcp(uint8_t *b, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                     uint8_t flags, size_t payload, uint32_t id) {
  size_t len = 40 + payload;
  memset(b, 0, len);
  b[0] = 0x45;
  wr16(b + 2, (uint16_t)len);
  b[8] = 64;
  b[9] = 6;
  wr32(b + 12, src);
  wr32(b + 16, dst);
  wr16(b + 20, sport);
  wr16(b + 22, dport);
  wr32(b + 24, id); /* seq: also carries the id for header-only segments */
  b[32] = 5 << 4;
  b[33] = flags;
  for (size_t i = 0; i < payload; i++)
    b[40 + i] = (uint8_t)(id * 7 + i);
  if (payload >= 4)
    wr32(b + 40, id);
  return len;
}

static size_t mk_udp(uint8_t *b, uint16_t sport, uint16_t dport, size_t payload, uint32_t id) {
  size_t len = 28 + payload;
  memset(b, 0, len);
  b[0] = 0x45;
  wr16(b + 2, (uint16_t)len);
  b[8] = 64;
  b[9] = 17;
  wr32(b + 12, IP_A);
  wr32(b + 16, IP_B);
  wr16(b + 20, sport);
  wr16(b + 22, dport);
  wr16(b + 24, (uint16_t)(8 + payload));
  if (payload >= 4)
    wr32(b + 28, id);
  return len;
}

/* The id: the TCP seq field or the first 4 UDP payload bytes. */
static uint32_t pkt_id(const uint8_t *b, size_t len) {
  if (len >= 40 && b[9] == 6)
    return (uint32_t)b[24] << 24 | (uint32_t)b[25] << 16 | (uint32_t)b[26] << 8 | b[27];
  if (len >= 32 && b[9] == 17)
    return (uint32_t)b[28] << 24 | (uint32_t)b[29] << 16 | (uint32_t)b[30] << 8 | b[31];
  return UINT32_MAX;
}

/* ---- A sink that records what came out ---------------------------------- */

#define SINK_MAX 60000

struct sink {
  struct us_fault *f;
  size_t n;
  uint32_t id[SINK_MAX];
  us_time_t t[SINK_MAX];
  uint32_t len[SINK_MAX];
  uint8_t last[MAXPKT];
  size_t last_len;
  uint64_t bytes;
};

static void sink_deliver(void *ctx, const uint8_t *pkt, size_t len) {
  struct sink *s = ctx;
  assert_true(s->n < SINK_MAX);
  s->id[s->n] = pkt_id(pkt, len);
  s->t[s->n] = us_fault_now(s->f);
  s->len[s->n] = (uint32_t)len;
  s->n++;
  s->bytes += len;
  s->last_len = len < MAXPKT ? len : MAXPKT;
  memcpy(s->last, pkt, s->last_len);
}

static struct sink *sink_new(struct us_fault *f) {
  struct sink *s = calloc(1, sizeof *s);
  assert_non_null(s);
  s->f = f;
  return s;
}

static struct us_fault *mk(const char *spec, uint64_t seed) {
  char err[256] = "";
  struct us_fault *f = us_fault_create(spec, seed, err, sizeof err);
  if (!f)
    fail_msg("spec '%s' rejected: %s", spec, err);
  return f;
}

/* Run the clock forward to `until`, releasing everything due on the way. */
static void drain(struct us_fault *f, us_time_t now, us_time_t until) {
  for (int guard = 0; guard < 1000000; guard++) {
    us_time_t next = us_fault_poll(f, now);
    if (next == US_TIME_NEVER || next > until)
      return;
    now = next > now ? next : now;
  }
  fail_msg("drain did not finish");
}

/* ---- 1. Grammar --------------------------------------------------------- */

static void test_grammar_accepts(void **state) {
  (void)state;
  static const char *const ok[] = {
    "",
    ";",
    "loss=5%",
    "rx:loss=5%,burst=3;tx:delay=20ms,jitter=5ms",
    "tx:match=tcp.synack,count=2,action=drop",
    "rx:match=tcp.ack&!data,when=handshake,action=drop",
    "tx:blackhole=5s-25s",
    "both:blackhole=1.5s-",
    " rx : loss = 0.5% , burst = 2 ; ",
    "both:reorder=2%,gap=3;both:dup=1%;both:corrupt=1%,bits=1",
    "rx:rate=10mbit,bucket=15kB,qlen=50",
    "tx:rate=2MBps",
    "tx:rate=500kbit,bucket=64KiB",
    "tx:reorder=10%,hold=50ms",
    "tx:reorder=10%,gap=2,hold=5ms",
    "tx:truncate=1%,keep=40",
    "tx:dup=100%,copies=8",
    "both:match=tcp.fin,action=delay:3s",
    "match=udp&dport:53,action=dup:2",
    "match=tcp&port:443&!tcp.rst,skip=3,count=1,action=corrupt:4",
    "match=icmp,action=truncate:0",
    "match=ip,when=5s-25s,action=drop",
    "match=tcp.pureack,action=pass;loss=100%",
    "loss=100%",
    "loss=0%",
    "tx:delay=250us",
    "rx:loss=75%,burst=3",
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    char err[256] = "";
    int rc = us_fault_check(ok[i], err, sizeof err);
    if (rc != 0)
      fail_msg("valid spec '%s' rejected: %s", ok[i], err);
    struct us_fault *f = us_fault_create(ok[i], 1, err, sizeof err);
    assert_non_null(f);
    assert_string_equal(us_fault_spec(f), ok[i]);
    us_fault_destroy(f);
  }
}

static void test_grammar_rejects(void **state) {
  (void)state;
  /* Each bad spec with a piece of the message it must produce. */
  static const struct {
    const char *spec, *msg;
  } bad[] = {
    { "loss=5", "not a percentage" },
    { "loss=101%", "above 100%" },
    { "loss=-1%", "not a percentage" },
    { "loss=5%%", "not a percentage" },
    { "lost=5%", "unknown key 'lost'" },
    { "up:loss=5%", "unknown direction 'up'" },
    { "loss", "has no '='" },
    { "loss=", "has no value" },
    { "=5%", "has no key" },
    { "loss=5%,,dup=1%", "empty item" },
    { "loss=5%,loss=6%", "given twice" },
    { "burst=3", "'burst' needs 'loss'" },
    { "loss=5%,burst=0", "at least 1" },
    { "rx:loss=80%,burst=3", "impossible" },
    { "delay=20", "needs a unit" },
    { "delay=20min", "unknown time unit 'min'" },
    { "delay=5ms,jitter=6ms", "must not exceed delay" },
    { "jitter=1ms", "'jitter' needs 'delay'" },
    { "gap=2", "'gap' needs 'reorder'" },
    { "reorder=1%,gap=0", "gap: must be at least 1" },
    { "reorder=1%,hold=0ms", "hold: must be more than 0" },
    { "rate=10", "needs a unit" },
    { "rate=10mbps", "unknown rate unit 'mbps'" },
    { "rate=10mbit,bucket=10", "needs a unit" },
    { "bucket=10kB", "'bucket' needs 'rate'" },
    { "rate=1mbit,qlen=0", "qlen: must be at least 1" },
    { "corrupt=1%,bits=65", "above the maximum 64" },
    { "corrupt=1%,bits=0", "bits: must be 1..64" },
    { "dup=1%,copies=9", "above the maximum 8" },
    { "blackhole=25s-5s", "ends before it starts" },
    { "blackhole=5s", "not a window" },
    { "blackhole=5-25s", "needs a unit" },
    { "match=tcp.syn", "needs action=" },
    { "match=tcp.sin,action=drop", "unknown atom 'tcp.sin'" },
    { "match=tcp&,action=drop", "empty atom" },
    { "match=,action=drop", "has no value" },
    { "match=tcp&!,action=drop", "empty atom" },
    { "match=dport:99999,action=drop", "above the maximum 65535" },
    { "match=dport:http,action=drop", "not a whole number" },
    { "match=ip,action=explode", "unknown 'explode'" },
    { "match=ip,action=drop:1", "takes no argument" },
    { "match=ip,action=delay", "delay needs a time" },
    { "match=ip,action=dup:0", "dup:0" },
    { "match=ip,action=truncate", "truncate needs a length" },
    { "match=ip,action=drop,loss=5%", "not allowed in a rule" },
    { "match=ip,action=drop,count=x", "not a whole number" },
    { "match=ip,action=drop,when=later", "not a window" },
    { "match=ip,action=drop,action=pass", "given twice" },
    { "action=drop", "belongs to a rule" },
    { "tx:", "no key=value item" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[256] = "";
    struct us_fault *f = us_fault_create(bad[i].spec, 1, err, sizeof err);
    if (f) {
      us_fault_destroy(f);
      fail_msg("bad spec '%s' accepted", bad[i].spec);
    }
    if (!strstr(err, bad[i].msg))
      fail_msg("spec '%s': message '%s' lacks '%s'", bad[i].spec, err, bad[i].msg);
    /* The message names the clause it is about. */
    assert_non_null(strstr(err, "fault spec"));
  }
  /* The clause number is right. */
  char err[256];
  assert_int_equal(us_fault_check("loss=5%;tx:dup=1%;rx:dup=x", err, sizeof err), -1);
  assert_non_null(strstr(err, "clause 3 'rx:dup=x'"));
  /* An over-long spec. */
  char *longspec = malloc(2000);
  assert_non_null(longspec);
  memset(longspec, ' ', 1999);
  longspec[1999] = '\0';
  assert_int_equal(us_fault_check(longspec, err, sizeof err), -1);
  assert_non_null(strstr(err, "longer than"));
  free(longspec);
  /* A NULL err buffer is fine. */
  assert_null(us_fault_create("loss=5", 1, NULL, 0));
}

/* ---- 2. Determinism ----------------------------------------------------- */

struct tracelog {
  uint64_t hash;
  size_t n;
};

static void trace_hash(void *ctx, const struct us_fault_event *ev) {
  struct tracelog *t = ctx;
  uint64_t v[5] = { (uint64_t)ev->dir, (uint64_t)ev->kind, ev->pkt_index, (uint64_t)ev->now,
                    (uint64_t)ev->arg };
  for (int i = 0; i < 5; i++) {
    t->hash ^= v[i];
    t->hash *= 0x100000001b3ull; /* FNV-1a style mixing */
  }
  t->n++;
}

static uint64_t run_mixed(uint64_t seed, size_t *nevents) {
  struct us_fault *f =
      mk("both:loss=5%,burst=2;both:dup=3%;both:reorder=3%,gap=2;"
         "both:corrupt=2%,bits=2;tx:delay=10ms,jitter=3ms;tx:truncate=1%",
         seed);
  struct sink *s = sink_new(f);
  struct tracelog t = { 0xcbf29ce484222325ull, 0 };
  us_fault_set_trace(f, trace_hash, &t);
  uint8_t b[MAXPKT];
  us_time_t now = 0;
  for (uint32_t i = 0; i < 3000; i++) {
    size_t len = mk_tcp(b, IP_A, IP_B, 1000, 80, 0x10, 100 + i % 900, i);
    us_fault_process(f, (enum us_fault_dir)(i % 2), b, len, now, sink_deliver, s);
    now += 500;
    us_fault_poll(f, now);
  }
  drain(f, now, now + 10000000);
  assert_int_equal(us_fault_held(f), 0);
  assert_int_equal(us_fault_seed(f), seed);
  *nevents = t.n;
  us_fault_destroy(f);
  free(s);
  return t.hash;
}

static void test_determinism(void **state) {
  (void)state;
  size_t n1, n2, n3;
  uint64_t h1 = run_mixed(42, &n1);
  uint64_t h2 = run_mixed(42, &n2);
  uint64_t h3 = run_mixed(43, &n3);
  assert_true(n1 > 3000);
  assert_int_equal(n1, n2);
  assert_true(h1 == h2);
  assert_true(h1 != h3);
}

/* TX decisions do not depend on RX traffic: each direction has its own
 * PRNG stream, so adding or removing traffic one way replays the other. */
struct txlog {
  uint64_t hash;
  size_t n; /* TX fault events seen: an empty trace would hash equal too */
};
static void trace_tx_only(void *ctx, const struct us_fault_event *ev) {
  struct txlog *t = ctx;
  if (ev->dir != US_FAULT_TX || ev->kind == US_FAULT_EV_DELIVER)
    return;
  uint64_t v[3] = { (uint64_t)ev->kind, ev->pkt_index, (uint64_t)ev->arg };
  for (int i = 0; i < 3; i++) {
    t->hash ^= v[i];
    t->hash *= 0x100000001b3ull;
  }
  t->n++;
}

static uint64_t run_tx(bool with_rx, size_t *nevents) {
  struct us_fault *f = mk("both:loss=10%,burst=2;both:dup=5%;both:corrupt=5%,bits=3", 99);
  struct sink *s = sink_new(f);
  struct txlog t = { 0xcbf29ce484222325ull, 0 };
  us_fault_set_trace(f, trace_tx_only, &t);
  uint8_t b[MAXPKT];
  for (uint32_t i = 0; i < 2000; i++) {
    size_t len = mk_udp(b, 1, 2, 50 + i % 50, i);
    us_fault_process(f, US_FAULT_TX, b, len, i, sink_deliver, s);
    if (with_rx && i % 3 == 0)
      for (int k = 0; k < 1 + (int)(i % 4); k++)
        us_fault_process(f, US_FAULT_RX, b, len, i, sink_deliver, s);
  }
  us_fault_destroy(f);
  free(s);
  *nevents = t.n;
  return t.hash;
}

static void test_direction_independence(void **state) {
  (void)state;
  size_t n_alone, n_mixed;
  uint64_t alone = run_tx(false, &n_alone);
  uint64_t mixed = run_tx(true, &n_mixed);
  /* 2000 packets at 10% loss, 5% dup, 5% corrupt: hundreds of TX events.
   * Two empty traces would also hash equal, so require that there were some. */
  assert_true(n_alone > 100);
  assert_int_equal(n_alone, n_mixed);
  assert_true(alone == mixed);
}

/* ---- 3. Loss ------------------------------------------------------------ */

struct losslog {
  uint8_t lost[SINK_MAX];
};

static void trace_loss(void *ctx, const struct us_fault_event *ev) {
  struct losslog *l = ctx;
  if (ev->kind == US_FAULT_EV_LOSS && ev->pkt_index < SINK_MAX)
    l->lost[ev->pkt_index] = 1;
}

/* Loss rate and mean length of runs of consecutive losses. */
static void measure_loss(const char *spec, size_t n, double *rate, double *mean_run) {
  struct us_fault *f = mk(spec, 7);
  struct sink *s = sink_new(f);
  struct losslog *l = calloc(1, sizeof *l);
  assert_non_null(l);
  us_fault_set_trace(f, trace_loss, l);
  uint8_t b[MAXPKT];
  for (uint32_t i = 0; i < n; i++) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_RX, b, len, i, sink_deliver, s);
  }
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.seen, n);
  assert_int_equal(c.delivered + c.lost, n);
  assert_int_equal(c.dropped, c.lost);
  assert_int_equal(s->n, c.delivered);
  size_t runs = 0, lost = 0;
  for (size_t i = 0; i < n; i++) {
    if (l->lost[i]) {
      lost++;
      if (i == 0 || !l->lost[i - 1])
        runs++;
    }
  }
  assert_int_equal(lost, c.lost);
  /* Every delivered packet is one that was not lost, in order. */
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!l->lost[i])
      assert_int_equal(s->id[k++], i);
  *rate = (double)lost / (double)n;
  *mean_run = runs ? (double)lost / (double)runs : 0;
  free(l);
  free(s);
  us_fault_destroy(f);
}

static void test_loss_rate(void **state) {
  (void)state;
  double rate, run;
  measure_loss("rx:loss=10%", 50000, &rate, &run);
  /* sd of the rate = sqrt(p(1-p)/n) = 0.13%: allow 0.7%. */
  assert_true(rate > 0.093 && rate < 0.107);
  /* Independent losses: mean run 1/(1-p) = 1.11. */
  assert_true(run > 1.05 && run < 1.18);

  measure_loss("rx:loss=0%", 1000, &rate, &run);
  assert_true(rate == 0);
  measure_loss("rx:loss=100%", 1000, &rate, &run);
  assert_true(rate == 1);
  measure_loss("tx:loss=50%", 1000, &rate, &run); /* other direction */
  assert_true(rate == 0);
}

static void test_loss_burst(void **state) {
  (void)state;
  double rate, run;
  measure_loss("rx:loss=10%,burst=4", 50000, &rate, &run);
  /* Bursts widen the spread (sd ~ 0.5% here): allow 2%. */
  assert_true(rate > 0.08 && rate < 0.12);
  /* Mean Bad sojourn = 4 packets. */
  assert_true(run > 3.6 && run < 4.4);
}

/* ---- 4. Duplication ----------------------------------------------------- */

static void test_dup(void **state) {
  (void)state;
  struct us_fault *f = mk("tx:dup=5%,copies=2", 3);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  const uint32_t n = 20000;
  for (uint32_t i = 0; i < n; i++) {
    size_t len = mk_tcp(b, IP_A, IP_B, 5, 6, 0x18, 10, i);
    us_fault_process(f, US_FAULT_TX, b, len, (us_time_t)i * 10, sink_deliver, s);
  }
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.delivered, n + c.duplicated);
  assert_int_equal(s->n, c.delivered);
  assert_int_equal(c.duplicated % 2, 0);
  double dups = (double)c.duplicated / 2 / n; /* packets duplicated */
  assert_true(dups > 0.044 && dups < 0.056);
  /* Copies arrive right after their original; ids never go backwards. */
  size_t extra = 0;
  for (size_t i = 1; i < s->n; i++) {
    assert_true(s->id[i] >= s->id[i - 1]);
    if (s->id[i] == s->id[i - 1])
      extra++;
  }
  assert_int_equal(extra, c.duplicated);
  us_fault_destroy(f);
  free(s);
}

/* ---- 5. Reordering ------------------------------------------------------ */

struct reolog {
  size_t at_hold[SINK_MAX];   /* deliveries so far when packet i was held */
  size_t at_hold_h[SINK_MAX]; /* ... of which releases of held packets */
  us_time_t hold_t[SINK_MAX];
  uint8_t held[SINK_MAX];
  size_t deliveries, held_releases;
  size_t gaps_checked, exact;
  uint32_t want_gap;
  us_time_t valve;
  bool bad;
};

static void trace_reorder(void *ctx, const struct us_fault_event *ev) {
  struct reolog *r = ctx;
  if (ev->pkt_index >= SINK_MAX)
    return;
  if (ev->kind == US_FAULT_EV_REORDER) {
    r->held[ev->pkt_index] = 1;
    r->at_hold[ev->pkt_index] = r->deliveries;
    r->at_hold_h[ev->pkt_index] = r->held_releases;
    r->hold_t[ev->pkt_index] = ev->now;
  } else if (ev->kind == US_FAULT_EV_DELIVER) {
    if (r->held[ev->pkt_index]) {
      if (ev->now - r->hold_t[ev->pkt_index] < r->valve) {
        /* Released by the gap: `gap` deliveries went by, plus perhaps
         * other held packets whose gap ran out at the same moment. */
        size_t d = r->deliveries - r->at_hold[ev->pkt_index];
        size_t h = r->held_releases - r->at_hold_h[ev->pkt_index];
        if (d < r->want_gap || d - h > r->want_gap)
          r->bad = true;
        if (d == r->want_gap)
          r->exact++;
        r->gaps_checked++;
      }
      r->held_releases++;
    }
    r->deliveries++;
  }
}

static void test_reorder_gap(void **state) {
  (void)state;
  struct us_fault *f = mk("rx:reorder=5%,gap=3,hold=10s", 11);
  struct sink *s = sink_new(f);
  struct reolog *r = calloc(1, sizeof *r);
  assert_non_null(r);
  r->want_gap = 3;
  r->valve = 10000000;
  us_fault_set_trace(f, trace_reorder, r);
  uint8_t b[MAXPKT];
  const uint32_t n = 20000;
  us_time_t now = 0;
  for (uint32_t i = 0; i < n; i++, now += 1000) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_RX, b, len, now, sink_deliver, s);
  }
  /* The last held packets have no followers: the 10 s hold frees them. */
  drain(f, now, now + 20000000);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.delivered, n);
  assert_int_equal(us_fault_held(f), 0);
  double p = (double)c.reordered / n;
  assert_true(p > 0.044 && p < 0.056);
  assert_false(r->bad);
  /* All but possibly the last few were released by the gap, nearly all
   * after exactly 3 others. */
  assert_true(r->gaps_checked + 3 >= c.reordered);
  assert_true(r->exact * 10 >= r->gaps_checked * 9);
  /* A permutation: every id once. */
  uint8_t *seen = calloc(n, 1);
  assert_non_null(seen);
  size_t out_of_order = 0;
  for (size_t i = 0; i < s->n; i++) {
    assert_true(s->id[i] < n);
    assert_int_equal(seen[s->id[i]], 0);
    seen[s->id[i]] = 1;
    if (i > 0 && s->id[i] < s->id[i - 1])
      out_of_order++;
  }
  assert_true(out_of_order > 0 && out_of_order <= c.reordered);
  free(seen);
  free(r);
  free(s);
  us_fault_destroy(f);
}

static void test_reorder_hold_time(void **state) {
  (void)state;
  /* Time only: every packet comes out exactly 50 ms after it went in. */
  struct us_fault *f = mk("tx:reorder=100%,hold=50ms", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  us_time_t now = 0;
  for (uint32_t i = 0; i < 100; i++, now += 7000) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_TX, b, len, now, sink_deliver, s);
    assert_true(us_fault_next_deadline(f) <= now + 50000);
    drain(f, now, now + 6999);
  }
  drain(f, now, now + 1000000);
  assert_int_equal(s->n, 100);
  for (size_t i = 0; i < s->n; i++) {
    assert_int_equal(s->id[i], i);
    assert_int_equal(s->t[i], (us_time_t)i * 7000 + 50000);
  }
  us_fault_destroy(f);
  free(s);

  /* gap alone on an idle link: the 100 ms safety valve. */
  f = mk("tx:reorder=100%,gap=1", 1);
  s = sink_new(f);
  size_t len = mk_udp(b, 1, 2, 8, 9);
  us_fault_process(f, US_FAULT_TX, b, len, 1000, sink_deliver, s);
  assert_int_equal(s->n, 0);
  assert_int_equal(us_fault_next_deadline(f), 101000);
  assert_int_equal(us_fault_poll(f, 100999), 101000);
  assert_int_equal(s->n, 0);
  assert_int_equal(us_fault_poll(f, 101000), US_TIME_NEVER);
  assert_int_equal(s->n, 1);
  us_fault_destroy(f);
  free(s);
}

/* ---- 6. Corruption ------------------------------------------------------ */

struct flips {
  int64_t pos[64];
  size_t n;
};

static void trace_flips(void *ctx, const struct us_fault_event *ev) {
  struct flips *fl = ctx;
  if (ev->kind == US_FAULT_EV_CORRUPT && fl->n < 64)
    fl->pos[fl->n++] = ev->arg;
}

static void test_corrupt_exact_bits(void **state) {
  (void)state;
  for (uint32_t bits = 1; bits <= 16; bits *= 2) {
    char spec[64];
    snprintf(spec, sizeof spec, "tx:corrupt=100%%,bits=%u", bits);
    struct us_fault *f = mk(spec, bits);
    struct sink *s = sink_new(f);
    struct flips fl;
    us_fault_set_trace(f, trace_flips, &fl);
    uint8_t b[MAXPKT];
    for (uint32_t i = 0; i < 500; i++) {
      fl.n = 0;
      size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x10, i % 100, i);
      us_fault_process(f, US_FAULT_TX, b, len, i, sink_deliver, s);
      assert_int_equal(s->n, i + 1);
      assert_int_equal(s->last_len, len);
      /* The delivered packet differs from the original in exactly the
       * reported bits, and they are distinct. */
      assert_int_equal(fl.n, bits);
      uint8_t want[MAXPKT];
      memcpy(want, b, len);
      for (size_t k = 0; k < fl.n; k++) {
        assert_true(fl.pos[k] >= 0 && (size_t)fl.pos[k] < len * 8);
        want[fl.pos[k] / 8] ^= (uint8_t)(0x80u >> (fl.pos[k] % 8));
      }
      assert_memory_equal(want, s->last, len);
      size_t diff = 0;
      for (size_t k = 0; k < len; k++)
        diff += (size_t)__builtin_popcount(b[k] ^ s->last[k]);
      assert_int_equal(diff, bits);
    }
    struct us_fault_counters c;
    us_fault_counters(f, US_FAULT_TX, &c);
    assert_int_equal(c.corrupted, 500);
    us_fault_destroy(f);
    free(s);
  }

  /* A rate: 3% corrupted, the rest byte-identical. */
  struct us_fault *f = mk("rx:corrupt=3%", 5);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  size_t changed = 0;
  for (uint32_t i = 0; i < 20000; i++) {
    size_t len = mk_udp(b, 1, 2, 64, i);
    us_fault_process(f, US_FAULT_RX, b, len, i, sink_deliver, s);
    if (memcmp(b, s->last, len) != 0)
      changed++;
  }
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(changed, c.corrupted);
  assert_true(changed > 500 && changed < 700);
  us_fault_destroy(f);
  free(s);
}

/* ---- 7. Truncation ------------------------------------------------------ */

static void test_truncate(void **state) {
  (void)state;
  struct us_fault *f = mk("tx:truncate=100%,keep=40", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x18, 500, 77);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->last_len, 40);
  assert_memory_equal(s->last, b, 40);
  /* A packet already shorter than keep is left alone and not counted. */
  len = mk_udp(b, 1, 2, 4, 78);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->last_len, len);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.truncated, 1);
  us_fault_destroy(f);
  free(s);

  /* Random length: 1..len-1, a prefix of the original. */
  f = mk("rx:truncate=30%", 9);
  s = sink_new(f);
  size_t cut = 0;
  for (uint32_t i = 0; i < 10000; i++) {
    len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x18, 100, i);
    us_fault_process(f, US_FAULT_RX, b, len, i, sink_deliver, s);
    assert_true(s->last_len >= 1 && s->last_len <= len);
    assert_memory_equal(s->last, b, s->last_len);
    if (s->last_len < len)
      cut++;
  }
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.truncated, cut);
  assert_true(cut > 2800 && cut < 3200);
  us_fault_destroy(f);
  free(s);
}

/* ---- 8. Delay and jitter ------------------------------------------------ */

static void test_delay_jitter(void **state) {
  (void)state;
  struct us_fault *f = mk("tx:delay=20ms,jitter=5ms", 21);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  const uint32_t n = 4000;
  us_time_t now = 0, step = 10000;
  us_time_t in[4000];
  for (uint32_t i = 0; i < n; i++, now += step) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    in[i] = now;
    us_fault_process(f, US_FAULT_TX, b, len, now, sink_deliver, s);
    drain(f, now, now + step - 1);
  }
  drain(f, now, now + 1000000);
  assert_int_equal(s->n, n);
  double sum = 0, lo = 1e18, hi = 0;
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(s->id[i], i); /* order kept */
    us_time_t d = s->t[i] - in[i];
    assert_true(d >= 15000 && d <= 25000);
    sum += (double)d;
    if (d < lo)
      lo = (double)d;
    if (d > hi)
      hi = (double)d;
  }
  double mean = sum / n;
  assert_true(mean > 19800 && mean < 20200);
  assert_true(lo < 15300 && hi > 24700); /* the whole range is used */
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.delayed, n);
  us_fault_destroy(f);
  free(s);

  /* Dense traffic: jitter larger than the spacing never reorders. */
  f = mk("rx:delay=10ms,jitter=10ms", 22);
  s = sink_new(f);
  now = 0;
  for (uint32_t i = 0; i < 2000; i++, now += 100) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_RX, b, len, now, sink_deliver, s);
    drain(f, now, now + 99);
  }
  drain(f, now, now + 1000000);
  assert_int_equal(s->n, 2000);
  for (size_t i = 1; i < s->n; i++) {
    assert_int_equal(s->id[i], i);
    assert_true(s->t[i] >= s->t[i - 1]);
  }
  us_fault_destroy(f);
  free(s);
}

/* ---- 9. Rate limit ------------------------------------------------------ */

static void test_rate_limit(void **state) {
  (void)state;
  /* 1 Mbit/s = 125000 B/s, bucket 3000 B; offer 1000-byte packets at
   * 1 MB/s for 0.5 s. */
  struct us_fault *f = mk("tx:rate=1mbit,bucket=3000B,qlen=1000", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  us_time_t now = 0;
  const uint32_t n = 500;
  for (uint32_t i = 0; i < n; i++, now += 1000) {
    size_t len = mk_udp(b, 1, 2, 1000 - 28, i);
    assert_int_equal(len, 1000);
    us_fault_process(f, US_FAULT_TX, b, len, now, sink_deliver, s);
    drain(f, now, now + 999);
  }
  drain(f, now, now + 100000000);
  assert_int_equal(s->n, n);
  /* Token bucket envelope: by time t at most bucket + rate*t + one packet. */
  uint64_t bytes = 0;
  for (size_t i = 0; i < s->n; i++) {
    assert_int_equal(s->id[i], i);
    bytes += s->len[i];
    double allowed = 3000 + 125000.0 * (double)s->t[i] / 1e6 + 1000;
    assert_true((double)bytes <= allowed);
  }
  /* Long-run rate: 500 kB at 125 kB/s -> about 3.98 s for the last. */
  double last = (double)s->t[n - 1] / 1e6;
  assert_true(last > 3.9 && last < 4.05);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_true(c.rate_queued > 450);
  assert_int_equal(c.rate_dropped, 0);
  us_fault_destroy(f);
  free(s);

  /* A short queue overflows: drops are counted, the rest still arrives. */
  f = mk("tx:rate=1mbit,bucket=3000B,qlen=10", 1);
  s = sink_new(f);
  now = 0;
  for (uint32_t i = 0; i < n; i++, now += 1000) {
    size_t len = mk_udp(b, 1, 2, 1000 - 28, i);
    us_fault_process(f, US_FAULT_TX, b, len, now, sink_deliver, s);
    drain(f, now, now + 999);
  }
  drain(f, now, now + 100000000);
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_true(c.rate_dropped > 300);
  assert_int_equal(c.delivered + c.rate_dropped, n);
  assert_int_equal(c.dropped, c.rate_dropped);
  assert_int_equal(s->n, c.delivered);
  /* What got through was sent at the rate: about 0.5 s * 125 kB/s. */
  assert_true(s->n > 65 && s->n < 85);
  us_fault_destroy(f);
  free(s);
}

/* ---- 10. Blackhole ------------------------------------------------------ */

static void test_blackhole(void **state) {
  (void)state;
  struct us_fault *f = mk("tx:blackhole=5s-25s", 1);
  struct sink *s = sink_new(f);
  struct sink *stx = sink_new(f);
  uint8_t b[MAXPKT];
  const us_time_t t0 = 1000000000; /* the origin is the first `now` seen */
  for (uint32_t i = 0; i < 300; i++) {
    us_time_t now = t0 + (us_time_t)i * 100000;
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_TX, b, len, now, sink_deliver, stx);
    us_fault_process(f, US_FAULT_RX, b, len, now, sink_deliver, s);
  }
  struct us_fault_counters tx, rx;
  us_fault_counters(f, US_FAULT_TX, &tx);
  us_fault_counters(f, US_FAULT_RX, &rx);
  assert_int_equal(tx.blackholed, 200); /* packets 50..249 */
  assert_int_equal(tx.delivered, 100);
  assert_int_equal(rx.delivered, 300);
  assert_int_equal(rx.blackholed, 0);
  assert_int_equal(stx->n, 100);
  for (size_t i = 0; i < stx->n; i++)
    assert_true(stx->id[i] < 50 || stx->id[i] >= 250);
  free(stx);

  /* us_fault_set restarts the clock origin: a new window counts from the
   * next packet. Open-ended windows last until cleared. */
  char err[256];
  assert_int_equal(us_fault_set(f, "rx:blackhole=1s-", err, sizeof err), 0);
  us_time_t t1 = t0 + 100000000;
  size_t len = mk_udp(b, 1, 2, 8, 1);
  us_fault_process(f, US_FAULT_RX, b, len, t1, sink_deliver, s);
  us_fault_process(f, US_FAULT_RX, b, len, t1 + 999999, sink_deliver, s);
  us_fault_process(f, US_FAULT_RX, b, len, t1 + 1000000, sink_deliver, s);
  us_fault_process(f, US_FAULT_RX, b, len, t1 + 3600000000ll, sink_deliver, s);
  us_fault_counters(f, US_FAULT_RX, &rx);
  assert_int_equal(rx.blackholed, 2);
  us_fault_clear(f);
  us_fault_process(f, US_FAULT_RX, b, len, t1 + 3600000001ll, sink_deliver, s);
  us_fault_counters(f, US_FAULT_RX, &rx);
  assert_int_equal(rx.blackholed, 2);
  assert_int_equal(rx.delivered, 303);
  us_fault_destroy(f);
  free(s);
}

/* ---- 11. Rules ---------------------------------------------------------- */

static void test_rule_count_and_skip(void **state) {
  (void)state;
  /* "drop the first 2 SYN-ACKs" */
  struct us_fault *f = mk("tx:match=tcp.synack,count=2,action=drop", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  uint32_t id = 0;
  for (int round = 0; round < 4; round++) {
    size_t len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x12, 0, id++); /* SYN-ACK */
    us_fault_process(f, US_FAULT_TX, b, len, round, sink_deliver, s);
    len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x02, 0, id++); /* SYN */
    us_fault_process(f, US_FAULT_TX, b, len, round, sink_deliver, s);
    len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x12, 0, id++); /* SYN-ACK on RX */
    us_fault_process(f, US_FAULT_RX, b, len, round, sink_deliver, s);
  }
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.rule_dropped, 2);
  assert_int_equal(c.delivered, 6);
  /* Ids 0 and 3 (the first two TX SYN-ACKs) never came out. */
  for (size_t i = 0; i < s->n; i++)
    assert_true(s->id[i] != 0 && s->id[i] != 3);
  assert_int_equal(s->n, 10);
  us_fault_destroy(f);
  free(s);

  /* skip=1,count=1: only the second SYN is dropped. */
  f = mk("match=tcp.syn,skip=1,count=1,action=drop", 1);
  s = sink_new(f);
  for (uint32_t i = 0; i < 4; i++) {
    size_t len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x02, 0, i);
    us_fault_process(f, US_FAULT_RX, b, len, i, sink_deliver, s);
  }
  assert_int_equal(s->n, 3);
  assert_int_equal(s->id[0], 0);
  assert_int_equal(s->id[1], 2);
  assert_int_equal(s->id[2], 3);
  us_fault_destroy(f);
  free(s);
}

static void test_rule_match_atoms(void **state) {
  (void)state;
  struct {
    const char *match;
    uint8_t proto; /* 6 tcp, 17 udp */
    uint8_t flags;
    size_t payload;
    uint16_t sport, dport;
    bool want;
  } cases[] = {
    { "tcp", 6, 0x10, 0, 1, 2, true },
    { "tcp", 17, 0, 0, 1, 2, false },
    { "udp", 17, 0, 0, 1, 2, true },
    { "ip", 17, 0, 0, 1, 2, true },
    { "icmp", 6, 0, 0, 1, 2, false },
    { "tcp.syn", 6, 0x02, 0, 1, 2, true },
    { "tcp.syn", 6, 0x12, 0, 1, 2, false },
    { "tcp.synack", 6, 0x12, 0, 1, 2, true },
    { "tcp.ack", 6, 0x12, 0, 1, 2, true },
    { "tcp.ack", 6, 0x02, 0, 1, 2, false },
    { "tcp.pureack", 6, 0x10, 0, 1, 2, true },
    { "tcp.pureack", 6, 0x10, 5, 1, 2, false },
    { "tcp.pureack", 6, 0x11, 0, 1, 2, false },
    { "tcp.fin", 6, 0x11, 0, 1, 2, true },
    { "tcp.rst", 6, 0x04, 0, 1, 2, true },
    { "tcp.psh", 6, 0x18, 3, 1, 2, true },
    { "tcp.urg", 6, 0x30, 3, 1, 2, true },
    { "data", 6, 0x18, 3, 1, 2, true },
    { "data", 6, 0x10, 0, 1, 2, false },
    { "data", 17, 0, 1, 1, 2, true },
    { "tcp.ack&!data", 6, 0x10, 0, 1, 2, true },
    { "tcp.ack&!data", 6, 0x10, 9, 1, 2, false },
    { "sport:80", 6, 0x10, 0, 80, 2, true },
    { "sport:80", 6, 0x10, 0, 2, 80, false },
    { "dport:80", 6, 0x10, 0, 2, 80, true },
    { "port:80", 17, 0, 0, 2, 80, true },
    { "port:80", 17, 0, 0, 80, 2, true },
    { "port:80", 17, 0, 0, 81, 2, false },
    { "udp&dport:53", 17, 0, 0, 9, 53, true },
    { "udp&dport:53", 6, 0, 0, 9, 53, false },
    { "tcp&!dport:80", 6, 0x10, 0, 1, 80, false },
    { "tcp&!dport:80", 6, 0x10, 0, 1, 81, true },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char spec[128];
    snprintf(spec, sizeof spec, "rx:match=%s,action=drop", cases[i].match);
    struct us_fault *f = mk(spec, 1);
    struct sink *s = sink_new(f);
    uint8_t b[MAXPKT];
    size_t len = cases[i].proto == 6
                     ? mk_tcp(b, IP_A, IP_B, cases[i].sport, cases[i].dport, cases[i].flags,
                              cases[i].payload, 1)
                     : mk_udp(b, cases[i].sport, cases[i].dport, cases[i].payload, 1);
    us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
    if ((s->n == 0) != cases[i].want)
      fail_msg("case %zu: match=%s: want %s", i, cases[i].match,
               cases[i].want ? "match" : "no match");
    us_fault_destroy(f);
    free(s);
  }

  /* Packets the injector cannot parse match only `ip` (and negations). */
  uint8_t junk[10] = { 0x45, 1, 2, 3 };
  struct us_fault *f = mk("match=tcp,action=drop;match=!tcp,count=1,action=dup", 1);
  struct sink *s = sink_new(f);
  us_fault_process(f, US_FAULT_RX, junk, sizeof junk, 0, sink_deliver, s);
  assert_int_equal(s->n, 2);
  /* A TCP header claiming a data offset past the packet is not TCP. */
  uint8_t b[MAXPKT];
  size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x10, 0, 5);
  b[32] = 15 << 4;
  us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 3);
  /* A non-first fragment is not TCP either. */
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x10, 0, 5);
  b[7] = 10;
  us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 4);
  us_fault_destroy(f);
  free(s);
}

static void test_rule_handshake(void **state) {
  (void)state;
  /* Server = the stack. "drop the peer's ACKs during the handshake". */
  struct us_fault *f = mk("rx:match=tcp.ack,when=handshake,action=drop", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  size_t len;
  /* RX SYN, TX SYN-ACK, RX ACK (dropped), TX SYN-ACK again, RX ACK
   * (dropped), RX data (carries ACK: dropped too). */
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x02, 0, 1);
  us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
  len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x12, 0, 2);
  us_fault_process(f, US_FAULT_TX, b, len, 1, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x10, 0, 3);
  us_fault_process(f, US_FAULT_RX, b, len, 2, sink_deliver, s);
  len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x12, 0, 4);
  us_fault_process(f, US_FAULT_TX, b, len, 3, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x10, 0, 5);
  us_fault_process(f, US_FAULT_RX, b, len, 4, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x18, 10, 6);
  us_fault_process(f, US_FAULT_RX, b, len, 5, sink_deliver, s);
  /* Another connection that is not in its handshake: its ACKs pass. */
  len = mk_tcp(b, IP_A, IP_B, 5001, 80, 0x10, 0, 7);
  us_fault_process(f, US_FAULT_RX, b, len, 6, sink_deliver, s);
  assert_int_equal(s->n, 4);
  assert_int_equal(s->id[0], 1);
  assert_int_equal(s->id[1], 2);
  assert_int_equal(s->id[2], 4);
  assert_int_equal(s->id[3], 7);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.rule_dropped, 3);
  us_fault_destroy(f);
  free(s);

  /* Only pure ACKs: the data segment completes the handshake, and once
   * the server's answer went out, later pure ACKs are no longer dropped. */
  f = mk("rx:match=tcp.pureack,when=handshake,action=drop", 1);
  s = sink_new(f);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x02, 0, 1);
  us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
  len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x12, 0, 2);
  us_fault_process(f, US_FAULT_TX, b, len, 1, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x10, 0, 3); /* dropped */
  us_fault_process(f, US_FAULT_RX, b, len, 2, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x18, 10, 4); /* data: passes */
  us_fault_process(f, US_FAULT_RX, b, len, 3, sink_deliver, s);
  len = mk_tcp(b, IP_B, IP_A, 80, 5000, 0x10, 0, 5); /* server ACK */
  us_fault_process(f, US_FAULT_TX, b, len, 4, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x10, 0, 6); /* established now */
  us_fault_process(f, US_FAULT_RX, b, len, 5, sink_deliver, s);
  assert_int_equal(s->n, 5);
  assert_int_equal(s->id[2], 4);
  assert_int_equal(s->id[4], 6);
  /* A new SYN on the same 4-tuple starts a new handshake. */
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x02, 0, 7);
  us_fault_process(f, US_FAULT_RX, b, len, 6, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 5000, 80, 0x10, 0, 8); /* dropped again */
  us_fault_process(f, US_FAULT_RX, b, len, 7, sink_deliver, s);
  assert_int_equal(s->n, 6);
  us_fault_destroy(f);
  free(s);
}

static void test_rule_delay_fin(void **state) {
  (void)state;
  /* "delay every FIN by 3 s": the FIN is late, what follows is not. */
  struct us_fault *f = mk("both:match=tcp.fin,action=delay:3s", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x18, 10, 1);
  us_fault_process(f, US_FAULT_TX, b, len, 1000, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x11, 0, 2);
  us_fault_process(f, US_FAULT_TX, b, len, 2000, sink_deliver, s);
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x10, 0, 3);
  us_fault_process(f, US_FAULT_TX, b, len, 3000, sink_deliver, s);
  assert_int_equal(s->n, 2);
  assert_int_equal(s->id[1], 3);
  assert_int_equal(us_fault_next_deadline(f), 3002000);
  drain(f, 3000, 10000000);
  assert_int_equal(s->n, 3);
  assert_int_equal(s->id[2], 2);
  assert_int_equal(s->t[2], 3002000);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.delayed, 1);
  assert_int_equal(c.rule_hits, 1);
  us_fault_destroy(f);
  free(s);
}

static void test_rule_window_and_actions(void **state) {
  (void)state;
  /* "drop all from t=5s to t=25s", as a rule. */
  struct us_fault *f = mk("match=ip,when=5s-25s,action=drop", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  for (uint32_t i = 0; i < 30; i++) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_RX, b, len, (us_time_t)i * 1000000, sink_deliver, s);
  }
  assert_int_equal(s->n, 10);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.rule_dropped, 20);
  us_fault_destroy(f);
  free(s);

  /* pass exempts from link impairments; dup, corrupt, truncate act. */
  f =
      mk("match=tcp.syn,action=pass;match=tcp.fin,action=dup:2;"
         "match=tcp.rst,action=corrupt:5;match=udp,action=truncate:20;loss=100%",
         1);
  s = sink_new(f);
  size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x02, 0, 1);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 1);
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x10, 0, 2); /* plain ACK: lost */
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 1);
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x11, 0, 3);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 4);
  assert_int_equal(s->id[3], 3);
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x04, 0, 4);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 5);
  size_t diff = 0;
  for (size_t k = 0; k < len; k++)
    diff += (size_t)__builtin_popcount(b[k] ^ s->last[k]);
  assert_int_equal(diff, 5);
  len = mk_udp(b, 1, 2, 100, 5);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 6);
  assert_int_equal(s->last_len, 20);
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.rule_hits, 4);
  assert_int_equal(c.lost, 1);
  assert_int_equal(c.duplicated, 2);
  assert_int_equal(c.corrupted, 1);
  assert_int_equal(c.truncated, 1);
  us_fault_destroy(f);
  free(s);
}

/* ---- 12. Run-time changes, memory bounds, re-entrancy, the wrapper ------ */

static void test_set_and_clear(void **state) {
  (void)state;
  struct us_fault *f = mk("loss=100%", 1);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  size_t len = mk_udp(b, 1, 2, 8, 1);
  us_fault_process(f, US_FAULT_RX, b, len, 0, sink_deliver, s);
  assert_int_equal(s->n, 0);
  char err[256] = "";
  assert_int_equal(us_fault_set(f, "loss=7", err, sizeof err), -1);
  assert_non_null(strstr(err, "not a percentage"));
  assert_string_equal(us_fault_spec(f), "loss=100%"); /* old spec kept */
  us_fault_process(f, US_FAULT_RX, b, len, 1, sink_deliver, s);
  assert_int_equal(s->n, 0);
  us_fault_clear(f);
  assert_string_equal(us_fault_spec(f), "");
  us_fault_process(f, US_FAULT_RX, b, len, 2, sink_deliver, s);
  assert_int_equal(s->n, 1);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.lost, 2); /* counters survive a set */

  char line[512];
  int n = us_fault_format(f, line, sizeof line);
  assert_true(n > 0 && (size_t)n < sizeof line);
  assert_non_null(strstr(line, "fault seed=1 rx: seen=3 delivered=1 dropped=2 lost=2"));
  assert_non_null(strstr(line, "tx: seen=0\n"));
  assert_int_equal(us_fault_format(f, NULL, 0), n);
  /* Truncated output is still terminated. */
  char tiny[8];
  assert_int_equal(us_fault_format(f, tiny, sizeof tiny), n);
  assert_int_equal(strlen(tiny), 7);
  us_fault_counters_reset(f);
  us_fault_counters(f, US_FAULT_RX, &c);
  assert_int_equal(c.seen, 0);
  assert_int_equal(us_fault_counter_count(), 15);
  assert_string_equal(us_fault_counter_name(0), "seen");
  assert_null(us_fault_counter_name(15));
  assert_non_null(us_fault_counter_desc(3));
  c.lost = 9;
  assert_int_equal(us_fault_counter_value(&c, 3), 9);
  us_fault_destroy(f);
  free(s);
}

static void test_queue_full(void **state) {
  (void)state;
  struct us_fault_limits lim = { 4, 256 };
  char err[128];
  struct us_fault *f = us_fault_create_ex("tx:delay=10ms", 1, &lim, err, sizeof err);
  assert_non_null(f);
  struct sink *s = sink_new(f);
  uint8_t b[MAXPKT];
  for (uint32_t i = 0; i < 10; i++) {
    size_t len = mk_udp(b, 1, 2, 8, i);
    us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  }
  /* Too big for a slot. */
  size_t len = mk_udp(b, 1, 2, 500, 99);
  us_fault_process(f, US_FAULT_TX, b, len, 0, sink_deliver, s);
  assert_int_equal(us_fault_held(f), 4);
  drain(f, 0, 1000000);
  assert_int_equal(s->n, 4);
  struct us_fault_counters c;
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.queue_full, 7);
  assert_int_equal(c.dropped, 7);
  /* Slots come back. */
  for (uint32_t i = 0; i < 4; i++) {
    len = mk_udp(b, 1, 2, 8, 100 + i);
    us_fault_process(f, US_FAULT_TX, b, len, 2000000, sink_deliver, s);
  }
  drain(f, 2000000, 3000000);
  assert_int_equal(s->n, 8);
  us_fault_destroy(f);
  free(s);
  assert_null(us_fault_create_ex("", 1, &(struct us_fault_limits){ 1u << 21, 0 }, err, sizeof err));

  /* The books balance whatever drops what: dup + truncate + corrupt in
   * front of a short shaper queue and a small slot pool. */
  struct us_fault_limits lim2 = { 16, 2048 };
  f = us_fault_create_ex(
      "tx:dup=30%,copies=2;tx:truncate=20%;tx:corrupt=20%;"
      "tx:rate=1mbit,qlen=8;tx:reorder=10%;tx:loss=5%",
      3, &lim2, err, sizeof err);
  assert_non_null(f);
  s = sink_new(f);
  us_time_t now = 0;
  for (uint32_t i = 0; i < 3000; i++, now += 300) {
    len = mk_udp(b, 1, 2, 200 + i % 700, i);
    us_fault_process(f, US_FAULT_TX, b, len, now, sink_deliver, s);
  }
  drain(f, now, now + 100000000);
  assert_int_equal(us_fault_held(f), 0);
  us_fault_counters(f, US_FAULT_TX, &c);
  assert_int_equal(c.seen + c.duplicated, c.delivered + c.dropped);
  assert_int_equal(c.dropped, c.lost + c.rate_dropped + c.queue_full);
  assert_true(c.rate_dropped > 0 && c.duplicated > 0 && c.lost > 0);
  assert_int_equal(s->n, c.delivered);
  us_fault_destroy(f);
  free(s);
  assert_non_null(strstr(err, "limits"));
}

/* A sink that answers every packet at once, through the other direction,
 * for a while: the nested calls must not recurse without bound. */
struct echo {
  struct us_fault *f;
  int depth, max_depth;
  uint32_t left;
  size_t got;
};

static void echo_deliver(void *ctx, const uint8_t *pkt, size_t len) {
  struct echo *e = ctx;
  e->got++;
  e->depth++;
  if (e->depth > e->max_depth)
    e->max_depth = e->depth;
  if (e->left > 0) {
    e->left--;
    int dir = pkt[0] == 0x45 && pkt[1] == 1 ? US_FAULT_RX : US_FAULT_TX;
    uint8_t b[64];
    memcpy(b, pkt, len < sizeof b ? len : sizeof b);
    b[1] = dir == US_FAULT_RX ? 0 : 1;
    us_fault_process(e->f, (enum us_fault_dir)dir, b, len < sizeof b ? len : sizeof b,
                     us_fault_now(e->f), echo_deliver, e);
  }
  e->depth--;
}

static void test_reentrancy(void **state) {
  (void)state;
  struct us_fault *f = mk("both:dup=20%", 1);
  struct echo e = { f, 0, 0, 5000, 0 };
  uint8_t b[64];
  size_t len = mk_udp(b, 1, 2, 8, 1);
  us_fault_process(f, US_FAULT_TX, b, len, 0, echo_deliver, &e);
  drain(f, 0, 0);
  assert_int_equal(us_fault_held(f), 0);
  assert_true(e.got > 5000);
  assert_true(e.max_depth <= 2);
  us_fault_destroy(f);
}

static void test_ctl_commands(void **state) {
  (void)state;
  char out[1024];
  assert_int_equal(us_fault_ctl_command(NULL, "ss", out, sizeof out), 0);
  assert_int_equal(us_fault_ctl_command(NULL, "faulty", out, sizeof out), 0);
  assert_int_equal(us_fault_ctl_command(NULL, "fault show", out, sizeof out), 1);
  assert_non_null(strstr(out, "error: no fault injector"));
  struct us_fault *f = mk("rx:loss=100%", 9);
  assert_int_equal(us_fault_ctl_command(f, "fault show", out, sizeof out), 1);
  assert_non_null(strstr(out, "spec: 'rx:loss=100%'\nseed: 9\n"));
  assert_non_null(strstr(out, "fault seed=9 rx: seen=0"));
  assert_int_equal(us_fault_ctl_command(f, "fault set tx:loss=5", out, sizeof out), 1);
  assert_non_null(
      strstr(out, "error: fault spec clause 1 'tx:loss=5': loss: '5' is not a percentage"));
  assert_string_equal(us_fault_spec(f), "rx:loss=100%");
  assert_int_equal(us_fault_ctl_command(f, "fault set tx:dup=1%", out, sizeof out), 1);
  assert_string_equal(out, "ok: fault spec set: 'tx:dup=1%' (seed 9)\n");
  assert_string_equal(us_fault_spec(f), "tx:dup=1%");
  assert_int_equal(us_fault_ctl_command(f, "fault clear", out, sizeof out), 1);
  assert_string_equal(us_fault_spec(f), "");
  assert_int_equal(us_fault_ctl_command(f, "fault reset", out, sizeof out), 1);
  assert_string_equal(out, "ok: fault counters reset\n");
  assert_int_equal(us_fault_ctl_command(f, "fault explode", out, sizeof out), 1);
  assert_non_null(strstr(out, "unknown fault command 'explode'"));
  char tiny[4];
  assert_int_equal(us_fault_ctl_command(f, "fault show", tiny, sizeof tiny), 1);
  assert_int_equal(strlen(tiny), 3);
  us_fault_destroy(f);
}

struct vclock {
  us_time_t now;
};
static us_time_t vclock_now(void *ctx) { return ((struct vclock *)ctx)->now; }

struct rxrec {
  size_t n;
  us_time_t at;
};
static void rx_record(void *ctx, const uint8_t *pkt, size_t len, const struct us_rx_meta *meta,
                      us_time_t now) {
  struct rxrec *r = ctx;
  (void)pkt;
  (void)len;
  assert_null(meta); /* the injector never passes offload metadata on */
  r->n++;
  r->at = now;
}

static void test_device_wrapper(void **state) {
  (void)state;
  struct us_fault *f = mk("tx:delay=5ms;tx:match=tcp.syn,action=drop", 1);
  struct sink *s = sink_new(f);
  struct vclock vc = { 1000 };
  struct us_device inner = { sink_deliver, s };
  struct us_fault_wrap w;
  us_fault_wrap_init(&w, f);
  struct us_device dev = us_fault_wrap_tx(&w, &inner, vclock_now, &vc);
  uint8_t b[MAXPKT];
  size_t len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x02, 0, 1);
  dev.tx(dev.ctx, b, len);
  len = mk_tcp(b, IP_A, IP_B, 1, 2, 0x10, 0, 2);
  dev.tx(dev.ctx, b, len);
  assert_int_equal(s->n, 0);
  assert_int_equal(us_fault_next_deadline(f), 6000);
  vc.now = 6000;
  assert_int_equal(us_fault_poll(f, vc.now), US_TIME_NEVER);
  assert_int_equal(s->n, 1);
  assert_int_equal(s->id[0], 2);
  assert_int_equal(s->t[0], 6000);
  us_fault_destroy(f);
  free(s);

  /* The RX sink wrapper hands on the release time; the tick releases. */
  f = mk("rx:delay=3ms", 1);
  struct rxrec r = { 0, 0 };
  struct us_rx_sink in = { rx_record, &r };
  us_fault_wrap_init(&w, f);
  struct us_rx_sink rx = us_fault_wrap_rx(&w, &in);
  len = mk_udp(b, 1, 2, 8, 5);
  rx.rx(rx.ctx, b, len, NULL, 100);
  assert_int_equal(r.n, 0);
  assert_int_equal(us_fault_tick(f, 3099), 3100);
  assert_int_equal(us_fault_tick(f, 3150), US_TIME_NEVER);
  assert_int_equal(r.n, 1);
  assert_int_equal(r.at, 3150);
  us_time_t t = 77;
  assert_int_equal(us_fault_clock_ref(&t), 77);
  /* A clock set later drives the TX wrapper. */
  struct sink *s2 = sink_new(f);
  struct us_device inner2 = { sink_deliver, s2 };
  struct us_device dev2 = us_fault_wrap_tx(&w, &inner2, NULL, NULL);
  t = 5000;
  us_fault_wrap_set_clock(&w, us_fault_clock_ref, &t);
  dev2.tx(dev2.ctx, b, len);
  assert_int_equal(s2->n, 1);
  assert_int_equal(s2->t[0], 5000);
  free(s2);
  us_fault_destroy(f);
  us_fault_destroy(NULL);
  assert_true(us_fault_seed_from_os() != us_fault_seed_from_os());
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_grammar_accepts),
    cmocka_unit_test(test_grammar_rejects),
    cmocka_unit_test(test_determinism),
    cmocka_unit_test(test_direction_independence),
    cmocka_unit_test(test_loss_rate),
    cmocka_unit_test(test_loss_burst),
    cmocka_unit_test(test_dup),
    cmocka_unit_test(test_reorder_gap),
    cmocka_unit_test(test_reorder_hold_time),
    cmocka_unit_test(test_corrupt_exact_bits),
    cmocka_unit_test(test_truncate),
    cmocka_unit_test(test_delay_jitter),
    cmocka_unit_test(test_rate_limit),
    cmocka_unit_test(test_blackhole),
    cmocka_unit_test(test_rule_count_and_skip),
    cmocka_unit_test(test_rule_match_atoms),
    cmocka_unit_test(test_rule_handshake),
    cmocka_unit_test(test_rule_delay_fin),
    cmocka_unit_test(test_rule_window_and_actions),
    cmocka_unit_test(test_set_and_clear),
    cmocka_unit_test(test_queue_full),
    cmocka_unit_test(test_reentrancy),
    cmocka_unit_test(test_ctl_commands),
    cmocka_unit_test(test_device_wrapper),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
