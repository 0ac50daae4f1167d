/*
 * test_http_decide.c - the file server's answers (apps/ustackd/http_decide.c):
 * request checks (version, Host, Expect, method), conditional requests
 * (If-None-Match, If-Modified-Since), byte ranges and If-Range, and the
 * date and ETag formats. Pure functions: a request struct and file
 * metadata in, a decision out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#include "http_decide.h"

/* 2026-12-03T07:00:00Z */
#define MTIME INT64_C(1796281200)

static const struct http_file file1000 = {
  .size = 1000, .mtime_s = MTIME, .mtime_ns = 5, .ino = 42
};

static void set(struct http_val *v, const char *s) {
  v->present = true;
  v->len = strlen(s);
  memcpy(v->v, s, v->len + 1);
}

static struct http_req get11(void) {
  struct http_req r;
  memset(&r, 0, sizeof r);
  r.method = HTTP_M_GET;
  r.major = 1;
  r.minor = 1;
  r.host_count = 1;
  return r;
}

static struct http_decision decide(const struct http_req *r) {
  struct http_decision d;
  memset(&d, 0xa5, sizeof d);
  http_decide_file(r, &file1000, &d);
  return d;
}

static void test_check_request(void **st) {
  (void)st;
  struct http_req r = get11();
  assert_int_equal(http_check_request(&r), 0);
  r.host_count = 0; /* RFC 9112 3.2 */
  assert_int_equal(http_check_request(&r), 400);
  r.minor = 0; /* HTTP/1.0 may omit Host */
  assert_int_equal(http_check_request(&r), 0);
  r = get11();
  r.host_count = 2;
  assert_int_equal(http_check_request(&r), 400);
  r = get11();
  r.host_empty = true;
  assert_int_equal(http_check_request(&r), 400);
  r = get11();
  r.major = 2;
  assert_int_equal(http_check_request(&r), 505);
  r = get11();
  r.method = HTTP_M_OTHER;
  assert_int_equal(http_check_request(&r), 405);
  r = get11();
  r.method = HTTP_M_HEAD;
  assert_int_equal(http_check_request(&r), 0);
}

static void test_expect(void **st) {
  (void)st;
  struct http_req r = get11();
  set(&r.expect, " 100-Continue ");
  assert_int_equal(http_check_request(&r), 0);
  set(&r.expect, "200-ok");
  assert_int_equal(http_check_request(&r), 417);
  /* A POST with Expect: 100-continue is refused with 405 at once. */
  r = get11();
  r.method = HTTP_M_OTHER;
  set(&r.expect, "100-continue");
  assert_int_equal(http_check_request(&r), 405);
}

static void test_plain_get_and_head(void **st) {
  (void)st;
  struct http_req r = get11();
  struct http_decision d = decide(&r);
  assert_int_equal(d.status, 200);
  assert_int_equal(d.off, 0);
  assert_int_equal(d.len, 1000);
  assert_true(d.body);
  r.method = HTTP_M_HEAD;
  d = decide(&r);
  assert_int_equal(d.status, 200);
  assert_int_equal(d.len, 1000);
  assert_false(d.body);
}

