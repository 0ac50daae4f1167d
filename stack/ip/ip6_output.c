/*
 * ip6_output.c - IPv6 output and fragmentation (RFC 8200 4.5 and 5).
 *
 * The upper layer hands over a packet whose data is its header and
 * payload. A datagram that fits the path MTU (pmtu6.c: the link MTU unless
 * a packet too big said less) gets its 40-byte header in the headroom. A
 * larger one is cut into fragments of (MTU - 48) rounded down to 8 bytes, each behind a copy of the fixed header and a fragment
 * header, and sent in order with no copy of the data: fragment k's 48
 * header bytes are written over the last 48 bytes of fragment k-1, which is
 * safe because us_stack_tx borrows the bytes only for the call. We add no
 * extension headers, so the unfragmentable part is the fixed header alone
 * and the first fragment holds the whole upper-layer header (RFC 7112).
 */
#include <string.h>

#include "core/assert.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/stack.h"
#include "core/stats.h"
#include "ip6.h"
#include "ip_internal.h"
#include "ustack/us_err.h"
#include "wire/bytes.h"

#define FRAG_HDR_LEN 8

static void fill_hdr(struct us_stack *s, struct us_ip6_hdr *h, const uint8_t dst[16], uint8_t nh,
                     uint8_t tclass) {
  memset(h, 0, sizeof *h);
  h->tclass = tclass;
  h->flow = 0; /* RFC 6437 allows a zero flow label */
  h->next_hdr = nh;
  h->hop_limit = s->cfg.ttl ? s->cfg.ttl : 64; /* never 0 */
  memcpy(h->src, s->cfg.addr6, US_IP6_ADDR_LEN);
  memcpy(h->dst, dst, US_IP6_ADDR_LEN);
}

static int fragment(struct us_stack *s, struct us_pkt *pkt, struct us_ip6_hdr *h, size_t mtu) {
  size_t plen = pkt->len;
  /* RFC 8200 5: the MTU is at least 1280 (the link's checked at creation,
   * a path's floored by pmtu6.c), so a chunk is at least 1232 bytes. */
  size_t chunk = (mtu - US_IP6_HDR_LEN - FRAG_HDR_LEN) & ~(size_t)7;
  if (pkt->off < US_IP6_HDR_LEN + FRAG_HDR_LEN) {
    US_STAT_INC(s, ip6_out_no_buffer);
    us_pkt_free(s, pkt);
    return US_ERR_NOMEM;
  }
  /* RFC 7739 5.2 / RFC 8200 4.5: a random identification an off-path attacker
   * cannot guess, so fragments cannot be injected into our datagrams. */
  uint32_t id = us_rand_u32(s);
  uint8_t next = h->next_hdr;
  h->next_hdr = US_IP6_NH_FRAGMENT;
  uint8_t *data = us_pkt_data(pkt);
  US_STAT_INC(s, ip6_frag_oks);
  for (size_t off = 0; off < plen; off += chunk) {
    size_t n = plen - off < chunk ? plen - off : chunk;
    uint8_t *hdr = data + off - US_IP6_HDR_LEN - FRAG_HDR_LEN;
    h->payload_len = (uint16_t)(FRAG_HDR_LEN + n);
    us_ip6_build(h, hdr, US_IP6_HDR_LEN);
    uint8_t *fh = hdr + US_IP6_HDR_LEN;
    fh[0] = next;
    fh[1] = 0;
    us_put16(fh + 2, (uint16_t)(off | (off + n < plen ? 1 : 0)));
    us_put32(fh + 4, id);
    US_STAT_INC(s, ip6_frag_creates);
    us_stack_tx(s, hdr, US_IP6_HDR_LEN + FRAG_HDR_LEN + n);
  }
  us_pkt_free(s, pkt);
  return 0;
}

int us_ip6_output(struct us_stack *s, struct us_pkt *pkt, const uint8_t dst[US_IP6_ADDR_LEN],
                  uint8_t next_hdr, uint8_t tclass, us_time_t now) {
  if (!pkt)
    return US_ERR_INVAL;
  if (!us_ip6_enabled(s)) {
    US_STAT_INC(s, ip6_out_off);
    us_pkt_free(s, pkt);
    return US_ERR_ADDRNOTAVAIL;
  }
  size_t plen = pkt->len;
  if (plen > US_IP6_MAX_PAYLOAD) {
    us_pkt_free(s, pkt);
    return US_ERR_MSGSIZE;
  }
  US_STAT_INC(s, ip6_out_requests);
  struct us_ip6_hdr h;
  fill_hdr(s, &h, dst, next_hdr, tclass);
  size_t mtu = us_ip6_pmtu(s, dst, now);
  if (plen + US_IP6_HDR_LEN > mtu)
    return fragment(s, pkt, &h, mtu);
  uint8_t *hdr = us_pkt_push(pkt, US_IP6_HDR_LEN);
  if (!hdr) {
    US_STAT_INC(s, ip6_out_no_buffer);
    us_pkt_free(s, pkt);
    return US_ERR_NOMEM;
  }
  h.payload_len = (uint16_t)plen;
  us_ip6_build(&h, hdr, US_IP6_HDR_LEN);
  us_stack_tx(s, hdr, US_IP6_HDR_LEN + plen);
  us_pkt_free(s, pkt);
  return 0;
}

int us_ip6_output_offload(struct us_stack *s, struct us_pkt *pkt,
                          const uint8_t dst[US_IP6_ADDR_LEN], uint8_t next_hdr, uint8_t tclass,
                          uint16_t csum_offset, uint16_t gso_size, us_time_t now) {
  (void)now;
  if (!pkt)
    return US_ERR_INVAL;
  size_t plen = pkt->len;
  uint32_t need = gso_size > 0 ? US_DEV_TSO6 | US_DEV_CSUM : US_DEV_CSUM;
  bool fits = gso_size > 0 || plen + US_IP6_HDR_LEN <= s->cfg.mtu;
  if (US_NEVER((s->dev.caps & need) != need || !fits || !us_ip6_enabled(s) ||
               plen > US_IP6_MAX_PAYLOAD || (size_t)csum_offset + 2 > plen ||
               (gso_size > 0 && next_hdr != US_IP6_NH_TCP))) {
    /* A caller bug (tcp_output checks the caps): never send a packet the
     * device was not promised to finish. */
    us_pkt_free(s, pkt);
    return US_ERR_INVAL;
  }
  uint8_t *hdr = us_pkt_push(pkt, US_IP6_HDR_LEN);
  if (!hdr) {
    US_STAT_INC(s, ip6_out_no_buffer);
    us_pkt_free(s, pkt);
    return US_ERR_NOMEM;
  }
  US_STAT_INC(s, ip6_out_requests);
  struct us_ip6_hdr h;
  fill_hdr(s, &h, dst, next_hdr, tclass);
  h.payload_len = (uint16_t)plen;
  us_ip6_build(&h, hdr, US_IP6_HDR_LEN);
  /* Each segment the device cuts gets this header with its own payload
   * length; nothing else in it changes (no identification, no checksum). */
  struct us_tx_meta m = {
    .csum_partial = true,
    .csum_start = US_IP6_HDR_LEN,
    .csum_offset = csum_offset,
    .gso_size = gso_size,
  };
  if (gso_size > 0)
    US_STAT_INC(s, ip_out_gso);
  us_stack_tx_meta(s, hdr, US_IP6_HDR_LEN + plen, &m);
  us_pkt_free(s, pkt);
  return 0;
}
