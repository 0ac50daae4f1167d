/*
 * usload - the benchmark's load tool, on KERNEL sockets.
 *
 * It runs inside a network namespace as the peer of ustackd (or as both
 * ends of the kernel-over-veth reference) and moves a seeded pseudo-random
 * stream (apps/common/stream.h: byte i depends only on seed and i, the
 * same stream ustackd's --tcp-source sends), so every transfer can be
 * checked end to end by SHA-256 without storing data.
 *
 *   usload send  HOST PORT BYTES   connect, send BYTES, shutdown, wait for EOF
 *   usload recv  HOST PORT         connect, read to EOF
 *   usload conns HOST PORT N       N connect/shutdown/EOF/close cycles
 *   usload serve PORT              accept; receive to EOF, or --send BYTES
 *   usload sha   MBYTES            speed of our SHA-256 (a reference line)
 *
 * Speed: the digest is the slow part (a portable SHA-256 runs at a few
 * hundred MB/s, the kernel's TCP over veth at GB/s), so it is kept out of
 * the timed path when it can be: a sender knows what it sent and hashes the
 * stream after the clock stops; a receiver given --seed compares each chunk
 * with the regenerated stream (cheap) and hashes afterwards, switching to
 * hashing what really arrived from the first differing byte on. Without
 * --seed the receiver hashes inline; with --no-hash it only counts (for
 * references whose data is not the stream, e.g. tun-limit tcp-source).
 *
 * Every result is one line on stdout, `usload MODE: key=value ...`, with
 * MB/s in units of 10^6 bytes per second of application payload.
 * Exit status: 0 success, 1 a transfer failed or its content was wrong,
 * 2 usage, 3 --timeout expired. Everything is bounded: the whole run by
 * --timeout (default 60 s), conns by N and --parallel.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"
#include "stream.h"

#define CHUNK (256 * 1024)
#define CONNS_PARALLEL_MAX 1000

static struct {
  unsigned timeout;   /* seconds for the whole run */
  uint64_t seed;
  bool have_seed;     /* recv/serve: verify against the stream */
  bool no_hash;       /* recv/serve: count bytes only */
  uint64_t expect;    /* recv/serve: required byte count (if have_expect) */
  bool have_expect;
  uint64_t send;      /* serve: bytes to send per connection */
  bool have_send;
  unsigned count;     /* serve: connections to accept */
  unsigned parallel;  /* conns: at most this many in flight */
  const char *bind;   /* serve: local address */
} opt = {.timeout = 60, .seed = 1, .count = 1};

static uint8_t g_buf[CHUNK], g_ref[CHUNK];

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
          "       usload [options] conns HOST PORT N\n"
          "       usload [options] serve PORT\n"
          "       usload sha MBYTES\n"
          "options:\n"
          "  --timeout SEC   bound on the whole run (default 60); expiry exits 3\n"
          "  --seed S        stream seed (default 1); recv/serve verify against it\n"
          "                  when given, and hash inline otherwise\n"
          "  --expect BYTES  recv/serve: fail unless exactly BYTES arrive\n"
          "  --no-hash       recv/serve: only count the bytes (no digest, no check)\n"
          "  --send BYTES    serve: send BYTES of the stream instead of receiving\n"
          "  --count K       serve: accept K connections, one after another (default 1)\n"
          "  --parallel P    conns: at most P connections in flight (default N, <= %d)\n"
          "  --bind ADDR     serve: listen on ADDR only\n",
          CONNS_PARALLEL_MAX);
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

static uint16_t parse_port(const char *s) {
  uint64_t v = parse_u64(s, "port");
  if (v == 0 || v > 65535) {
    fprintf(stderr, "usload: port '%s' out of range 1..65535\n", s);
    exit(2);
  }
  return (uint16_t)v;
}

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

static void hex_of(struct us_sha256 *sh, char hex[65]) {
  uint8_t d[32];
  us_sha256_final(sh, d);
  us_sha256_hex(d, hex);
}

