/*
 * httpd_respond.c - response heads and error pages (see httpd.h), and the
 * growable string buffer they are built in.
 *
 * A response is built whole into c->out before the first byte is written:
 * the status line, the headers, and a small body (error pages, status
 * pages, and files up to HTTPD_CHUNK bytes), so a small response leaves in
 * one write (one TLS record, one TCP segment when it fits).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"

void sb_grow(struct sbuf *b, size_t need) {
  if (b->oom || b->len + need + 1 <= b->cap)
    return;
  size_t ncap = b->cap ? b->cap : 1024;
  while (ncap < b->len + need + 1)
    ncap *= 2;
  char *np = realloc(b->p, ncap);
  if (!np) {
    b->oom = true;
    return;
  }
  b->p = np;
  b->cap = ncap;
}

void sb_add(struct sbuf *b, const char *s, size_t n) {
  sb_grow(b, n);
  if (b->oom)
    return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void sb_printf(struct sbuf *b, const char *fmt, ...) {
  if (b->oom)
    return;
  /* One pass when it fits in what is allocated; measure and retry if not. */
  size_t room = b->cap > b->len ? b->cap - b->len : 0;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n >= room) {
    sb_grow(b, (size_t)n);
    if (b->oom)
      return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  b->len += (size_t)n;
}

void sb_str(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

void sb_u64(struct sbuf *b, uint64_t v) {
  char t[20];
  size_t i = sizeof t;
  do {
    t[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  sb_add(b, t + i, sizeof t - i);
}

void sb_free(struct sbuf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

/* HTML-escape `s` (it may come from the network: SNI, paths). */
void sb_html(struct sbuf *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<':
      sb_add(b, "&lt;", 4);
      break;
    case '>':
      sb_add(b, "&gt;", 4);
      break;
    case '&':
      sb_add(b, "&amp;", 5);
      break;
    case '"':
      sb_add(b, "&quot;", 6);
      break;
    default:
      sb_add(b, s, 1);
    }
  }
}

/* JSON string body (RFC 8259 7), without the quotes. */
void sb_json(struct sbuf *b, const char *s) {
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      sb_printf(b, "\\%c", ch);
    else if (ch < 0x20 || ch >= 0x7f)
      sb_printf(b, "\\u%04x", ch);
    else
      sb_add(b, s, 1);
  }
}

const char *endpoint_str(us_addr_t a, uint16_t port, char buf[US_ENDPOINT_STRLEN]) {
  us_endpoint_format(us_endpoint(a, port), buf, US_ENDPOINT_STRLEN);
  return buf;
}

const char *httpd_reason(int code) {
  switch (code) {
  case 200:
    return "OK";
  case 206:
    return "Partial Content";
  case 301:
    return "Moved Permanently";
  case 304:
    return "Not Modified";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 414:
    return "URI Too Long";
  case 416:
    return "Range Not Satisfiable";
  case 417:
    return "Expectation Failed";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Error";
  }
}

static void count_status(struct httpd *svc, int code) {
  if (code < 300)
    HTTPD_INC(svc, http_2xx);
  else if (code < 400)
    HTTPD_INC(svc, http_3xx);
  else if (code < 500)
    HTTPD_INC(svc, http_4xx);
  else
    HTTPD_INC(svc, http_5xx);
}

/* Status line and the headers every response has. A 304 carries no
 * Content-Type or Content-Length of its own (RFC 9110 15.4.5): `type` is
 * NULL for it. Built without printf: it runs for every response. */
void httpd_head(struct hconn *c, int code, const char *type, uint64_t length, const char *extra) {
  struct httpd *svc = c->svc;
  struct sbuf *b = &c->out;
  int64_t t = (int64_t)time(NULL);
  if (t != svc->date_s) { /* RFC 9110 6.6.1; changes once a second */
    http_date(t, svc->date, sizeof svc->date);
    svc->date_s = t;
  }
  count_status(svc, code);
  sb_str(b, "HTTP/1.1 ");
  sb_u64(b, (uint64_t)code);
  sb_add(b, " ", 1);
  sb_str(b, httpd_reason(code));
  sb_str(b, "\r\nServer: ustack\r\nDate: ");
  sb_str(b, svc->date);
  if (type) {
    sb_str(b, "\r\nContent-Type: ");
    sb_str(b, type);
    sb_str(b, "\r\nContent-Length: ");
    sb_u64(b, length);
  }
  sb_str(b, c->close_after ? "\r\nConnection: close\r\n" : "\r\nConnection: keep-alive\r\n");
  if (extra)
    sb_str(b, extra);
  sb_add(b, "\r\n", 2);
}

/* A short HTML error page. `close` ends the connection after it. */
void httpd_error(struct hconn *c, int code, bool close) {
  char body[256];
  int n = snprintf(body, sizeof body, "<!doctype html><title>%d %s</title><h1>%d %s</h1>\n", code,
                   httpd_reason(code), code, httpd_reason(code));
  if (close)
    c->close_after = true;
  httpd_head(c, code, "text/html; charset=utf-8", (uint64_t)n,
             code == 405 ? "Allow: GET, HEAD\r\n" : NULL);
  if (c->req.method != HTTP_M_HEAD)
    sb_add(&c->out, body, (size_t)n);
}

void httpd_body(struct hconn *c, const char *type, const struct sbuf *body, const char *extra) {
  httpd_head(c, 200, type, body->len, extra);
  if (c->req.method != HTTP_M_HEAD)
    sb_add(&c->out, body->p ? body->p : "", body->len);
}
