/*
 * tun-limit - how fast can ONE thread move packets through a TUN device
 * (IFF_TUN | IFF_NO_PI) when it does no protocol work? The reference that
 * scripts/bench.sh puts beside ustack (docs/ARCHITECTURE.md section 8).
 *
 * It opens the TUN like ustackd does (host address on the link, the "stack"
 * address as the point-to-point peer, a prefix route into the TUN) and runs
 * one of four measurements, each printing one `tun-limit MODE: key=value`
 * line on stdout:
 *
 *   read      The host -> stack direction's device cost without bursts.
 *             A thread with a kernel UDP socket sends MTU-sized datagrams
 *             to the stack address as fast as it can; the main thread waits
 *             in poll() and read()s the TUN until EAGAIN, counting packets
 *             and nothing else. The figure is packets read per second,
 *             bounded by the slower of the reader and the kernel's UDP
 *             sender (both are printed). A steady sender lets the reader
 *             find about one packet per wake-up, so this is the unbatched
 *             case; TCP's bursts batch better (see tcp-sink).
 *
 *   write     Upper bound of the stack -> host direction's device cost.
 *             One pre-built MTU-sized IPv4/UDP datagram (valid checksums)
 *             from the stack address to a kernel UDP socket on the host
 *             address is write()n as fast as possible; a thread counts what
 *             the socket delivers (recvmmsg). A TUN write makes the kernel
 *             run its IP/UDP receive inside write(), so this includes that
 *             work, as it does for ustack. The figure is datagrams
 *             DELIVERED per second.
 *
 *   tcp-sink  The cheapest possible TCP receiver behind the TUN, with the
 *             kernel's TCP as the sender (run `usload send` at it): a
 *             SYN gets a SYN-ACK (MSS, window scale), in-order data only
 *             advances rcv_nxt, out-of-order data is dropped, ONE cumulative
 *             ACK is written per wake-up (as ustack coalesces), the window
 *             offered is ustack's default receive buffer (--window), the
 *             FIN is answered with FIN-ACK. No checksum verification, no
 *             buffering, no copy, no timers, no retransmission (a window
 *             below the TUN's queue length means nothing is lost). This is
 *             the ceiling for ustack's host -> stack bulk transfer.
 *
 *   tcp-source The cheapest possible TCP sender behind the TUN, with the
 *             kernel's TCP as the receiver (run `usload recv --no-hash` at
 *             it): pre-built full-size segments of a fixed pattern (only
 *             seq/ack/checksum change), sent as fast as the peer's window
 *             allows, no congestion control, ACKs read between bursts of 64,
 *             FIN at the end. A stall (no ACK progress for 200 ms) goes back
 *             to the first unacknowledged byte and is reported. The ceiling
 *             for ustack's stack -> host bulk transfer.
 *
 *   reflect   The cheapest possible answers to small exchanges, for the
 *             request/response, connection-rate and ping rows: ICMP echo
 *             requests get their reply; TCP on --port is answered with no
 *             state at all: a SYN gets a SYN-ACK (MSS only), a segment with
 *             data gets that data back with an ACK (seq = the peer's ACK,
 *             so an echo client sees an echo server), a FIN gets a FIN-ACK,
 *             a pure ACK or RST nothing. One write() per answer. Runs until
 *             SIGTERM or --seconds; prints packets, answers and cpu_s.
 *             The ceiling for ustack's echo, connect/close and ping rates.
 *
 * "tcp_equiv_mbps" converts packets/s to TCP payload at this MTU
 * (MTU - 40 bytes per packet, i.e. no TCP options), in 10^6 bytes/s, so
 * the figures compare with a bulk TCP transfer's goodput.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ref_tun.h"

#define BUF_MAX 65536

static struct {
  const char *dev;
  uint32_t host, addr; /* host order */
  unsigned prefix, mtu;
  uint16_t port;
  double seconds; /* read/write/reflect: length of the measurement */
  bool seconds_given;
  unsigned timeout; /* tcp-sink: bound on the whole connection */
  uint32_t window;  /* tcp-sink: receive window offered, bytes */
  uint64_t bytes;   /* tcp-source: bytes to send */
  bool no_config;
} opt = { .dev = "tunlim0",
          .host = 0x0a630001,
          .addr = 0x0a630002,
          .prefix = 24,
          .mtu = 1500,
          .port = 9000,
          .seconds = 3.0,
          .timeout = 60,
          .window = 256 * 1024,
          .bytes = 100000000 };

static atomic_bool g_stop;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) this process used so far: under a loaded
 * machine the wall-clock rate says little, the CPU spent per byte a lot.
 * It includes the kernel's work done inside our system calls (a TUN write
 * runs the kernel's receive path in our context), as for ustackd. */
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

_Noreturn static void die(const char *what) {
  fprintf(stderr, "tun-limit: %s: %s\n", what, strerror(errno));
  exit(1);
}

