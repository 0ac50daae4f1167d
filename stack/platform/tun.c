/*
 * tun.c - open and configure a TUN device with ioctl(2).
 *
 * The address is given with the classic SIOCSIF* ioctls on an AF_INET
 * datagram socket: they are enough for one point-to-point IPv4 address and
 * avoid a netlink dependency. A TUN is IFF_POINTOPOINT, so SIOCSIFADDR
 * alone would give a /32; SIOCSIFDSTADDR sets the peer (the stack) and
 * SIOCSIFNETMASK widens the on-link prefix, for which the kernel installs
 * the route into the TUN.
 */
#include "tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void ip_str(us_ip4_t a, char out[16]) {
  snprintf(out, 16, "%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)(a >> 16) & 255u,
           (unsigned)(a >> 8) & 255u, (unsigned)a & 255u);
}

static void set_sin(struct sockaddr *sa, us_ip4_t a) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(a);
  memcpy(sa, &sin, sizeof sin);
}

/*
 * "Address already in use": the kernel happily puts the same address on
 * two interfaces, which then silently steals the traffic. Refuse instead if
 * another interface in this network namespace holds the host address or
 * the stack's address.
 */
static int check_addresses_free(const struct us_tun_cfg *cfg, char *err, size_t errlen) {
  struct ifaddrs *list = NULL;
  if (getifaddrs(&list) != 0)
    return 0; /* cannot check: let the ioctls decide */
  int rc = 0;
  for (struct ifaddrs *i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
      continue;
    if (strcmp(i->ifa_name, cfg->name) == 0)
      continue; /* re-attaching to our own device: its address is ours */
    struct sockaddr_in sin;
    memcpy(&sin, i->ifa_addr, sizeof sin);
    us_ip4_t a = ntohl(sin.sin_addr.s_addr);
    char s[16];
    ip_str(a, s);
    if (a == cfg->host) {
      snprintf(err, errlen, "address %s (--host) is already in use on interface %s", s,
               i->ifa_name);
      rc = -1;
      break;
    }
    if (a == cfg->peer) {
      snprintf(err, errlen, "address %s (--addr) is already in use on interface %s", s,
               i->ifa_name);
      rc = -1;
      break;
    }
  }
  freeifaddrs(list);
  return rc;
}

static int tun_attach(struct us_tun *t, const struct us_tun_cfg *cfg, char *err,
                      size_t errlen) {
  t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (t->fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ENXIO || e == ENODEV)
      snprintf(err, errlen, "cannot open /dev/net/tun: %s (is the tun module loaded?)",
               strerror(e));
    else if (e == EACCES || e == EPERM)
      snprintf(err, errlen,
               "no permission to open /dev/net/tun (run as root or with CAP_NET_ADMIN)");
    else
      snprintf(err, errlen, "cannot open /dev/net/tun: %s", strerror(e));
    return -1;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, cfg->name, strlen(cfg->name)); /* length checked by caller */
  if (ioctl(t->fd, TUNSETIFF, &ifr) != 0) {
    int e = errno;
    if (e == EBUSY)
      snprintf(err, errlen, "interface %s is in use (another process has it open)",
               cfg->name);
    else if (e == EPERM || e == EACCES)
      snprintf(err, errlen,
               "no permission to create or attach TUN interface %s (need CAP_NET_ADMIN)",
               cfg->name);
    else if (e == EINVAL)
      snprintf(err, errlen, "interface %s already exists and is not a TUN device (or has "
               "incompatible flags)", cfg->name);
    else
      snprintf(err, errlen, "cannot create TUN interface %s: %s", cfg->name, strerror(e));
    return -1;
  }
  memcpy(t->name, ifr.ifr_name, sizeof t->name);
  t->name[sizeof t->name - 1] = '\0';
  t->ifindex = (int)if_nametoindex(t->name);
  return 0;
}

