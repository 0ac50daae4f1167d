/*
 * usload - the benchmark's load tool, on KERNEL sockets.
 *
 * It runs inside a network namespace as the peer of ustackd (or of lwip-ref,
 * or as both ends of the kernel-over-veth reference):
 *
 *   usload send  HOST PORT BYTES   connect, send BYTES, shutdown, wait for EOF
 *   usload recv  HOST PORT         connect, read to EOF (or --bytes N, then close)
 *   usload rr    HOST PORT         request/response: --parallel connections each
 *                                  send --size bytes and wait for them back
 *   usload conns HOST PORT N       N connect/shutdown/EOF/close cycles
 *   usload hold  HOST PORT N       open N connections and keep them idle for
 *                                  --seconds or until SIGTERM (memory per connection)
 *   usload serve PORT              an epoll server: --mode discard, echo,
 *                                  source, chargen or http
 *   usload sha   MBYTES            speed of our SHA-256 (a reference line)
 *
 * HOST is an IPv4 address; send, recv and rr also take an IPv6 one.
 *
 * The clock holds nothing but the transfer. A timed run (no --seed) sends
 * one buffer filled before the clock starts and only counts what arrives:
 * no byte is generated, compared or hashed while the clock runs. A verified
 * run (--seed S) moves the seeded stream (apps/common/stream.h: byte i
 * depends only on seed and i, the stream ustackd's --tcp-source sends and its
 * --tcp-sink hashes); the receiver compares each chunk with the regenerated
 * stream, and the SHA-256 is computed after the clock stops. scripts/bench.sh
 * takes its figures from timed runs and proves integrity with verified ones.
 *
 * Every result is one line on stdout, `usload MODE: key=value ...`, with
 * MB/s in units of 10^6 bytes per second of application payload.
 * Exit status: 0 success, 1 a transfer failed or its content was wrong,
 * 2 usage, 3 --timeout expired. Everything is bounded: the whole run by
 * --timeout (default 60 s), rr by --seconds and --count, conns and hold by N.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"
#include "stream.h"

#define CHUNK              (256 * 1024)
#define CONNS_PARALLEL_MAX 1000
#define RR_SIZE_MAX        65536
#define HOLD_MAX           1000000
#define FROM_MAX           64

static struct {
  unsigned timeout; /* seconds for the whole run */
  uint64_t seed;
  bool have_seed;  /* verified run: the seeded stream, checked and hashed */
  uint64_t expect; /* recv/serve: required byte count (if have_expect) */
  bool have_expect;
  uint64_t bytes; /* recv: stop after this many bytes (if have_bytes) */
  bool have_bytes;
  uint64_t send;           /* serve --mode source: bytes to send per connection */
  unsigned count;          /* serve: connections to finish before exiting (0 = no limit) */
  unsigned parallel;       /* conns, rr, hold: connections in flight */
  unsigned size;           /* rr: request = response size; serve http: body size */
  double seconds;          /* rr: length of the measurement */
  uint64_t rr_count;       /* rr: stop after this many transactions (0 = none) */
  const char *mode;        /* serve */
  const char *bind;        /* serve: local address */
  const char *cc;          /* send, recv: the kernel's congestion control (TCP_CONGESTION) */
  uint32_t from[FROM_MAX]; /* hold: source addresses, network order */
  unsigned nfrom;
} opt = { .timeout = 60, .seed = 1, .count = 0, .size = 100, .seconds = 5.0, .mode = "discard" };

static uint8_t g_buf[CHUNK], g_ref[CHUNK], g_fixed[CHUNK];

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "usload: --timeout expired\n";
  ssize_t r = write(2, msg, sizeof msg - 1);
  (void)r;
  _exit(3);
}

_Noreturn static void usage(void) {
  fprintf(stderr,
          "usage: usload [options] send HOST PORT BYTES\n"
          "       usload [options] recv HOST PORT\n"
          "       usload [options] rr HOST PORT\n"
          "       usload [options] conns HOST PORT N\n"
          "       usload [options] hold HOST PORT N\n"
          "       usload [options] serve PORT\n"
          "       usload sha MBYTES\n"
          "options:\n"
          "  --timeout SEC   bound on the whole run (default 60); expiry exits 3\n"
          "  --seed S        verified run: move the seeded stream, compare what arrives\n"
          "                  with it, and print its SHA-256 (computed after the clock)\n"
          "  --expect BYTES  recv/serve: fail unless exactly BYTES arrive\n"
          "  --bytes N       recv: read N bytes, then close (for endless senders)\n"
          "  --mode M        serve: discard (default), echo, source, chargen, http\n"
          "  --send BYTES    serve --mode source: bytes to send per connection\n"
          "  --count K       serve: exit after K connections ended (default: never)\n"
          "  --parallel P    conns, rr, hold: connections at once (conns, hold <= %d)\n"
          "  --size B        rr: request and response bytes (default 100, <= %d);\n"
          "                  serve --mode http: response body bytes\n"
          "  --seconds S     rr: measure for S seconds (default 5); hold: hold that long\n"
          "  --rr-count N    rr: stop after N transactions\n"
          "  --from A,B,...  hold: source addresses, used in turn\n"
          "  --bind ADDR     serve: listen on ADDR only\n"
          "  --cc NAME       send, recv: this socket's congestion control (TCP_CONGESTION,\n"
          "                  e.g. cubic; any available one with CAP_NET_ADMIN)\n"
          "HOST is an IPv4 address; send, recv and rr also take an IPv6 one.\n",
          CONNS_PARALLEL_MAX, RR_SIZE_MAX);
  exit(2);
}

