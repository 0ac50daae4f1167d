/*
 * ip4_output.c - IPv4 output and fragmentation (RFC 791 3.2, RFC 1122
 * 3.3.3).
 *
 * The transport hands over a packet whose data is its header and payload.
 * An unfragmented datagram gets its 20-byte header in the headroom. A
 * larger one is cut into fragments of (MTU - 20) rounded down to 8 bytes
 * and sent in order with no copy: fragment k's header is written over the
 * last 20 bytes of fragment k-1, which is safe because us_stack_tx
 * borrows the bytes only for the call, so fragment k-1 is already gone.
 */
#include "core/assert.h"
#include "core/log.h"
#include "core/stack.h"
#include "core/stats.h"
#include "ip.h"
#include "ip_internal.h"
#include "ustack/us_err.h"

static void fill_hdr(struct us_stack *s, struct us_ip4_hdr *h, uint32_t dst, uint8_t proto, bool df,
                     uint8_t tos, uint16_t id) {
  h->tos = tos;
  h->id = id;
  h->df = df;
  h->mf = false;
  h->frag_off = 0;
  h->ttl = s->cfg.ttl ? s->cfg.ttl : 64; /* MUST-49; never send TTL 0 */
  h->proto = proto;
  h->src = s->cfg.addr;
  h->dst = dst;
}

int us_ip4_output(struct us_stack *s, struct us_pkt *pkt, uint32_t dst, uint8_t proto, bool df,
                  us_time_t now) {
  return us_ip4_output_tos(s, pkt, dst, proto, df, 0, now);
}

int us_ip4_output_tos(struct us_stack *s, struct us_pkt *pkt, uint32_t dst, uint8_t proto, bool df,
                      uint8_t tos, us_time_t now) {
  (void)now;
  if (!pkt)
    return US_ERR_INVAL;
  size_t plen = pkt->len;
  size_t mtu = s->cfg.mtu;
  if (plen + US_IP4_HDR_MIN > US_IP4_MAX_DATAGRAM) {
    us_pkt_free(s, pkt);
    return US_ERR_MSGSIZE;
  }
  US_STAT_INC(s, ip_out_requests);
  struct us_ip4_hdr h;
  fill_hdr(s, &h, dst, proto, df, tos, ip_layer(s)->next_id++);

  if (plen + US_IP4_HDR_MIN <= mtu) {
    uint8_t *hdr = us_pkt_push(pkt, US_IP4_HDR_MIN);
    if (!hdr) {
      US_STAT_INC(s, ip_out_no_buffer);
      us_pkt_free(s, pkt);
      return US_ERR_NOMEM;
    }
    h.total_len = (uint16_t)(plen + US_IP4_HDR_MIN);
    us_ip4_build(&h, hdr, US_IP4_HDR_MIN);
    us_stack_tx(s, hdr, h.total_len);
    us_pkt_free(s, pkt);
    return 0;
  }

  if (df) {
    US_STAT_INC(s, ip_frag_fails);
    us_pkt_free(s, pkt);
    return US_ERR_MSGSIZE;
  }

  /* RFC 791 3.2: every fragment but the last carries a multiple of 8
   * bytes. MTU >= 576 (config check) so the chunk is never 0. */
  size_t chunk = (mtu - US_IP4_HDR_MIN) & ~(size_t)7;
  uint8_t *data = us_pkt_data(pkt);
  if (pkt->off < US_IP4_HDR_MIN) {
    US_STAT_INC(s, ip_out_no_buffer);
    us_pkt_free(s, pkt);
    return US_ERR_NOMEM;
  }
  US_STAT_INC(s, ip_frag_oks);
  for (size_t off = 0; off < plen; off += chunk) {
    size_t n = plen - off < chunk ? plen - off : chunk;
    uint8_t *hdr = data + off - US_IP4_HDR_MIN; /* headroom, or the tail of the previous fragment */
    h.frag_off = (uint16_t)off;
    h.mf = off + n < plen;
    h.total_len = (uint16_t)(n + US_IP4_HDR_MIN);
    us_ip4_build(&h, hdr, US_IP4_HDR_MIN);
    US_STAT_INC(s, ip_frag_creates);
    us_stack_tx(s, hdr, h.total_len);
  }
  us_pkt_free(s, pkt);
  return 0;
}

int us_ip4_output_offload(struct us_stack *s, struct us_pkt *pkt, uint32_t dst, uint8_t proto,
                          bool df, uint8_t tos, uint16_t csum_offset, uint16_t gso_size,
                          us_time_t now) {
  (void)now;
  if (!pkt)
    return US_ERR_INVAL;
  size_t plen = pkt->len;
  uint32_t need = gso_size > 0 ? US_DEV_TSO4 | US_DEV_CSUM : US_DEV_CSUM;
  bool fits = gso_size > 0 || plen + US_IP4_HDR_MIN <= s->cfg.mtu;
  if (US_NEVER((s->dev.caps & need) != need || !fits ||
               plen + US_IP4_HDR_MIN > US_IP4_MAX_DATAGRAM || (size_t)csum_offset + 2 > plen ||
               (gso_size > 0 && proto != US_IPPROTO_TCP))) {
    /* A caller bug (tcp_output checks the caps): never send a packet the
     * device was not promised to finish. */
    us_pkt_free(s, pkt);
    return US_ERR_INVAL;
  }
  uint8_t *hdr = us_pkt_push(pkt, US_IP4_HDR_MIN);
  if (!hdr) {
    US_STAT_INC(s, ip_out_no_buffer);
    us_pkt_free(s, pkt);
    return US_ERR_NOMEM;
  }
  US_STAT_INC(s, ip_out_requests);
  struct us_ip4_hdr h;
  /* The kernel gives each segment cut from a super-segment this header
   * with its own ID, counting up from this one (so a super-segment uses up
   * as many IDs of ours as the segments it becomes), and DF as we set it. */
  fill_hdr(s, &h, dst, proto, df, tos, ip_layer(s)->next_id);
  uint32_t segs = 1;
  if (gso_size > 0) {
    const uint8_t *th = hdr + US_IP4_HDR_MIN;
    size_t thl = (size_t)(th[12] >> 4) * 4; /* we wrote it: 20..60, within plen */
    size_t payload = plen > thl ? plen - thl : 0;
    segs = (uint32_t)((payload + gso_size - 1) / gso_size);
    if (segs == 0)
      segs = 1;
  }
  h.total_len = (uint16_t)(plen + US_IP4_HDR_MIN);
  us_ip4_build(&h, hdr, US_IP4_HDR_MIN);
  ip_layer(s)->next_id = (uint16_t)(ip_layer(s)->next_id + segs);
  struct us_tx_meta m = {
    .csum_partial = true,
    .csum_start = US_IP4_HDR_MIN,
    .csum_offset = csum_offset,
    .gso_size = gso_size,
  };
  if (gso_size > 0)
    US_STAT_INC(s, ip_out_gso);
  us_stack_tx_meta(s, hdr, h.total_len, &m);
  us_pkt_free(s, pkt);
  return 0;
}
