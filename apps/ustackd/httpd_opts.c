/*
 * httpd_opts.c - the command-line options that --http and --https share
 * (see httpd.h): the document root, the slot count, the per-source limit,
 * the timeouts, and whether /status shows client addresses. They live in
 * the group's struct httpd_settings (httpd.h), one set for every --http
 * and --https port of the run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

const struct svc_group httpd_group = { "http", sizeof(struct httpd_settings), NULL };

void httpd_opts_fill(struct httpd_opts *o, const struct httpd_settings *hs, uint16_t port) {
  *o = hs->o;
  o->port = port;
}

void httpd_opts_defaults(struct httpd_opts *o) {
  if (!o->max_conns)
    o->max_conns = 128;
  if (!o->per_source)
    o->per_source = o->max_conns / 2 ? o->max_conns / 2 : 1;
  if (!o->max_header_bytes)
    o->max_header_bytes = 8192;
  if (!o->handshake_timeout)
    o->handshake_timeout = US_SEC(10);
  if (!o->header_timeout)
    o->header_timeout = US_SEC(10);
  if (!o->request_timeout)
    o->request_timeout = US_SEC(30);
  if (!o->idle_timeout)
    o->idle_timeout = US_SEC(30);
}

/* An integer in [lo, hi]; 0 or -1 with one line in err. */
static int parse_num(const char *opt, const char *arg, unsigned long lo, unsigned long hi,
                     unsigned long *out, char *err, size_t errlen) {
  char *end = NULL;
  errno = 0;
  unsigned long v = arg && *arg && *arg != '-' ? strtoul(arg, &end, 10) : 0;
  if (!arg || !*arg || *arg == '-' || !end || *end != '\0' || errno != 0 || v < lo || v > hi) {
    (void)opt; /* the daemon puts the option's name in front */
    snprintf(err, errlen, "'%s' is not a number from %lu to %lu", arg ? arg : "", lo, hi);
    return -1;
  }
  *out = v;
  return 0;
}

static int max_conns_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  struct httpd_settings *hs = shared;
  unsigned long v;
  if (parse_num("--http-max-conns", arg, 1, HTTPD_MAX_CONNS, &v, err, errlen) != 0)
    return -1;
  hs->o.max_conns = (uint32_t)v;
  return 0;
}

static int per_source_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  struct httpd_settings *hs = shared;
  unsigned long v;
  if (parse_num("--http-per-source", arg, 0, 65536, &v, err, errlen) != 0)
    return -1;
  hs->o.per_source = v == 0 ? UINT32_MAX : (uint32_t)v;
  return 0;
}

static int timeout_parse(const char *opt, const char *arg, us_time_t *slot, char *err,
                         size_t errlen) {
  unsigned long v;
  if (parse_num(opt, arg, 1, 3600, &v, err, errlen) != 0)
    return -1;
  *slot = US_SEC((us_time_t)v);
  return 0;
}

static int header_timeout_parse(const char *arg, void *shared, void **state, char *err,
                                size_t errlen) {
  struct httpd_settings *hs = shared;
  return timeout_parse("--http-header-timeout", arg, &hs->o.header_timeout, err, errlen);
}
static int request_timeout_parse(const char *arg, void *shared, void **state, char *err,
                                 size_t errlen) {
  struct httpd_settings *hs = shared;
  return timeout_parse("--http-request-timeout", arg, &hs->o.request_timeout, err, errlen);
}
static int idle_timeout_parse(const char *arg, void *shared, void **state, char *err,
                              size_t errlen) {
  struct httpd_settings *hs = shared;
  return timeout_parse("--http-idle-timeout", arg, &hs->o.idle_timeout, err, errlen);
}

static int status_clients_parse(const char *arg, void *shared, void **state, char *err,
                                size_t errlen) {
  struct httpd_settings *hs = shared;
  hs->o.status_clients = true;
  return 0;
}

static int root_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  struct httpd_settings *hs = shared;
  if (!arg || !*arg) {
    snprintf(err, errlen, "needs a value");
    return -1;
  }
  hs->o.root_dir = arg;
  return 0;
}

/* These options alone would silently do nothing: say so. */
static int needs_service(void *state, void *shared, us_stack *s, us_time_t now, char *err,
                         size_t errlen) {
  const struct httpd_settings *hs = shared;
  if (hs->services == 0) {
    snprintf(err, errlen, "needs --http PORT or --https PORT");
    return -1;
  }
  return 0;
}

const struct svc_desc svc_http_root = { .option = "--root",
                                        .metavar = "DIR",
                                        .help = "directory --http/--https serve files from",
                                        .group = &httpd_group,
                                        .parse = root_parse,
                                        .start = needs_service };
const struct svc_desc svc_http_max_conns = { .option = "--http-max-conns",
                                             .metavar = "N",
                                             .help =
                                                 "HTTP(S) connection slots, 1-4096 (default 128)",
                                             .group = &httpd_group,
                                             .parse = max_conns_parse,
                                             .start = needs_service };
const struct svc_desc svc_http_per_source = {
  .option = "--http-per-source",
  .metavar = "N",
  .help = "HTTP(S) connections one source address may hold (default half the slots; 0 = no limit)",
  .group = &httpd_group,
  .parse = per_source_parse,
  .start = needs_service
};
const struct svc_desc svc_http_header_timeout = {
  .option = "--http-header-timeout",
  .metavar = "SEC",
  .help = "a request head must be complete SEC after its first byte (default 10)",
  .group = &httpd_group,
  .parse = header_timeout_parse,
  .start = needs_service
};
const struct svc_desc svc_http_request_timeout = {
  .option = "--http-request-timeout",
  .metavar = "SEC",
  .help = "a whole request (head and body) within SEC of its first byte (default 30)",
  .group = &httpd_group,
  .parse = request_timeout_parse,
  .start = needs_service
};
const struct svc_desc svc_http_idle_timeout = {
  .option = "--http-idle-timeout",
  .metavar = "SEC",
  .help = "keep-alive wait between requests, and a response stalled by the client (default 30)",
  .group = &httpd_group,
  .parse = idle_timeout_parse,
  .start = needs_service
};
const struct svc_desc svc_http_status_clients = {
  .option = "--status-clients",
  .metavar = NULL,
  .help = "show client addresses on /status and /status.json (off: hidden)",
  .group = &httpd_group,
  .parse = status_clients_parse,
  .start = needs_service
};
