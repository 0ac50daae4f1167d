/*
 * httpd_route.c - which answer a parsed request gets (see httpd.h):
 * /status and /status.json, or a file under the root.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "httpd.h"

static void route_status(struct hconn *c, us_time_t now, bool json) {
  struct sbuf body = { 0 };
  httpd_status_build(c->svc, now, json, &body);
  if (body.oom)
    httpd_error(c, 500, true);
  else
    httpd_body(c, json ? "application/json" : "text/html; charset=utf-8", &body,
               "Cache-Control: no-store\r\n");
  sb_free(&body);
}

void httpd_route(struct hconn *c, us_time_t now) {
  struct httpd *svc = c->svc;
  HTTPD_INC(svc, http_requests);
  c->requests++;
  c->out.len = 0;
  c->out_off = 0;
  /* An answer given before a body announced with Expect: 100-continue
   * ends the connection: the body is never read (httpd_request.c). */
  c->close_after = !c->keep_alive || c->early < 0;
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(c->url, c->url_len, 0, &u) != 0 || !(u.field_set & (1 << UF_PATH))) {
    HTTPD_INC(svc, http_bad_requests);
    httpd_error(c, 400, true);
    return;
  }
  const char *path = c->url + u.field_data[UF_PATH].off;
  size_t plen = u.field_data[UF_PATH].len;
  if (plen == 7 && memcmp(path, "/status", 7) == 0) {
    route_status(c, now, false);
    return;
  }
  if (plen == 12 && memcmp(path, "/status.json", 12) == 0) {
    route_status(c, now, true);
    return;
  }
  char real[PATH_MAX], loc[PATH_MAX + 2];
  int fd = -1;
  struct http_file meta;
  int code = httpd_resolve(svc, path, plen, &fd, &meta, real, loc, sizeof loc);
  if (code == 301) {
    char extra[PATH_MAX + 32];
    snprintf(extra, sizeof extra, "Location: %s\r\n", loc);
    httpd_head(c, 301, "text/plain", 0, extra);
    return;
  }
  if (code != 200) {
    if (code == 400)
      HTTPD_INC(svc, http_bad_requests);
    httpd_error(c, code, code == 400);
    return;
  }
  httpd_serve_file(c, fd, &meta, real);
}