static int tun_configure(struct us_tun *t, const struct us_tun_cfg *cfg, char *err,
                         size_t errlen) {
  int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sk < 0) {
    snprintf(err, errlen, "cannot configure %s: socket: %s", t->name, strerror(errno));
    return -1;
  }
  struct ifreq ifr;
  const char *step = "";
  char hs[16];
  ip_str(cfg->host, hs);

  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, t->name, sizeof ifr.ifr_name);
  ifr.ifr_mtu = cfg->mtu;
  step = "set MTU";
  if (ioctl(sk, SIOCSIFMTU, &ifr) != 0)
    goto fail;

  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, t->name, sizeof ifr.ifr_name);
  set_sin(&ifr.ifr_addr, cfg->host);
  step = "set address";
  if (ioctl(sk, SIOCSIFADDR, &ifr) != 0)
    goto fail;

  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, t->name, sizeof ifr.ifr_name);
  set_sin(&ifr.ifr_dstaddr, cfg->peer);
  step = "set peer address";
  if (ioctl(sk, SIOCSIFDSTADDR, &ifr) != 0)
    goto fail;

  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, t->name, sizeof ifr.ifr_name);
  uint32_t mask = cfg->prefix == 0 ? 0 : (uint32_t)(0xffffffffu << (32 - cfg->prefix));
  set_sin(&ifr.ifr_netmask, mask);
  step = "set netmask";
  if (ioctl(sk, SIOCSIFNETMASK, &ifr) != 0)
    goto fail;

  memset(&ifr, 0, sizeof ifr);
  memcpy(ifr.ifr_name, t->name, sizeof ifr.ifr_name);
  step = "read flags";
  if (ioctl(sk, SIOCGIFFLAGS, &ifr) != 0)
    goto fail;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  step = "bring link up";
  if (ioctl(sk, SIOCSIFFLAGS, &ifr) != 0)
    goto fail;

  close(sk);
  return 0;

fail:;
  int e = errno;
  close(sk);
  if (e == EEXIST || e == EADDRINUSE)
    snprintf(err, errlen, "cannot %s on %s: address %s already in use", step, t->name, hs);
  else if (e == EPERM || e == EACCES)
    snprintf(err, errlen, "no permission to %s on %s (need CAP_NET_ADMIN)", step, t->name);
  else
    snprintf(err, errlen, "cannot %s on %s: %s", step, t->name, strerror(e));
  return -1;
}

int us_tun_open(struct us_tun *t, const struct us_tun_cfg *cfg, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  t->fd = -1;
  size_t n = cfg->name ? strlen(cfg->name) : 0;
  if (n == 0 || n >= US_TUN_NAME_MAX || strchr(cfg->name, '/') || strchr(cfg->name, ' ')) {
    snprintf(err, errlen, "bad interface name '%s' (1..%d characters, no '/' or space)",
             cfg->name ? cfg->name : "", US_TUN_NAME_MAX - 1);
    return -1;
  }
  if (cfg->prefix < 1 || cfg->prefix > 32) {
    snprintf(err, errlen, "bad prefix length %u (1..32)", (unsigned)cfg->prefix);
    return -1;
  }
  if (check_addresses_free(cfg, err, errlen) != 0)
    return -1;
  if (tun_attach(t, cfg, err, errlen) != 0 || tun_configure(t, cfg, err, errlen) != 0) {
    us_tun_close(t);
    return -1;
  }
  return 0;
}

void us_tun_close(struct us_tun *t) {
  if (t->fd >= 0)
    close(t->fd);
  t->fd = -1;
}

long us_tun_read(struct us_tun *t, uint8_t *buf, size_t cap) {
  for (;;) {
    ssize_t n = read(t->fd, buf, cap);
    if (n >= 0) {
      t->rx_packets++;
      t->rx_bytes += (uint64_t)n;
      return (long)n;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return 0;
    t->rx_errors++;
    return -(long)errno;
  }
}

static void tun_tx(void *ctx, const uint8_t *pkt, size_t len) {
  struct us_tun *t = ctx;
  for (;;) {
    ssize_t n = write(t->fd, pkt, len);
    if (n >= 0) {
      t->tx_packets++;
      t->tx_bytes += (uint64_t)n;
      return;
    }
    if (errno == EINTR)
      continue;
    /* Never block the loop on output: a full queue is a drop, like a
     * full NIC ring; TCP retransmits, ping reports the loss. */
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      t->tx_eagain++;
    else
      t->tx_errors++;
    return;
  }
}

struct us_device us_tun_device(struct us_tun *t) {
  return (struct us_device){.tx = tun_tx, .ctx = t};
}
