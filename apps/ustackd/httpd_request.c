/*
 * httpd_request.c - reading a request head with libhttp-parser (see
 * httpd.h).
 *
 * The parser calls back with pieces of the request-target and of each
 * header name and value, possibly split across reads. We keep the target
 * (up to HTTPD_URL_MAX bytes: more is 414, and the parser is stopped at
 * once, so a 64 KB request line costs nothing but the bytes read) and the
 * values of the few headers the answer depends on (Host, Expect, Range,
 * If-Range, If-None-Match, If-Modified-Since); the other headers only
 * count toward max_header_bytes (more is 431).
 *
 * When the head is complete, http_check_request() decides whether the
 * request can be served at all. If it cannot (405, 417, 400 without Host,
 * 505), or if it announced a body with "Expect: 100-continue", the answer
 * goes out right away and the connection closes after it: a client
 * waiting for "100 Continue" gets its final status at once (RFC 9110
 * 10.1.1) instead of waiting a second for a 100 that will not come. The
 * parser is paused at the end of each message, so pipelined requests are
 * answered one at a time and the bytes after a message wait in rbuf.
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "httpd.h"

static void val_reset(struct http_val *v) {
  v->len = 0;
  v->v[0] = '\0';
  v->present = v->too_long = false;
}

void httpd_request_reset(struct hconn *c) {
  /* Field by field: the value buffers need no clearing (2.5 KB per request). */
  struct http_req *r = &c->req;
  r->method = HTTP_M_GET;
  r->major = r->minor = 0;
  r->host_count = 0;
  r->host_empty = r->has_body = false;
  val_reset(&r->expect);
  val_reset(&r->range);
  val_reset(&r->if_range);
  val_reset(&r->if_none_match);
  val_reset(&r->if_modified_since);
  c->url_len = 0;
  c->url[0] = '\0';
  c->field_len = 0;
  c->field_long = c->in_value = false;
  c->cur = NULL;
  c->cur_is_host = false;
  c->hdr_bytes = 0;
  c->url_too_long = c->hdr_too_large = c->head_complete = c->msg_complete = false;
  c->early = 0;
}

static int on_message_begin(http_parser *p) {
  httpd_request_reset(p->data);
  return 0;
}

static int count_header_bytes(struct hconn *c, size_t len) {
  c->hdr_bytes += len;
  if (c->hdr_bytes > c->svc->o.max_header_bytes) {
    c->hdr_too_large = true;
    return -1; /* stops the parser: answered with 431 */
  }
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  struct hconn *c = p->data;
  if (c->url_len + len >= sizeof c->url) {
    c->url_too_long = true;
    return -1; /* stops the parser: answered with 414 */
  }
  memcpy(c->url + c->url_len, at, len);
  c->url_len += len;
  c->url[c->url_len] = '\0';
  return 0;
}

/* The value slot for a header name, or NULL for headers we do not keep. */
static struct http_val *value_slot(struct hconn *c) {
  static const struct {
    const char *name;
    size_t off;
  } kept[] = {
    { "expect", offsetof(struct http_req, expect) },
    { "range", offsetof(struct http_req, range) },
    { "if-range", offsetof(struct http_req, if_range) },
    { "if-none-match", offsetof(struct http_req, if_none_match) },
    { "if-modified-since", offsetof(struct http_req, if_modified_since) },
  };
  if (c->field_long)
    return NULL;
  for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
    if (strlen(kept[i].name) == c->field_len &&
        strncasecmp(kept[i].name, c->field, c->field_len) == 0)
      return (struct http_val *)(void *)((char *)&c->req + kept[i].off);
  return NULL;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  struct hconn *c = p->data;
  if (c->in_value) { /* a new header line starts */
    c->in_value = false;
    c->field_len = 0;
    c->field_long = false;
  }
  if (c->field_len + len > sizeof c->field)
    c->field_long = true;
  else {
    memcpy(c->field + c->field_len, at, len);
    c->field_len += len;
  }
  return count_header_bytes(c, len + 2); /* + ": " */
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  struct hconn *c = p->data;
  if (!c->in_value) { /* the first piece of this value */
    c->in_value = true;
    c->cur_is_host = !c->field_long && c->field_len == 4 && strncasecmp(c->field, "host", 4) == 0;
    if (c->cur_is_host) {
      c->req.host_count++;
      c->req.host_empty = true; /* until a byte arrives */
    }
    c->cur = value_slot(c);
    if (c->cur) {
      /* A repeated header: the values join as one list (RFC 9110 5.3). */
      if (c->cur->present && c->cur->len + 1 < sizeof c->cur->v)
        c->cur->v[c->cur->len++] = ',';
      c->cur->present = true;
    }
  }
  if (c->cur_is_host && len > 0)
    c->req.host_empty = false;
  if (c->cur) {
    if (c->cur->len + len >= sizeof c->cur->v)
      c->cur->too_long = true;
    else {
      memcpy(c->cur->v + c->cur->len, at, len);
      c->cur->len += len;
      c->cur->v[c->cur->len] = '\0';
    }
  }
  return count_header_bytes(c, len + 2); /* + CRLF */
}

