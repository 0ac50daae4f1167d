/*
 * http_plain.c - the --http service: the transport of httpd.h that is the
 * TCP socket itself (see http_plain.h). No handshake: a connection is
 * ready for its request as soon as it is accepted.
 */
#include "http_plain.h"

#include <stdio.h>

#include "httpd.h"

static int plain_open(void *ctx, struct hconn *c, us_time_t now) {
  (void)ctx;
  (void)c;
  (void)now;
  return 0;
}

static void plain_event(struct hconn *c, uint32_t events, us_time_t now) {
  (void)c;
  (void)events;
  (void)now;
}

static bool plain_ready(const struct hconn *c) {
  (void)c;
  return true;
}

static bool plain_dead(const struct hconn *c) {
  (void)c;
  return false;
}

static long plain_read(struct hconn *c, void *buf, size_t cap, us_time_t now) {
  return us_tcp_recv(c->svc->s, c->sock, buf, cap, now);
}

static long plain_write(struct hconn *c, const void *buf, size_t len, us_time_t now) {
  long n = us_tcp_send(c->svc->s, c->sock, buf, len, now);
  return n == 0 && len > 0 ? US_ERR_AGAIN : n;
}

static int plain_shutdown(struct hconn *c, us_time_t now) {
  (void)us_tcp_shutdown(c->svc->s, c->sock, now); /* our FIN after the response */
  return 0;
}

static void plain_release(struct hconn *c) { (void)c; }

static const char *plain_describe(const struct hconn *c) {
  (void)c;
  return "http";
}

static const struct httpd_transport plain_transport = { .name = "http",
                                                        .ctx = NULL,
                                                        .open = plain_open,
                                                        .on_event = plain_event,
                                                        .ready = plain_ready,
                                                        .dead = plain_dead,
                                                        .read = plain_read,
                                                        .write = plain_write,
                                                        .shutdown = plain_shutdown,
                                                        .release = plain_release,
                                                        .describe = plain_describe,
                                                        .ctx_free = NULL };

static int http_start(void *state, void *shared, us_stack *s, us_time_t now, char *err,
                      size_t errlen) {
  struct httpd_opts o;
  httpd_opts_fill(&o, shared, ((struct httpd_instance *)state)->port);
  if (!o.root_dir) {
    snprintf(err, errlen, "needs --root DIR");
    return -1;
  }
  return httpd_instance_start(state, s, &o, &plain_transport, now, err, errlen);
}

const struct svc_desc svc_http = { .option = "--http",
                                   .metavar = "PORT",
                                   .help = "serve HTTP on PORT (plain TCP; with --root)",
                                   .group = &httpd_group,
                                   .parse = httpd_instance_parse,
                                   .start = http_start,
                                   .stop = httpd_instance_stop };
