/*
 * tun.c - open and configure a TUN device with ioctl(2).
 *
 * The address is given with the classic SIOCSIF* ioctls on an AF_INET
 * datagram socket: they are enough for one point-to-point IPv4 address and
 * avoid a netlink dependency. A TUN is IFF_POINTOPOINT, so SIOCSIFADDR
 * alone would give a /32; SIOCSIFDSTADDR sets the peer (the stack) and
 * SIOCSIFNETMASK widens the on-link prefix, for which the kernel installs
 * the route into the TUN. IPv6 goes over rtnetlink (tun_addr6.c).
 */
#include "tun.h"
#include "tun_addr6.h"

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
#include <linux/virtio_net.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* The virtio header as the kernel reads and writes it on a TUN opened with
 * IFF_VNET_HDR: struct virtio_net_hdr, 10 bytes, little-endian once
 * TUNSETVNETLE is on. */
#define VNET_HDR_LEN 10
_Static_assert(sizeof(struct virtio_net_hdr) == VNET_HDR_LEN, "virtio_net_hdr is 10 bytes");

static void ip_str(us_ip4_t a, char out[16]) {
  snprintf(out, 16, "%u.%u.%u.%u", (unsigned)(a >> 24), (unsigned)(a >> 16) & 255u,
           (unsigned)(a >> 8) & 255u, (unsigned)a & 255u);
}

static void ip6_str(const uint8_t a[16], char out[INET6_ADDRSTRLEN]) {
  if (!inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN))
    snprintf(out, INET6_ADDRSTRLEN, "?");
}

static void set_sin(struct sockaddr *sa, us_ip4_t a) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(a);
  memcpy(sa, &sin, sizeof sin);
}

/* The IPv6 half of check_addresses_free(). 0, or -1 with err. */
static int check_addr6_free(const struct us_tun_cfg *cfg, const struct ifaddrs *i, char *err,
                            size_t errlen) {
  struct sockaddr_in6 sin6;
  memcpy(&sin6, i->ifa_addr, sizeof sin6);
  const char *which = memcmp(&sin6.sin6_addr, cfg->host6, 16) == 0   ? "--host6"
                      : memcmp(&sin6.sin6_addr, cfg->peer6, 16) == 0 ? "--addr6"
                                                                     : NULL;
  if (!which)
    return 0;
  char s[INET6_ADDRSTRLEN];
  ip6_str(sin6.sin6_addr.s6_addr, s);
  snprintf(err, errlen, "address %s (%s) is already in use on interface %s", s, which, i->ifa_name);
  return -1;
}

/*
 * "Address already in use": the kernel happily puts the same address on
 * two interfaces, which then silently steals the traffic. Refuse instead if
 * another interface in this network namespace holds the host address or
 * the stack's address (of either family).
 */