_Noreturn static void usage(void) {
  fprintf(stderr,
          "usage: tun-limit [options] read|write|tcp-sink|tcp-source|reflect\n"
          "  --dev NAME      TUN interface (default tunlim0; attached if it exists)\n"
          "  --host A        the kernel's address on the link (default 10.99.0.1)\n"
          "  --addr B        the 'stack' address, the link's peer (default 10.99.0.2)\n"
          "  --prefix N      on-link prefix length (default 24)\n"
          "  --mtu M         link MTU, 576..9000 (default 1500)\n"
          "  --port P        UDP port (read/write) or TCP port (tcp-*, reflect), default 9000\n"
          "  --seconds S     read/write: measurement length (default 3, max 3600);\n"
          "                  reflect: stop after S seconds (default: at SIGTERM)\n"
          "  --timeout S     tcp-sink/source: bound on the connection (default 60)\n"
          "  --bytes N       tcp-source: bytes to send (default 100000000)\n"
          "  --window BYTES  tcp-sink: receive window (default 262144, ustack's default\n"
          "                  tcp_rcvbuf; 1460..8388480)\n"
          "  --no-config     use the device as it is configured (no addresses, MTU, up)\n");
  exit(2);
}

/* --- the device --------------------------------------------------------- */

/* Configured as ustackd configures its TUN (apps/common/ref_tun.c). */
static int tun_open(void) {
  const struct ref_tun t = { .dev = opt.dev,
                             .host = opt.host,
                             .addr = opt.addr,
                             .prefix = opt.prefix,
                             .mtu = opt.mtu,
                             .no_config = opt.no_config };
  const char *what = NULL;
  int fd = ref_tun_open(&t, &what);
  if (fd < 0)
    die(what);
  return fd;
}

/* --- checksums (RFC 1071) ----------------------------------------------- */

static uint64_t sum16(const uint8_t *p, size_t n, uint64_t acc) {
  for (; n >= 2; p += 2, n -= 2)
    acc += (uint64_t)(p[0] << 8 | p[1]);
  if (n)
    acc += (uint64_t)p[0] << 8;
  return acc;
}

static uint16_t fold(uint64_t acc) {
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

/* IPv4 header (no options, DF) for `total` bytes; checksum filled in. */
static void build_ip(uint8_t *p, uint8_t proto, uint32_t src, uint32_t dst, size_t total) {
  memset(p, 0, 20);
  p[0] = 0x45;
  put16(p + 2, (uint16_t)total);
  put16(p + 6, 0x4000); /* DF: we never fragment */
  p[8] = 64;
  p[9] = proto;
  put32(p + 12, src);
  put32(p + 16, dst);
  put16(p + 10, fold(sum16(p, 20, 0)));
}

/* Transport checksum over the RFC 793/768 pseudo-header and `seg`. */
static uint16_t l4_csum(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *seg, size_t len) {
  uint8_t ph[12];
  put32(ph, src);
  put32(ph + 4, dst);
  ph[8] = 0;
  ph[9] = proto;
  put16(ph + 10, (uint16_t)len);
  return fold(sum16(seg, len, sum16(ph, 12, 0)));
}

static void print_rates(const char *mode, uint64_t pkts, double secs, const char *extra) {
  double pps = secs > 0 ? (double)pkts / secs : 0;
  printf("tun-limit %s: packets=%" PRIu64
         " seconds=%.3f pps=%.0f ip_mbps=%.1f "
         "tcp_equiv_mbps=%.1f mtu=%u %s\n",
         mode, pkts, secs, pps, pps * opt.mtu / 1e6, pps * (opt.mtu - 40) / 1e6, opt.mtu, extra);
}

/* --- read: the kernel sends, we only read ------------------------------- */

static uint64_t g_sent, g_send_errors;

static void *udp_sender(void *arg) {
  (void)arg;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    die("sender socket");
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons(opt.port);
  to.sin_addr.s_addr = htonl(opt.addr);
  if (connect(s, (struct sockaddr *)&to, sizeof to) != 0)
    die("sender connect");
  static uint8_t payload[BUF_MAX];
  size_t n = opt.mtu - 28;
  while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
    if (send(s, payload, n, 0) >= 0)
      g_sent++;
    else
      g_send_errors++; /* e.g. ENOBUFS: counted, the thread keeps going */
  }
  close(s);
  return NULL;
}

static int mode_read(int fd) {
  static uint8_t buf[BUF_MAX];
  pthread_t th;
  if (pthread_create(&th, NULL, udp_sender, NULL) != 0) {
    fprintf(stderr, "tun-limit: cannot start the sender thread\n");
    return 1;
  }
  /* The first 0.2 s fill the queues and are not counted. */
  double t_begin = now_s(), t0 = t_begin + 0.2, t1 = t0 + opt.seconds;
  uint64_t pkts = 0, other = 0, wakeups = 0;
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  for (;;) {
    double t = now_s();
    if (t >= t1)
      break;
    if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
      die("poll");
    t = now_s();
    bool counted = t >= t0 && t < t1;
    wakeups += counted;
    for (int i = 0; i < 4096; i++) { /* a cap, like ustackd's batch */
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
          break;
        die("read");
      }
      /* Count only our datagrams (IPv4, UDP); IPv6 neighbour discovery
       * and the like are "other". */
      bool ours = n >= 20 && (buf[0] >> 4) == 4 && buf[9] == 17;
      if (!counted)
        continue;
      if (ours)
        pkts++;
      else
        other++;
    }
  }
  atomic_store(&g_stop, true);
  pthread_join(th, NULL);
  double total = now_s() - t_begin;
  char extra[160];
  snprintf(extra, sizeof extra,
           "sender_pps=%.0f send_errors=%" PRIu64 " wakeups=%" PRIu64 " other=%" PRIu64,
           (double)g_sent / total, g_send_errors, wakeups, other);
  print_rates("read", pkts, opt.seconds, extra);
  return pkts ? 0 : 1;
}

