/*
 * test_tbucket.c - the token bucket of stack/core/tbucket.h in both of its
 * uses: as a policer (us_tbucket_take: may this go now?) for the ICMP and
 * RST rate limits, and as a shaper (us_tshaper: when may this go?) for the
 * fault injector's rate=. Pure arithmetic on a virtual clock.
 */
#include "harness.h"

#include "core/tbucket.h"

static void test_take_starts_full_and_refills(void **state) {
  (void)state;
  struct us_tbucket tb = { 0 };
  /* 10 tokens/s, burst 3: three at once, then one every 100 ms. */
  for (int i = 0; i < 3; i++)
    assert_true(us_tbucket_take(&tb, 10, 3, US_SEC(5)));
  assert_false(us_tbucket_take(&tb, 10, 3, US_SEC(5)));
  assert_false(us_tbucket_take(&tb, 10, 3, US_SEC(5) + US_MSEC(99)));
  assert_true(us_tbucket_take(&tb, 10, 3, US_SEC(5) + US_MSEC(100)));
  assert_false(us_tbucket_take(&tb, 10, 3, US_SEC(5) + US_MSEC(100)));
  /* A long idle spell refills to the burst, never beyond. */
  int n = 0;
  while (us_tbucket_take(&tb, 10, 3, US_SEC(60)))
    n++;
  assert_int_equal(n, 3);
}

static void test_take_edges(void **state) {
  (void)state;
  struct us_tbucket tb = { 0 };
  /* Rate 0: no limit. */
  for (int i = 0; i < 1000; i++)
    assert_true(us_tbucket_take(&tb, 0, 0, 0));
  /* Burst 0 is taken as 1. */
  struct us_tbucket one = { 0 };
  assert_true(us_tbucket_take(&one, 1, 0, US_SEC(1)));
  assert_false(us_tbucket_take(&one, 1, 0, US_SEC(1)));
  assert_true(us_tbucket_take(&one, 1, 0, US_SEC(2)));
  /* Time going backwards refills nothing. */
  assert_false(us_tbucket_take(&one, 1, 0, US_SEC(1)));
}

/* The shaper, as the fault injector drives it: a packet leaves at
 * max(now, ready) and then advances the bucket. */
static int64_t shape(struct us_tshaper *sh, uint64_t rate, uint64_t bucket, uint64_t bytes,
                     int64_t now_ns) {
  int64_t at = us_tshaper_ready_ns(sh, rate, bucket);
  if (at < now_ns)
    at = now_ns;
  us_tshaper_sent(sh, at, bytes, rate);
  return at;
}

static void test_shaper_burst_then_rate(void **state) {
  (void)state;
  struct us_tshaper sh = { 0 };
  const uint64_t rate = 1000, bucket = 3000; /* bytes/s, bytes */
  const int64_t t0 = 10 * 1000000000ll;
  /* A full bucket lets 3000 bytes go at once, and one more packet (GCRA
   * conforms while TAT - bucket/rate <= now). */
  for (int i = 0; i < 4; i++)
    assert_int_equal(shape(&sh, rate, bucket, 1000, t0), t0);
  /* Then one 1000-byte packet per second, exactly. */
  for (int i = 1; i <= 5; i++)
    assert_int_equal(shape(&sh, rate, bucket, 1000, t0), t0 + i * 1000000000ll);
}

static void test_shaper_idle_refills_to_bucket_only(void **state) {
  (void)state;
  struct us_tshaper sh = { 0 };
  const uint64_t rate = 125000, bucket = 1500; /* 1 Mbit/s */
  int64_t now = 0;
  assert_int_equal(shape(&sh, rate, bucket, 1500, now), 0);
  assert_int_equal(shape(&sh, rate, bucket, 1500, now), 0);
  /* The third waits one serialisation time: 1500 B at 125000 B/s = 12 ms. */
  assert_int_equal(shape(&sh, rate, bucket, 1500, now), 12000000);
  /* An hour of idling earns one bucket, not an hour of tokens. */
  now = 3600ll * 1000000000ll;
  assert_int_equal(shape(&sh, rate, bucket, 1500, now), now);
  assert_int_equal(shape(&sh, rate, bucket, 1500, now), now);
  assert_int_equal(shape(&sh, rate, bucket, 1500, now), now + 12000000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_take_starts_full_and_refills),
    cmocka_unit_test(test_take_edges),
    cmocka_unit_test(test_shaper_burst_then_rate),
    cmocka_unit_test(test_shaper_idle_refills_to_bucket_only),
  };
  return H_RUN("tbucket", tests);
}
