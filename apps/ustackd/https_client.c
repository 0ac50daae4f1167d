/*
 * https_client.c - ustackd's HTTPS client: one GET over us_tls over ustack
 * TCP, the server's certificate verified against a CA file and its name
 * checked. The body goes to stdout, one summary line to stderr.
 *
 *   --https-get https://10.0.0.1:4433/index.html --https-ca ca.pem
 *   [--https-name ustack.test]
 *
 * BearSSL matches DNS names only (not IP addresses in the SAN), so when the
 * URL's host is an IP address, --https-name gives the name to check (and to
 * send as SNI). The response is parsed with libhttp-parser. The client
 * starts once the stack is up, gives up after 30 s, and its svc_desc's
 * finished step tells the daemon when it is done (and whether it
 * succeeded: a verified 2xx response read to its end).
 */
#include "https_client.h"

#ifdef USTACK_HAVE_TLS

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "ustack/us_tls.h"

#define CLIENT_TIMEOUT US_SEC(30)

/* --https-ca and --https-name: the svc_group's block. */
struct hclient_settings {
  const char *ca, *name;
  unsigned gets; /* --https-get given */
};

struct hclient {
  struct svc_handler h; /* first: the socket's user pointer */
  const struct hclient_settings *set;
  char url[1024];
  char host[256], path[800];
  us_addr_t addr;
  uint16_t port;
  us_tls_client_ctx *ctx;
  us_sock_t sock;
  us_tls_conn *tls;
  http_parser parser;
  char req[1400];
  size_t req_len, req_off;
  us_time_t deadline;
  uint64_t body_bytes;
  unsigned status;
  bool done, ok, complete;
  int exit_status;
};

static const struct svc_group hclient_group = { "https-get", sizeof(struct hclient_settings),
                                                NULL };

static int on_body(http_parser *p, const char *at, size_t len) {
  struct hclient *c = p->data;
  if (fwrite(at, 1, len, stdout) != len)
    return -1;
  c->body_bytes += len;
  return 0;
}

static int on_headers_complete(http_parser *p) {
  struct hclient *c = p->data;
  c->status = p->status_code;
  return 0;
}

static int on_message_complete(http_parser *p) {
  struct hclient *c = p->data;
  c->complete = true;
  return 0;
}

static const http_parser_settings resp_settings = {
  .on_body = on_body,
  .on_headers_complete = on_headers_complete,
  .on_message_complete = on_message_complete,
};

static void client_finish(struct hclient *c, us_stack *s, us_time_t now, const char *why) {
  if (c->done)
    return;
  c->done = true;
  fflush(stdout);
  c->ok = c->complete && c->status >= 200 && c->status < 300;
  c->exit_status = c->ok ? 0 : 1;
  if (c->tls && us_tls_handshake_done(c->tls))
    fprintf(stderr, "https-get: %s: %u, %llu body bytes, %s, server name \"%s\" verified%s\n", why,
            c->status, (unsigned long long)c->body_bytes, us_tls_suite_name(c->tls),
            c->set->name ? c->set->name : c->host, us_tls_resumed(c->tls) ? ", resumed" : "");
  else
    fprintf(
        stderr, "https-get: %s%s%s\n", why, c->tls && us_tls_engine_error(c->tls) ? ": " : "",
        c->tls && us_tls_engine_error(c->tls) ? us_tls_strerror(us_tls_engine_error(c->tls)) : "");
  if (c->tls) {
    us_tls_close(c->tls, now);
    us_tls_conn_free(c->tls);
    c->tls = NULL;
  }
  if (us_sock_valid(c->sock)) {
    us_sock_set_user(s, c->sock, NULL);
    us_tcp_close(s, c->sock, now);
    c->sock = US_SOCK_INVALID;
  }
}

static void client_run(struct hclient *c, us_stack *s, us_time_t now) {
  if (c->done)
    return;
  uint32_t ev = us_tls_on_event(c->tls, 0, now);
  if (!us_tls_handshake_done(c->tls)) {
    if (ev & (US_EV_ERROR | US_EV_CLOSED))
      client_finish(c, s, now, "TLS handshake failed");
    return;
  }
  while (c->req_off < c->req_len) {
    long n = us_tls_write(c->tls, c->req + c->req_off, c->req_len - c->req_off, now);
    if (n == US_ERR_AGAIN)
      break;
    if (n < 0) {
      client_finish(c, s, now, "write failed");
      return;
    }
    c->req_off += (size_t)n;
  }
  char buf[16384];
  for (int i = 0; i < 4096; i++) {
    long n = us_tls_read(c->tls, buf, sizeof buf, now);
    if (n == US_ERR_AGAIN)
      return;
    if (n <= 0) {
      /* EOF ends a response without Content-Length (RFC 9112 6.3). */
      if (n == 0 || c->complete)
        http_parser_execute(&c->parser, &resp_settings, NULL, 0);
      client_finish(c, s, now, c->complete ? "done" : "connection ended early");
      return;
    }
    size_t k = http_parser_execute(&c->parser, &resp_settings, buf, (size_t)n);
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || k != (size_t)n) {
      client_finish(c, s, now, "bad HTTP response");
      return;
    }
    if (c->complete) {
      client_finish(c, s, now, "done");
      return;
    }
  }
}

