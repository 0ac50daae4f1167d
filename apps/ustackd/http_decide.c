/*
 * http_decide.c - the file server's answers as pure functions (see
 * http_decide.h for the rules and their order). Everything here is a
 * function of its arguments: no I/O, no clock.
 */
#include "http_decide.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* RFC 9110 5.6.3: optional whitespace is SP or HTAB. */
static bool is_ows(char ch) { return ch == ' ' || ch == '\t'; }

static void trim(const char **s, size_t *len) {
  while (*len && is_ows(**s)) {
    (*s)++;
    (*len)--;
  }
  while (*len && is_ows((*s)[*len - 1]))
    (*len)--;
}

int http_check_request(const struct http_req *r) {
  if (r->major != 1)
    return 505; /* RFC 9110 15.6.6 */
  /* RFC 9112 3.2: a 1.1 request without Host, or with more than one, or
   * with an invalid one, MUST get 400. HTTP/1.0 may omit it. */
  if (r->host_count > 1 || (r->minor >= 1 && (r->host_count == 0 || r->host_empty)))
    return 400;
  if (r->expect.present) {
    const char *v = r->expect.v;
    size_t n = r->expect.len;
    trim(&v, &n);
    /* RFC 9110 10.1.1: 100-continue is the only expectation defined. */
    if (r->expect.too_long || n != 12 || strncasecmp(v, "100-continue", 12) != 0)
      return 417;
  }
  if (r->method == HTTP_M_OTHER)
    return 405; /* this server only reads files */
  return 0;
}

/* ---- validators ------------------------------------------------------------ */