/* --- write: we write pre-built datagrams, the kernel delivers them ------ */

static int g_rx_sock = -1;
static uint64_t g_delivered;

static void *udp_receiver(void *arg) {
  (void)arg;
  enum { VLEN = 64 };
  static uint8_t bufs[VLEN][2048];
  struct mmsghdr msgs[VLEN];
  struct iovec iov[VLEN];
  while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < VLEN; i++) {
      iov[i].iov_base = bufs[i];
      iov[i].iov_len = sizeof bufs[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(g_rx_sock, msgs, VLEN, 0, NULL); /* SO_RCVTIMEO bounds it */
    if (n > 0)
      g_delivered += (uint64_t)n;
  }
  return NULL;
}

static int mode_write(int fd) {
  g_rx_sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (g_rx_sock < 0)
    die("receiver socket");
  int big = 8 << 20;
  if (setsockopt(g_rx_sock, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
    setsockopt(g_rx_sock, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
  setsockopt(g_rx_sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_in me;
  memset(&me, 0, sizeof me);
  me.sin_family = AF_INET;
  me.sin_port = htons(opt.port);
  me.sin_addr.s_addr = htonl(opt.host);
  if (bind(g_rx_sock, (struct sockaddr *)&me, sizeof me) != 0)
    die("receiver bind");

  /* One datagram, built once: the cost measured is the write alone. */
  static uint8_t pkt[BUF_MAX];
  size_t len = opt.mtu;
  uint8_t *udp = pkt + 20;
  put16(udp, opt.port);
  put16(udp + 2, opt.port);
  put16(udp + 4, (uint16_t)(len - 20));
  for (size_t i = 8; i < len - 20; i++)
    udp[i] = (uint8_t)i;
  uint16_t c = l4_csum(opt.addr, opt.host, 17, udp, len - 20);
  put16(udp + 6, c ? c : 0xffff); /* RFC 768: a computed 0 is sent as all ones */
  build_ip(pkt, 17, opt.addr, opt.host, len);

  pthread_t th;
  if (pthread_create(&th, NULL, udp_receiver, NULL) != 0) {
    fprintf(stderr, "tun-limit: cannot start the receiver thread\n");
    return 1;
  }
  uint64_t written = 0, errors = 0;
  double t0 = now_s(), t1 = t0 + opt.seconds, t = t0;
  while (t < t1) {
    for (int i = 0; i < 64; i++) {
      if (write(fd, pkt, len) == (ssize_t)len)
        written++;
      else
        errors++;
    }
    t = now_s();
  }
  double secs = t - t0;
  /* Let the receiver drain what the socket already holds. */
  struct timespec pause = { .tv_sec = 0, .tv_nsec = 300 * 1000 * 1000 };
  nanosleep(&pause, NULL);
  atomic_store(&g_stop, true);
  pthread_join(th, NULL);
  close(g_rx_sock);
  char extra[160];
  snprintf(extra, sizeof extra,
           "written=%" PRIu64 " write_pps=%.0f write_errors=%" PRIu64 " lost=%" PRIu64, written,
           (double)written / secs, errors, written > g_delivered ? written - g_delivered : 0);
  print_rates("write", g_delivered, secs, extra);
  return g_delivered ? 0 : 1;
}

/* --- tcp-sink: a receiver with no protocol work beyond the ACK ---------- */

enum { T_LISTEN, T_ESTABLISHED, T_LAST_ACK, T_DONE };

struct sink {
  int fd;
  int state;
  uint32_t peer;
  uint16_t pport;
  uint32_t iss, snd_nxt, rcv_nxt;
  bool wscale_ok; /* the SYN carried window scale: we may scale too */
  uint64_t bytes, segs, acks, ooo, wakeups;
  double t_first, t_fin, cpu_first, cpu_fin;
};

/*
 * The window is what keeps this sink honest without buffering: the TUN's
 * queue holds txqueuelen (500) packets and drops beyond that, and a sink
 * that drops out-of-order data turns every such drop into a go-back-N
 * stall. A window of 256 KB (ustack's default tcp_rcvbuf, ~180 full
 * segments) can never overflow the queue, and is what ustack offers too.
 */
#define SINK_WSHIFT 7

static void sink_send(struct sink *k, uint8_t flags, bool syn) {
  uint8_t pkt[48];
  size_t thl = syn ? 28 : 20;
  if (syn && !k->wscale_ok)
    thl = 24;
  uint8_t *t = pkt + 20;
  memset(t, 0, thl);
  put16(t, opt.port);
  put16(t + 2, k->pport);
  put32(t + 4, syn ? k->iss : k->snd_nxt);
  put32(t + 8, k->rcv_nxt);
  t[12] = (uint8_t)(thl / 4 << 4);
  t[13] = flags;
  uint32_t wnd = opt.window;
  if (!syn && k->wscale_ok)
    wnd >>= SINK_WSHIFT;                                /* RFC 7323 2.3 */
  put16(t + 14, (uint16_t)(wnd > 65535 ? 65535 : wnd)); /* a SYN is never scaled (2.2) */
  if (syn) {
    t[20] = 2; /* MSS, RFC 9293 3.7.1 */
    t[21] = 4;
    put16(t + 22, (uint16_t)(opt.mtu - 40));
    if (k->wscale_ok) {
      t[24] = 1; /* NOP, then window scale (RFC 7323 2.2) */
      t[25] = 3;
      t[26] = 3;
      t[27] = SINK_WSHIFT;
    }
  }
  put16(t + 16, l4_csum(opt.addr, k->peer, 6, t, thl));
  build_ip(pkt, 6, opt.addr, k->peer, 20 + thl);
  if (write(k->fd, pkt, 20 + thl) != (ssize_t)(20 + thl))
    fprintf(stderr, "tun-limit: tcp-sink: write failed: %s\n", strerror(errno));
  k->acks++;
}

static bool syn_has_wscale(const uint8_t *opts, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t kind = opts[i];
    if (kind == 0)
      break;
    if (kind == 1) {
      i++;
      continue;
    }
    if (i + 1 >= n || opts[i + 1] < 2 || opts[i + 1] > n - i)
      break; /* malformed: ignore the rest */
    if (kind == 3 && opts[i + 1] == 3)
      return true;
    i += opts[i + 1];
  }
  return false;
}

/* One packet from the TUN. Returns true when an ACK is due. */
static bool sink_input(struct sink *k, const uint8_t *p, size_t n, double now) {
  if (n < 20 || (p[0] >> 4) != 4 || p[9] != 6)
    return false;
  size_t ihl = (size_t)(p[0] & 15) * 4;
  size_t tot = get16(p + 2);
  if (ihl < 20 || tot < ihl || tot > n || get32(p + 16) != opt.addr)
    return false;
  const uint8_t *t = p + ihl;
  size_t tl = tot - ihl;
  if (tl < 20)
    return false;
  size_t doff = (size_t)(t[12] >> 4) * 4;
  if (doff < 20 || doff > tl || get16(t + 2) != opt.port)
    return false;
  uint32_t seq = get32(t + 4);
  uint8_t flags = t[13];
  size_t plen = tl - doff;
  uint32_t src = get32(p + 12);
  uint16_t sport = get16(t);

  if (flags & 0x04) { /* RST */
    if (k->state != T_LISTEN && src == k->peer && sport == k->pport) {
      fprintf(stderr, "tun-limit: tcp-sink: the peer reset the connection\n");
      k->state = T_DONE;
      k->t_fin = -1;
    }
    return false;
  }
  if (flags & 0x02) { /* SYN: new connection, or the same SYN again */
    if (k->state == T_LISTEN || (src == k->peer && sport == k->pport && seq + 1 == k->rcv_nxt)) {
      k->peer = src;
      k->pport = sport;
      k->rcv_nxt = seq + 1;
      k->iss = 0x1000;
      k->snd_nxt = k->iss + 1;
      k->wscale_ok = syn_has_wscale(t + 20, doff - 20);
      k->state = T_ESTABLISHED;
      sink_send(k, 0x12, true);
    }
    return false;
  }
  if (k->state == T_LISTEN || src != k->peer || sport != k->pport)
    return false;
  if (k->state == T_LAST_ACK && (flags & 0x10) && get32(t + 8) == k->snd_nxt && plen == 0 &&
      !(flags & 0x01)) {
    k->state = T_DONE; /* our FIN is acknowledged */
    return false;
  }
  if (plen == 0 && !(flags & 0x01))
    return false; /* a pure ACK needs no answer */
  k->segs++;
  if (seq != k->rcv_nxt) {
    k->ooo++; /* out of order or a retransmission: the ACK repeats rcv_nxt */
    return true;
  }
  if (plen && k->bytes == 0) {
    k->t_first = now;
    k->cpu_first = cpu_s();
  }
  k->rcv_nxt += (uint32_t)plen;
  k->bytes += plen;
  if ((flags & 0x01) && k->state == T_ESTABLISHED) {
    k->rcv_nxt++;
    k->t_fin = now;
    k->cpu_fin = cpu_s();
    k->state = T_LAST_ACK;
  }
  return true;
}

static int mode_tcp_sink(int fd) {
  static uint8_t buf[BUF_MAX];
  struct sink k;
  memset(&k, 0, sizeof k);
  k.fd = fd;
  k.state = T_LISTEN;
  bool fin_sent = false;
  fprintf(stderr, "tun-limit: tcp-sink listening on %u.%u.%u.%u:%u\n", opt.addr >> 24,
          (opt.addr >> 16) & 255, (opt.addr >> 8) & 255, opt.addr & 255, opt.port);
  double deadline = now_s() + opt.timeout;
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  while (k.state != T_DONE) {
    double t = now_s();
    if (t >= deadline) {
      fprintf(stderr, "tun-limit: tcp-sink: --timeout (%u s) expired\n", opt.timeout);
      return 1;
    }
    int ms = (int)((deadline - t) * 1000) + 1;
    if (poll(&pfd, 1, ms < 100 ? ms : 100) < 0 && errno != EINTR)
      die("poll");
    t = now_s();
    bool ack = false;
    int got = 0;
    for (int i = 0; i < 4096; i++) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
          break;
        die("read");
      }
      got++;
      ack |= sink_input(&k, buf, (size_t)n, t);
    }
    k.wakeups += got > 0;
    if (ack && k.state != T_DONE) {
      /* One cumulative ACK per wake-up; the FIN goes with it once the
       * peer's FIN arrived (we have nothing to send, RFC 9293 3.6). */
      if (k.state == T_LAST_ACK && !fin_sent) {
        sink_send(&k, 0x11, false);
        k.snd_nxt++;
        fin_sent = true;
      } else if (k.state == T_LAST_ACK) {
        k.snd_nxt--; /* the FIN again: the peer did not see it */
        sink_send(&k, 0x11, false);
        k.snd_nxt++;
      } else {
        sink_send(&k, 0x10, false);
      }
    }
  }
  if (k.t_fin < 0)
    return 1;
  double secs = k.t_fin - k.t_first;
  printf("tun-limit tcp-sink: bytes=%" PRIu64 " seconds=%.3f mbps=%.1f segments=%" PRIu64
         " acks=%" PRIu64 " wakeups=%" PRIu64 " out_of_order=%" PRIu64
         " window=%u mtu=%u cpu_s=%.3f\n",
         k.bytes, secs, secs > 0 ? (double)k.bytes / secs / 1e6 : 0.0, k.segs, k.acks, k.wakeups,
         k.ooo, opt.window, opt.mtu, k.cpu_fin - k.cpu_first);
  return 0;
}

/* --- tcp-source: a sender with no protocol work beyond the window ------- */

/* The peer's window-scale shift from a SYN's options, or -1 if absent. */
static int syn_wscale_shift(const uint8_t *opts, size_t n) {
  size_t i = 0;
  while (i < n) {
    if (opts[i] == 0)
      break;
    if (opts[i] == 1) {
      i++;
      continue;
    }
    if (i + 1 >= n || opts[i + 1] < 2 || opts[i + 1] > n - i)
      break;
    if (opts[i] == 3 && opts[i + 1] == 3 && i + 2 < n)
      return opts[i + 2] > 14 ? 14 : opts[i + 2]; /* RFC 7323 2.3: at most 14 */
    i += opts[i + 1];
  }
  return -1;
}

struct source {
  int fd;
  uint32_t peer;
  uint16_t pport;
  uint32_t iss, rcv_nxt;
  int peer_shift;    /* -1: no window scaling */
  uint64_t una, nxt; /* offsets from iss+1: acknowledged, sent */
  uint64_t wnd;      /* the peer's window, bytes */
  bool established, fin_sent, peer_fin;
  uint64_t segs, retrans, acks_read;
  double t_first, t_acked, last_progress, cpu_first, cpu_acked;
};

/* Bytes of the data segment template, built once: only seq, ack, window,
 * lengths and checksums change from one segment to the next. */
static uint8_t g_seg[BUF_MAX];
static uint64_t g_payload_sum; /* RFC 1071 sum of a full-size payload */

static void source_ctl(struct source *k, uint8_t flags, uint32_t seq, bool syn) {
  uint8_t pkt[48];
  size_t thl = syn ? (k->peer_shift >= 0 ? 28 : 24) : 20;
  uint8_t *t = pkt + 20;
  memset(t, 0, thl);
  put16(t, opt.port);
  put16(t + 2, k->pport);
  put32(t + 4, seq);
  put32(t + 8, k->rcv_nxt);
  t[12] = (uint8_t)(thl / 4 << 4);
  t[13] = flags;
  put16(t + 14, 65535);
  if (syn) {
    t[20] = 2;
    t[21] = 4;
    put16(t + 22, (uint16_t)(opt.mtu - 40));
    if (k->peer_shift >= 0) {
      t[24] = 1;
      t[25] = 3;
      t[26] = 3;
      t[27] = 0; /* we receive nothing: our own window needs no scaling */
    }
  }
  put16(t + 16, l4_csum(opt.addr, k->peer, 6, t, thl));
  build_ip(pkt, 6, opt.addr, k->peer, 20 + thl);
  if (write(k->fd, pkt, 20 + thl) < 0)
    fprintf(stderr, "tun-limit: tcp-source: write failed: %s\n", strerror(errno));
}

/* Send the data segment at offset k->nxt (full size, or the last piece). */
static void source_data(struct source *k, uint64_t total) {
  size_t mss = opt.mtu - 40;
  size_t plen = total - k->nxt < mss ? (size_t)(total - k->nxt) : mss;
  uint8_t *t = g_seg + 20;
  put32(t + 4, k->iss + 1 + (uint32_t)k->nxt);
  put32(t + 8, k->rcv_nxt);
  t[13] = (uint8_t)(k->nxt + plen == total ? 0x18 : 0x10); /* PSH on the last */
  put16(t + 16, 0);
  uint64_t psum = plen == mss ? g_payload_sum : sum16(t + 20, plen, 0);
  uint8_t ph[12];
  put32(ph, opt.addr);
  put32(ph + 4, k->peer);
  ph[8] = 0;
  ph[9] = 6;
  put16(ph + 10, (uint16_t)(20 + plen));
  put16(t + 16, fold(sum16(t, 20, sum16(ph, 12, psum))));
  build_ip(g_seg, 6, opt.addr, k->peer, 40 + plen);
  if (write(k->fd, g_seg, 40 + plen) == (ssize_t)(40 + plen)) {
    k->nxt += plen;
    k->segs++;
  }
}

static void source_input(struct source *k, const uint8_t *p, size_t n, double now) {
  if (n < 20 || (p[0] >> 4) != 4 || p[9] != 6)
    return;
  size_t ihl = (size_t)(p[0] & 15) * 4;
  size_t tot = get16(p + 2);
  if (ihl < 20 || tot < ihl || tot > n || get32(p + 16) != opt.addr)
    return;
  const uint8_t *t = p + ihl;
  size_t tl = tot - ihl;
  if (tl < 20)
    return;
  size_t doff = (size_t)(t[12] >> 4) * 4;
  if (doff < 20 || doff > tl || get16(t + 2) != opt.port)
    return;
  uint8_t flags = t[13];
  uint32_t src = get32(p + 12);
  uint16_t sport = get16(t);
  if (flags & 0x02) { /* SYN (again): answer with our SYN-ACK */
    if (k->established)
      return;
    k->peer = src;
    k->pport = sport;
    k->rcv_nxt = get32(t + 4) + 1;
    k->iss = 0x2000;
    k->peer_shift = syn_wscale_shift(t + 20, doff - 20);
    k->wnd = get16(t + 14); /* RFC 7323 2.2: a SYN's window is not scaled */
    source_ctl(k, 0x12, k->iss, true);
    return;
  }
  if (src != k->peer || sport != k->pport)
    return;
  if (flags & 0x04) {
    fprintf(stderr, "tun-limit: tcp-source: the peer reset the connection\n");
    k->t_acked = -1;
    return;
  }
  if (!(flags & 0x10))
    return;
  k->acks_read++;
  uint32_t ack = get32(t + 8);
  uint32_t una_seq = k->iss + 1 + (uint32_t)k->una;
  if (!k->established) {
    if (ack != k->iss + 1)
      return;
    k->established = true;
    k->t_first = now;
    k->cpu_first = cpu_s();
    k->last_progress = now;
    una_seq = ack;
  }
  uint64_t sent = k->nxt + (k->fin_sent ? 1 : 0);
  uint32_t d = ack - una_seq;
  if (d > 0 && d <= sent - k->una) {
    k->una += d;
    k->last_progress = now;
  }
  uint32_t w = get16(t + 14);
  k->wnd = k->peer_shift >= 0 ? (uint64_t)w << k->peer_shift : w;
  size_t plen = tl - doff;
  if ((flags & 0x01) && !k->peer_fin && get32(t + 4) + plen == k->rcv_nxt) {
    k->peer_fin = true; /* the peer closed after our FIN: acknowledge it */
    k->rcv_nxt++;
    source_ctl(k, 0x10, k->iss + 1 + (uint32_t)sent, false);
  }
}

static int mode_tcp_source(int fd, uint64_t total) {
  static uint8_t buf[BUF_MAX];
  struct source k;
  memset(&k, 0, sizeof k);
  k.fd = fd;
  k.peer_shift = -1;
  /* The template: a full-size segment of a fixed pattern. */
  size_t mss = opt.mtu - 40;
  uint8_t *t = g_seg + 20;
  for (size_t i = 0; i < mss; i++)
    t[20 + i] = (uint8_t)(i * 7);
  g_payload_sum = sum16(t + 20, mss, 0);
  bool template_ready = false;
  fprintf(stderr, "tun-limit: tcp-source listening on %u.%u.%u.%u:%u, %" PRIu64 " bytes\n",
          opt.addr >> 24, (opt.addr >> 16) & 255, (opt.addr >> 8) & 255, opt.addr & 255, opt.port,
          total);
  double deadline = now_s() + opt.timeout, fin_acked_at = 0;
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  for (;;) {
    double now = now_s();
    if (now >= deadline) {
      fprintf(stderr,
              "tun-limit: tcp-source: --timeout (%u s) expired at %" PRIu64 " of %" PRIu64
              " bytes acknowledged\n",
              opt.timeout, k.una, total);
      return 1;
    }
    if (k.t_acked < 0)
      return 1;
    /* Done: everything and our FIN acknowledged, and the peer's FIN seen
     * (or a second passed without it). */
    if (k.una == total + 1 && (k.peer_fin || now - fin_acked_at > 1.0))
      break;
    bool can_send = k.established && k.nxt < total && k.nxt + mss <= k.una + k.wnd;
    /* Wait only when the window is closed; otherwise just look for ACKs
     * (one read() returning EAGAIN per burst of 64 segments). */
    if (!can_send && poll(&pfd, 1, 10) < 0 && errno != EINTR)
      die("poll");
    for (int i = 0; i < 4096; i++) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
          break;
        die("read");
      }
      source_input(&k, buf, (size_t)n, now);
    }
    now = now_s();
    if (k.una >= total && k.t_acked == 0 && k.established) {
      k.t_acked = now;
      k.cpu_acked = cpu_s();
    }
    if (k.una == total + 1 && fin_acked_at == 0)
      fin_acked_at = now;
    if (!k.established)
      continue;
    if (!template_ready) { /* the ports are known once the SYN arrived */
      put16(t, opt.port);
      put16(t + 2, k.pport);
      t[12] = 5 << 4;
      put16(t + 14, 65535);
      template_ready = true;
    }
    /* No retransmission machinery: a TUN does not lose, so a stall (no
     * progress for 200 ms with data out) is counted and answered by going
     * back to the first unacknowledged byte. */
    uint64_t sent = k.nxt + (k.fin_sent ? 1 : 0);
    if (sent > k.una && now - k.last_progress > 0.2) {
      k.retrans++;
      k.nxt = k.una < total ? k.una : total;
      k.fin_sent = k.una > total;
      k.last_progress = now;
    }
    for (int i = 0; i < 64 && k.nxt < total && k.nxt + mss <= k.una + k.wnd; i++)
      source_data(&k, total);
    if (k.nxt == total && !k.fin_sent) {
      source_ctl(&k, 0x11, k.iss + 1 + (uint32_t)total, false);
      k.fin_sent = true;
    }
  }
  double secs = k.t_acked - k.t_first;
  printf("tun-limit tcp-source: bytes=%" PRIu64 " seconds=%.3f mbps=%.1f segments=%" PRIu64
         " acks_read=%" PRIu64 " stalls=%" PRIu64 " mtu=%u cpu_s=%.3f\n",
         total, secs, secs > 0 ? (double)total / secs / 1e6 : 0.0, k.segs, k.acks_read, k.retrans,
         opt.mtu, k.cpu_acked - k.cpu_first);
  if (k.retrans)
    fprintf(stderr, "tun-limit: tcp-source: %" PRIu64 " stall(s) of 200 ms: the figure is low\n",
            k.retrans);
  return 0;
}

