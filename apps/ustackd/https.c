/*
 * https.c - ustackd's HTTPS service (see https.h).
 *
 * One struct hconn per connection, taken from a fixed array; its first
 * member is the svc_handler the daemon's loop calls on socket events. A
 * connection moves through
 *
 *   HANDSHAKE -> REQUEST <-> RESPONSE -> CLOSING -> (freed)
 *
 * and hconn_run() advances it as far as it can on every event: it pumps
 * TLS, feeds decrypted bytes to http_parser, builds a response, and writes
 * it until TLS says US_ERR_AGAIN (the TCP send buffer is full; the next
 * WRITABLE event resumes). The parser is paused at the end of each message
 * (http_parser_pause), so pipelined requests are answered one at a time and
 * the bytes after a message wait in rbuf.
 *
 * Deadlines (checked in https_service_poll): the handshake must finish
 * within handshake_timeout of the accept; a request must arrive completely
 * within idle_timeout of the previous response (so a client that trickles
 * header bytes cannot hold a slot: RFC 9112 9.5 lets servers close idle
 * connections); while a response is streaming, each write that makes
 * progress extends the deadline.
 *
 * Files are served only from below the root: the URL path is decoded,
 * ".." segments are refused (403), and the final path after realpath() (so
 * after symlinks) must still be under the root's realpath.
 */
#include "https.h"

#ifdef USTACK_HAVE_TLS

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "ustack/us_tls.h"

#define HTTPS_CHUNK 16384      /* one TLS record of plaintext */
#define HTTPS_RBUF 4096
#define HTTPS_URL_MAX 2048
#define HTTPS_PEM_MAX (1u << 20)
#define HTTPS_CLOSE_GRACE US_SEC(5) /* time for close_notify to leave */

enum hc_state { HC_FREE = 0, HC_HANDSHAKE, HC_REQUEST, HC_RESPONSE, HC_CLOSING };

struct sbuf {
  char *p;
  size_t len, cap;
  bool oom;
};

struct https_service;

struct hconn {
  struct svc_handler h; /* first: found through the socket's user pointer */
  struct https_service *svc;
  enum hc_state st;
  us_sock_t sock;
  us_tls_conn *tls;
  us_ip4_t peer;
  uint16_t pport;
  us_time_t deadline;
  us_time_t accepted_at;

  /* Request. */
  http_parser parser;
  char url[HTTPS_URL_MAX];
  size_t url_len;
  size_t hdr_bytes;
  bool url_too_long, hdr_too_large, msg_complete, keep_alive;
  unsigned method;
  unsigned http_major, http_minor;
  uint8_t rbuf[HTTPS_RBUF];
  size_t rlen, roff;
  uint64_t requests;

  /* Response: head (and small bodies) from `out`, then the file. */
  struct sbuf out;
  size_t out_off;
  int fd;
  uint64_t file_off, file_left;
  uint8_t chunk[HTTPS_CHUNK];
  size_t chunk_len, chunk_off;
  bool close_after;
};

struct https_service {
  struct svc_handler h; /* the listener's handler */
  us_stack *s;
  us_sock_t lsock;
  us_tls_server_ctx *tls;
  struct https_opts o;
  char root[PATH_MAX];
  size_t root_len;
  struct hconn *conns;
  uint32_t nconns;
  us_time_t started;
  /* Service counters, shown on /status. */
  uint64_t accepted, refused, requests, bytes_out;
  uint64_t status_2xx, status_3xx, status_4xx, status_5xx;
  uint64_t hs_timeouts, idle_timeouts, bad_requests;
  bool want_accept; /* a slot was freed: look at the accept queue again */
  bool accepting;   /* https_accept_some is running (no re-entry) */
};

static void hconn_run(struct hconn *c, us_time_t now);
static void hconn_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t events,
                           us_time_t now);
static void https_accept_some(struct https_service *svc, us_time_t now);

/* ---- small helpers -------------------------------------------------------- */

