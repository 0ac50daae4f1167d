/*
 * test_addr.c - us_addr_t and us_endpoint_t: building, comparing, and the
 * text forms both ways (RFC 4291 2.2 input, RFC 5952 output).
 */
#include <string.h>

#include "harness.h"

static us_addr_t parsed(const char *text) {
  us_addr_t a;
  if (!us_addr_parse(text, &a))
    fail_msg("'%s' did not parse", text);
  return a;
}

static void test_v4_mapped_storage(void **st) {
  (void)st;
  us_addr_t a = us_addr_v4(US_IP4(10, 0, 0, 2));
  assert_true(us_addr_is_v4(a));
  assert_false(us_addr_is_v6(a));
  assert_int_equal(us_addr_ip4(a), US_IP4(10, 0, 0, 2));
  static const uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 2 };
  assert_memory_equal(a.b, mapped, 16);
  /* The same 16 bytes as an IPv6 address are a different address. */
  us_addr_t v6 = us_addr_v6(mapped);
  assert_false(us_addr_eq(a, v6));
  assert_int_equal(us_addr_ip4(v6), 0);
  assert_true(us_addr_eq(a, us_addr_v4(US_IP4(10, 0, 0, 2))));
  assert_false(us_addr_eq(a, us_addr_v4(US_IP4(10, 0, 0, 3))));
}

static void test_any(void **st) {
  (void)st;
  us_addr_t none = { 0 };
  assert_true(us_addr_is_any(none));
  assert_true(us_addr_is_any(us_addr_v4(0)));
  assert_true(us_addr_is_any(parsed("::")));
  assert_false(us_addr_is_any(parsed("::1")));
  assert_false(us_addr_is_any(us_addr_v4(US_IP4(0, 0, 0, 1))));
}

static void test_endpoint_eq(void **st) {
  (void)st;
  us_endpoint_t a = us_endpoint(parsed("fd00::2"), 443);
  assert_true(us_endpoint_eq(a, us_endpoint(parsed("fd00:0::2"), 443)));
  assert_false(us_endpoint_eq(a, us_endpoint(parsed("fd00::2"), 444)));
  assert_false(us_endpoint_eq(a, us_endpoint(parsed("fd00::3"), 443)));
}

struct fmt_case {
  const char *in, *out;
};