/* Hex digits of v, most significant first, no leading zeros. */
static size_t put_hex(char *out, uint64_t v) {
  char t[16];
  size_t n = 0;
  do {
    t[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  for (size_t i = 0; i < n; i++)
    out[i] = t[n - 1 - i];
  return n;
}

/* Formatted by hand: this runs for every response (printf and strftime
 * were a quarter of the server's CPU time per small request). */
void http_etag(const struct http_file *f, char *out, size_t cap) {
  char t[64];
  uint64_t mt = (uint64_t)f->mtime_s * 1000000000u + (uint64_t)f->mtime_ns;
  size_t n = 0;
  t[n++] = '"';
  n += put_hex(t + n, f->ino);
  t[n++] = '-';
  n += put_hex(t + n, mt);
  t[n++] = '-';
  n += put_hex(t + n, f->size);
  t[n++] = '"';
  if (cap == 0)
    return;
  if (n >= cap)
    n = cap - 1;
  memcpy(out, t, n);
  out[n] = '\0';
}

static void put2(char *p, int v) {
  p[0] = (char)('0' + v / 10 % 10);
  p[1] = (char)('0' + v % 10);
}

void http_date(int64_t t, char *out, size_t cap) {
  static const char days[] = "SunMonTueWedThuFriSat";
  static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  time_t tt = (time_t)t;
  struct tm tm;
  char d[30] = "Thu, 01 Jan 1970 00:00:00 GMT";
  if (gmtime_r(&tt, &tm) && tm.tm_year + 1900 >= 0 && tm.tm_year + 1900 <= 9999) {
    memcpy(d, days + 3 * tm.tm_wday, 3);
    put2(d + 5, tm.tm_mday);
    memcpy(d + 8, months + 3 * tm.tm_mon, 3);
    put2(d + 12, (tm.tm_year + 1900) / 100);
    put2(d + 14, (tm.tm_year + 1900) % 100);
    put2(d + 17, tm.tm_hour);
    put2(d + 20, tm.tm_min);
    put2(d + 23, tm.tm_sec);
  }
  if (cap == 0)
    return;
  size_t n = cap - 1 < 29 ? cap - 1 : 29;
  memcpy(out, d, n);
  out[n] = '\0';
}

int http_date_parse(const char *s, size_t len, int64_t *t) {
  char buf[64];
  trim(&s, &len);
  if (len == 0 || len >= sizeof buf)
    return -1;
  memcpy(buf, s, len);
  buf[len] = '\0';
  /* IMF-fixdate, then the obsolete RFC 850 and asctime forms. */
  static const char *const fmts[] = { "%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                      "%a %b %e %H:%M:%S %Y" };
  for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(buf, fmts[i], &tm);
    if (end && *end == '\0') {
      *t = (int64_t)timegm(&tm);
      return 0;
    }
  }
  return -1;
}

/* Does the comma-separated entity-tag list `list` hold `etag` under the
 * weak comparison (RFC 9110 8.8.3.2: W/ prefixes ignored)? "*" matches. */
static bool etag_list_match(const char *list, size_t len, const char *etag) {
  size_t elen = strlen(etag);
  size_t i = 0;
  while (i < len) {
    while (i < len && (is_ows(list[i]) || list[i] == ','))
      i++;
    if (i >= len)
      break;
    if (list[i] == '*')
      return true;
    if (i + 2 <= len && list[i] == 'W' && list[i + 1] == '/')
      i += 2;
    size_t start = i;
    if (i < len && list[i] == '"') {
      i++;
      while (i < len && list[i] != '"')
        i++;
      if (i < len)
        i++; /* closing quote */
    } else {
      while (i < len && list[i] != ',')
        i++;
    }
    if (i - start == elen && memcmp(list + start, etag, elen) == 0)
      return true;
  }
  return false;
}

/* ---- Range ----------------------------------------------------------------- */

/* Digits only; false on none or overflow. */
static bool parse_u64(const char *s, size_t len, uint64_t *v) {
  if (len == 0 || len > 19)
    return false;
  uint64_t x = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    x = x * 10 + (uint64_t)(s[i] - '0');
  }
  *v = x;
  return true;
}

int http_range_parse(const char *s, size_t len, uint64_t size, uint64_t *off, uint64_t *rlen) {
  trim(&s, &len);
  /* RFC 9110 14.1.1: ranges-specifier = range-unit "=" range-set. */
  if (len < 6 || strncasecmp(s, "bytes=", 6) != 0)
    return 0;
  s += 6;
  len -= 6;
  trim(&s, &len);
  if (memchr(s, ',', len))
    return 0; /* several ranges: not supported, the whole file is sent */
  const char *dash = memchr(s, '-', len);
  if (!dash)
    return 0;
  const char *a = s, *b = dash + 1;
  size_t alen = (size_t)(dash - s), blen = len - alen - 1;
  trim(&a, &alen);
  trim(&b, &blen);
  uint64_t first, last;
  if (alen == 0) {
    /* suffix-range "-N": the last N bytes (RFC 9110 14.1.2). */
    if (!parse_u64(b, blen, &last))
      return 0;
    if (last == 0 || size == 0)
      return -1;
    if (last > size)
      last = size;
    *off = size - last;
    *rlen = last;
    return 1;
  }
  if (!parse_u64(a, alen, &first))
    return 0;
  if (blen == 0)
    last = UINT64_MAX; /* "N-": to the end */
  else if (!parse_u64(b, blen, &last) || last < first)
    return 0; /* invalid: last-pos < first-pos, the header is ignored */
  if (first >= size)
    return -1; /* RFC 9110 14.1.2: first-pos past the end is unsatisfiable */
  if (last >= size)
    last = size - 1;
  *off = first;
  *rlen = last - first + 1;
  return 1;
}

/* ---- the decision ---------------------------------------------------------- */

/* RFC 9110 13.1.5: If-Range holds an entity tag (strong comparison) or a
 * date (equal to Last-Modified). true: the Range applies. */
static bool if_range_ok(const struct http_req *r, const struct http_file *f, const char *etag) {
  if (!r->if_range.present)
    return true;
  if (r->if_range.too_long)
    return false;
  const char *v = r->if_range.v;
  size_t n = r->if_range.len;
  trim(&v, &n);
  if (n > 0 && (v[0] == '"' || v[0] == 'W'))
    return n == strlen(etag) && memcmp(v, etag, n) == 0; /* weak never matches */
  int64_t t;
  return http_date_parse(v, n, &t) == 0 && t == f->mtime_s;
}

/* RFC 9110 13.2.2 steps 3 and 4 for GET/HEAD: true when 304 is the answer. */
static bool not_modified(const struct http_req *r, const struct http_file *f, const char *etag) {
  if (r->if_none_match.present) {
    if (r->if_none_match.too_long)
      return false;
    return etag_list_match(r->if_none_match.v, r->if_none_match.len, etag);
  }
  if (r->if_modified_since.present && !r->if_modified_since.too_long) {
    int64_t t;
    /* An invalid date is ignored (RFC 9110 13.1.3). */
    if (http_date_parse(r->if_modified_since.v, r->if_modified_since.len, &t) == 0)
      return f->mtime_s <= t;
  }
  return false;
}

void http_decide_file(const struct http_req *r, const struct http_file *f,
                      struct http_decision *d) {
  char etag[64];
  http_etag(f, etag, sizeof etag);
  d->off = 0;
  d->len = f->size;
  d->body = r->method == HTTP_M_GET;
  if (not_modified(r, f, etag)) {
    d->status = 304;
    d->len = 0;
    d->body = false;
    return;
  }
  d->status = 200;
  if (!r->range.present || r->range.too_long || !if_range_ok(r, f, etag))
    return;
  uint64_t off = 0, len = 0;
  int rc = http_range_parse(r->range.v, r->range.len, f->size, &off, &len);
  if (rc == 1) {
    d->status = 206;
    d->off = off;
    d->len = len;
  } else if (rc < 0) {
    d->status = 416;
    d->len = 0;
    d->body = false; /* the error page is the body */
  }
}