static void sb_grow(struct sbuf *b, size_t need) {
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

static void sb_add(struct sbuf *b, const char *s, size_t n) {
  sb_grow(b, n);
  if (b->oom)
    return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  sb_grow(b, (size_t)n);
  if (b->oom)
    return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

static void sb_free(struct sbuf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

/* HTML-escape `s` (it may come from the network: SNI, paths). */
static void sb_html(struct sbuf *b, const char *s) {
  for (; *s; s++) {
    switch (*s) {
    case '<': sb_add(b, "&lt;", 4); break;
    case '>': sb_add(b, "&gt;", 4); break;
    case '&': sb_add(b, "&amp;", 5); break;
    case '"': sb_add(b, "&quot;", 6); break;
    default: sb_add(b, s, 1);
    }
  }
}

/* JSON string body (RFC 8259 7), without the quotes. */
static void sb_json(struct sbuf *b, const char *s) {
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

static const char *ip4_str(us_ip4_t a, char buf[16]) {
  snprintf(buf, 16, "%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)(a >> 16) & 255,
           (unsigned)(a >> 8) & 255, (unsigned)a & 255);
  return buf;
}

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
    snprintf(err, errlen, "%s %s: %s", what, path, st.st_size <= 0 ? "empty file" : "too large for a PEM file");
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

/* ---- HTTP parsing (libhttp-parser callbacks) ------------------------------ */

static int on_message_begin(http_parser *p) {
  struct hconn *c = p->data;
  c->url_len = 0;
  c->hdr_bytes = 0;
  c->url_too_long = c->hdr_too_large = c->msg_complete = false;
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
  if (c->url_len + len >= sizeof c->url)
    c->url_too_long = true;
  else {
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    c->url[c->url_len] = '\0';
  }
  return count_header_bytes(c, len);
}

static int on_header_part(http_parser *p, const char *at, size_t len) {
  (void)at;
  return count_header_bytes(p->data, len + 2); /* + ": " or CRLF */
}

static int on_headers_complete(http_parser *p) {
  struct hconn *c = p->data;
  c->method = p->method;
  c->http_major = p->http_major;
  c->http_minor = p->http_minor;
  c->keep_alive = http_should_keep_alive(p) != 0;
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
    .on_header_field = on_header_part,
    .on_header_value = on_header_part,
    .on_headers_complete = on_headers_complete,
    .on_message_complete = on_message_complete,
};

/* ---- responses ------------------------------------------------------------ */

static const char *reason(int code) {
  switch (code) {
  case 200: return "OK";
  case 301: return "Moved Permanently";
  case 400: return "Bad Request";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 414: return "URI Too Long";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 505: return "HTTP Version Not Supported";
  default: return "Error";
  }
}

static const char *content_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
      {".css", "text/css"},                  {".js", "text/javascript"},
      {".json", "application/json"},         {".txt", "text/plain; charset=utf-8"},
      {".md", "text/plain; charset=utf-8"},  {".png", "image/png"},
      {".jpg", "image/jpeg"},                {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},                 {".svg", "image/svg+xml"},
      {".ico", "image/x-icon"},              {".webp", "image/webp"},
      {".pdf", "application/pdf"},           {".wasm", "application/wasm"},
      {".xml", "application/xml"},           {".gz", "application/gzip"},
  };
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (dot && (!slash || dot > slash))
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (strcasecmp(dot, types[i].ext) == 0)
        return types[i].type;
  return "application/octet-stream";
}

static void count_status(struct https_service *svc, int code) {
  if (code < 300)
    svc->status_2xx++;
  else if (code < 400)
    svc->status_3xx++;
  else if (code < 500)
    svc->status_4xx++;
  else
    svc->status_5xx++;
}

/* Status line and the headers every response has. */
static void response_head(struct hconn *c, int code, const char *type, uint64_t length,
                          const char *extra) {
  char date[64] = "";
  time_t t = time(NULL);
  struct tm tm;
  if (gmtime_r(&t, &tm)) /* RFC 9110 6.6.1: IMF-fixdate */
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  count_status(c->svc, code);
  sb_printf(&c->out,
            "HTTP/1.1 %d %s\r\nServer: ustack\r\nDate: %s\r\nContent-Type: %s\r\n"
            "Content-Length: %" PRIu64 "\r\nConnection: %s\r\n%s\r\n",
            code, reason(code), date, type, length, c->close_after ? "close" : "keep-alive",
            extra ? extra : "");
}

/* A short HTML error page. `close` ends the connection after it. */
static void respond_error(struct hconn *c, int code, bool close) {
  char body[256];
  int n = snprintf(body, sizeof body,
                   "<!doctype html><title>%d %s</title><h1>%d %s</h1>\n", code, reason(code),
                   code, reason(code));
  if (close)
    c->close_after = true;
  response_head(c, code, "text/html; charset=utf-8", (uint64_t)n,
                code == 405 ? "Allow: GET, HEAD\r\n" : NULL);
  if (c->method != HTTP_HEAD)
    sb_add(&c->out, body, (size_t)n);
}

static void respond_body(struct hconn *c, const char *type, const struct sbuf *body,
                         const char *extra) {
  response_head(c, 200, type, body->len, extra);
  if (c->method != HTTP_HEAD)
    sb_add(&c->out, body->p ? body->p : "", body->len);
}

/* ---- /status and /status.json ---------------------------------------------- */

static const char *tls_column(struct https_service *svc, us_sock_t sock) {
  for (uint32_t i = 0; i < svc->nconns; i++) {
    struct hconn *c = &svc->conns[i];
    if (c->st != HC_FREE && us_sock_eq(c->sock, sock))
      return c->st == HC_HANDSHAKE ? "handshake" : us_tls_suite_name(c->tls);
  }
  return "";
}

static void status_build(struct https_service *svc, us_stack *s, us_time_t now, bool json,
                         struct sbuf *b) {
  const struct us_config *cfg = us_stack_config(s);
  size_t max = cfg->max_tcp_sockets ? cfg->max_tcp_sockets : 1024;
  struct us_tcp_info *ti = calloc(max, sizeof *ti);
  size_t n = ti ? us_tcp_list(s, ti, max) : 0;
  uint64_t in = 0, out = 0;
  for (size_t i = 0; i < n; i++) {
    in += ti[i].bytes_in;
    out += ti[i].bytes_out;
  }
  double up = (double)(now - svc->started) / 1e6;
  char a[16], r[16];
  uint32_t active = 0;
  for (uint32_t i = 0; i < svc->nconns; i++)
    active += svc->conns[i].st != HC_FREE;

  if (json) {
    sb_printf(b, "{\"uptime_s\":%.3f,\"addr\":\"%s\",\"tcp_bytes_in\":%" PRIu64
                 ",\"tcp_bytes_out\":%" PRIu64 ",\n\"https\":{\"port\":%u,\"active\":%u,"
                 "\"accepted\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"requests\":%" PRIu64
                 ",\"bytes_out\":%" PRIu64 ",\"2xx\":%" PRIu64 ",\"3xx\":%" PRIu64
                 ",\"4xx\":%" PRIu64 ",\"5xx\":%" PRIu64 ",\"handshake_timeouts\":%" PRIu64
                 ",\"idle_timeouts\":%" PRIu64 "},\n\"connections\":[",
              up, ip4_str(cfg->addr, a), in, out, (unsigned)svc->o.port, active, svc->accepted,
              svc->refused, svc->requests, svc->bytes_out, svc->status_2xx, svc->status_3xx,
              svc->status_4xx, svc->status_5xx, svc->hs_timeouts, svc->idle_timeouts);
    for (size_t i = 0; i < n; i++) {
      sb_printf(b,
                "%s\n{\"state\":\"%s\",\"local\":\"%s:%u\",\"remote\":\"%s:%u\","
                "\"recv_q\":%u,\"send_q\":%u,\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
                ",\"srtt_us\":%lld,\"rto_us\":%lld,\"cwnd\":%u,\"retransmits\":%u,\"tls\":\"",
                i ? "," : "", us_tcp_state_name(ti[i].state), ip4_str(ti[i].laddr, a),
                (unsigned)ti[i].lport, ip4_str(ti[i].raddr, r), (unsigned)ti[i].rport,
                ti[i].rcv_queued, ti[i].snd_queued, ti[i].bytes_in, ti[i].bytes_out,
                (long long)ti[i].srtt, (long long)ti[i].rto, ti[i].cwnd, ti[i].retransmits);
      sb_json(b, tls_column(svc, ti[i].sock));
      sb_add(b, "\"}", 2);
    }
    sb_add(b, "],\n\"counters\":{", 15);
    bool first = true;
    for (int id = 0; id < US_STAT_COUNT; id++) {
      const char *name = us_stat_name((enum us_stat)id);
      if (!name)
        continue;
      sb_printf(b, "%s\"%s\":%" PRIu64, first ? "" : ",", name,
                us_stack_stat(s, (enum us_stat)id));
      first = false;
    }
    sb_add(b, "}}\n", 3);
    free(ti);
    return;
  }

  sb_printf(b,
            "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"refresh\" content=\"5\">"
            "<title>ustack status</title><style>"
            "body{font-family:sans-serif;margin:1em;color:#222;font-size:13px}"
            "table{border-collapse:collapse;margin-bottom:1.5em}"
            "td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}"
            "th{background:#eee}td.l,th.l{text-align:left}"
            "</style></head><body>\n<h1>ustack on %s</h1>\n"
            "<p>A userspace TCP/IP stack with TLS, serving this page itself. "
            "Up %.0f s. Bytes in %" PRIu64 " and out %" PRIu64 " on the connections below. "
            "<a href=\"/status.json\">JSON</a>. Refreshes every 5 s.</p>\n",
            ip4_str(cfg->addr, a), up, in, out);
  sb_printf(b,
            "<h2>HTTPS service (port %u)</h2>\n<table><tr><th class=l>active</th>"
            "<th>accepted</th><th>refused</th><th>requests</th><th>bytes out</th><th>2xx</th>"
            "<th>3xx</th><th>4xx</th><th>5xx</th><th>handshake timeouts</th>"
            "<th>idle timeouts</th></tr>\n<tr><td class=l>%u</td><td>%" PRIu64 "</td><td>%" PRIu64
            "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
            "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
            "</td></tr></table>\n",
            (unsigned)svc->o.port, active, svc->accepted, svc->refused, svc->requests,
            svc->bytes_out, svc->status_2xx, svc->status_3xx, svc->status_4xx, svc->status_5xx,
            svc->hs_timeouts, svc->idle_timeouts);
  sb_printf(b, "<h2>TCP connections (%zu)</h2>\n<table><tr><th class=l>state</th>"
               "<th class=l>local</th><th class=l>remote</th><th>recv-q</th><th>send-q</th>"
               "<th>bytes in</th><th>bytes out</th><th>srtt ms</th><th>cwnd</th>"
               "<th>retrans</th><th class=l>TLS</th></tr>\n",
            n);
  for (size_t i = 0; i < n; i++) {
    sb_printf(b,
              "<tr><td class=l>%s</td><td class=l>%s:%u</td><td class=l>%s:%u</td><td>%u</td>"
              "<td>%u</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%.1f</td><td>%u</td>"
              "<td>%u</td><td class=l>",
              us_tcp_state_name(ti[i].state), ip4_str(ti[i].laddr, a), (unsigned)ti[i].lport,
              ip4_str(ti[i].raddr, r), (unsigned)ti[i].rport, ti[i].rcv_queued,
              ti[i].snd_queued, ti[i].bytes_in, ti[i].bytes_out, (double)ti[i].srtt / 1000.0,
              ti[i].cwnd, ti[i].retransmits);
    sb_html(b, tls_column(svc, ti[i].sock));
    sb_add(b, "</td></tr>\n", 11);
  }
  static const char counters_head[] =
      "</table>\n<h2>Counters (non-zero)</h2>\n<table><tr><th class=l>counter</th>"
      "<th>value</th><th class=l>meaning</th></tr>\n";
  sb_add(b, counters_head, sizeof counters_head - 1);
  for (int id = 0; id < US_STAT_COUNT; id++) {
    uint64_t v = us_stack_stat(s, (enum us_stat)id);
    const char *name = us_stat_name((enum us_stat)id);
    const char *desc = us_stat_desc((enum us_stat)id);
    if (!v || !name)
      continue;
    sb_printf(b, "<tr><td class=l>%s</td><td>%" PRIu64 "</td><td class=l>", name, v);
    sb_html(b, desc ? desc : "");
    sb_add(b, "</td></tr>\n", 11);
  }
  sb_add(b, "</table>\n</body></html>\n", 24);
  free(ti);
}

/* ---- files ------------------------------------------------------------------ */

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/*
 * Map the URL path to a file under the root. Returns 200 with an open fd
 * and its size, 301 with `loc` (a directory without its slash), or an
 * error status.
 */
static int resolve_file(struct https_service *svc, const char *path, size_t plen, int *fd,
                        uint64_t *size, char *real, char *loc, size_t loclen) {
  char dec[PATH_MAX];
  size_t dl = 0;
  /* Percent-decoding (RFC 3986 2.1); NUL and bad escapes are refused. */
  for (size_t i = 0; i < plen; i++) {
    char ch = path[i];
    if (ch == '%') {
      if (i + 2 >= plen) /* needs two hex digits */
        return 400;
      int hi = hexval(path[i + 1]), lo = hexval(path[i + 2]);
      if (hi < 0 || lo < 0)
        return 400;
      ch = (char)(hi * 16 + lo);
      i += 2;
      if (ch == '\0')
        return 400;
    }
    if (dl + 1 >= sizeof dec - 16)
      return 414;
    dec[dl++] = ch;
  }
  dec[dl] = '\0';
  if (dl == 0 || dec[0] != '/')
    return 400;
  /* No ".." segment, before any file system lookup. */
  for (size_t i = 0; i < dl; i++) {
    if (dec[i] == '/' && dec[i + 1] == '.' && dec[i + 2] == '.' &&
        (dec[i + 3] == '/' || dec[i + 3] == '\0'))
      return 403;
    if (dec[i] == '\\')
      return 403;
  }
  bool dir_req = dec[dl - 1] == '/';
  char full[PATH_MAX * 2];
  int fl = snprintf(full, sizeof full, "%s%s%s", svc->root, dec, dir_req ? "index.html" : "");
  if (fl < 0 || (size_t)fl >= sizeof full)
    return 414;
  if (!realpath(full, real))
    return errno == EACCES ? 403 : 404;
  /* After symlinks, still below the root? */
  if (strncmp(real, svc->root, svc->root_len) != 0 ||
      (real[svc->root_len] != '/' && real[svc->root_len] != '\0'))
    return 403;
  struct stat st;
  if (stat(real, &st) != 0)
    return 404;
  if (S_ISDIR(st.st_mode)) {
    if (dir_req)
      return 403;
    snprintf(loc, loclen, "%s/", dec); /* RFC 9110 15.4.2 */
    return 301;
  }
  if (!S_ISREG(st.st_mode))
    return 403;
  int f = open(real, O_RDONLY | O_CLOEXEC);
  if (f < 0)
    return errno == EACCES ? 403 : 404;
  if (fstat(f, &st) != 0) {
    close(f);
    return 500;
  }
  *fd = f;
  *size = (uint64_t)st.st_size;
  return 200;
}

/* Build the response to the parsed request into c->out (+ c->fd). */
static void handle_request(struct hconn *c, us_time_t now) {
  struct https_service *svc = c->svc;
  svc->requests++;
  c->requests++;
  c->out.len = 0;
  c->out_off = 0;
  c->close_after = !c->keep_alive;
  if (c->url_too_long) {
    respond_error(c, 414, true);
    return;
  }
  if (c->http_major != 1) {
    respond_error(c, 505, true);
    return;
  }
  if (c->method != HTTP_GET && c->method != HTTP_HEAD) {
    respond_error(c, 405, false);
    return;
  }
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(c->url, c->url_len, 0, &u) != 0 || !(u.field_set & (1 << UF_PATH))) {
    svc->bad_requests++;
    respond_error(c, 400, true);
    return;
  }
  const char *path = c->url + u.field_data[UF_PATH].off;
  size_t plen = u.field_data[UF_PATH].len;

  if ((plen == 7 && memcmp(path, "/status", 7) == 0) ||
      (plen == 12 && memcmp(path, "/status.json", 12) == 0)) {
    struct sbuf body = {0};
    bool json = plen == 12;
    status_build(svc, svc->s, now, json, &body);
    if (body.oom) {
      respond_error(c, 500, true);
    } else {
      respond_body(c, json ? "application/json" : "text/html; charset=utf-8", &body,
                   "Cache-Control: no-store\r\n");
    }
    sb_free(&body);
    return;
  }

  char real[PATH_MAX], loc[PATH_MAX + 2];
  int fd = -1;
  uint64_t size = 0;
  int code = resolve_file(svc, path, plen, &fd, &size, real, loc, sizeof loc);
  if (code == 301) {
    char extra[PATH_MAX + 32];
    snprintf(extra, sizeof extra, "Location: %s\r\n", loc);
    response_head(c, 301, "text/plain", 0, extra);
    return;
  }
  if (code != 200) {
    if (code == 400)
      svc->bad_requests++;
    respond_error(c, code, code == 400);
    return;
  }
  response_head(c, 200, content_type(real), size, NULL);
  if (c->method == HTTP_HEAD || size == 0) {
    close(fd);
    return;
  }
  /* A small file goes with its head, in one TLS record. */
  if (size <= HTTPS_CHUNK) {
    sb_grow(&c->out, (size_t)size);
    ssize_t r = c->out.oom ? -1 : pread(fd, c->out.p + c->out.len, (size_t)size, 0);
    close(fd);
    if (r != (ssize_t)size) { /* shrank or failed: Content-Length cannot hold */
      c->out.len = 0;
      respond_error(c, 500, true);
      return;
    }
    c->out.len += (size_t)size;
    return;
  }
  c->fd = fd;
  c->file_off = 0;
  c->file_left = size;
  c->chunk_len = c->chunk_off = 0;
}

/* ---- connection life ------------------------------------------------------------ */

static void hconn_free(struct hconn *c, us_time_t now, bool abort) {
  us_stack *s = c->svc->s;
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
  if (us_sock_valid(c->sock)) {
    us_sock_set_user(s, c->sock, NULL);
    if (abort)
      us_tcp_abort(s, c->sock, now);
    else
      us_tcp_close(s, c->sock, now); /* FIN after the queued ciphertext */
  }
  us_tls_conn_free(c->tls);
  sb_free(&c->out);
  c->tls = NULL;
  c->sock = US_SOCK_INVALID;
  c->st = HC_FREE;
  c->svc->want_accept = true;
}

static void hconn_begin_close(struct hconn *c, us_time_t now) {
  c->st = HC_CLOSING;
  c->deadline = now + HTTPS_CLOSE_GRACE;
  if (c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
  }
}

/* Write what is pending. true when the response is complete. */
static bool hconn_write(struct hconn *c, us_time_t now, bool *failed) {
  while (c->out_off < c->out.len) {
    long n = us_tls_write(c->tls, c->out.p + c->out_off, c->out.len - c->out_off, now);
    if (n == US_ERR_AGAIN)
      return false;
    if (n <= 0) {
      *failed = true;
      return false;
    }
    c->out_off += (size_t)n;
    c->svc->bytes_out += (uint64_t)n;
    c->deadline = now + c->svc->o.idle_timeout;
  }
  /* Stream the file: never more than one chunk in memory. */
  for (unsigned i = 0; i < 1u << 20 && (c->file_left > 0 || c->chunk_off < c->chunk_len); i++) {
    if (c->chunk_off == c->chunk_len) {
      size_t want = c->file_left < HTTPS_CHUNK ? (size_t)c->file_left : HTTPS_CHUNK;
      ssize_t r = pread(c->fd, c->chunk, want, (off_t)c->file_off);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0) {
        /* The file shrank under us: Content-Length cannot be kept, so the
         * only honest end is closing the connection. */
        *failed = true;
        return false;
      }
      c->chunk_len = (size_t)r;
      c->chunk_off = 0;
      c->file_off += (uint64_t)r;
      c->file_left -= (uint64_t)r;
    }
    long n = us_tls_write(c->tls, c->chunk + c->chunk_off, c->chunk_len - c->chunk_off, now);
    if (n == US_ERR_AGAIN)
      return false;
    if (n <= 0) {
      *failed = true;
      return false;
    }
    c->chunk_off += (size_t)n;
    c->svc->bytes_out += (uint64_t)n;
    c->deadline = now + c->svc->o.idle_timeout;
  }
  if (c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
  }
  return true;
}