static void test_ranges(void **st) {
  (void)st;
  static const struct {
    const char *range;
    int status;
    uint64_t off, len;
  } cases[] = {
    { "bytes=0-99", 206, 0, 100 },
    { "bytes=100-", 206, 100, 900 },
    { "bytes=-10", 206, 990, 10 },
    { "bytes=-5000", 206, 0, 1000 },
    { "bytes=990-5000", 206, 990, 10 },
    { "BYTES=5-5", 206, 5, 1 },
    { "bytes=999-999", 206, 999, 1 },
    { "bytes=1000-", 416, 0, 0 },
    { "bytes=5000-6000", 416, 0, 0 },
    { "bytes=-0", 416, 0, 0 },
    { "bytes=0-1,5-6", 200, 0, 1000 }, /* several ranges: whole file */
    { "items=0-5", 200, 0, 1000 },
    { "bytes=5-1", 200, 0, 1000 },
    { "bytes=a-b", 200, 0, 1000 },
    { "bytes=", 200, 0, 1000 },
    { "bytes=99999999999999999999-", 200, 0, 1000 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct http_req r = get11();
    set(&r.range, cases[i].range);
    struct http_decision d = decide(&r);
    if (d.status != cases[i].status)
      fail_msg("Range: %s -> %d, want %d", cases[i].range, d.status, cases[i].status);
    assert_int_equal(d.off, cases[i].off);
    assert_int_equal(d.len, cases[i].len);
    assert_int_equal(d.body, cases[i].status != 416);
  }
}

static void test_range_on_empty_file(void **st) {
  (void)st;
  uint64_t off, len;
  assert_int_equal(http_range_parse("bytes=0-", 8, 0, &off, &len), -1);
  assert_int_equal(http_range_parse("bytes=-1", 8, 0, &off, &len), -1);
}

static void test_etag_and_date_format(void **st) {
  (void)st;
  char etag[64], date[64];
  http_etag(&file1000, etag, sizeof etag);
  assert_string_equal(etag, "\"2a-18edac3bfab66005-3e8\"");
  http_date(784111777, date, sizeof date); /* RFC 9110 5.6.7's example */
  assert_string_equal(date, "Sun, 06 Nov 1994 08:49:37 GMT");
  int64_t t = 0;
  assert_int_equal(http_date_parse(date, strlen(date), &t), 0);
  assert_int_equal(t, 784111777);
  /* The two obsolete forms a recipient MUST accept. */
  const char *rfc850 = "Sunday, 06-Nov-94 08:49:37 GMT", *asc = "Sun Nov  6 08:49:37 1994";
  assert_int_equal(http_date_parse(rfc850, strlen(rfc850), &t), 0);
  assert_int_equal(t, 784111777);
  assert_int_equal(http_date_parse(asc, strlen(asc), &t), 0);
  assert_int_equal(t, 784111777);
  assert_int_equal(http_date_parse("yesterday", 9, &t), -1);
  assert_int_equal(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT junk", 34, &t), -1);
}

static void test_if_none_match(void **st) {
  (void)st;
  char etag[64], list[200];
  http_etag(&file1000, etag, sizeof etag);
  struct http_req r = get11();
  set(&r.if_none_match, etag);
  assert_int_equal(decide(&r).status, 304);
  assert_false(decide(&r).body);
  snprintf(list, sizeof list, "\"x\", W/%s", etag); /* weak comparison */
  set(&r.if_none_match, list);
  assert_int_equal(decide(&r).status, 304);
  set(&r.if_none_match, "*");
  assert_int_equal(decide(&r).status, 304);
  set(&r.if_none_match, "\"other\"");
  assert_int_equal(decide(&r).status, 200);
  /* If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3). */
  set(&r.if_modified_since, "Fri, 01 Jan 2100 00:00:00 GMT");
  assert_int_equal(decide(&r).status, 200);
  r.if_none_match.too_long = true; /* a list we could not keep: ignored */
  set(&r.if_none_match, etag);
  r.if_none_match.too_long = true;
  r.if_modified_since.present = false;
  assert_int_equal(decide(&r).status, 200);
}

static void test_if_modified_since(void **st) {
  (void)st;
  char date[64];
  struct http_req r = get11();
  http_date(MTIME, date, sizeof date);
  set(&r.if_modified_since, date);
  assert_int_equal(decide(&r).status, 304);
  http_date(MTIME - 1, date, sizeof date);
  set(&r.if_modified_since, date);
  assert_int_equal(decide(&r).status, 200);
  http_date(MTIME + 3600, date, sizeof date);
  set(&r.if_modified_since, date);
  assert_int_equal(decide(&r).status, 304);
  set(&r.if_modified_since, "not a date");
  assert_int_equal(decide(&r).status, 200);
  /* A 304 wins over Range. */
  http_date(MTIME, date, sizeof date);
  set(&r.if_modified_since, date);
  set(&r.range, "bytes=0-1");
  assert_int_equal(decide(&r).status, 304);
}

static void test_if_range(void **st) {
  (void)st;
  char etag[64], date[64];
  http_etag(&file1000, etag, sizeof etag);
  struct http_req r = get11();
  set(&r.range, "bytes=10-19");
  set(&r.if_range, etag);
  assert_int_equal(decide(&r).status, 206);
  set(&r.if_range, "\"stale\"");
  assert_int_equal(decide(&r).status, 200);
  char weak[80];
  snprintf(weak, sizeof weak, "W/%s", etag); /* strong comparison only */
  set(&r.if_range, weak);
  assert_int_equal(decide(&r).status, 200);
  http_date(MTIME, date, sizeof date);
  set(&r.if_range, date);
  assert_int_equal(decide(&r).status, 206);
  http_date(MTIME - 60, date, sizeof date);
  set(&r.if_range, date);
  assert_int_equal(decide(&r).status, 200);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_check_request),
    cmocka_unit_test(test_expect),
    cmocka_unit_test(test_plain_get_and_head),
    cmocka_unit_test(test_ranges),
    cmocka_unit_test(test_range_on_empty_file),
    cmocka_unit_test(test_etag_and_date_format),
    cmocka_unit_test(test_if_none_match),
    cmocka_unit_test(test_if_modified_since),
    cmocka_unit_test(test_if_range),
  };
  return H_RUN("http_decide", tests);
}
