/*
 * https.c - the --https service: the HTTP file server of httpd.h over
 * us_tls (BearSSL) over a ustack TCP socket. This file is the TLS
 * transport and the options --https PORT, --cert FILE, --key FILE; all of
 * HTTP lives in httpd_*.c and is shared with --http (http_plain.c).
 */
#include "https.h"

#ifdef USTACK_HAVE_TLS

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpd.h"
#include "ustack/us_tls.h"

#define HTTPS_PEM_MAX (1u << 20)

/* ---- the TLS transport ----------------------------------------------------- */

static int tls_open(void *ctx, struct hconn *c, us_time_t now) {
  (void)now;
  us_tls_conn *t = NULL;
  /* Entropy: NULL draws from the stack's source (getrandom in ustackd). */
  int rc = us_tls_accept(ctx, c->svc->s, c->sock, NULL, 0, &t);
  c->tconn = t;
  return rc;
}

static void tls_event(struct hconn *c, uint32_t events, us_time_t now) {
  us_tls_on_event(c->tconn, events, now);
}

static bool tls_ready(const struct hconn *c) { return us_tls_handshake_done(c->tconn); }

static bool tls_dead(const struct hconn *c) {
  return (us_tls_events(c->tconn) & (US_EV_CLOSED | US_EV_ERROR)) != 0;
}

static long tls_read(struct hconn *c, void *buf, size_t cap, us_time_t now) {
  long n = us_tls_read(c->tconn, buf, cap, now);
  /* A TCP FIN without close_notify after a complete request is how many
   * clients end (the data was not cut: the request parsed): an end. */
  if (n == US_ERR_CONNRESET && us_tls_error(c->tconn) == 0)
    return 0;
  return n;
}

static long tls_write(struct hconn *c, const void *buf, size_t len, us_time_t now) {
  return us_tls_write(c->tconn, buf, len, now);
}

/* close_notify (RFC 5246 7.2.1), then our FIN once it is queued. */
static int tls_shutdown(struct hconn *c, us_time_t now) {
  if (us_tls_close(c->tconn, now) == US_ERR_AGAIN)
    return US_ERR_AGAIN;
  (void)us_tcp_shutdown(c->svc->s, c->sock, now);
  return 0;
}

static void tls_release(struct hconn *c) { us_tls_conn_free(c->tconn); }

static const char *tls_describe(const struct hconn *c) { return us_tls_suite_name(c->tconn); }

static void tls_ctx_free(void *ctx) { us_tls_server_ctx_destroy(ctx); }

/* ---- certificate files ------------------------------------------------------- */

/* Read a whole (small) file. 0, or -1 with one line in err. */
static int read_small_file(const char *what, const char *path, char **out, size_t *len, char *err,
                           size_t errlen) {
  *out = NULL;
  *len = 0;
  if (!path || !*path) {
    snprintf(err, errlen, "%s: no file given", what);
    return -1;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "%s %s: not a regular file", what, path);
    close(fd);
    return -1;
  }
  if (st.st_size <= 0 || (uint64_t)st.st_size > HTTPS_PEM_MAX) {
    snprintf(err, errlen, "%s %s: %s", what, path,
             st.st_size <= 0 ? "empty file" : "too large for a PEM file");
    close(fd);
    return -1;
  }
  char *buf = malloc((size_t)st.st_size);
  if (!buf) {
    snprintf(err, errlen, "%s %s: out of memory", what, path);
    close(fd);
    return -1;
  }
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      snprintf(err, errlen, "%s %s: %s", what, path, n < 0 ? strerror(errno) : "short read");
      free(buf);
      close(fd);
      return -1;
    }
    got += (size_t)n;
  }
  close(fd);
  *out = buf;
  *len = got;
  return 0;
}

/* The TLS context for `o` (slot counts as the HTTP service's). */
static int tls_ctx_make(us_stack *s, const struct httpd_opts *o, const char *cert_file,
                        const char *key_file, us_tls_server_ctx **out, char *err, size_t errlen) {
  const struct us_config *cfg = us_stack_config(s);
  if (cfg->tcp_rcvbuf < US_TLS_MIN_TCP_RCVBUF) {
    snprintf(err, errlen,
             "the TCP receive buffer (%u bytes) is smaller than one TLS record; "
             "it must be at least %u",
             cfg->tcp_rcvbuf, (unsigned)US_TLS_MIN_TCP_RCVBUF);
    return US_ERR_INVAL;
  }
  char *cert = NULL, *key = NULL;
  size_t cert_len = 0, key_len = 0;
  if (read_small_file("--cert", cert_file, &cert, &cert_len, err, errlen) != 0 ||
      read_small_file("--key", key_file, &key, &key_len, err, errlen) != 0) {
    free(cert);
    return US_ERR_INVAL;
  }
  struct us_tls_server_opts to = { .cert_pem = cert,
                                   .cert_pem_len = cert_len,
                                   .key_pem = key,
                                   .key_pem_len = key_len,
                                   .cert_name = cert_file,
                                   .key_name = key_file,
                                   .max_conns = o->max_conns,
                                   .max_handshakes = o->max_conns / 2 ? o->max_conns / 2 : 1,
                                   .session_cache_entries = 1024 };
  char terr[300] = "";
  int rc = us_tls_server_ctx_create(out, &to, terr, sizeof terr);
  memset(key, 0, key_len);
  free(key);
  free(cert);
  if (rc != 0)
    snprintf(err, errlen, "%s", terr);
  return rc;
}