static int mode_tcp_source_opt(int fd) { return mode_tcp_source(fd, opt.bytes); }

/* --- reflect: stateless answers (echo, SYN-ACK, FIN-ACK, ICMP echo) ----- */

static void on_stop(int sig) {
  (void)sig;
  atomic_store(&g_stop, true);
}

/* An ICMP echo request (RFC 792) to our address becomes its reply, in
 * place: swap the addresses, type 0, checksum again. */
static bool reflect_icmp(uint8_t *p, size_t ihl, size_t tot) {
  uint8_t *ic = p + ihl;
  size_t il = tot - ihl;
  if (il < 8 || ic[0] != 8)
    return false;
  ic[0] = 0;
  put16(ic + 2, 0);
  put16(ic + 2, fold(sum16(ic, il, 0)));
  uint32_t src = get32(p + 12);
  put32(p + 12, get32(p + 16));
  put32(p + 16, src);
  put16(p + 10, 0);
  put16(p + 10, fold(sum16(p, ihl, 0)));
  return true;
}

/* A TCP segment to our port becomes its answer in `out`; its length, or 0
 * for none. No state: every field comes from the segment itself. */
static size_t reflect_tcp(const uint8_t *p, size_t ihl, size_t tot, uint8_t *out) {
  const uint8_t *t = p + ihl;
  size_t tl = tot - ihl;
  if (tl < 20)
    return 0;
  size_t doff = (size_t)(t[12] >> 4) * 4;
  if (doff < 20 || doff > tl || get16(t + 2) != opt.port)
    return 0;
  uint8_t flags = t[13];
  size_t plen = tl - doff;
  uint32_t seq = get32(t + 4);
  uint8_t *o = out + 20;
  size_t thl = 20;
  uint8_t oflags;
  uint32_t oseq, oack;
  if (flags & 0x04)
    return 0;                   /* RST */
  if ((flags & 0x12) == 0x02) { /* SYN */
    oflags = 0x12;
    oseq = 0x1000; /* fixed ISS: the 4-tuple tells connections apart */
    oack = seq + 1;
    thl = 24;
    plen = 0;
  } else if (plen == 0 && !(flags & 0x01)) {
    return 0; /* a pure ACK needs no answer */
  } else {
    oflags = (uint8_t)(0x10 | (flags & 0x08) | (flags & 0x01)); /* ACK, PSH, FIN */
    oseq = get32(t + 8);
    oack = seq + (uint32_t)plen + (flags & 0x01);
  }
  memset(o, 0, thl);
  put16(o, opt.port);
  put16(o + 2, get16(t));
  put32(o + 4, oseq);
  put32(o + 8, oack);
  o[12] = (uint8_t)(thl / 4 << 4);
  o[13] = oflags;
  put16(o + 14, 65535);
  if (thl == 24) {
    o[20] = 2; /* MSS, RFC 9293 3.7.1 */
    o[21] = 4;
    put16(o + 22, (uint16_t)(opt.mtu - 40));
  }
  memcpy(o + thl, t + doff, plen);
  put16(o + 16, l4_csum(opt.addr, get32(p + 12), 6, o, thl + plen));
  build_ip(out, 6, opt.addr, get32(p + 12), 20 + thl + plen);
  return 20 + thl + plen;
}

