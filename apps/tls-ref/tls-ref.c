/*
 * tls-ref - the kernel's TCP with ustack's own TLS layer on top: the HTTPS
 * and TLS-handshake reference of scripts/bench.sh.
 *
 * The same stack/tls code (BearSSL, the same suites, buffers and flight
 * gathering) runs over KERNEL sockets through the transport seam of
 * us_tls.h (us_tls_accept_transport with no stack), and answers every HTTP
 * request with a fixed 200 of --size bytes, keeping the connection open
 * (HTTP/1.1 keep-alive), as usload's plain HTTP responder does. So beside
 * ustackd --https, only the TCP underneath differs.
 *
 *   tls-ref --port P --cert FILE --key FILE [--size B] [--bind ADDR]
 *           [--max-conns N]
 *
 * One thread, epoll, edge-triggered, like ustackd's single loop. Runs until
 * SIGTERM/SIGINT. Errors on a connection close that connection only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ustack/us_tls.h"

#define IN_MAX   16384
#define OUT_MAX  65536
#define HEAD_MAX 16384

static struct {
  uint16_t port;
  const char *cert, *key, *bind;
  unsigned size, max_conns;
} opt = { .size = 100, .max_conns = 256 };

static atomic_bool g_stop;
static char g_head[256];
static size_t g_head_len;

struct conn {
  int fd;
  us_tls_conn *tls;
  uint8_t out[OUT_MAX]; /* responses not yet taken by TLS */
  size_t out_off, out_len;
  size_t req_fill; /* bytes of the current request header so far */
  char tail[4];    /* the last four bytes seen, to find CRLFCRLF */
};

static us_time_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (us_time_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The transport: ciphertext to and from the kernel socket. */
static long tr_send(void *ctx, const void *buf, size_t len, us_time_t now) {
  (void)now;
  struct conn *c = ctx;
  ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
  if (n >= 0)
    return n > 0 ? (long)n : US_ERR_AGAIN;
  return errno == EAGAIN || errno == EINTR ? US_ERR_AGAIN : US_ERR_IO;
}

static long tr_recv(void *ctx, void *buf, size_t cap, us_time_t now) {
  (void)now;
  struct conn *c = ctx;
  ssize_t n = recv(c->fd, buf, cap, 0);
  if (n >= 0)
    return (long)n;
  return errno == EAGAIN || errno == EINTR ? US_ERR_AGAIN : US_ERR_IO;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "tls-ref: %s: %s\n", path, strerror(errno));
    exit(1);
  }
  char *buf = malloc(1 << 20);
  if (!buf)
    exit(1);
  *len = fread(buf, 1, (1 << 20) - 1, f);
  fclose(f);
  buf[*len] = 0;
  return buf;
}

/* Queue one response for every request header that ended in `p`
 * (requests without a body, as wrk sends). -1: too much pipelined. */
static int http_input(struct conn *c, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    memmove(c->tail, c->tail + 1, 3);
    c->tail[3] = (char)p[i];
    if (++c->req_fill > HEAD_MAX)
      return -1;
    if (memcmp(c->tail, "\r\n\r\n", 4) != 0)
      continue;
    size_t need = g_head_len + opt.size;
    if (c->out_off + c->out_len + need > OUT_MAX)
      return -1;
    uint8_t *w = c->out + c->out_off + c->out_len;
    memcpy(w, g_head, g_head_len);
    memset(w + g_head_len, 'x', opt.size);
    c->out_len += need;
    c->req_fill = 0;
    memset(c->tail, 0, 4);
  }
  return 0;
}

/* Move what can move: responses into TLS, requests out of it.
 * Returns false when the connection is over. */
static bool conn_run(struct conn *c) {
  us_time_t now = now_us();
  uint32_t ev = us_tls_on_event(c->tls, 0, now);
  if (ev & US_EV_ERROR)
    return false;
  for (;;) {
    while (c->out_len) {
      long w = us_tls_write(c->tls, c->out + c->out_off, c->out_len, now);
      if (w == US_ERR_AGAIN)
        break;
      if (w < 0)
        return false;
      c->out_off += (size_t)w;
      c->out_len -= (size_t)w;
    }
    if (!c->out_len)
      c->out_off = 0;
    if (c->out_len)
      return true; /* back-pressure: read more once these are out */
    uint8_t buf[IN_MAX];
    long r = us_tls_read(c->tls, buf, sizeof buf, now);
    if (r == US_ERR_AGAIN)
      return true;
    if (r <= 0)
      return false; /* close_notify, the client's FIN, or an error */
    if (http_input(c, buf, (size_t)r) != 0)
      return false;
  }
}