/* ---- ustackd options: --https PORT --cert FILE --key FILE ------------------------ */

/* The file names live in the group's struct httpd_settings (httpd.h). */

static int https_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  struct httpd_settings *hs = shared;
  if (httpd_instance_parse(arg, shared, state, err, errlen) != 0)
    return -1;
  hs->https++;
  return 0;
}

static int https_start(void *state, void *shared, us_stack *s, us_time_t now, char *err,
                       size_t errlen) {
  const struct httpd_settings *hs = shared;
  struct httpd_opts o;
  httpd_opts_fill(&o, hs, ((struct httpd_instance *)state)->port);
  if (!hs->cert_file || !hs->key_file || !o.root_dir) {
    snprintf(err, errlen, "needs %s",
             !hs->cert_file  ? "--cert FILE"
             : !hs->key_file ? "--key FILE"
                             : "--root DIR");
    return -1;
  }
  httpd_opts_defaults(&o);
  us_tls_server_ctx *ctx = NULL;
  if (tls_ctx_make(s, &o, hs->cert_file, hs->key_file, &ctx, err, errlen) != 0)
    return -1;
  const struct httpd_transport tr = { .name = "https",
                                      .ctx = ctx,
                                      .open = tls_open,
                                      .on_event = tls_event,
                                      .ready = tls_ready,
                                      .dead = tls_dead,
                                      .read = tls_read,
                                      .write = tls_write,
                                      .shutdown = tls_shutdown,
                                      .release = tls_release,
                                      .describe = tls_describe,
                                      .ctx_free = tls_ctx_free };
  return httpd_instance_start(state, s, &o, &tr, now, err, errlen);
}

static int file_opt(const char **slot, const char *opt, const char *arg, char *err, size_t errlen) {
  if (!arg || !*arg) {
    snprintf(err, errlen, "%s needs a value", opt);
    return -1;
  }
  *slot = arg;
  return 0;
}

static int cert_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  struct httpd_settings *hs = shared;
  return file_opt(&hs->cert_file, "--cert", arg, err, errlen);
}
static int key_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  struct httpd_settings *hs = shared;
  return file_opt(&hs->key_file, "--key", arg, err, errlen);
}

/* --cert/--key alone would silently do nothing: say so. */
static int files_start(void *state, void *shared, us_stack *s, us_time_t now, char *err,
                       size_t errlen) {
  const struct httpd_settings *hs = shared;
  if (hs->https == 0) {
    snprintf(err, errlen, "needs --https PORT");
    return -1;
  }
  return 0;
}

const struct svc_desc svc_https = { .option = "--https",
                                    .metavar = "PORT",
                                    .help = "serve HTTPS on PORT (with --cert, --key, --root)",
                                    .group = &httpd_group,
                                    .parse = https_parse,
                                    .start = https_start,
                                    .stop = httpd_instance_stop };
const struct svc_desc svc_https_cert = { .option = "--cert",
                                         .metavar = "FILE",
                                         .help = "HTTPS certificate chain (PEM, leaf first)",
                                         .group = &httpd_group,
                                         .parse = cert_parse,
                                         .start = files_start };
const struct svc_desc svc_https_key = { .option = "--key",
                                        .metavar = "FILE",
                                        .help = "HTTPS private key (PEM, RSA or EC)",
                                        .group = &httpd_group,
                                        .parse = key_parse,
                                        .start = files_start };

#else /* !USTACK_HAVE_TLS: the options exist and say why they cannot work */

#include <stdio.h>

static int no_tls(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  (void)arg;
  (void)state;
  snprintf(err, errlen, "ustackd was built without TLS (apt-get install libbearssl-dev)");
  return -1;
}
const struct svc_desc svc_https = {
  .option = "--https", .metavar = "PORT", .help = "serve HTTPS (needs BearSSL)", .parse = no_tls
};
const struct svc_desc svc_https_cert = {
  .option = "--cert", .metavar = "FILE", .help = "HTTPS certificate", .parse = no_tls
};
const struct svc_desc svc_https_key = {
  .option = "--key", .metavar = "FILE", .help = "HTTPS key", .parse = no_tls
};

#endif