static int mode_reflect(int fd) {
  static uint8_t buf[BUF_MAX], out[BUF_MAX];
  uint64_t pkts = 0, answers = 0;
  signal(SIGTERM, on_stop);
  signal(SIGINT, on_stop);
  double cpu0 = cpu_s(), t0 = now_s(), end = t0 + (opt.seconds_given ? opt.seconds : 3600);
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  while (!atomic_load(&g_stop) && now_s() < end) {
    if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
      die("poll");
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
          break;
        die("read");
      }
      pkts++;
      if (n < 20 || (buf[0] >> 4) != 4)
        continue;
      size_t ihl = (size_t)(buf[0] & 15) * 4;
      size_t tot = get16(buf + 2);
      if (ihl < 20 || tot < ihl || tot > (size_t)n || get32(buf + 16) != opt.addr)
        continue;
      const uint8_t *w = NULL;
      size_t wl = 0;
      if (buf[9] == 1 && reflect_icmp(buf, ihl, tot)) {
        w = buf;
        wl = tot;
      } else if (buf[9] == 6 && (wl = reflect_tcp(buf, ihl, tot, out)) > 0) {
        w = out;
      }
      if (w && write(fd, w, wl) == (ssize_t)wl)
        answers++;
    }
  }
  printf("tun-limit reflect: packets=%" PRIu64 " answers=%" PRIu64 " seconds=%.3f cpu_s=%.3f\n",
         pkts, answers, now_s() - t0, cpu_s() - cpu0);
  return 0;
}

