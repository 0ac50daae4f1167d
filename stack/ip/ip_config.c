/*
 * ip_config.c - the IP layer's defaults and checks: the interface
 * addresses (IPv6 only when addr6 is set), the MTU, the TTL, reassembly
 * and ICMP rate limits. Each value
 * says where it comes from; where we follow Linux rather than the letter
 * of an RFC, the comment says so.
 */
#include "ip.h"
#include "ustack/us_config.h"
#include "wire/ipv6.h"

void us_ip_defaults(struct us_config *cfg) {
  cfg->addr = US_IP4(10, 0, 0, 2);
  cfg->prefix_len = 24;
  cfg->mtu = 1500;
  cfg->ttl = 64; /* RFC 1700 / Linux default */

  cfg->reass_contexts = 16;
  cfg->reass_bytes_max = 16u * 65536u;
  cfg->reass_timeout = US_SEC(30); /* Linux ipfrag_time; RFC 1122 3.3.2 suggests 60-120 s */
  cfg->reass_per_source = 8;       /* half the table: one source cannot take it all */

  cfg->icmp_err_rate = 100;
  cfg->icmp_err_burst = 50;
  cfg->icmp_echo_rate = 1000; /* RFC 1812 4.3.2.8: rate-limit what we send */
  cfg->icmp_echo_burst = 200;
}

const char *us_ip_config_check(const struct us_config *cfg) {
  if (cfg->mtu < 576 || cfg->mtu > 9000)
    return "mtu must be 576..9000 (RFC 1122 3.3.3: 576 is the minimum)";
  if (cfg->prefix_len > 32)
    return "prefix length must be 0..32";
  if (cfg->addr == 0)
    return "an address is required";
  const uint8_t *a6 = cfg->addr6;
  if (!us_ip6_addr_is_unspecified(a6) &&
      (us_ip6_addr_is_multicast(a6) || us_ip6_addr_is_loopback(a6) || us_ip6_addr_is_v4mapped(a6)))
    return "addr6 must be a unicast IPv6 address (not multicast, loopback or IPv4-mapped)";
  if (!us_ip6_addr_is_unspecified(a6) && cfg->mtu < US_IP6_MIN_MTU)
    return "with IPv6 (addr6 set) mtu must be at least 1280 (RFC 8200 5)";
  return NULL;
}
