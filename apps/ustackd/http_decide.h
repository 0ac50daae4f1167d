/*
 * http_decide.h - what the file server answers, as pure functions.
 *
 * The HTTP service (httpd.h) parses a request, looks the file up, and then
 * asks this module what to send: the status code, which bytes of the file,
 * and the validator and range header lines. No I/O, no clock, no parser:
 * the inputs are a filled struct http_req and a struct http_file, so every
 * rule below is unit-tested with cmocka (tests/unit/test_http_decide.c).
 *
 * Rules, in the order they are applied (RFC 9110 and RFC 9112):
 *  1. http_check_request(): 505 for a major version other than 1;
 *     400 for HTTP/1.1 without exactly one Host (RFC 9112 3.2);
 *     417 for an Expect other than 100-continue (RFC 9110 10.1.1);
 *     405 for a method other than GET and HEAD. These are decided as soon
 *     as the head is parsed, so a client waiting for "100 Continue" gets
 *     its final answer at once instead of timing out.
 *  2. http_decide_file(): If-None-Match (weak comparison, RFC 9110 13.1.2)
 *     or, without it, If-Modified-Since (RFC 9110 13.1.3) give 304;
 *     then Range (RFC 9110 14.2): one byte range gives 206 with
 *     Content-Range, an unsatisfiable one 416 with a Content-Range of
 *     "bytes", an asterisk, a slash and the size; a range set with
 *     several ranges, a unit other than bytes or bad syntax is ignored
 *     (200 with the whole file, which RFC 9110 14.2 allows). If-Range (RFC 9110 13.1.5) that does
 *     not match turns the range off. If-Match and If-Unmodified-Since are
 *     not implemented.
 */
#ifndef USTACKD_HTTP_DECIDE_H
#define USTACKD_HTTP_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_req_method { HTTP_M_GET, HTTP_M_HEAD, HTTP_M_OTHER };

/* Longest header value kept for the decision (Range, If-*, Expect);
 * longer values are marked `*_long` and the header is ignored. */
#define HTTP_VAL_MAX 512

struct http_val {
  char v[HTTP_VAL_MAX];
  size_t len;
  bool present, too_long;
};

/* What the decision needs from a parsed request head. */
struct http_req {
  enum http_req_method method;
  unsigned major, minor;
  unsigned host_count; /* Host header lines seen */
  bool host_empty;     /* a Host line with an empty value */
  bool has_body;       /* Content-Length > 0 or chunked */
  struct http_val expect, range, if_range, if_none_match, if_modified_since;
};

/* The file a request maps to. */
struct http_file {
  uint64_t size;
  int64_t mtime_s; /* seconds since 1970 (UTC) */
  long mtime_ns;
  uint64_t ino;
};

struct http_decision {
  int status;        /* 200, 206, 304, 416 */
  uint64_t off, len; /* the bytes of the file in the body */
  bool body;         /* false for HEAD, 304 */
};

/* Rule 1: 0 if the request may be served, else the status to answer. */
int http_check_request(const struct http_req *r);

/* Rule 2: the answer for a GET/HEAD of `f`. */
void http_decide_file(const struct http_req *r, const struct http_file *f, struct http_decision *d);

/* The strong validator (RFC 9110 8.8.3) of `f`, quotes included:
 * "<inode>-<mtime>-<size>" in hex. `cap` >= 64. */
void http_etag(const struct http_file *f, char *out, size_t cap);

/* IMF-fixdate (RFC 9110 5.6.7) of `t`, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
 * `cap` >= 30. */
void http_date(int64_t t, char *out, size_t cap);

/* Parse an HTTP date in any of the three formats RFC 9110 5.6.7 says a
 * recipient MUST accept. 0 and *t, or -1. */
int http_date_parse(const char *s, size_t len, int64_t *t);

/* Parse a Range value against a representation of `size` bytes.
 * 1: one satisfiable range, [*off, *off + *len);  0: ignore the header
 * (bad syntax, other unit, several ranges);  -1: unsatisfiable (416). */
int http_range_parse(const char *s, size_t len, uint64_t size, uint64_t *off, uint64_t *rlen);

#endif