static void client_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t events,
                            us_time_t now) {
  (void)sock;
  (void)events;
  client_run((struct hclient *)self, s, now);
}

static us_time_t client_poll(void *ctx, us_stack *s, us_time_t now) {
  struct hclient *c = ctx;
  if (c->done)
    return US_TIME_NEVER;
  if (now >= c->deadline) {
    client_finish(c, s, now, "timed out");
    return US_TIME_NEVER;
  }
  return c->deadline;
}

/* https://HOST[:PORT]/PATH with HOST an IPv4 address or a bracketed IPv6
 * one (RFC 3986 3.2.2: https://[fd00::2]:443/; libhttp-parser hands us
 * the address without its brackets). */
static int parse_url(struct hclient *c, const char *url, char *err, size_t errlen) {
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (strlen(url) >= sizeof c->url || http_parser_parse_url(url, strlen(url), 0, &u) != 0 ||
      !(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST))) {
    snprintf(err, errlen, "bad URL '%s' (https://ADDR[:PORT]/PATH)", url);
    return -1;
  }
  snprintf(c->url, sizeof c->url, "%s", url);
  if (u.field_data[UF_SCHEMA].len != 5 ||
      strncasecmp(url + u.field_data[UF_SCHEMA].off, "https", 5)) {
    snprintf(err, errlen, "bad URL '%s': only https:// is supported", url);
    return -1;
  }
  size_t hl = u.field_data[UF_HOST].len;
  if (hl >= sizeof c->host) {
    snprintf(err, errlen, "bad URL '%s': host too long", url);
    return -1;
  }
  memcpy(c->host, url + u.field_data[UF_HOST].off, hl);
  c->host[hl] = '\0';
  if (!us_addr_parse(c->host, &c->addr)) {
    snprintf(err, errlen, "bad URL '%s': the host must be an IP address (no DNS here)", url);
    return -1;
  }
  c->port = (u.field_set & (1 << UF_PORT)) ? u.port : 443;
  if (u.field_set & (1 << UF_PATH)) {
    size_t pl = u.field_data[UF_PATH].len;
    if (u.field_set & (1 << UF_QUERY))
      pl = u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len - u.field_data[UF_PATH].off;
    if (pl >= sizeof c->path) {
      snprintf(err, errlen, "bad URL '%s': path too long", url);
      return -1;
    }
    memcpy(c->path, url + u.field_data[UF_PATH].off, pl);
    c->path[pl] = '\0';
  } else {
    snprintf(c->path, sizeof c->path, "/");
  }
  return 0;
}

static int get_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  struct hclient_settings *set = shared;
  if (set->gets) {
    snprintf(err, errlen, "only one --https-get");
    return -1;
  }
  struct hclient *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (parse_url(c, arg, err, errlen) != 0) {
    free(c);
    return -1;
  }
  c->sock = US_SOCK_INVALID;
  c->exit_status = 1;
  c->set = set;
  set->gets++;
  *state = c;
  return 0;
}

