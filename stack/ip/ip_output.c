/*
 * ip_output.c - what the transports call whichever the IP version: output
 * (the destination's family picks IPv4 output, ip4_output.c, or IPv6
 * output) and the port-unreachable answer.
 */
#include "core/log.h"
#include "core/stack.h"
#include "core/stats.h"
#include "ip.h"
#include "ip6.h"
#include "ustack/us_err.h"
#include "wire/icmp4.h"
#include "wire/icmp6.h"

int us_ip_output(struct us_stack *s, struct us_pkt *pkt, const struct us_ip_tx *tx, us_time_t now) {
  if (us_addr_is_v4(tx->dst)) {
    uint32_t dst = us_addr_ip4(tx->dst);
    if (tx->offload)
      return us_ip4_output_offload(s, pkt, dst, tx->proto, tx->df, tx->tos, tx->csum_offset,
                                   tx->gso_size, now);
    return us_ip4_output_tos(s, pkt, dst, tx->proto, tx->df, tx->tos, now);
  }
  if (us_addr_is_v6(tx->dst)) {
    if (tx->offload)
      return us_ip6_output_offload(s, pkt, tx->dst.b, tx->proto, tx->tos, tx->csum_offset,
                                   tx->gso_size, now);
    return us_ip6_output(s, pkt, tx->dst.b, tx->proto, tx->tos, now);
  }
  us_pkt_free(s, pkt);
  return US_ERR_INVAL;
}

void us_ip_send_port_unreach(struct us_stack *s, const struct us_ipinfo *ii, us_time_t now) {
  if (ii->ip4) {
    us_icmp_send_unreach(s, ii->ip4, US_ICMP_UNREACH_PORT, now);
    return;
  }
  if (ii->ip6)
    us_icmp6_send_error(s, ii->ip6, ii->ip6_len, US_ICMP6_DEST_UNREACH, US_ICMP6_UNREACH_PORT, 0,
                        now);
}
