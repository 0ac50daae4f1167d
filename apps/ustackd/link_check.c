/*
 * link_check.c - the checks across ustackd's link options, once the whole
 * command line is read: both ends of the link given and different, in one
 * prefix, and an address a host can hold; IPv6 on, off or by default
 * (options.h, docs/DUALSTACK.md). Each failure is one line, exit 2.
 */
#include <stdio.h>
#include <string.h>

#include "options.h"

/* An address a host can own on a link: not ::, ::1, multicast (ff00::/8),
 * link-local (fe80::/10, which needs a zone) or IPv4-mapped (RFC 4291
 * 2.4). NULL, or what it is. */
static const char *ip6_unusable(const uint8_t a[16]) {
  static const uint8_t zero[16];
  if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
    return a[15] == 0 ? "the unspecified address" : "the loopback address";
  if (a[0] == 0xff)
    return "a multicast address";
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
    return "a link-local address";
  if (memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff)
    return "an IPv4-mapped address";
  return NULL;
}

static bool same_prefix6(const uint8_t x[16], const uint8_t y[16], unsigned len) {
  unsigned bytes = len / 8, bits = len % 8;
  if (memcmp(x, y, bytes) != 0)
    return false;
  if (bits == 0)
    return true;
  uint8_t m = (uint8_t)(0xff << (8 - bits));
  return (x[bytes] & m) == (y[bytes] & m);
}

/* IPv6 on, off or by default (options.h), and its addresses checked. */
static int check_link6(struct ustackd_opts *d, char *err, size_t n) {
  bool given = d->have_host6 || d->have_addr6;
  if (d->no_ipv6) {
    if (given) {
      snprintf(err, n, "--no-ipv6 with %s: choose one", d->have_host6 ? "--host6" : "--addr6");
      return -1;
    }
    return 0;
  }
  if (given && !(d->have_host6 && d->have_addr6)) {
    snprintf(err, n, "missing %s (--host6 and --addr6 go together)",
             d->have_host6 ? "--addr6 ADDR" : "--host6 ADDR");
    return -1;
  }
  if (!d->prefix6)
    d->prefix6 = 64;
  /* RFC 8200 5: every link that carries IPv6 has an MTU of 1280 or more. */
  if (d->mtu < 1280) {
    if (given) {
      snprintf(err, n, "--addr6: IPv6 needs --mtu 1280 or more (RFC 8200 5), not %u", d->mtu);
      return -1;
    }
    d->ip6_note = "--mtu is below 1280 (RFC 8200 5)";
    return 0;
  }
  if (!given) {
    static const uint8_t host[16] = { 0xfd, [15] = 1 }, addr[16] = { 0xfd, [15] = 2 };
    memcpy(d->host6, host, 16);
    memcpy(d->addr6, addr, 16);
    d->ip6_default = true;
  }
  const char *why = ip6_unusable(d->host6);
  if (why || (why = ip6_unusable(d->addr6)) != NULL) {
    snprintf(err, n, "%s is %s", ip6_unusable(d->host6) ? "--host6" : "--addr6", why);
    return -1;
  }
  if (memcmp(d->host6, d->addr6, 16) == 0) {
    snprintf(err, n, "--host6 and --addr6 must differ");
    return -1;
  }
  if (!same_prefix6(d->host6, d->addr6, d->prefix6)) {
    snprintf(err, n, "--host6 and --addr6 are not in the same /%u", d->prefix6);
    return -1;
  }
  d->ip6 = true;
  return 0;
}

int ustackd_check_link(struct ustackd_opts *d, char *err, size_t n) {
  if (!d->dev || !d->have_host || !d->have_addr) {
    snprintf(err, n, "missing %s (try --help)",
             !d->dev         ? "--dev NAME"
             : !d->have_host ? "--host ADDR"
                             : "--addr ADDR");
    return -1;
  }
  uint32_t mask = d->prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> d->prefix);
  if (d->host == d->addr) {
    snprintf(err, n, "--host and --addr must differ");
    return -1;
  }
  if ((d->host & mask) != (d->addr & mask)) {
    snprintf(err, n, "--host and --addr are not in the same /%u", d->prefix);
    return -1;
  }
  if (d->prefix <= 30 && ((d->addr & ~mask) == 0 || (d->addr & ~mask) == ~mask)) {
    snprintf(err, n, "--addr is the network or broadcast address of its /%u", d->prefix);
    return -1;
  }
  return check_link6(d, err, n);
}
