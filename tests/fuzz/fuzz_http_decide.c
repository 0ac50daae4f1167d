/*
 * fuzz_http_decide.c - libFuzzer over the file server's decision rules
 * (apps/ustackd/http_decide.c), which read header values straight from the
 * network: Range, If-Range, If-None-Match, If-Modified-Since, Expect.
 *
 * Input: 8 bytes of file size (big-endian), 1 byte of flags (method, HTTP
 * minor version, Host count), then the five header values separated by
 * '\n' (missing ones are absent). Checked invariants: every answer is one
 * of the statuses the rules can give, and a 206 names a non-empty range
 * inside the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_decide.h"

static const uint8_t *take(const uint8_t *p, const uint8_t *end, struct http_val *v) {
  if (p >= end)
    return p;
  const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
  size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
  v->present = true;
  if (n >= sizeof v->v)
    v->too_long = true;
  else {
    memcpy(v->v, p, n);
    v->v[n] = '\0';
    v->len = n;
  }
  return nl ? nl + 1 : end;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 9)
    return 0;
  struct http_file f = { 0 };
  for (int i = 0; i < 8; i++)
    f.size = f.size << 8 | data[i];
  f.mtime_s = 1796281200;
  f.ino = 42;
  struct http_req r;
  memset(&r, 0, sizeof r);
  r.method = (enum http_req_method)(data[8] % 3);
  r.major = 1;
  r.minor = (data[8] >> 2) & 1;
  r.host_count = (data[8] >> 3) & 3;
  const uint8_t *p = data + 9, *end = data + size;
  p = take(p, end, &r.range);
  p = take(p, end, &r.if_range);
  p = take(p, end, &r.if_none_match);
  p = take(p, end, &r.if_modified_since);
  (void)take(p, end, &r.expect);

  int st = http_check_request(&r);
  if (st != 0 && st != 400 && st != 405 && st != 417)
    abort();
  struct http_decision d;
  http_decide_file(&r, &f, &d);
  switch (d.status) {
  case 200:
    if (d.off != 0 || d.len != f.size)
      abort();
    break;
  case 206:
    if (d.len == 0 || d.off >= f.size || d.len > f.size - d.off)
      abort();
    break;
  case 304:
  case 416:
    if (d.body)
      abort();
    break;
  default:
    abort();
  }
  return 0;
}