static double mbps(uint64_t bytes, double secs) {
  return secs > 0 ? (double)bytes / secs / 1e6 : 0.0;
}

/* --- the two halves of a transfer -------------------------------------- */

/* Send `bytes` of the stream, then shutdown(SHUT_WR). 0 or -1 (reported). */
static int tx_stream(int fd, uint64_t bytes, const char *who) {
  uint64_t off = 0;
  while (off < bytes) {
    size_t n = bytes - off < CHUNK ? (size_t)(bytes - off) : CHUNK;
    stream_fill(opt.seed, off, g_buf, n);
    size_t done = 0;
    while (done < n) {
      ssize_t w = send(fd, g_buf + done, n - done, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR)
          continue;
        fprintf(stderr, "usload %s: send failed after %" PRIu64 " bytes: %s\n", who,
                off + done, strerror(errno));
        return -1;
      }
      done += (size_t)w;
    }
    off += n;
  }
  if (shutdown(fd, SHUT_WR) != 0) {
    fprintf(stderr, "usload %s: shutdown: %s\n", who, strerror(errno));
    return -1;
  }
  return 0;
}

struct rx_result {
  uint64_t bytes;
  uint64_t mismatch_at; /* first byte that differs from the stream */
  bool mismatch;
  char hex[65];
};

/*
 * Read to EOF. With a seed, compare with the stream and hash later (see the
 * top comment); from the first differing byte on, hash what arrived, after
 * catching the digest up with the stream's prefix that did match.
 */
static int rx_stream(int fd, struct rx_result *r, const char *who) {
  struct us_sha256 sh;
  us_sha256_init(&sh);
  memset(r, 0, sizeof *r);
  bool inline_hash = !opt.have_seed;
  for (;;) {
    ssize_t n = recv(fd, g_buf, CHUNK, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      fprintf(stderr, "usload %s: recv failed after %" PRIu64 " bytes: %s\n", who, r->bytes,
              strerror(errno));
      return -1;
    }
    if (n == 0)
      break;
    size_t len = (size_t)n;
    if (opt.no_hash) {
      r->bytes += len;
      continue;
    }
    if (!inline_hash) {
      stream_fill(opt.seed, r->bytes, g_ref, len);
      if (memcmp(g_ref, g_buf, len) != 0) {
        size_t i = 0;
        while (g_ref[i] == g_buf[i])
          i++;
        r->mismatch = true;
        r->mismatch_at = r->bytes + i;
        /* g_ref is overwritten by hash_stream: the chunk itself is in g_buf */
        hash_stream(&sh, 0, r->bytes);
        inline_hash = true;
      }
    }
    if (inline_hash)
      us_sha256_update(&sh, g_buf, len);
    r->bytes += len;
  }
  if (opt.no_hash) {
    snprintf(r->hex, sizeof r->hex, "-");
    return 0;
  }
  if (!inline_hash)
    hash_stream(&sh, 0, r->bytes); /* everything matched: digest of the stream */
  hex_of(&sh, r->hex);
  return 0;
}