static int get_start(void *state, void *shared, us_stack *s, us_time_t now, char *err,
                     size_t errlen) {
  struct hclient *c = state;
  const struct hclient_settings *set = shared;
  if (!set->ca) {
    snprintf(err, errlen, "needs --https-ca FILE (the CA that signed the server)");
    return -1;
  }
  const char *name = set->name;
  if (!name) {
    snprintf(err, errlen,
             "needs --https-name NAME: the host is an address, and the "
             "certificate's DNS name is what gets checked");
    return -1;
  }
  /* Read the CA file (a system call: here in the app, not in stack/tls). */
  int fd = open(set->ca, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (1 << 20)) {
    snprintf(err, errlen, "--https-ca %s: %s", set->ca,
             fd < 0 ? strerror(errno) : "empty or not a PEM file");
    if (fd >= 0)
      close(fd);
    return -1;
  }
  char *pem = malloc((size_t)st.st_size);
  ssize_t n = pem ? read(fd, pem, (size_t)st.st_size) : -1;
  close(fd);
  if (n != st.st_size) {
    snprintf(err, errlen, "--https-ca %s: short read", set->ca);
    free(pem);
    return -1;
  }
  struct us_tls_client_opts o = { pem, (size_t)n, set->ca, 1 };
  char terr[300];
  int rc = us_tls_client_ctx_create(&c->ctx, &o, terr, sizeof terr);
  free(pem);
  if (rc != 0) {
    snprintf(err, errlen, "%s", terr);
    return -1;
  }
  c->req_len = (size_t)snprintf(c->req, sizeof c->req,
                                "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ustack-https-get\r\n"
                                "Accept: */*\r\nConnection: close\r\n\r\n",
                                c->path, name);
  http_parser_init(&c->parser, HTTP_RESPONSE);
  c->parser.data = c;
  c->h.on_event = client_on_event;
  rc = us_tcp_socket(s, &c->sock);
  if (rc == 0)
    rc = us_sock_set_user(s, c->sock, &c->h);
  if (rc == 0) {
    rc = us_tcp_connect(s, c->sock, us_endpoint(c->addr, c->port), now);
    if (rc == US_ERR_INPROGRESS)
      rc = 0;
  }
  /* Certificate validity is checked at the wall-clock time (UTC). */
  if (rc == 0)
    rc = us_tls_connect(c->ctx, s, c->sock, name, (int64_t)time(NULL), false, NULL, 0, &c->tls);
  if (rc != 0) {
    char to[US_ENDPOINT_STRLEN];
    us_endpoint_format(us_endpoint(c->addr, c->port), to, sizeof to);
    snprintf(err, errlen, "connect to %s: %s", to, us_strerror(rc));
    return -1;
  }
  c->deadline = now + CLIENT_TIMEOUT;
  if (svc_add_poll(client_poll, c) != 0) {
    snprintf(err, errlen, "too many services with timers");
    return -1;
  }
  return 0;
}

static void get_stop(void *state, void *shared, us_stack *s, us_time_t now) {
  struct hclient *c = state;
  if (!c)
    return;
  svc_remove_poll(client_poll, c);
  if (s && !c->done)
    client_finish(c, s, now, "stopped");
  us_tls_client_ctx_destroy(c->ctx);
  free(c);
}

/* The daemon exits with the GET's result once it is done. */
static bool get_finished(void *state, void *shared, int *status) {
  const struct hclient *c = state;
  if (!c || !c->done)
    return false;
  if (status)
    *status = c->exit_status;
  return true;
}

static int ca_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  struct hclient_settings *set = shared;
  set->ca = arg;
  return arg && *arg ? 0 : (snprintf(err, errlen, "needs a file"), -1);
}

static int name_parse(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  struct hclient_settings *set = shared;
  if (!arg || !*arg || strlen(arg) > 255) {
    snprintf(err, errlen, "needs a DNS name (at most 255 characters)");
    return -1;
  }
  set->name = arg;
  return 0;
}

static int opts_start(void *state, void *shared, us_stack *s, us_time_t now, char *err,
                      size_t errlen) {
  const struct hclient_settings *set = shared;
  if (!set->gets) {
    snprintf(err, errlen, "needs --https-get URL");
    return -1;
  }
  return 0;
}

const struct svc_desc svc_https_get = {
  .option = "--https-get",
  .metavar = "URL",
  .help = "fetch URL (https://ADDR[:PORT]/PATH, IPv6 as [ADDR]) over the stack; body to stdout",
  .group = &hclient_group,
  .parse = get_parse,
  .start = get_start,
  .stop = get_stop,
  .finished = get_finished
};
const struct svc_desc svc_https_ca = { .option = "--https-ca",
                                       .metavar = "FILE",
                                       .help = "CA certificate(s) for --https-get (PEM)",
                                       .group = &hclient_group,
                                       .parse = ca_parse,
                                       .start = opts_start };
const struct svc_desc svc_https_name = {
  .option = "--https-name",
  .metavar = "NAME",
  .help = "server name for --https-get: SNI and certificate check",
  .group = &hclient_group,
  .parse = name_parse,
  .start = opts_start
};

#else /* !USTACK_HAVE_TLS */

#include <stdio.h>

static int no_tls(const char *arg, void *shared, void **state, char *err, size_t errlen) {
  (void)arg;
  (void)state;
  snprintf(err, errlen, "ustackd was built without TLS (apt-get install libbearssl-dev)");
  return -1;
}
const struct svc_desc svc_https_get = {
  .option = "--https-get", .metavar = "URL", .help = "HTTPS GET (needs BearSSL)", .parse = no_tls
};
const struct svc_desc svc_https_ca = {
  .option = "--https-ca", .metavar = "FILE", .help = "CA for --https-get", .parse = no_tls
};
const struct svc_desc svc_https_name = {
  .option = "--https-name", .metavar = "NAME", .help = "name for --https-get", .parse = no_tls
};

#endif