/* Feed buffered bytes to the parser. false when the connection must end. */
static bool hconn_parse(struct hconn *c, us_time_t now) {
  if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED)
    http_parser_pause(&c->parser, 0);
  c->msg_complete = false; /* set again by on_message_complete */
  size_t n = http_parser_execute(&c->parser, &parser_settings, (const char *)c->rbuf + c->roff,
                                 c->rlen - c->roff);
  c->roff += n;
  enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
  if (c->msg_complete) {
    handle_request(c, now);
    c->st = HC_RESPONSE;
    return true;
  }
  if (e != HPE_OK && e != HPE_PAUSED) {
    /* RFC 9112 9.6 / RFC 9110 15.5.1: a message we cannot parse gets 400
     * and the connection ends (framing is lost). */
    c->out.len = 0;
    c->out_off = 0;
    c->svc->bad_requests++;
    c->method = HTTP_GET;
    respond_error(c, c->hdr_too_large ? 431 : 400, true);
    c->st = HC_RESPONSE;
    return true;
  }
  if (c->roff < c->rlen) /* cannot happen without pause or error */
    c->roff = c->rlen;
  return true;
}

static void hconn_run(struct hconn *c, us_time_t now) {
  struct https_service *svc = c->svc;
  for (int step = 0; step < 10000 && c->st != HC_FREE; step++) {
    switch (c->st) {
    case HC_HANDSHAKE:
      if (us_tls_handshake_done(c->tls)) {
        c->st = HC_REQUEST;
        svc->want_accept = true; /* a handshake slot is free */
        c->deadline = now + svc->o.idle_timeout;
        break;
      }
      if (us_tls_events(c->tls) & (US_EV_CLOSED | US_EV_ERROR)) {
        hconn_free(c, now, false);
        return;
      }
      return; /* wait for more handshake bytes */
    case HC_REQUEST:
      if (c->roff < c->rlen) {
        hconn_parse(c, now);
        break;
      }
      {
        long n = us_tls_read(c->tls, c->rbuf, sizeof c->rbuf, now);
        if (n == US_ERR_AGAIN)
          return;
        if (n <= 0) { /* close_notify (0), truncation or a TLS error */
          if (n == 0 || (n == US_ERR_CONNRESET && us_tls_error(c->tls) == 0))
            hconn_begin_close(c, now);
          else
            hconn_free(c, now, false);
          break;
        }
        c->rlen = (size_t)n;
        c->roff = 0;
      }
      break;
    case HC_RESPONSE: {
      bool failed = false;
      if (!hconn_write(c, now, &failed)) {
        if (failed)
          hconn_free(c, now, false);
        return;
      }
      if (c->close_after) {
        hconn_begin_close(c, now);
        break;
      }
      /* Keep-alive: ready for the next request (maybe already in rbuf). */
      c->st = HC_REQUEST;
      c->out.len = 0;
      c->out_off = 0;
      c->deadline = now + svc->o.idle_timeout;
      break;
    }
    case HC_CLOSING: {
      int rc = us_tls_close(c->tls, now);
      if (rc == US_ERR_AGAIN)
        return;
      hconn_free(c, now, false);
      return;
    }
    case HC_FREE:
      return;
    }
  }
}

