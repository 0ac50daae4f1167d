/*
 * lwip-ref - lwIP on a TUN device, the third reference of scripts/bench.sh.
 *
 * It links Debian's liblwip (lwIP 2.1.3, package liblwip-dev) as it is and
 * serves, with lwIP's raw TCP API, what ustackd serves to the benchmark:
 * discard (9, RFC 863), chargen (19, RFC 864) and echo (7, RFC 862); ICMP
 * echo is lwIP's own. One thread reads the TUN and feeds lwIP's ip_input
 * under the core lock; lwIP's tcpip thread runs the timers; the netif's
 * output writes each packet to the TUN. So it runs like ustackd: one
 * packet per read(), one per write(), no offloads.
 *
 * The library's options are compiled in (its lwipopts.h, from GNU Hurd):
 * TCP_MSS 1460, TCP_WND 65535 with window scaling (shift 1), TCP_SND_BUF
 * 65535, memory from malloc. Windows are therefore a quarter of ustack's
 * 256 KiB: the lwIP figures are lwIP as Debian ships it, not lwIP tuned.
 *
 *   lwip-ref --dev NAME --host A --addr B [--prefix N] [--mtu M]
 *
 * Runs until SIGTERM/SIGINT; prints its CPU seconds on exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ref_tun.h"

#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/tcpip.h"

#define PKT_MAX 65536

static struct {
  const char *dev;
  uint32_t host, addr; /* host order */
  unsigned prefix, mtu;
} opt = { .dev = "tunlw0", .host = 0x0a610001, .addr = 0x0a610002, .prefix = 24, .mtu = 1500 };

static int g_tun = -1;
static atomic_bool g_stop, g_ready;
static struct netif g_nif;
static uint64_t g_tx_errors;