/* Input as RFC 4291 allows it, output as RFC 5952 section 4 writes it. */
static const struct fmt_case fmt_cases[] = {
  { "10.0.0.2", "10.0.0.2" },
  { "0.0.0.0", "0.0.0.0" },
  { "255.255.255.255", "255.255.255.255" },
  { "fd00::2", "fd00::2" },
  { "FD00:0000:0000:0000:0000:0000:0000:0002", "fd00::2" }, /* 4.3 lower case, 4.1 zeros */
  { "::", "::" },
  { "::1", "::1" },
  { "1::", "1::" },
  { "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },    /* 4.2.3: the first of two equal runs */
  { "2001:0:0:1:0:0:0:1", "2001:0:0:1::1" },          /* 4.2.3: the longest run */
  { "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" }, /* 4.2.2: one zero group stays */
  { "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8" },
  { "::ffff:10.0.0.2", "::ffff:10.0.0.2" }, /* section 5 */
  { "::ffff:a00:2", "::ffff:10.0.0.2" },
  { "64:ff9b::192.0.2.33", "64:ff9b::c000:221" },
  { "fe80::1:2:3:4:5:6", "fe80:0:1:2:3:4:5:6" },
};

static void test_format_round_trip(void **st) {
  (void)st;
  for (size_t i = 0; i < sizeof fmt_cases / sizeof fmt_cases[0]; i++) {
    char buf[US_ADDR_STRLEN];
    int n = us_addr_format(parsed(fmt_cases[i].in), buf, sizeof buf);
    if (strcmp(buf, fmt_cases[i].out) != 0 || n != (int)strlen(fmt_cases[i].out))
      fail_msg("%s: got '%s' (%d) want '%s'", fmt_cases[i].in, buf, n, fmt_cases[i].out);
    /* What we write parses back to the same address. */
    assert_true(us_addr_eq(parsed(buf), parsed(fmt_cases[i].in)));
  }
}

static void test_format_longest_fits(void **st) {
  (void)st;
  char buf[US_ADDR_STRLEN];
  const char *longest = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  assert_int_equal(us_addr_format(parsed(longest), buf, sizeof buf), (int)strlen(longest));
  assert_string_equal(buf, longest);
  char ep[US_ENDPOINT_STRLEN];
  us_endpoint_format(us_endpoint(parsed(longest), 65535), ep, sizeof ep);
  assert_string_equal(ep, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
  us_addr_t none = { 0 };
  us_addr_format(none, buf, sizeof buf);
  assert_string_equal(buf, "*");
  us_endpoint_format(us_endpoint(none, 443), ep, sizeof ep);
  assert_string_equal(ep, "*:443");
}

/* A short buffer gets the start of the text and a NUL; the return value
 * is the full length, as snprintf's. */
static void test_format_truncates(void **st) {
  (void)st;
  char buf[8];
  memset(buf, 'x', sizeof buf);
  assert_int_equal(us_addr_format(parsed("192.168.100.200"), buf, 5), 15);
  assert_string_equal(buf, "192.");
  assert_int_equal(buf[5], 'x');
  assert_int_equal(us_addr_format(parsed("::1"), buf, 0), 3);
  assert_int_equal(buf[0], '1'); /* cap 0: nothing written */
}

static void test_endpoint_format(void **st) {
  (void)st;
  char buf[US_ENDPOINT_STRLEN];
  us_endpoint_format(us_endpoint(us_addr_v4(US_IP4(10, 0, 0, 2)), 80), buf, sizeof buf);
  assert_string_equal(buf, "10.0.0.2:80");
  us_endpoint_format(us_endpoint(parsed("fd00::2"), 443), buf, sizeof buf);
  assert_string_equal(buf, "[fd00::2]:443");
}

static const char *const bad_addrs[] = {
  "",
  "1.2.3",
  "1.2.3.4.5",
  "256.1.1.1",
  "01.2.3.4", /* leading zero: octal to inet_aton */
  "1.2.3.4 ",
  " 1.2.3.4",
  "1..2.3",
  "1.2.3.-4",
  ":",
  ":::",
  "1:",
  ":1",
  "1::2::3",
  "12345::",
  "1:2:3:4:5:6:7",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7::8", /* "::" standing for no group */
  "1:2:3:4:5:6:7:8::",
  "g::1",
  "::1.2.3.4.5",
  "1.2.3.4::",
  "::1.2.3",
  "1:2:3:4:5:6:7:1.2.3.4", /* dotted quad in the last group only */
  "fd00::2%eth0",
};

static void test_parse_rejects(void **st) {
  (void)st;
  for (size_t i = 0; i < sizeof bad_addrs / sizeof bad_addrs[0]; i++) {
    us_addr_t a = us_addr_v4(US_IP4(9, 9, 9, 9));
    if (us_addr_parse(bad_addrs[i], &a))
      fail_msg("'%s' parsed", bad_addrs[i]);
    assert_int_equal(us_addr_ip4(a), US_IP4(9, 9, 9, 9)); /* left alone */
  }
  assert_false(us_addr_parse(NULL, NULL));
}

static void test_endpoint_parse(void **st) {
  (void)st;
  us_endpoint_t e;
  assert_true(us_endpoint_parse("10.0.0.2:8080", &e));
  assert_true(us_endpoint_eq(e, us_endpoint(us_addr_v4(US_IP4(10, 0, 0, 2)), 8080)));
  assert_true(us_endpoint_parse("[fd00::2]:443", &e));
  assert_true(us_endpoint_eq(e, us_endpoint(parsed("fd00::2"), 443)));
  assert_true(us_endpoint_parse("[::]:0", &e));
  assert_int_equal(e.port, 0);
  static const char *const bad[] = {
    "10.0.0.2",   "10.0.0.2:",     "10.0.0.2:65536", "10.0.0.2:-1",  "10.0.0.2:+1",
    "fd00::2:80", "[10.0.0.2]:80", "[fd00::2]",      "[fd00::2]443", "[fd00::2:443",
    "[]:80",      ":80",           "[fd00::2]:80x",  "10.0.0.2:80 ",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (us_endpoint_parse(bad[i], &e))
      fail_msg("'%s' parsed", bad[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_v4_mapped_storage),   cmocka_unit_test(test_any),
    cmocka_unit_test(test_endpoint_eq),         cmocka_unit_test(test_format_round_trip),
    cmocka_unit_test(test_format_longest_fits), cmocka_unit_test(test_format_truncates),
    cmocka_unit_test(test_endpoint_format),     cmocka_unit_test(test_parse_rejects),
    cmocka_unit_test(test_endpoint_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