static void hconn_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t events,
                           us_time_t now) {
  struct hconn *c = (struct hconn *)self;
  (void)s;
  (void)sock;
  if (c->st == HC_FREE)
    return;
  us_tls_on_event(c->tls, events, now);
  hconn_run(c, now);
  if (c->svc->want_accept)
    https_accept_some(c->svc, now);
}

static uint32_t handshaking(const struct https_service *svc) {
  uint32_t n = 0;
  for (uint32_t k = 0; k < svc->nconns; k++)
    n += svc->conns[k].st == HC_HANDSHAKE;
  return n;
}

/*
 * Take connections from the listener's accept queue while a connection
 * slot and a handshake slot are free. What does not fit waits in the TCP
 * accept queue (the backlog, then SYN retries) instead of being refused,
 * and is taken as soon as a slot frees (want_accept). Handshakes are the
 * expensive part (one signature each), so their cap bounds the CPU a flood
 * of ClientHellos can take; the handshake timeout bounds how long a silent
 * client holds a slot.
 */
static void https_accept_some(struct https_service *svc, us_time_t now) {
  us_stack *s = svc->s;
  if (svc->accepting || !us_sock_valid(svc->lsock))
    return;
  svc->accepting = true;
  for (int i = 0; i < 1024; i++) {
    svc->want_accept = false;
    struct hconn *c = NULL;
    for (uint32_t k = 0; k < svc->nconns && !c; k++)
      if (svc->conns[k].st == HC_FREE)
        c = &svc->conns[k];
    if (!c || handshaking(svc) >= svc->o.max_handshakes)
      break;
    us_sock_t cs;
    us_ip4_t peer = 0;
    uint16_t pport = 0;
    if (us_tcp_accept(s, svc->lsock, &cs, &peer, &pport) != 0)
      break;
    us_tls_conn *tls = NULL;
    /* Entropy: NULL draws from the stack's source (getrandom in ustackd). */
    if (us_tls_accept(svc->tls, s, cs, NULL, 0, &tls) != 0) {
      svc->refused++;
      us_tcp_close(s, cs, now);
      continue;
    }
    svc->accepted++;
    memset(&c->parser, 0, sizeof c->parser);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->h.on_event = hconn_on_event;
    c->svc = svc;
    c->st = HC_HANDSHAKE;
    c->sock = cs;
    c->tls = tls;
    c->peer = peer;
    c->pport = pport;
    c->fd = -1;
    c->rlen = c->roff = 0;
    c->out.len = 0;
    c->out_off = 0;
    c->requests = 0;
    c->close_after = false;
    c->accepted_at = now;
    c->deadline = now + svc->o.handshake_timeout;
    us_sock_set_user(s, cs, &c->h);
    /* Request/response: every response is complete when written, so
     * nothing is gained by Nagle holding its tail (RFC 9293 3.7.4 lets an
     * application turn it off, MUST-17). */
    us_tcp_setopt(s, cs, US_TCP_NODELAY, 1);
    us_tls_on_event(tls, US_EV_READABLE, now); /* the ClientHello may be here */
    hconn_run(c, now);
  }
  svc->accepting = false;
}