static int check_addresses_free(const struct us_tun_cfg *cfg, char *err, size_t errlen) {
  struct ifaddrs *list = NULL;
  if (getifaddrs(&list) != 0)
    return 0; /* cannot check: let the ioctls decide */
  int rc = 0;
  for (struct ifaddrs *i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr)
      continue;
    if (strcmp(i->ifa_name, cfg->name) == 0)
      continue; /* re-attaching to our own device: its address is ours */
    if (i->ifa_addr->sa_family == AF_INET6 && cfg->ip6) {
      rc = check_addr6_free(cfg, i, err, errlen);
      if (rc != 0)
        break;
      continue;
    }
    if (i->ifa_addr->sa_family != AF_INET)
      continue;
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

static int tun_attach(struct us_tun *t, const struct us_tun_cfg *cfg, char *err, size_t errlen) {
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
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (cfg->offload ? IFF_VNET_HDR : 0);
  memcpy(ifr.ifr_name, cfg->name, strlen(cfg->name)); /* length checked by caller */
  int rc = ioctl(t->fd, TUNSETIFF, &ifr);
  if (rc != 0 && errno == EINVAL && cfg->offload) {
    /* A kernel without IFF_VNET_HDR: run without offloads. */
    snprintf(t->offload_note, sizeof t->offload_note,
             "offloads off: the kernel refused IFF_VNET_HDR (%s)", strerror(errno));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    rc = ioctl(t->fd, TUNSETIFF, &ifr);
  } else if (rc == 0 && cfg->offload) {
    t->vnet_hdr = true;
  }
  if (rc != 0) {
    int e = errno;
    if (e == EBUSY)
      snprintf(err, errlen, "interface %s is in use (another process has it open)", cfg->name);
    else if (e == EPERM || e == EACCES)
      snprintf(err, errlen,
               "no permission to create or attach TUN interface %s (need CAP_NET_ADMIN)",
               cfg->name);
    else if (e == EINVAL)
      snprintf(err, errlen,
               "interface %s already exists and is not a TUN device (or has "
               "incompatible flags)",
               cfg->name);
    else
      snprintf(err, errlen, "cannot create TUN interface %s: %s", cfg->name, strerror(e));
    return -1;
  }
  memcpy(t->name, ifr.ifr_name, sizeof t->name);
  t->name[sizeof t->name - 1] = '\0';
  t->ifindex = (int)if_nametoindex(t->name);
  return 0;
}

/* host-endian -> little-endian check, without relying on <endian.h>. */
static bool host_is_le(void) {
  const uint16_t one = 1;
  uint8_t b;
  memcpy(&b, &one, 1);
  return b == 1;
}

/*
 * The offload half of opening (docs/OFFLOAD.md). With IFF_VNET_HDR on:
 *   - TUNSETVNETHDRSZ 10: the plain struct virtio_net_hdr (no num_buffers);
 *   - TUNSETVNETLE: the header's 16-bit fields are little-endian whatever
 *     the host (on a little-endian host that is also the legacy default);
 *   - our writes may then carry NEEDS_CSUM, GSO_TCPV4 and GSO_TCPV6: the
 *     TUN driver accepts them whatever TUNSETOFFLOAD says (that ioctl is
 *     about what the kernel may send US), so the tx caps depend on the
 *     header alone;
 *   - TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6: the kernel may
 *     send us partial checksums and TCPv4 and TCPv6 GSO super-packets.
 * A refusal turns off what depends on it and leaves a note; never an error.
 */
static void tun_offload(struct us_tun *t) {
  if (!t->vnet_hdr)
    return;
  int sz = VNET_HDR_LEN;
  if (ioctl(t->fd, TUNSETVNETHDRSZ, &sz) != 0) {
    snprintf(t->offload_note, sizeof t->offload_note, "offloads off: TUNSETVNETHDRSZ refused (%s)",
             strerror(errno));
    t->caps = 0; /* the header is still there: we write zeroed ones */
    return;
  }
  int le = 1;
  if (ioctl(t->fd, TUNSETVNETLE, &le) != 0 && !host_is_le()) {
    snprintf(t->offload_note, sizeof t->offload_note,
             "offloads off: TUNSETVNETLE refused on a big-endian host (%s)", strerror(errno));
    return;
  }
  t->caps = US_DEV_CSUM | US_DEV_TSO4 | US_DEV_TSO6;
  if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) != 0) {
    snprintf(t->offload_note, sizeof t->offload_note,
             "receive offloads off: TUNSETOFFLOAD refused (%s); sending with TSO", strerror(errno));
    return;
  }
  t->rx_offload = true;
}