_Noreturn static void die(const char *what) {
  fprintf(stderr, "lwip-ref: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* --- the TUN ------------------------------------------------------------- */

/* Configured as ustackd configures its TUN (apps/common/ref_tun.c). */
static int tun_open(void) {
  const struct ref_tun t = {
    .dev = opt.dev, .host = opt.host, .addr = opt.addr, .prefix = opt.prefix, .mtu = opt.mtu
  };
  const char *what = NULL;
  int fd = ref_tun_open(&t, &what);
  if (fd < 0)
    die(what);
  return fd;
}

/* --- the netif ------------------------------------------------------------ */

/* lwIP hands over a whole IPv4 packet (maybe a pbuf chain): one write(). */
static err_t nif_output(struct netif *nif, struct pbuf *p, const ip4_addr_t *dst) {
  (void)nif;
  (void)dst;
  static uint8_t buf[PKT_MAX];
  uint16_t n = pbuf_copy_partial(p, buf, p->tot_len, 0);
  if (write(g_tun, buf, n) != (ssize_t)n)
    g_tx_errors++;
  return ERR_OK;
}

static err_t nif_init(struct netif *nif) {
  nif->name[0] = 't';
  nif->name[1] = 'n';
  nif->output = nif_output;
  nif->mtu = (u16_t)opt.mtu;
  nif->flags = NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

/* --- the services (raw API) ------------------------------------------------ */

/* RFC 864's stream repeats every 95 lines of 74 bytes; one period plus the
 * largest write, so any write is one contiguous slice (no copy: lwIP may
 * reference static data, TCP_WRITE_FLAG_COPY unset). */
#define CG_LINE   74
#define CG_PERIOD (95 * CG_LINE)
#define CG_WRITE  16384
static uint8_t g_chargen[CG_PERIOD + CG_WRITE];

static void chargen_init(void) {
  for (size_t n = 0; n < sizeof g_chargen; n++) {
    size_t line = n / CG_LINE, col = n % CG_LINE;
    g_chargen[n] = col < 72 ? (uint8_t)(' ' + (line + col) % 95) : col == 72 ? '\r' : '\n';
  }
}

enum kind { K_DISCARD, K_ECHO, K_CHARGEN };

struct conn {
  enum kind kind;
  size_t cg_off; /* chargen: offset in the period */
};

static void conn_close(struct tcp_pcb *pcb, struct conn *c) {
  tcp_arg(pcb, NULL);
  tcp_recv(pcb, NULL);
  tcp_sent(pcb, NULL);
  tcp_err(pcb, NULL);
  free(c);
  if (tcp_close(pcb) != ERR_OK)
    tcp_abort(pcb);
}

static void chargen_fill(struct tcp_pcb *pcb, struct conn *c) {
  for (;;) {
    size_t n = tcp_sndbuf(pcb);
    if (n > CG_WRITE)
      n = CG_WRITE;
    if (n < 1024 || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 4)
      break;
    if (tcp_write(pcb, g_chargen + c->cg_off, (u16_t)n, 0) != ERR_OK)
      break;
    c->cg_off = (c->cg_off + n) % CG_PERIOD;
  }
  tcp_output(pcb);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len) {
  (void)len;
  struct conn *c = arg;
  if (c && c->kind == K_CHARGEN)
    chargen_fill(pcb, c);
  return ERR_OK;
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err) {
  struct conn *c = arg;
  (void)err;
  if (!p) { /* the peer's FIN: every service is done */
    conn_close(pcb, c);
    return ERR_OK;
  }
  if (c->kind == K_ECHO) {
    /* Not enough room: refuse, lwIP offers it again later (refused_data). */
    if (tcp_sndbuf(pcb) < p->tot_len || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 8)
      return ERR_MEM;
    for (struct pbuf *q = p; q; q = q->next)
      if (tcp_write(pcb, q->payload, q->len, TCP_WRITE_FLAG_COPY) != ERR_OK)
        return ERR_MEM; /* cannot happen after the check above */
    tcp_output(pcb);
  }
  tcp_recved(pcb, p->tot_len);
  pbuf_free(p);
  return ERR_OK;
}

static void on_err(void *arg, err_t err) {
  (void)err;
  free(arg); /* the pcb is already freed */
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err) {
  if (err != ERR_OK || !pcb)
    return ERR_VAL;
  struct conn *c = calloc(1, sizeof *c);
  if (!c)
    return ERR_MEM;
  c->kind = (enum kind)(intptr_t)arg;
  tcp_arg(pcb, c);
  tcp_recv(pcb, on_recv);
  tcp_sent(pcb, on_sent);
  tcp_err(pcb, on_err);
  if (c->kind == K_ECHO)
    tcp_nagle_disable(pcb);
  if (c->kind == K_CHARGEN)
    chargen_fill(pcb, c);
  return ERR_OK;
}

static void listen_on(u16_t port, enum kind k) {
  struct tcp_pcb *pcb = tcp_new();
  if (!pcb || tcp_bind(pcb, IP_ADDR_ANY, port) != ERR_OK) {
    fprintf(stderr, "lwip-ref: cannot bind port %u\n", port);
    exit(1);
  }
  pcb = tcp_listen_with_backlog(pcb, 255);
  if (!pcb) {
    fprintf(stderr, "lwip-ref: cannot listen on port %u\n", port);
    exit(1);
  }
  tcp_arg(pcb, (void *)(intptr_t)k);
  tcp_accept(pcb, on_accept);
}

/* --- main ------------------------------------------------------------------ */

static void on_stop(int sig) {
  (void)sig;
  atomic_store(&g_stop, true);
}

static void on_tcpip_ready(void *arg) {
  (void)arg;
  atomic_store(&g_ready, true);
}

static uint32_t parse_ip(const char *s) {
  struct in_addr a;
  if (inet_pton(AF_INET, s, &a) != 1) {
    fprintf(stderr, "lwip-ref: '%s' is not an IPv4 address\n", s);
    exit(2);
  }
  return ntohl(a.s_addr);
}

static unsigned parse_num(const char *s, unsigned lo, unsigned hi, const char *what) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) {
    fprintf(stderr, "lwip-ref: %s must be %u..%u, not '%s'\n", what, lo, hi, s);
    exit(2);
  }
  return (unsigned)v;
}

_Noreturn static void usage(void) {
  fprintf(stderr,
          "usage: lwip-ref [--dev NAME] [--host A] [--addr B] [--prefix N] [--mtu M]\n"
          "  lwIP (Debian's liblwip) on a TUN: discard 9, chargen 19, echo 7, ping.\n"
          "  Defaults: --dev tunlw0 --host 10.97.0.1 --addr 10.97.0.2 --prefix 24\n"
          "  --mtu 1500 (576..9000). Runs until SIGTERM.\n");
  exit(2);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc)
      usage();
    const char *a = argv[i], *v = argv[++i];
    if (strcmp(a, "--dev") == 0 && strlen(v) > 0 && strlen(v) < IFNAMSIZ)
      opt.dev = v;
    else if (strcmp(a, "--host") == 0)
      opt.host = parse_ip(v);
    else if (strcmp(a, "--addr") == 0)
      opt.addr = parse_ip(v);
    else if (strcmp(a, "--prefix") == 0)
      opt.prefix = parse_num(v, 1, 32, "--prefix");
    else if (strcmp(a, "--mtu") == 0)
      opt.mtu = parse_num(v, 576, 9000, "--mtu");
    else
      usage();
  }
  signal(SIGTERM, on_stop);
  signal(SIGINT, on_stop);
  chargen_init();
  g_tun = tun_open();

  tcpip_init(on_tcpip_ready, NULL);
  while (!atomic_load(&g_ready))
    usleep(1000);

  LOCK_TCPIP_CORE();
  ip4_addr_t addr, mask, gw;
  IP4_ADDR(&addr, opt.addr >> 24, (opt.addr >> 16) & 255, (opt.addr >> 8) & 255, opt.addr & 255);
  uint32_t m = (uint32_t)(0xffffffffu << (32 - opt.prefix));
  IP4_ADDR(&mask, m >> 24, (m >> 16) & 255, (m >> 8) & 255, m & 255);
  IP4_ADDR(&gw, opt.host >> 24, (opt.host >> 16) & 255, (opt.host >> 8) & 255, opt.host & 255);
  if (!netif_add(&g_nif, &addr, &mask, &gw, NULL, nif_init, ip_input)) {
    fprintf(stderr, "lwip-ref: netif_add failed\n");
    return 1;
  }
  netif_set_default(&g_nif);
  netif_set_up(&g_nif);
  netif_set_link_up(&g_nif);
  listen_on(9, K_DISCARD);
  listen_on(19, K_CHARGEN);
  listen_on(7, K_ECHO);
  UNLOCK_TCPIP_CORE();
  fprintf(stderr, "lwip-ref: lwIP %s on %s, discard 9, chargen 19, echo 7\n", LWIP_VERSION_STRING,
          opt.dev);

  static uint8_t buf[PKT_MAX];
  struct pollfd pfd = { .fd = g_tun, .events = POLLIN };
  while (!atomic_load(&g_stop)) {
    if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
      die("poll");
    for (;;) {
      ssize_t n = read(g_tun, buf, sizeof buf);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
          break;
        die("read");
      }
      struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_RAM);
      if (!p)
        continue;
      pbuf_take(p, buf, (u16_t)n);
      LOCK_TCPIP_CORE();
      if (g_nif.input(p, &g_nif) != ERR_OK)
        pbuf_free(p);
      UNLOCK_TCPIP_CORE();
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  fprintf(stderr, "lwip-ref: stopped; cpu_s=%.3f tx_errors=%llu\n",
          (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
          (unsigned long long)g_tx_errors);
  return 0;
}