static void listener_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock,
                              uint32_t events, us_time_t now) {
  (void)s;
  (void)sock;
  if (events & US_EV_ACCEPT)
    https_accept_some((struct https_service *)self, now);
}

/* ---- service ----------------------------------------------------------------------- */

us_time_t https_service_poll(void *ctx, us_stack *s, us_time_t now) {
  struct https_service *svc = ctx;
  (void)s;
  us_time_t next = US_TIME_NEVER;
  for (uint32_t i = 0; i < svc->nconns; i++) {
    struct hconn *c = &svc->conns[i];
    if (c->st == HC_FREE)
      continue;
    if (now >= c->deadline) {
      switch (c->st) {
      case HC_HANDSHAKE:
        svc->hs_timeouts++;
        hconn_free(c, now, true);
        break;
      case HC_REQUEST:
      case HC_RESPONSE:
        svc->idle_timeouts++;
        hconn_begin_close(c, now);
        hconn_run(c, now);
        break;
      default:
        hconn_free(c, now, true); /* close_notify never left: give up */
        break;
      }
    }
    if (c->st != HC_FREE && c->deadline < next)
      next = c->deadline;
  }
  if (svc->want_accept)
    https_accept_some(svc, now);
  return next;
}

int https_service_start(us_stack *s, const struct https_opts *o, us_time_t now,
                        struct https_service **out, char *err, size_t errlen) {
  *out = NULL;
  const struct us_config *cfg = us_stack_config(s);
  if (cfg->tcp_rcvbuf < US_TLS_MIN_TCP_RCVBUF) {
    snprintf(err, errlen,
             "https: the TCP receive buffer (%u bytes) is smaller than one TLS record; "
             "it must be at least %u",
             cfg->tcp_rcvbuf, (unsigned)US_TLS_MIN_TCP_RCVBUF);
    return US_ERR_INVAL;
  }
  struct https_service *svc = calloc(1, sizeof *svc);
  if (!svc) {
    snprintf(err, errlen, "https: out of memory");
    return US_ERR_NOMEM;
  }
  svc->o = *o;
  if (!svc->o.max_conns)
    svc->o.max_conns = 128;
  if (!svc->o.max_handshakes)
    svc->o.max_handshakes = svc->o.max_conns / 2 ? svc->o.max_conns / 2 : 1;
  if (svc->o.max_handshakes > svc->o.max_conns)
    svc->o.max_handshakes = svc->o.max_conns;
  if (!svc->o.max_header_bytes)
    svc->o.max_header_bytes = 8192;
  if (!svc->o.handshake_timeout)
    svc->o.handshake_timeout = US_SEC(10);
  if (!svc->o.idle_timeout)
    svc->o.idle_timeout = US_SEC(30);
  svc->s = s;
  svc->started = now;
  svc->h.on_event = listener_on_event;
  svc->lsock = US_SOCK_INVALID;

  struct stat st;
  if (!o->root_dir || !realpath(o->root_dir, svc->root) || stat(svc->root, &st) != 0 ||
      !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "https: --root %s: %s", o->root_dir ? o->root_dir : "(none)",
             errno ? strerror(errno) : "not a directory");
    free(svc);
    return US_ERR_INVAL;
  }
  svc->root_len = strlen(svc->root);
  if (svc->root_len == 1) /* "/" : keep the prefix check meaningful */
    svc->root_len = 0;

  char *cert = NULL, *key = NULL;
  size_t cert_len = 0, key_len = 0;
  if (read_small_file("https: --cert", o->cert_file, &cert, &cert_len, err, errlen) != 0 ||
      read_small_file("https: --key", o->key_file, &key, &key_len, err, errlen) != 0) {
    free(cert);
    free(svc);
    return US_ERR_INVAL;
  }
  struct us_tls_server_opts to = {
      .cert_pem = cert, .cert_pem_len = cert_len, .key_pem = key, .key_pem_len = key_len,
      .cert_name = o->cert_file, .key_name = o->key_file, .max_conns = svc->o.max_conns,
      .max_handshakes = svc->o.max_handshakes, .session_cache_entries = 1024};
  char terr[300] = "";
  int rc = us_tls_server_ctx_create(&svc->tls, &to, terr, sizeof terr);
  memset(key, 0, key_len);
  free(key);
  free(cert);
  if (rc != 0) {
    snprintf(err, errlen, "https: %s", terr);
    free(svc);
    return rc;
  }
  svc->nconns = svc->o.max_conns;
  svc->conns = calloc(svc->nconns, sizeof *svc->conns);
  if (!svc->conns) {
    snprintf(err, errlen, "https: out of memory");
    us_tls_server_ctx_destroy(svc->tls);
    free(svc);
    return US_ERR_NOMEM;
  }
  for (uint32_t i = 0; i < svc->nconns; i++) {
    svc->conns[i].fd = -1;
    svc->conns[i].svc = svc;
  }
  rc = us_tcp_socket(s, &svc->lsock);
  if (rc == 0)
    rc = us_tcp_bind(s, svc->lsock, o->port);
  if (rc == 0)
    rc = us_tcp_listen(s, svc->lsock, 128);
  if (rc == 0)
    rc = us_sock_set_user(s, svc->lsock, &svc->h);
  if (rc != 0) {
    snprintf(err, errlen, "https: listen on port %u: %s", (unsigned)o->port, us_strerror(rc));
    https_service_stop(svc, s, now);
    return rc;
  }
  *out = svc;
  return 0;
}