static int on_headers_complete(http_parser *p) {
  struct hconn *c = p->data;
  c->head_complete = true;
  c->req.method = p->method == HTTP_GET    ? HTTP_M_GET
                  : p->method == HTTP_HEAD ? HTTP_M_HEAD
                                           : HTTP_M_OTHER;
  c->req.major = p->http_major;
  c->req.minor = p->http_minor;
  c->req.has_body =
      (p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != UINT64_MAX);
  c->keep_alive = http_should_keep_alive(p) != 0;
  int st = http_check_request(&c->req);
  if (st == 0 && c->req.expect.present && c->req.has_body)
    st = -1; /* servable, but answer now rather than make the client wait */
  if (st != 0) {
    c->early = st;
    http_parser_pause(p, 1);
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct hconn *c = p->data;
  c->msg_complete = true;
  http_parser_pause(p, 1); /* one request at a time */
  return 0;
}

static const http_parser_settings parser_settings = {
  .on_message_begin = on_message_begin,
  .on_url = on_url,
  .on_header_field = on_header_field,
  .on_header_value = on_header_value,
  .on_headers_complete = on_headers_complete,
  .on_message_complete = on_message_complete,
};

/* Answer now and close: the rest of the request (a body we will not read,
 * or bytes we cannot frame) is not parsed. */
static void answer_and_close(struct hconn *c, int code) {
  c->out.len = 0;
  c->out_off = 0;
  c->close_after = true;
  if (code == 400)
    HTTPD_INC(c->svc, http_bad_requests);
  httpd_error(c, code, true);
}

int httpd_request_parse(struct hconn *c, us_time_t now) {
  if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED)
    http_parser_pause(&c->parser, 0);
  c->msg_complete = false; /* set again by on_message_complete */
  size_t n = http_parser_execute(&c->parser, &parser_settings, (const char *)c->rbuf + c->roff,
                                 c->rlen - c->roff);
  c->roff += n;
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (c->early) {
    if (c->early > 0) {
      HTTPD_INC(c->svc, http_requests);
      c->requests++;
      if (c->early == 405 || c->early == 417)
        HTTPD_INC(c->svc, http_early_answers);
      answer_and_close(c, c->early);
    } else {
      /* GET/HEAD with a body and Expect: 100-continue: the answer now,
       * and the connection closes instead of reading the body. */
      HTTPD_INC(c->svc, http_early_answers);
      httpd_route(c, now);
    }
    return 1;
  }
  if (c->msg_complete) {
    httpd_route(c, now);
    return 1;
  }
  if (e != HPE_OK && e != HPE_PAUSED) {
    /* RFC 9112 9.6 / RFC 9110 15.5.1: a message we cannot parse gets an
     * error and the connection ends (framing is lost). */
    HTTPD_INC(c->svc, http_requests);
    c->requests++;
    c->req.method = HTTP_M_GET; /* the error page has a body */
    if (c->url_too_long) {
      HTTPD_INC(c->svc, http_uri_too_long);
      answer_and_close(c, 414);
    } else if (c->hdr_too_large) {
      HTTPD_INC(c->svc, http_header_too_large);
      answer_and_close(c, 431);
    } else {
      answer_and_close(c, 400);
    }
    return 1;
  }
  c->roff = c->rlen; /* all consumed (cannot stop early without pause or error) */
  return 0;
}
