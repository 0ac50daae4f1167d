/*
 * tun_addr6.c - the kernel's IPv6 address on the TUN link, given over
 * rtnetlink (RFC 3549): one RTM_NEWADDR, one acknowledgement.
 *
 * Why netlink and not ioctl(SIOCSIFADDR) with a struct in6_ifreq: the ioctl
 * cannot set address flags, and the address must carry IFA_F_NODAD. A TUN
 * is IFF_POINTOPOINT | IFF_NOARP: the kernel does no Neighbor Discovery on
 * it (RFC 4861 does not apply to a link without link-layer addresses), and
 * the stack answers none. Duplicate Address Detection (RFC 4862 5.4) would
 * send a Neighbor Solicitation nobody answers and keep the address
 * "tentative" for a second, during which the kernel cannot use it as a
 * source; with IFA_F_NODAD it is usable at once.
 *
 * As for IPv4, the host side gets IFA_LOCAL = the kernel's address and
 * IFA_ADDRESS = the stack's (the peer) with the on-link prefix, for which
 * the kernel installs the route into the TUN.
 */
#include "tun_addr6.h"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* One request: header, ifaddrmsg, two 16-byte addresses and the flags. */
struct addr6_req {
  struct nlmsghdr nh;
  struct ifaddrmsg ifa;
  char attrs[2 * RTA_SPACE(16) + RTA_SPACE(sizeof(uint32_t))];
};

static void add_attr(struct nlmsghdr *nh, unsigned short type, const void *data,
                     unsigned short len) {
  struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
  rta->rta_type = type;
  rta->rta_len = (unsigned short)RTA_LENGTH(len);
  memcpy(RTA_DATA(rta), data, len);
  nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* The kernel's answer to our request: 0, or -errno. Other messages on the
 * socket (none are expected: we joined no group) are skipped. */
static int read_ack(int sk, uint32_t seq) {
  char buf[4096];
  for (int tries = 0; tries < 16; tries++) {
    ssize_t n = recv(sk, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned)n);
         nh = NLMSG_NEXT(nh, n)) {
      if (nh->nlmsg_seq != seq || nh->nlmsg_type != NLMSG_ERROR)
        continue;
      if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
        return -EPROTO;
      const struct nlmsgerr *e = NLMSG_DATA(nh);
      return e->error; /* 0 is the acknowledgement */
    }
  }
  return -EPROTO;
}

int us_tun_addr6_set(int ifindex, const uint8_t local[16], const uint8_t peer[16], uint8_t prefix) {
  int sk = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sk < 0)
    return -errno;
  /* Bounded: the kernel answers at once, but never hang the start-up. */
  struct timeval tv = { .tv_sec = 5 };
  (void)setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  struct addr6_req req;
  memset(&req, 0, sizeof req);
  const uint32_t seq = 1;
  req.nh.nlmsg_len = NLMSG_LENGTH(sizeof req.ifa);
  req.nh.nlmsg_type = RTM_NEWADDR;
  /* REPLACE: re-attaching to a persistent TUN that already has it is fine. */
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
  req.nh.nlmsg_seq = seq;
  req.ifa.ifa_family = AF_INET6;
  req.ifa.ifa_prefixlen = prefix;
  req.ifa.ifa_flags = IFA_F_NODAD | IFA_F_PERMANENT;
  req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
  req.ifa.ifa_index = (unsigned)ifindex;
  add_attr(&req.nh, IFA_LOCAL, local, 16);
  add_attr(&req.nh, IFA_ADDRESS, peer, 16);
  uint32_t flags = IFA_F_NODAD | IFA_F_PERMANENT;
  add_attr(&req.nh, IFA_FLAGS, &flags, sizeof flags);
  int rc = 0;
  if (sendto(sk, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
    rc = -errno;
  else
    rc = read_ack(sk, seq);
  close(sk);
  return rc;
}