/* --- main --------------------------------------------------------------- */

static uint32_t parse_ip(const char *s) {
  struct in_addr a;
  if (inet_pton(AF_INET, s, &a) != 1) {
    fprintf(stderr, "tun-limit: '%s' is not an IPv4 address\n", s);
    exit(2);
  }
  return ntohl(a.s_addr);
}

static unsigned long parse_ul(const char *s, unsigned long lo, unsigned long hi, const char *what) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) {
    fprintf(stderr, "tun-limit: %s must be %lu..%lu, not '%s'\n", what, lo, hi, s);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  const char *mode = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--no-config") == 0) {
      opt.no_config = true;
      continue;
    }
    if (strncmp(a, "--", 2) != 0) {
      if (mode)
        usage();
      mode = a;
      continue;
    }
    if (i + 1 >= argc)
      usage();
    const char *v = argv[++i];
    if (strcmp(a, "--dev") == 0) {
      if (strlen(v) == 0 || strlen(v) >= IFNAMSIZ || strchr(v, '/'))
        usage();
      opt.dev = v;
    } else if (strcmp(a, "--host") == 0) {
      opt.host = parse_ip(v);
    } else if (strcmp(a, "--addr") == 0) {
      opt.addr = parse_ip(v);
    } else if (strcmp(a, "--prefix") == 0) {
      opt.prefix = (unsigned)parse_ul(v, 1, 32, "--prefix");
    } else if (strcmp(a, "--mtu") == 0) {
      opt.mtu = (unsigned)parse_ul(v, 576, 9000, "--mtu");
    } else if (strcmp(a, "--port") == 0) {
      opt.port = (uint16_t)parse_ul(v, 1, 65535, "--port");
    } else if (strcmp(a, "--seconds") == 0) {
      opt.seconds = (double)parse_ul(v, 1, 3600, "--seconds");
      opt.seconds_given = true;
    } else if (strcmp(a, "--bytes") == 0) {
      char *end;
      errno = 0;
      opt.bytes = strtoull(v, &end, 10);
      if (errno || end == v || *end || opt.bytes == 0 || opt.bytes > (1ull << 40))
        usage();
    } else if (strcmp(a, "--window") == 0) {
      opt.window = (uint32_t)parse_ul(v, 1460, 65535u << SINK_WSHIFT, "--window");
    } else if (strcmp(a, "--timeout") == 0) {
      opt.timeout = (unsigned)parse_ul(v, 1, 3600, "--timeout");
    } else {
      usage();
    }
  }
  if (!mode)
    usage();
  int (*run)(int);
  if (strcmp(mode, "read") == 0)
    run = mode_read;
  else if (strcmp(mode, "write") == 0)
    run = mode_write;
  else if (strcmp(mode, "tcp-sink") == 0)
    run = mode_tcp_sink;
  else if (strcmp(mode, "tcp-source") == 0)
    run = mode_tcp_source_opt;
  else if (strcmp(mode, "reflect") == 0)
    run = mode_reflect;
  else
    usage();
  int fd = tun_open();
  int rc = run(fd);
  fflush(stdout);
  close(fd);
  return rc;
}
