/*
 * tun_udp_echo.c - ustack embedded in a program of its own: its own TUN,
 * its own poll() loop, its own clock and random source, and only the
 * public API (<ustack/ustack.h>). It echoes UDP datagrams on one port.
 *
 *   tun_udp_echo IFNAME ADDR PORT [COUNT] [SECONDS]
 *
 * creates the TUN IFNAME, answers as ADDR (the host side of the TUN gets
 * an address in the same /24 from whoever runs us: `ip addr add`, `ip
 * link set up`), and exits 0 after echoing COUNT datagrams (default 1),
 * or 1 after SECONDS (default 30) without that many. Run it as root, in a
 * network namespace of your own (tests/integration/test_embed.sh does).
 *
 * Build from an installed ustack:
 *   cc tun_udp_echo.c -o tun_udp_echo $(pkg-config --cflags --libs ustack)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <ustack/ustack.h>

static us_time_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (us_time_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The device: write each datagram to the TUN. No call back into the stack
 * from here (us_device.h); a full TUN queue drops, as a link would. */
static void tun_tx(void *ctx, const uint8_t *pkt, size_t len) {
  int fd = *(int *)ctx;
  if (write(fd, pkt, len) < 0 && errno != EAGAIN)
    perror("tun_udp_echo: write");
}

static void os_random(void *ctx, void *buf, size_t len) {
  (void)ctx;
  uint8_t *b = buf;
  while (len > 0) {
    ssize_t r = getrandom(b, len, 0);
    if (r <= 0)
      continue;
    b += r;
    len -= (size_t)r;
  }
}

static int tun_open(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s IFNAME ADDR PORT [COUNT] [SECONDS]\n", argv[0]);
    return 2;
  }
  struct in_addr a;
  long port = strtol(argv[3], NULL, 10);
  long want = argc > 4 ? strtol(argv[4], NULL, 10) : 1;
  long seconds = argc > 5 ? strtol(argv[5], NULL, 10) : 30;
  if (inet_pton(AF_INET, argv[2], &a) != 1 || port < 1 || port > 65535 || want < 1 || seconds < 1) {
    fprintf(stderr, "%s: bad ADDR, PORT, COUNT or SECONDS\n", argv[0]);
    return 2;
  }
  int fd = tun_open(argv[1]);
  if (fd < 0) {
    perror("tun_udp_echo: /dev/net/tun");
    return 1;
  }

  struct us_config cfg;
  us_config_default(&cfg);
  cfg.addr = ntohl(a.s_addr); /* us_ip4_t is in host order */
  cfg.prefix_len = 24;
  cfg.mtu = 1500;
  cfg.rand = (struct us_rand_source){ .fill = os_random };
  struct us_device dev = { .tx = tun_tx, .ctx = &fd };
  us_stack *s = us_stack_create(&cfg, &dev);
  us_sock_t u;
  if (!s || us_udp_open(s, &u) != 0 || us_udp_bind(s, u, (uint16_t)port) != 0) {
    fprintf(stderr, "tun_udp_echo: cannot set up the stack\n");
    return 1;
  }
  fprintf(stderr, "tun_udp_echo: %s on %s, UDP port %ld\n", argv[2], argv[1], port);

  static uint8_t buf[65536];
  long echoed = 0;
  us_time_t end = now_us() + (us_time_t)seconds * 1000000;
  us_time_t next = US_TIME_NEVER;
  while (echoed < want && now_us() < end) {
    /* Sleep until a packet comes or the stack's next deadline. */
    us_time_t t = now_us(), until = next < end ? next : end;
    int ms = until <= t ? 0 : (int)((until - t + 999) / 1000);
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, ms > 100 ? 100 : ms) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 64; i++) { /* a batch, then timers and the app */
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0)
        break;
      us_stack_input(s, buf, (size_t)n, now_us());
    }
    next = us_stack_poll(s, now_us());
    struct us_event ev[16];
    size_t nev = us_stack_events(s, ev, 16);
    for (size_t i = 0; i < nev; i++) {
      if (!(ev[i].events & US_EV_READABLE))
        continue;
      us_endpoint_t src;
      long r;
      while ((r = us_udp_recvfrom(s, ev[i].sock, buf, sizeof buf, &src)) >= 0) {
        us_udp_sendto(s, ev[i].sock, src, buf, (size_t)r, now_us());
        echoed++;
      }
    }
    next = us_stack_poll(s, now_us());
  }
  printf("tun_udp_echo: echoed %ld datagram(s)\n", echoed);
  us_udp_close(s, u);
  us_stack_destroy(s);
  close(fd);
  return echoed >= want ? 0 : 1;
}