void https_service_stop(struct https_service *svc, us_stack *s, us_time_t now) {
  if (!svc)
    return;
  for (uint32_t i = 0; i < svc->nconns; i++) {
    struct hconn *c = &svc->conns[i];
    if (c->st == HC_FREE)
      continue;
    if (c->st != HC_HANDSHAKE && c->tls)
      us_tls_close(c->tls, now); /* best effort close_notify */
    hconn_free(c, now, false);
  }
  if (us_sock_valid(svc->lsock)) {
    us_sock_set_user(s, svc->lsock, NULL);
    us_tcp_close(s, svc->lsock, now);
  }
  us_tls_server_ctx_destroy(svc->tls);
  free(svc->conns);
  free(svc);
}

/* ---- ustackd options: --https PORT --cert FILE --key FILE --root DIR ------------- */

/* ustackd runs one stack, so one set of files serves every --https port. */
static struct {
  const char *cert, *key, *root;
  unsigned https_count;
} g_files;

struct https_instance {
  struct https_opts o;
  struct https_service *svc;
};

static int https_parse(const char *arg, void **state, char *err, size_t errlen) {
  struct https_instance *inst = calloc(1, sizeof *inst);
  if (!inst) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (svc_parse_port(arg, &inst->o.port, err, errlen) != 0) {
    free(inst);
    return -1;
  }
  g_files.https_count++;
  *state = inst;
  return 0;
}