static void conn_end(struct conn *c) {
  us_tls_close(c->tls, now_us());
  us_tls_conn_free(c->tls);
  close(c->fd);
  free(c);
}

static void on_stop(int sig) {
  (void)sig;
  atomic_store(&g_stop, true);
}

_Noreturn static void usage(void) {
  fprintf(stderr,
          "usage: tls-ref --port P --cert FILE --key FILE [--size B] [--bind ADDR]\n"
          "               [--max-conns N]\n"
          "  HTTPS over KERNEL sockets with ustack's TLS layer: every request gets\n"
          "  a 200 with B bytes (default 100), keep-alive; up to N TLS connections\n"
          "  (default 256). Runs until SIGTERM.\n");
  exit(2);
}

static unsigned parse_num(const char *s, unsigned lo, unsigned hi, const char *what) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) {
    fprintf(stderr, "tls-ref: %s must be %u..%u, not '%s'\n", what, lo, hi, s);
    exit(2);
  }
  return (unsigned)v;
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc)
      usage();
    const char *a = argv[i], *v = argv[++i];
    if (strcmp(a, "--port") == 0)
      opt.port = (uint16_t)parse_num(v, 1, 65535, "--port");
    else if (strcmp(a, "--cert") == 0)
      opt.cert = v;
    else if (strcmp(a, "--key") == 0)
      opt.key = v;
    else if (strcmp(a, "--bind") == 0)
      opt.bind = v;
    else if (strcmp(a, "--size") == 0)
      opt.size = parse_num(v, 0, 16384, "--size");
    else if (strcmp(a, "--max-conns") == 0)
      opt.max_conns = parse_num(v, 1, 4096, "--max-conns");
    else
      usage();
  }
  if (!opt.port || !opt.cert || !opt.key)
    usage();
  signal(SIGTERM, on_stop);
  signal(SIGINT, on_stop);
  signal(SIGPIPE, SIG_IGN);
  g_head_len = (size_t)snprintf(g_head, sizeof g_head,
                                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                "Content-Length: %u\r\n\r\n",
                                opt.size);

  struct us_tls_server_opts so = { 0 };
  so.cert_pem = read_file(opt.cert, &so.cert_pem_len);
  so.key_pem = read_file(opt.key, &so.key_pem_len);
  so.cert_name = opt.cert;
  so.key_name = opt.key;
  so.max_conns = opt.max_conns;
  us_tls_server_ctx *ctx;
  char err[256];
  if (us_tls_server_ctx_create(&ctx, &so, err, sizeof err) != 0) {
    fprintf(stderr, "tls-ref: %s\n", err);
    return 1;
  }

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(opt.port) };
  if (opt.bind && inet_pton(AF_INET, opt.bind, &sin.sin_addr) != 1) {
    fprintf(stderr, "tls-ref: '%s' is not an IPv4 address\n", opt.bind);
    return 2;
  }
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(lfd, 1024) != 0) {
    fprintf(stderr, "tls-ref: cannot listen on port %u: %s\n", opt.port, strerror(errno));
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  fprintf(stderr, "tls-ref: HTTPS on port %u (kernel TCP, ustack TLS)\n", opt.port);

  unsigned long refused = 0;
  struct epoll_event evs[256];
  while (!atomic_load(&g_stop)) {
    int nev = epoll_wait(ep, evs, 256, 200);
    for (int k = 0; k < nev; k++) {
      struct conn *c = evs[k].data.ptr;
      if (c) {
        if (!conn_run(c))
          conn_end(c);
        continue;
      }
      int fd;
      while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c = calloc(1, sizeof *c);
        uint8_t entropy[US_TLS_ENTROPY_MIN];
        if (!c || getrandom(entropy, sizeof entropy, 0) != (ssize_t)sizeof entropy) {
          free(c);
          close(fd);
          continue;
        }
        c->fd = fd;
        struct us_tls_transport tr = { .send = tr_send, .recv = tr_recv, .ctx = c };
        if (us_tls_accept_transport(ctx, NULL, &tr, entropy, sizeof entropy, &c->tls) != 0) {
          refused++; /* every slot busy: the client sees the close */
          free(c);
          close(fd);
          continue;
        }
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        if (!conn_run(c))
          conn_end(c); /* epoll forgets a closed descriptor by itself */
      }
    }
  }
  fprintf(stderr, "tls-ref: stopped (%lu connections refused for want of a slot)\n", refused);
  return 0;
}