/* Print one receive result; returns the exit status it implies. */
static int rx_report(const char *mode, const struct rx_result *r, double secs) {
  char verified[48];
  if (!opt.have_seed || opt.no_hash)
    snprintf(verified, sizeof verified, "no");
  else if (r->mismatch)
    snprintf(verified, sizeof verified, "mismatch@%" PRIu64, r->mismatch_at);
  else
    snprintf(verified, sizeof verified, "yes");
  printf("usload %s: bytes=%" PRIu64 " seconds=%.3f mbps=%.1f sha256=%s verified=%s\n", mode,
         r->bytes, secs, mbps(r->bytes, secs), r->hex, verified);
  fflush(stdout);
  int rc = 0;
  if (r->mismatch && !opt.no_hash) {
    fprintf(stderr, "usload %s: content differs from stream seed %" PRIu64 " at byte %" PRIu64
                    "\n", mode, opt.seed, r->mismatch_at);
    rc = 1;
  }
  if (opt.have_expect && r->bytes != opt.expect) {
    fprintf(stderr, "usload %s: received %" PRIu64 " bytes, expected %" PRIu64 "\n", mode,
            r->bytes, opt.expect);
    rc = 1;
  }
  return rc;
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

static int connect_to(const char *host, uint16_t port, const char *who) {
  struct sockaddr_in sin = parse_addr(host, port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fprintf(stderr, "usload %s: socket: %s\n", who, strerror(errno));
    exit(1);
  }
  while (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
    if (errno == EINTR)
      continue;
    fprintf(stderr, "usload %s: connect to %s:%u: %s\n", who, host, port, strerror(errno));
    exit(1);
  }
  return fd;
}

/* --- modes -------------------------------------------------------------- */

static int do_send(const char *host, uint16_t port, uint64_t bytes) {
  int fd = connect_to(host, port, "send");
  double t0 = now_s();
  if (tx_stream(fd, bytes, "send") != 0)
    return 1;
  long long back = drain(fd, "send");
  double secs = now_s() - t0;
  close(fd);
  if (back < 0)
    return 1;
  struct us_sha256 sh;
  us_sha256_init(&sh);
  hash_stream(&sh, 0, bytes);
  char hex[65];
  hex_of(&sh, hex);
  printf("usload send: bytes=%" PRIu64 " seconds=%.3f mbps=%.1f sha256=%s\n", bytes, secs,
         mbps(bytes, secs), hex);
  if (back > 0)
    fprintf(stderr, "usload send: note: the peer sent %lld bytes back (discarded)\n", back);
  return 0;
}

static int do_recv(const char *host, uint16_t port) {
  int fd = connect_to(host, port, "recv");
  double t0 = now_s();
  struct rx_result r;
  int rc = rx_stream(fd, &r, "recv");
  double secs = now_s() - t0;
  close(fd);
  if (rc)
    return 1;
  return rx_report("recv", &r, secs);
}

enum slot_state { SLOT_FREE, SLOT_CONNECTING, SLOT_WAIT_EOF };

/* N cycles of connect, shutdown(SHUT_WR), wait for the peer's FIN, close;
 * at most --parallel at once. A cycle fails on any error (refused, reset,
 * data where none was expected is fine and discarded). */
static int do_conns(const char *host, uint16_t port, uint64_t n) {
  struct sockaddr_in sin = parse_addr(host, port);
  uint64_t par = opt.parallel ? opt.parallel : n;
  if (par > CONNS_PARALLEL_MAX)
    par = CONNS_PARALLEL_MAX;
  if (par == 0)
    par = 1;
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
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        fprintf(stderr, "usload conns: socket: %s\n", strerror(errno));
        failed++;
        continue;
      }
      if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 && errno != EINPROGRESS) {
        fprintf(stderr, "usload conns: connect: %s\n", strerror(errno));
        close(fd);
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
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
        if (soerr) {
          if (failed < 5)
            fprintf(stderr, "usload conns: connect to %s:%u: %s\n", host, port,
                    strerror(soerr));
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

static int do_serve(uint16_t port) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) {
    fprintf(stderr, "usload serve: socket: %s\n", strerror(errno));
    return 1;
  }
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sin = parse_addr(opt.bind ? opt.bind : "0.0.0.0", port);
  if (bind(lfd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(lfd, 128) != 0) {
    fprintf(stderr, "usload serve: cannot listen on %s:%u: %s\n",
            opt.bind ? opt.bind : "0.0.0.0", port, strerror(errno));
    return 1;
  }
  fprintf(stderr, "usload serve: listening on port %u\n", port);
  int status = 0;
  for (unsigned k = 0; k < opt.count; k++) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) {
        k--;
        continue;
      }
      fprintf(stderr, "usload serve: accept: %s\n", strerror(errno));
      return 1;
    }
    double t0 = now_s();
    if (opt.have_send) {
      int rc = tx_stream(fd, opt.send, "serve");
      long long back = rc ? -1 : drain(fd, "serve");
      double secs = now_s() - t0;
      close(fd);
      if (rc || back < 0) {
        status = 1;
        continue;
      }
      struct us_sha256 sh;
      us_sha256_init(&sh);
      hash_stream(&sh, 0, opt.send);
      char hex[65];
      hex_of(&sh, hex);
      printf("usload serve: sent bytes=%" PRIu64 " seconds=%.3f mbps=%.1f sha256=%s\n",
             opt.send, secs, mbps(opt.send, secs), hex);
      fflush(stdout);
    } else {
      struct rx_result r;
      int rc = rx_stream(fd, &r, "serve");
      double secs = now_s() - t0;
      close(fd);
      if (rc || rx_report("serve", &r, secs))
        status = 1;
    }
  }
  close(lfd);
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
  char hex[65];
  hex_of(&sh, hex);
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
    if (strcmp(a, "--no-hash") == 0) {
      opt.no_hash = true;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "usload: %s needs a value\n", a);
      usage();
    }
    const char *v = argv[++i];
    if (strcmp(a, "--timeout") == 0) {
      uint64_t t = parse_u64(v, "timeout");
      if (t == 0 || t > 86400) {
        fprintf(stderr, "usload: --timeout must be 1..86400 seconds\n");
        exit(2);
      }
      opt.timeout = (unsigned)t;
    } else if (strcmp(a, "--seed") == 0) {
      opt.seed = parse_u64(v, "seed");
      opt.have_seed = true;
    } else if (strcmp(a, "--expect") == 0) {
      opt.expect = parse_u64(v, "byte count");
      opt.have_expect = true;
    } else if (strcmp(a, "--send") == 0) {
      opt.send = parse_u64(v, "byte count");
      opt.have_send = true;
    } else if (strcmp(a, "--count") == 0) {
      uint64_t c = parse_u64(v, "count");
      if (c == 0 || c > 1000000) {
        fprintf(stderr, "usload: --count must be 1..1000000\n");
        exit(2);
      }
      opt.count = (unsigned)c;
    } else if (strcmp(a, "--parallel") == 0) {
      uint64_t p = parse_u64(v, "parallel");
      if (p == 0 || p > CONNS_PARALLEL_MAX) {
        fprintf(stderr, "usload: --parallel must be 1..%d\n", CONNS_PARALLEL_MAX);
        exit(2);
      }
      opt.parallel = (unsigned)p;
    } else if (strcmp(a, "--bind") == 0) {
      opt.bind = v;
    } else {
      fprintf(stderr, "usload: unknown option %s\n", a);
      usage();
    }
  }
  if (npos < 1)
    usage();
  check_stream();
  signal(SIGALRM, on_alarm);
  alarm(opt.timeout);
  const char *m = pos[0];
  if (strcmp(m, "send") == 0 && npos == 4)
    return do_send(pos[1], parse_port(pos[2]), parse_u64(pos[3], "byte count"));
  if (strcmp(m, "recv") == 0 && npos == 3)
    return do_recv(pos[1], parse_port(pos[2]));
  if (strcmp(m, "conns") == 0 && npos == 4) {
    uint64_t n = parse_u64(pos[3], "connection count");
    if (n == 0 || n > 10000000) {
      fprintf(stderr, "usload: N must be 1..10000000\n");
      exit(2);
    }
    return do_conns(pos[1], parse_port(pos[2]), n);
  }
  if (strcmp(m, "serve") == 0 && npos == 2)
    return do_serve(parse_port(pos[1]));
  if (strcmp(m, "sha") == 0 && npos == 2)
    return do_sha(parse_u64(pos[1], "megabytes"));
  usage();
  return 2;
}
