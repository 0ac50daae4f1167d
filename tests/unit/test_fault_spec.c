/*
 * test_fault_spec.c - the fault injector's spec grammar (stack/fault/fault_spec.h): accepted
 * specs, and rejected ones with the piece of the message each must produce.
 *
 * On a virtual clock; statistical tolerances are a few standard deviations
 * wide and the seeds are fixed, so the runs are exact replays and cannot
 * flake. Helpers are in fault_test.h.
 */
#include "fault_test.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_grammar_accepts),
    cmocka_unit_test(test_grammar_rejects),
  };
  return H_RUN("fault_spec", tests);
}