static int tun_configure(struct us_tun *t, const struct us_tun_cfg *cfg, char *err, size_t errlen) {
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

/*
 * The kernel's IPv6 address, once the link is up. A kernel without IPv6,
 * or with IPv6 disabled on the link, is an error when IPv6 was asked for,
 * and a note when it was only the default (cfg->ip6_optional).
 */
static int tun_configure6(struct us_tun *t, const struct us_tun_cfg *cfg, char *err,
                          size_t errlen) {
  int rc = us_tun_addr6_set(t->ifindex, cfg->host6, cfg->peer6, cfg->prefix6);
  if (rc == 0) {
    t->ip6 = true;
    return 0;
  }
  char hs[INET6_ADDRSTRLEN];
  ip6_str(cfg->host6, hs);
  const char *why = rc == -EACCES ? "IPv6 is disabled on the interface (sysctl "
                                    "net.ipv6.conf.default.disable_ipv6)"
                    : rc == -EAFNOSUPPORT || rc == -EPROTONOSUPPORT ? "the kernel has no IPv6"
                                                                    : NULL;
  if (why && cfg->ip6_optional) {
    snprintf(t->ip6_note, sizeof t->ip6_note, "%s", why);
    return 0;
  }
  if (why)
    snprintf(err, errlen, "cannot set IPv6 address %s on %s: %s", hs, t->name, why);
  else if (rc == -EPERM)
    snprintf(err, errlen, "no permission to set IPv6 address %s on %s (need CAP_NET_ADMIN)", hs,
             t->name);
  else
    snprintf(err, errlen, "cannot set IPv6 address %s on %s: %s", hs, t->name, strerror(-rc));
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
  if (cfg->ip6 && (cfg->prefix6 < 1 || cfg->prefix6 > 128)) {
    snprintf(err, errlen, "bad IPv6 prefix length %u (1..128)", (unsigned)cfg->prefix6);
    return -1;
  }
  if (check_addresses_free(cfg, err, errlen) != 0)
    return -1;
  if (tun_attach(t, cfg, err, errlen) != 0) {
    us_tun_close(t);
    return -1;
  }
  /* Before the link comes up, so the kernel never queues a packet for us
   * in a form we did not ask for. */
  tun_offload(t);
  if (tun_configure(t, cfg, err, errlen) != 0 ||
      (cfg->ip6 && tun_configure6(t, cfg, err, errlen) != 0)) {
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

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void put_le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

bool us_tun_vnet_to_meta(const uint8_t h[VNET_HDR_LEN], size_t pkt_len, struct us_rx_meta *meta) {
  memset(meta, 0, sizeof *meta);
  uint8_t flags = h[0], gso = h[1];
  uint16_t gso_size = le16(h + 4), start = le16(h + 6), off = le16(h + 8);
  switch (gso & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) {
  case VIRTIO_NET_HDR_GSO_NONE:
    break;
  case VIRTIO_NET_HDR_GSO_TCPV4:
  case VIRTIO_NET_HDR_GSO_TCPV6:
    /* The ECN bit only says the first segment carried CWR; the super-
     * packet arrives as one segment, so it changes nothing for us. IP
     * input checks that the version matches (ip4_input.c, ip6_input.c). */
    if (gso_size == 0)
      return false;
    meta->gso_size = gso_size;
    break;
  default:
    return false; /* UDP: never enabled, never expected */
  }
  if (flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
    if ((size_t)start + off + 2 > pkt_len)
      return false;
    meta->flags |= US_RX_CSUM_PARTIAL;
    meta->csum_start = start;
    meta->csum_offset = off;
  } else if (flags & VIRTIO_NET_HDR_F_DATA_VALID) {
    meta->flags |= US_RX_CSUM_VALID;
  }
  return true;
}

void us_tun_meta_to_vnet(const struct us_tx_meta *m, const uint8_t *pkt, size_t pkt_len,
                         uint8_t h[VNET_HDR_LEN]) {
  memset(h, 0, VNET_HDR_LEN);
  if (!m)
    return;
  if (m->csum_partial) {
    h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    put_le16(h + 6, m->csum_start);
    put_le16(h + 8, m->csum_offset);
    put_le16(h + 2, (uint16_t)(m->csum_start + m->csum_offset + 2));
  }
  if (m->gso_size > 0) {
    h[1] = pkt_len > 0 && (pkt[0] >> 4) == 6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
    put_le16(h + 4, m->gso_size);
    /* hdr_len: the bytes each segment repeats, IP + TCP headers (a hint
     * the kernel checks against csum_start + csum_offset + 2). */
    size_t th = (size_t)m->csum_start + 12;
    if (th < pkt_len)
      put_le16(h + 2, (uint16_t)(m->csum_start + (pkt[th] >> 4) * 4));
  }
}

static long tun_read_raw(struct us_tun *t, uint8_t *buf, size_t cap, struct us_rx_meta *meta) {
  memset(meta, 0, sizeof *meta);
  uint8_t vh[VNET_HDR_LEN];
  for (;;) {
    ssize_t n;
    if (t->vnet_hdr) {
      struct iovec iov[2] = { { vh, sizeof vh }, { buf, cap } };
      n = readv(t->fd, iov, 2);
    } else {
      n = read(t->fd, buf, cap);
    }
    if (n >= 0) {
      if (t->vnet_hdr) {
        if (n < VNET_HDR_LEN) {
          t->rx_errors++;
          return -EIO; /* cannot happen: the kernel writes the header first */
        }
        n -= VNET_HDR_LEN;
        if (!us_tun_vnet_to_meta(vh, (size_t)n, meta)) {
          t->rx_vnet_bad++;
          return -EAGAIN; /* the caller reads the next one */
        }
        t->rx_gso += meta->gso_size > 0;
        t->rx_csum_partial += (meta->flags & US_RX_CSUM_PARTIAL) != 0;
        t->rx_csum_valid += (meta->flags & US_RX_CSUM_VALID) != 0;
      }
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

long us_tun_read(struct us_tun *t, uint8_t *buf, size_t cap, struct us_rx_meta *meta) {
  for (;;) {
    long n = tun_read_raw(t, buf, cap, meta);
    if (n != -EAGAIN)
      return n;
  }
}

static void tun_write(struct us_tun *t, const uint8_t *pkt, size_t len,
                      const struct us_tx_meta *m) {
  uint8_t vh[VNET_HDR_LEN];
  for (;;) {
    ssize_t n;
    if (t->vnet_hdr) {
      /* One write(2) per packet, header and packet gathered: the kernel
       * takes a TUN packet as exactly what one write hands it. */
      us_tun_meta_to_vnet(m, pkt, len, vh);
      struct iovec iov[2] = { { vh, sizeof vh }, { (void *)pkt, len } };
      n = writev(t->fd, iov, 2);
    } else {
      n = write(t->fd, pkt, len);
    }
    if (n >= 0) {
      t->tx_packets++;
      t->tx_bytes += (uint64_t)len;
      if (m && m->gso_size)
        t->tx_gso++;
      if (m && m->csum_partial)
        t->tx_csum_partial++;
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

static void tun_tx(void *ctx, const uint8_t *pkt, size_t len) { tun_write(ctx, pkt, len, NULL); }

static void tun_tx_meta(void *ctx, const uint8_t *pkt, size_t len, const struct us_tx_meta *m) {
  tun_write(ctx, pkt, len, m);
}

struct us_device us_tun_device(struct us_tun *t) {
  return (struct us_device){
    .tx = tun_tx, .ctx = t, .caps = t->caps, .tx_meta = t->caps ? tun_tx_meta : NULL
  };
}