static uint64_t parse_u64(const char *s, const char *what) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno || end == s || *end || s[0] == '-') {
    fprintf(stderr, "usload: bad %s '%s'\n", what, s);
    exit(2);
  }
  return (uint64_t)v;
}

static uint64_t parse_range(const char *s, const char *what, uint64_t lo, uint64_t hi) {
  uint64_t v = parse_u64(s, what);
  if (v < lo || v > hi) {
    fprintf(stderr, "usload: %s must be %" PRIu64 "..%" PRIu64 "\n", what, lo, hi);
    exit(2);
  }
  return v;
}

static uint16_t parse_port(const char *s) { return (uint16_t)parse_range(s, "port", 1, 65535); }

static struct sockaddr_in parse_addr(const char *host, uint16_t port) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
    fprintf(stderr, "usload: '%s' is not an IPv4 address\n", host);
    exit(2);
  }
  return sin;
}

/* The blocking client modes (send, recv, rr) also take an IPv6 address. */
static socklen_t parse_addr_any(const char *host, uint16_t port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    return sizeof *s6;
  }
  struct sockaddr_in sin = parse_addr(host, port);
  memcpy(ss, &sin, sizeof sin);
  return sizeof sin;
}

static void parse_from(const char *list) {
  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s", list);
  for (char *save = NULL, *a = strtok_r(tmp, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
    if (opt.nfrom == FROM_MAX) {
      fprintf(stderr, "usload: --from takes at most %d addresses\n", FROM_MAX);
      exit(2);
    }
    opt.from[opt.nfrom++] = parse_addr(a, 0).sin_addr.s_addr;
  }
}

/* Raise the descriptor limit to `want` (hold keeps one per connection). */
static void want_fds(uint64_t want) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
    return;
  /* Raising the hard limit needs CAP_SYS_RESOURCE; without it, the soft
   * limit goes as far as the hard one (scripts/bench.sh runs several hold
   * processes when one cannot keep them all). */
  rlim_t hard = rl.rlim_max;
  rl.rlim_cur = rl.rlim_max = want;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    rl.rlim_cur = rl.rlim_max = hard;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* --- the stream --------------------------------------------------------- */

/* The 8-byte block k of the stream, exactly as apps/common/stream.c makes it
 * (splitmix64 of seed + (k+1) * golden ratio). Duplicated here only so whole
 * blocks can be stored 8 bytes at a time; check_stream() proves the two
 * agree on every run. */
static uint64_t stream_block(uint64_t seed, uint64_t k) {
  uint64_t z = seed + (k + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void stream_fill(uint64_t seed, uint64_t off, uint8_t *buf, size_t len) {
  size_t i = (size_t)((8 - off % 8) % 8);
  if (i > len)
    i = len;
  us_stream_fill(seed, off, buf, i); /* unaligned head */
  for (; i + 8 <= len; i += 8) {
    uint64_t v = stream_block(seed, (off + i) / 8);
    for (int b = 0; b < 8; b++)
      buf[i + (size_t)b] = (uint8_t)(v >> (8 * b)); /* little-endian */
  }
  us_stream_fill(seed, off + i, buf + i, len - i); /* tail */
}

static void check_stream(void) {
  uint8_t a[77], b[77];
  stream_fill(opt.seed, 13, a, sizeof a);
  us_stream_fill(opt.seed, 13, b, sizeof b);
  if (memcmp(a, b, sizeof a) != 0) {
    fprintf(stderr, "usload: internal error: fast stream differs from apps/common/stream.c\n");
    exit(1);
  }
}

/* Hash bytes [from, to) of the stream into `sh`. */
static void hash_stream(struct us_sha256 *sh, uint64_t from, uint64_t to) {
  while (from < to) {
    size_t n = to - from < CHUNK ? (size_t)(to - from) : CHUNK;
    stream_fill(opt.seed, from, g_ref, n);
    us_sha256_update(sh, g_ref, n);
    from += n;
  }
}

static void stream_hex(uint64_t bytes, char hex[65]) {
  struct us_sha256 sh;
  uint8_t d[32];
  us_sha256_init(&sh);
  hash_stream(&sh, 0, bytes);
  us_sha256_final(&sh, d);
  us_sha256_hex(d, hex);
}

/* What a sender writes at stream offset `off`: the seeded stream in a
 * verified run, else the buffer filled before the clock started. */
static const uint8_t *tx_bytes(uint64_t off, size_t n) {
  if (!opt.have_seed)
    return g_fixed;
  stream_fill(opt.seed, off, g_buf, n);
  return g_buf;
}

/* A verified receiver's check of one chunk at stream offset `off`:
 * true if it matches; else *at is the first differing byte's offset. */
static bool rx_check(const uint8_t *p, size_t n, uint64_t off, uint64_t *at) {
  stream_fill(opt.seed, off, g_ref, n);
  if (memcmp(g_ref, p, n) == 0)
    return true;
  size_t i = 0;
  while (g_ref[i] == p[i])
    i++;
  *at = off + i;
  return false;
}

static double mbps(uint64_t bytes, double secs) {
  return secs > 0 ? (double)bytes / secs / 1e6 : 0.0;
}

/* --- blocking client modes: send, recv ----------------------------------- */

static int connect_to(const char *host, uint16_t port, const char *who) {
  struct sockaddr_storage sin;
  socklen_t slen = parse_addr_any(host, port, &sin);
  int fd = socket(sin.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, "usload %s: socket: %s\n", who, strerror(errno));
    exit(1);
  }
  if (opt.cc &&
      setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, opt.cc, (socklen_t)strlen(opt.cc)) != 0) {
    fprintf(stderr, "usload %s: congestion control '%s': %s\n", who, opt.cc, strerror(errno));
    exit(2);
  }
  while (connect(fd, (struct sockaddr *)&sin, slen) != 0) {
    if (errno == EINTR)
      continue;
    fprintf(stderr, "usload %s: connect to %s:%u: %s\n", who, host, port, strerror(errno));
    exit(1);
  }
  return fd;
}

/* Drain to EOF (the peer's close), discarding. Bytes read, or -1. */
static long long drain(int fd, const char *who) {
  long long total = 0;
  for (;;) {
    ssize_t n = recv(fd, g_buf, CHUNK, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      fprintf(stderr, "usload %s: waiting for the peer's close: %s\n", who, strerror(errno));
      return -1;
    }
    if (n == 0)
      return total;
    total += n;
  }
}

/* Timed from the established connection to the peer's FIN, which a
 * discard-like server sends only after it read everything. */
static int do_send(const char *host, uint16_t port, uint64_t bytes) {
  int fd = connect_to(host, port, "send");
  double t0 = now_s();
  uint64_t off = 0;
  while (off < bytes) {
    size_t n = bytes - off < CHUNK ? (size_t)(bytes - off) : CHUNK;
    const uint8_t *p = tx_bytes(off, n);
    size_t done = 0;
    while (done < n) {
      ssize_t w = send(fd, p + done, n - done, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0) {
        fprintf(stderr, "usload send: send failed after %" PRIu64 " bytes: %s\n", off + done,
                strerror(errno));
        return 1;
      }
      done += (size_t)w;
    }
    off += n;
  }
  if (shutdown(fd, SHUT_WR) != 0) {
    fprintf(stderr, "usload send: shutdown: %s\n", strerror(errno));
    return 1;
  }
  long long back = drain(fd, "send");
  double secs = now_s() - t0;
  close(fd);
  if (back < 0)
    return 1;
  char hex[65] = "-";
  if (opt.have_seed)
    stream_hex(bytes, hex); /* after the clock */
  printf("usload send: bytes=%" PRIu64 " seconds=%.3f mbps=%.1f sha256=%s\n", bytes, secs,
         mbps(bytes, secs), hex);
  if (back > 0)
    fprintf(stderr, "usload send: note: the peer sent %lld bytes back (discarded)\n", back);
  return 0;
}

/* Timed from the established connection to EOF, or to --bytes N (then
 * the connection is closed, for senders that never stop: chargen). */
static int do_recv(const char *host, uint16_t port) {
  int fd = connect_to(host, port, "recv");
  uint64_t bytes = 0, bad_at = 0;
  bool bad = false;
  double t0 = now_s();
  for (;;) {
    size_t want = CHUNK;
    if (opt.have_bytes && opt.bytes - bytes < want)
      want = (size_t)(opt.bytes - bytes);
    if (want == 0)
      break;
    ssize_t n = recv(fd, g_buf, want, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      fprintf(stderr, "usload recv: recv failed after %" PRIu64 " bytes: %s\n", bytes,
              strerror(errno));
      return 1;
    }
    if (n == 0)
      break;
    if (opt.have_seed && !bad && !rx_check(g_buf, (size_t)n, bytes, &bad_at))
      bad = true;
    bytes += (uint64_t)n;
  }
  double secs = now_s() - t0;
  close(fd);
  char hex[65] = "-";
  if (opt.have_seed && !bad)
    stream_hex(bytes, hex); /* what arrived is the stream: its digest, after the clock */
  const char *verified = !opt.have_seed ? "no" : bad ? "mismatch" : "yes";
  printf("usload recv: bytes=%" PRIu64 " seconds=%.3f mbps=%.1f sha256=%s verified=%s\n", bytes,
         secs, mbps(bytes, secs), hex, verified);
  int rc = 0;
  if (bad) {
    fprintf(stderr,
            "usload recv: content differs from stream seed %" PRIu64 " at byte %" PRIu64 "\n",
            opt.seed, bad_at);
    rc = 1;
  }
  uint64_t need = opt.have_expect ? opt.expect : opt.bytes;
  if ((opt.have_expect || opt.have_bytes) && bytes != need) {
    fprintf(stderr, "usload recv: received %" PRIu64 " bytes, expected %" PRIu64 "\n", bytes, need);
    rc = 1;
  }
  return rc;
}

/* --- non-blocking client modes: conns, rr, hold ---------------------------- */

/* A non-blocking connect to `sin`, from source address `from` (0 = any). */
static int connect_nb(const struct sockaddr_in *sin, uint32_t from, const char *who) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, "usload %s: socket: %s\n", who, strerror(errno));
    return -1;
  }
  if (from) {
    /* Let connect() pick the port per 4-tuple, so each source address
     * gives a whole ephemeral range towards the one server port. */
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = from };
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
      fprintf(stderr, "usload %s: bind: %s\n", who, strerror(errno));
      close(fd);
      return -1;
    }
  }
  if (connect(fd, (const struct sockaddr *)sin, sizeof *sin) != 0 && errno != EINPROGRESS) {
    fprintf(stderr, "usload %s: connect: %s\n", who, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

static int so_error(int fd) {
  int e = 0;
  socklen_t sl = sizeof e;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl);
  return e;
}

enum slot_state { SLOT_FREE, SLOT_CONNECTING, SLOT_WAIT_EOF };

/* N cycles of connect, shutdown(SHUT_WR), wait for the peer's FIN, close;
 * at most --parallel at once. A cycle fails on any error (refused, reset);
 * data where none was expected is fine and discarded. */
static int do_conns(const char *host, uint16_t port, uint64_t n) {
  struct sockaddr_in sin = parse_addr(host, port);
  uint64_t par = opt.parallel ? opt.parallel : n;
  if (par > CONNS_PARALLEL_MAX)
    par = CONNS_PARALLEL_MAX;
  struct pollfd *pfd = calloc((size_t)par, sizeof *pfd);
  enum slot_state *st = calloc((size_t)par, sizeof *st);
  if (!pfd || !st) {
    fprintf(stderr, "usload conns: out of memory\n");
    return 1;
  }
  uint64_t started = 0, ok = 0, failed = 0;
  double t0 = now_s();
  for (;;) {
    for (uint64_t i = 0; i < par; i++) {
      if (st[i] != SLOT_FREE || started >= n)
        continue;
      started++;
      int fd = connect_nb(&sin, 0, "conns");
      if (fd < 0) {
        failed++;
        continue;
      }
      pfd[i].fd = fd;
      pfd[i].events = POLLOUT;
      st[i] = SLOT_CONNECTING;
    }
    uint64_t active = 0;
    for (uint64_t i = 0; i < par; i++) {
      if (st[i] == SLOT_FREE)
        pfd[i].fd = -1;
      else
        active++;
    }
    if (active == 0)
      break;
    int pr = poll(pfd, (nfds_t)par, -1);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr < 0) {
      fprintf(stderr, "usload conns: poll: %s\n", strerror(errno));
      return 1;
    }
    for (uint64_t i = 0; i < par; i++) {
      if (st[i] == SLOT_FREE || !pfd[i].revents)
        continue;
      int fd = pfd[i].fd;
      bool done = false, bad = false;
      if (st[i] == SLOT_CONNECTING) {
        int soerr = so_error(fd);
        if (soerr) {
          if (failed < 5)
            fprintf(stderr, "usload conns: connect to %s:%u: %s\n", host, port, strerror(soerr));
          bad = true;
        } else if (shutdown(fd, SHUT_WR) != 0) {
          bad = true;
        } else {
          st[i] = SLOT_WAIT_EOF;
          pfd[i].events = POLLIN;
        }
      } else {
        ssize_t r;
        while ((r = recv(fd, g_buf, CHUNK, 0)) > 0)
          ;
        if (r == 0)
          done = true;
        else if (errno != EAGAIN && errno != EINTR) {
          if (failed < 5)
            fprintf(stderr, "usload conns: waiting for FIN: %s\n", strerror(errno));
          bad = true;
        }
      }
      if (done || bad) {
        close(fd);
        st[i] = SLOT_FREE;
        if (bad)
          failed++;
        else
          ok++;
      }
    }
  }
  double secs = now_s() - t0;
  printf("usload conns: conns=%" PRIu64 " failed=%" PRIu64 " parallel=%" PRIu64
         " seconds=%.3f conn_per_s=%.0f\n",
         ok, failed, par, secs, secs > 0 ? (double)ok / secs : 0.0);
  free(pfd);
  free(st);
  return failed ? 1 : 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* One rr connection: which transaction it is in, and how far. */
struct rr_conn {
  int fd;
  size_t sent, got; /* bytes of this request sent, of its response read */
  double t_start;   /* when the request's first byte was sent */
};

#define RR_SAMPLES_MAX 2000000

/* Request/response: --parallel connections (all connected before the clock
 * starts), each with one request of --size bytes outstanding at a time; the
 * response is the same number of bytes (an echo server). Transactions per
 * second over --seconds (or until --rr-count), and the per-transaction
 * latency's median and 99th percentile. */
static int do_rr(const char *host, uint16_t port) {
  unsigned par = opt.parallel ? opt.parallel : 1;
  size_t size = opt.size;
  want_fds((uint64_t)par + 64);
  struct rr_conn *c = calloc(par, sizeof *c);
  double *lat = malloc(RR_SAMPLES_MAX * sizeof *lat);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (!c || !lat || ep < 0) {
    fprintf(stderr, "usload rr: out of memory\n");
    return 1;
  }
  memset(g_fixed, 'q', RR_SIZE_MAX);
  for (unsigned i = 0; i < par; i++) {
    c[i].fd = connect_to(host, port, "rr");
    int one = 1;
    setsockopt(c[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c[i].fd, F_SETFL, fcntl(c[i].fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
    epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
  }
  uint64_t done = 0, nlat = 0;
  double t0 = now_s(), t_end = t0 + opt.seconds;
  for (unsigned i = 0; i < par; i++) {
    c[i].t_start = t0;
    ssize_t w = send(c[i].fd, g_fixed, size, MSG_NOSIGNAL);
    c[i].sent = w > 0 ? (size_t)w : 0;
  }
  struct epoll_event evs[256];
  int rc = 0;
  bool stop = false;
  while (!stop) {
    double now = now_s();
    if (now >= t_end)
      break;
    int nev = epoll_wait(ep, evs, 256, (int)((t_end - now) * 1000) + 1);
    if (nev < 0 && errno == EINTR)
      continue;
    for (int k = 0; k < nev && !stop; k++) {
      struct rr_conn *x = &c[evs[k].data.u32];
      for (;;) {
        if (x->sent < size) { /* a short send: finish the request first */
          ssize_t w = send(x->fd, g_fixed, size - x->sent, MSG_NOSIGNAL);
          if (w > 0)
            x->sent += (size_t)w;
        }
        ssize_t n = recv(x->fd, g_buf, size - x->got, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
          break;
        if (n <= 0) {
          fprintf(stderr, "usload rr: connection %u: %s\n", evs[k].data.u32,
                  n == 0 ? "closed by the server" : strerror(errno));
          rc = 1;
          stop = true;
          break;
        }
        x->got += (size_t)n;
        if (x->got < size)
          continue;
        double t = now_s();
        if (nlat < RR_SAMPLES_MAX)
          lat[nlat++] = t - x->t_start;
        done++;
        if (opt.rr_count && done >= opt.rr_count) {
          stop = true;
          break;
        }
        x->got = 0;
        x->t_start = t;
        ssize_t w = send(x->fd, g_fixed, size, MSG_NOSIGNAL);
        x->sent = w > 0 ? (size_t)w : 0;
      }
    }
  }
  double secs = now_s() - t0;
  for (unsigned i = 0; i < par; i++)
    close(c[i].fd);
  double p50 = 0, p99 = 0;
  if (nlat) {
    qsort(lat, nlat, sizeof *lat, cmp_double);
    p50 = lat[nlat / 2];
    p99 = lat[(size_t)((double)(nlat - 1) * 0.99)];
  }
  printf("usload rr: transactions=%" PRIu64
         " parallel=%u size=%zu seconds=%.3f tps=%.0f"
         " p50_us=%.1f p99_us=%.1f\n",
         done, par, size, secs, secs > 0 ? (double)done / secs : 0.0, p50 * 1e6, p99 * 1e6);
  free(c);
  free(lat);
  close(ep);
  return rc;
}

/* Open N connections (--parallel connecting at once, each given 5 s) and
 * hold them, idle, for --seconds (SIGTERM ends it sooner). Prints one line
 * when the opening is over (held and failed counts) so a script can
 * measure the server while they are held. Opening stops once 100 have
 * failed and more have failed than succeeded: the server is full. */
static int do_hold(const char *host, uint16_t port, uint64_t n) {
  struct sockaddr_in sin = parse_addr(host, port);
  want_fds(n + 64);
  unsigned par = opt.parallel ? opt.parallel : 200;
  int *fds = malloc(n * sizeof *fds);
  struct pollfd *pfd = calloc(par, sizeof *pfd);
  double *t_conn = calloc(par, sizeof *t_conn);
  if (!fds || !pfd || !t_conn) {
    fprintf(stderr, "usload hold: out of memory\n");
    return 1;
  }
  uint64_t started = 0, held = 0, failed = 0;
  int first_err = 0;
  for (unsigned i = 0; i < par; i++)
    pfd[i].fd = -1;
  double t0 = now_s();
  for (;;) {
    unsigned active = 0;
    for (unsigned i = 0; i < par; i++) {
      if (pfd[i].fd < 0 && started < n && (failed < 100 || failed <= held)) {
        uint32_t from = opt.nfrom ? opt.from[started % opt.nfrom] : 0;
        started++;
        int fd = connect_nb(&sin, from, "hold");
        if (fd < 0) {
          failed++;
          continue;
        }
        pfd[i].fd = fd;
        pfd[i].events = POLLOUT;
        t_conn[i] = now_s();
      }
      if (pfd[i].fd >= 0)
        active++;
    }
    if (active == 0)
      break;
    int pr = poll(pfd, par, 100);
    if (pr < 0 && errno != EINTR) {
      fprintf(stderr, "usload hold: poll: %s\n", strerror(errno));
      return 1;
    }
    double now = now_s();
    for (unsigned i = 0; i < par; i++) {
      if (pfd[i].fd < 0)
        continue;
      bool late = now - t_conn[i] > 5.0;
      if (!pfd[i].revents && !late)
        continue;
      int e = pfd[i].revents ? so_error(pfd[i].fd) : ETIMEDOUT;
      if (e) {
        if (!first_err)
          first_err = e;
        close(pfd[i].fd);
        failed++;
      } else {
        fds[held++] = pfd[i].fd;
      }
      pfd[i].fd = -1;
    }
  }
  printf("usload hold: held=%" PRIu64 " failed=%" PRIu64 " seconds=%.3f%s%s\n", held, failed,
         now_s() - t0, first_err ? " first_error=" : "", first_err ? strerror(first_err) : "");
  fflush(stdout);
  /* Hold for --seconds; SIGTERM (the script is done measuring) or
   * --timeout end us sooner, and the kernel closes every connection. */
  double until = now_s() + opt.seconds;
  while (now_s() < until)
    usleep(100000);
  for (uint64_t i = 0; i < held; i++)
    close(fds[i]);
  free(fds);
  free(pfd);
  free(t_conn);
  return 0;
}

/* --- serve: an epoll server on kernel sockets ---------------------------- */

enum serve_mode { M_DISCARD, M_ECHO, M_SOURCE, M_CHARGEN, M_HTTP };

struct sconn {
  int fd;
  uint64_t in, out; /* bytes read, bytes sent */
  uint8_t *pend;    /* echo / http: bytes to send (CHUNK) */
  size_t pend_off, pend_len;
  size_t req_fill;  /* http: bytes of the request header so far */
  char req_tail[4]; /* http: the last bytes seen, to find CRLFCRLF */
  bool shut;        /* we sent our FIN */
  bool bad;         /* verified discard: content differed */
  uint64_t bad_at;
  double t0;
};

static enum serve_mode g_mode;
static char g_http_head[256];
static size_t g_http_head_len;

static void serve_report(struct sconn *c) {
  double secs = now_s() - c->t0;
  if (g_mode == M_DISCARD && opt.have_seed) {
    char hex[65] = "-";
    if (!c->bad)
      stream_hex(c->in, hex);
    printf("usload serve: bytes=%" PRIu64 " seconds=%.3f mbps=%.1f sha256=%s verified=%s\n", c->in,
           secs, mbps(c->in, secs), hex, c->bad ? "mismatch" : "yes");
  } else if (g_mode == M_SOURCE && opt.have_seed) {
    char hex[65];
    stream_hex(c->out, hex);
    printf("usload serve: sent bytes=%" PRIu64 " seconds=%.3f mbps=%.1f sha256=%s\n", c->out, secs,
           mbps(c->out, secs), hex);
  }
  fflush(stdout);
}

/* Send from the pending buffer (echo, http) or the generator (source,
 * chargen) until the socket is full. -1 on a fatal error. */
static int serve_write(struct sconn *c) {
  for (;;) {
    const uint8_t *p;
    size_t n;
    if (c->pend_len) {
      p = c->pend + c->pend_off;
      n = c->pend_len;
    } else if (g_mode == M_SOURCE && c->out < opt.send) {
      n = opt.send - c->out < CHUNK ? (size_t)(opt.send - c->out) : CHUNK;
      p = tx_bytes(c->out, n);
    } else if (g_mode == M_CHARGEN) {
      p = g_fixed;
      n = CHUNK;
    } else {
      break;
    }
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0)
      return errno == EAGAIN || errno == EINTR ? 0 : -1;
    c->out += (uint64_t)w;
    if (c->pend_len) {
      c->pend_off += (size_t)w;
      c->pend_len -= (size_t)w;
      if (!c->pend_len)
        c->pend_off = 0;
    }
  }
  if (g_mode == M_SOURCE && c->out >= opt.send && !c->shut) {
    shutdown(c->fd, SHUT_WR);
    c->shut = true;
  }
  return 0;
}

/* http: count the requests that ended in this chunk (each ends at its
 * first CRLFCRLF; requests have no body) and queue one response each. */
static int http_input(struct sconn *c, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    memmove(c->req_tail, c->req_tail + 1, 3);
    c->req_tail[3] = (char)p[i];
    if (++c->req_fill > 16384)
      return -1; /* no end of header in 16 KB */
    if (memcmp(c->req_tail, "\r\n\r\n", 4) != 0)
      continue;
    size_t need = g_http_head_len + opt.size;
    if (c->pend_off + c->pend_len + need > CHUNK)
      return -1; /* more pipelined requests than we buffer */
    uint8_t *w = c->pend + c->pend_off + c->pend_len;
    memcpy(w, g_http_head, g_http_head_len);
    memset(w + g_http_head_len, 'x', opt.size);
    c->pend_len += need;
    c->req_fill = 0;
    memset(c->req_tail, 0, 4);
  }
  return 0;
}

/* Read what is there. 1 = the connection ended, -1 = error, 0 = more. */
static int serve_read(struct sconn *c) {
  for (;;) {
    if ((g_mode == M_ECHO || g_mode == M_HTTP) && c->pend_len)
      return 0; /* back-pressure: send what we have first */
    ssize_t n = recv(c->fd, g_buf, CHUNK, 0);
    if (n < 0)
      return errno == EAGAIN || errno == EINTR ? 0 : -1;
    if (n == 0)
      return 1;
    if (g_mode == M_DISCARD && opt.have_seed && !c->bad &&
        !rx_check(g_buf, (size_t)n, c->in, &c->bad_at))
      c->bad = true;
    c->in += (uint64_t)n;
    if (g_mode == M_ECHO) {
      memcpy(c->pend, g_buf, (size_t)n);
      c->pend_len = (size_t)n;
      if (serve_write(c) < 0)
        return -1;
    } else if (g_mode == M_HTTP) {
      if (http_input(c, g_buf, (size_t)n) < 0 || serve_write(c) < 0)
        return -1;
    }
  }
}

static int do_serve(uint16_t port) {
  const char *const names[] = { "discard", "echo", "source", "chargen", "http" };
  bool known = false;
  for (int m = 0; m < 5; m++)
    if (strcmp(opt.mode, names[m]) == 0) {
      g_mode = (enum serve_mode)m;
      known = true;
    }
  if (!known) {
    fprintf(stderr, "usload serve: unknown --mode '%s'\n", opt.mode);
    return 2;
  }
  g_http_head_len = (size_t)snprintf(g_http_head, sizeof g_http_head,
                                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                     "Content-Length: %u\r\n\r\n",
                                     opt.size);
  memset(g_fixed, 'x', CHUNK);
  want_fds(65536);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sin = parse_addr(opt.bind ? opt.bind : "0.0.0.0", port);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(lfd, 4096) != 0) {
    fprintf(stderr, "usload serve: cannot listen on %s:%u: %s\n", opt.bind ? opt.bind : "0.0.0.0",
            port, strerror(errno));
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
  fprintf(stderr, "usload serve: %s on port %u\n", names[g_mode], port);
  unsigned ended = 0;
  int status = 0;
  struct epoll_event evs[256];
  while (!opt.count || ended < opt.count) {
    int nev = epoll_wait(ep, evs, 256, -1);
    if (nev < 0 && errno == EINTR)
      continue;
    for (int k = 0; k < nev; k++) {
      struct sconn *c = evs[k].data.ptr;
      if (!c) { /* the listener */
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          c = calloc(1, sizeof *c);
          if (!c) {
            close(fd);
            continue;
          }
          c->fd = fd;
          c->t0 = now_s();
          if (g_mode == M_ECHO || g_mode == M_HTTP) {
            c->pend = malloc(CHUNK);
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          }
          struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c };
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      int r = serve_write(c);
      if (r == 0)
        r = serve_read(c);
      if (r == 0 && (g_mode == M_ECHO || g_mode == M_HTTP))
        r = serve_write(c) < 0 ? -1 : serve_read(c);
      bool end = r != 0;
      if (r == 1 && (g_mode == M_ECHO || g_mode == M_HTTP) && c->pend_len)
        end = false; /* EOF with a response still queued: flush it first */
      if (r == 1 && g_mode == M_SOURCE && !c->shut)
        end = false;
      if (!end)
        continue;
      /* chargen and source end at the client's close; an error there is
       * how a reader that stops reading says it is done. */
      if (r < 0 && g_mode != M_CHARGEN && g_mode != M_SOURCE && g_mode != M_HTTP)
        status = 1;
      close(c->fd);
      if (g_mode == M_DISCARD && opt.have_expect && c->in != opt.expect) {
        fprintf(stderr, "usload serve: received %" PRIu64 " bytes, expected %" PRIu64 "\n", c->in,
                opt.expect);
        status = 1;
      }
      if (c->bad) {
        fprintf(stderr, "usload serve: content differs from the stream at byte %" PRIu64 "\n",
                c->bad_at);
        status = 1;
      }
      serve_report(c);
      free(c->pend);
      free(c);
      ended++;
    }
  }
  close(lfd);
  close(ep);
  return status;
}

static int do_sha(uint64_t mbytes) {
  struct us_sha256 sh;
  us_sha256_init(&sh);
  uint64_t bytes = mbytes * 1000000u;
  stream_fill(opt.seed, 0, g_buf, CHUNK);
  struct timespec c0, c1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  double t0 = now_s();
  for (uint64_t off = 0; off < bytes; off += CHUNK) {
    size_t n = bytes - off < CHUNK ? (size_t)(bytes - off) : CHUNK;
    us_sha256_update(&sh, g_buf, n);
  }
  double secs = now_s() - t0;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
  uint8_t d[32];
  us_sha256_final(&sh, d);
  /* cpu_s: the digest's cost with other load on the machine factored out */
  printf("usload sha: bytes=%" PRIu64 " seconds=%.3f mbps=%.1f cpu_s=%.3f\n", bytes, secs,
         mbps(bytes, secs), cpu);
  return 0;
}

int main(int argc, char **argv) {
  const char *pos[8];
  int npos = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0) {
      if (npos == (int)(sizeof pos / sizeof pos[0]))
        usage();
      pos[npos++] = a;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
      usage();
    if (strcmp(a, "--no-hash") == 0) /* the old name of a timed run */
      continue;
    if (i + 1 >= argc) {
      fprintf(stderr, "usload: %s needs a value\n", a);
      usage();
    }
    const char *v = argv[++i];
    if (strcmp(a, "--timeout") == 0) {
      opt.timeout = (unsigned)parse_range(v, "--timeout", 1, 86400);
    } else if (strcmp(a, "--seed") == 0) {
      opt.seed = parse_u64(v, "seed");
      opt.have_seed = true;
    } else if (strcmp(a, "--expect") == 0) {
      opt.expect = parse_u64(v, "byte count");
      opt.have_expect = true;
    } else if (strcmp(a, "--bytes") == 0) {
      opt.bytes = parse_u64(v, "byte count");
      opt.have_bytes = true;
    } else if (strcmp(a, "--send") == 0) {
      opt.send = parse_u64(v, "byte count");
    } else if (strcmp(a, "--mode") == 0) {
      opt.mode = v;
    } else if (strcmp(a, "--count") == 0) {
      opt.count = (unsigned)parse_range(v, "--count", 1, 10000000);
    } else if (strcmp(a, "--parallel") == 0) {
      opt.parallel = (unsigned)parse_range(v, "--parallel", 1, HOLD_MAX);
    } else if (strcmp(a, "--size") == 0) {
      opt.size = (unsigned)parse_range(v, "--size", 1, RR_SIZE_MAX);
    } else if (strcmp(a, "--seconds") == 0) {
      opt.seconds = (double)parse_range(v, "--seconds", 1, 3600);
    } else if (strcmp(a, "--rr-count") == 0) {
      opt.rr_count = parse_u64(v, "transaction count");
    } else if (strcmp(a, "--from") == 0) {
      parse_from(v);
    } else if (strcmp(a, "--bind") == 0) {
      opt.bind = v;
    } else if (strcmp(a, "--cc") == 0) {
      opt.cc = v;
    } else {
      fprintf(stderr, "usload: unknown option %s\n", a);
      usage();
    }
  }
  if (npos < 1)
    usage();
  check_stream();
  signal(SIGALRM, on_alarm);
  signal(SIGPIPE, SIG_IGN);
  alarm(opt.timeout);
  memset(g_fixed, 'x', sizeof g_fixed);
  const char *m = pos[0];
  if (strcmp(m, "send") == 0 && npos == 4)
    return do_send(pos[1], parse_port(pos[2]), parse_u64(pos[3], "byte count"));
  if (strcmp(m, "recv") == 0 && npos == 3)
    return do_recv(pos[1], parse_port(pos[2]));
  if (strcmp(m, "rr") == 0 && npos == 3) {
    if (opt.parallel > CONNS_PARALLEL_MAX) {
      fprintf(stderr, "usload: rr --parallel must be 1..%d\n", CONNS_PARALLEL_MAX);
      exit(2);
    }
    return do_rr(pos[1], parse_port(pos[2]));
  }
  if (strcmp(m, "conns") == 0 && npos == 4) {
    if (opt.parallel > CONNS_PARALLEL_MAX) {
      fprintf(stderr, "usload: conns --parallel must be 1..%d\n", CONNS_PARALLEL_MAX);
      exit(2);
    }
    return do_conns(pos[1], parse_port(pos[2]), parse_range(pos[3], "N", 1, 10000000));
  }
  if (strcmp(m, "hold") == 0 && npos == 4) {
    if (opt.parallel > CONNS_PARALLEL_MAX) {
      fprintf(stderr, "usload: hold --parallel must be 1..%d\n", CONNS_PARALLEL_MAX);
      exit(2);
    }
    return do_hold(pos[1], parse_port(pos[2]), parse_range(pos[3], "N", 1, HOLD_MAX));
  }
  if (strcmp(m, "serve") == 0 && npos == 2)
    return do_serve(parse_port(pos[1]));
  if (strcmp(m, "sha") == 0 && npos == 2)
    return do_sha(parse_u64(pos[1], "megabytes"));
  usage();
  return 2;
}