static int https_start(void *state, us_stack *s, us_time_t now, char *err, size_t errlen) {
  struct https_instance *inst = state;
  if (!g_files.cert || !g_files.key || !g_files.root) {
    snprintf(err, errlen, "needs %s", !g_files.cert  ? "--cert FILE"
                                      : !g_files.key ? "--key FILE"
                                                     : "--root DIR");
    return -1;
  }
  inst->o.cert_file = g_files.cert;
  inst->o.key_file = g_files.key;
  inst->o.root_dir = g_files.root;
  /* https_service_start's messages already begin with "https: ". */
  char e2[512] = "";
  if (https_service_start(s, &inst->o, now, &inst->svc, e2, sizeof e2) != 0) {
    snprintf(err, errlen, "%s", strncmp(e2, "https: ", 7) == 0 ? e2 + 7 : e2);
    return -1;
  }
  if (svc_add_poll(https_service_poll, inst->svc) != 0) {
    https_service_stop(inst->svc, s, now);
    inst->svc = NULL;
    snprintf(err, errlen, "too many services with timers");
    return -1;
  }
  return 0;
}

static void https_stop(void *state, us_stack *s, us_time_t now) {
  struct https_instance *inst = state;
  if (!inst)
    return;
  if (inst->svc) {
    svc_remove_poll(https_service_poll, inst->svc);
    https_service_stop(inst->svc, s, now);
  }
  free(inst);
}

