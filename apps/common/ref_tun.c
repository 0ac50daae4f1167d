/*
 * ref_tun.c - the TUN of the reference programs (see ref_tun.h).
 */
#include "ref_tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void ifr_init(struct ifreq *ifr, const char *dev) {
  memset(ifr, 0, sizeof *ifr);
  snprintf(ifr->ifr_name, sizeof ifr->ifr_name, "%s", dev);
}

static void set_sin(struct sockaddr *sa, uint32_t a) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(a);
  memcpy(sa, &sin, sizeof sin);
}

/* One SIOCSIF* step on the control socket; the failing step is named. */
static int set_step(int sk, unsigned long req, struct ifreq *ifr, const char *name,
                    const char **what) {
  if (ioctl(sk, req, ifr) == 0)
    return 0;
  *what = name;
  return -1;
}

/* The address, peer, netmask, MTU and flags, as stack/platform/tun.c sets them. */
static int configure(int sk, const struct ref_tun *t, const char **what) {
  struct ifreq ifr;
  ifr_init(&ifr, t->dev);
  ifr.ifr_mtu = (int)t->mtu;
  if (set_step(sk, SIOCSIFMTU, &ifr, "set MTU", what) != 0)
    return -1;
  ifr_init(&ifr, t->dev);
  set_sin(&ifr.ifr_addr, t->host);
  if (set_step(sk, SIOCSIFADDR, &ifr, "set address", what) != 0)
    return -1;
  ifr_init(&ifr, t->dev);
  set_sin(&ifr.ifr_dstaddr, t->addr);
  if (set_step(sk, SIOCSIFDSTADDR, &ifr, "set peer address", what) != 0)
    return -1;
  ifr_init(&ifr, t->dev);
  set_sin(&ifr.ifr_netmask, (uint32_t)(0xffffffffu << (32 - t->prefix)));
  if (set_step(sk, SIOCSIFNETMASK, &ifr, "set netmask", what) != 0)
    return -1;
  ifr_init(&ifr, t->dev);
  if (set_step(sk, SIOCGIFFLAGS, &ifr, "get flags", what) != 0)
    return -1;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  return set_step(sk, SIOCSIFFLAGS, &ifr, "bring link up", what);
}

int ref_tun_open(const struct ref_tun *t, const char **what) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *what = "open /dev/net/tun";
    return -1;
  }
  struct ifreq ifr;
  ifr_init(&ifr, t->dev);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  int rc = set_step(fd, TUNSETIFF, &ifr, "TUNSETIFF", what);
  if (rc == 0 && !t->no_config) {
    int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sk < 0) {
      *what = "socket";
      rc = -1;
    } else {
      rc = configure(sk, t, what);
      int e = errno;
      close(sk);
      errno = e;
    }
  }
  if (rc != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}