static int file_opt(const char **slot, const char *opt, const char *arg, char *err,
                    size_t errlen) {
  if (!arg || !*arg) {
    snprintf(err, errlen, "%s needs a value", opt);
    return -1;
  }
  *slot = arg;
  return 0;
}

static int cert_parse(const char *arg, void **state, char *err, size_t errlen) {
  (void)state;
  return file_opt(&g_files.cert, "--cert", arg, err, errlen);
}
static int key_parse(const char *arg, void **state, char *err, size_t errlen) {
  (void)state;
  return file_opt(&g_files.key, "--key", arg, err, errlen);
}
static int root_parse(const char *arg, void **state, char *err, size_t errlen) {
  (void)state;
  return file_opt(&g_files.root, "--root", arg, err, errlen);
}

/* --cert/--key/--root alone would silently do nothing: say so. */
static int files_start(void *state, us_stack *s, us_time_t now, char *err, size_t errlen) {
  (void)state;
  (void)s;
  (void)now;
  if (g_files.https_count == 0) {
    snprintf(err, errlen, "needs --https PORT");
    return -1;
  }
  return 0;
}

const struct svc_desc svc_https = {"--https", "PORT",
                                   "serve HTTPS on PORT (with --cert, --key, --root)",
                                   https_parse, https_start, https_stop};
const struct svc_desc svc_https_cert = {"--cert", "FILE",
                                        "HTTPS certificate chain (PEM, leaf first)", cert_parse,
                                        files_start, NULL};
const struct svc_desc svc_https_key = {"--key", "FILE", "HTTPS private key (PEM, RSA or EC)",
                                       key_parse, files_start, NULL};
const struct svc_desc svc_https_root = {"--root", "DIR", "directory HTTPS serves files from",
                                        root_parse, files_start, NULL};

#else /* !USTACK_HAVE_TLS: the options exist and say why they cannot work */

#include <stdio.h>

static int no_tls(const char *arg, void **state, char *err, size_t errlen) {
  (void)arg;
  (void)state;
  snprintf(err, errlen, "ustackd was built without TLS (apt-get install libbearssl-dev)");
  return -1;
}
const struct svc_desc svc_https = {"--https", "PORT", "serve HTTPS (needs BearSSL)", no_tls,
                                   NULL, NULL};
const struct svc_desc svc_https_cert = {"--cert", "FILE", "HTTPS certificate", no_tls, NULL,
                                        NULL};
const struct svc_desc svc_https_key = {"--key", "FILE", "HTTPS key", no_tls, NULL, NULL};
const struct svc_desc svc_https_root = {"--root", "DIR", "HTTPS root", no_tls, NULL, NULL};

#endif
