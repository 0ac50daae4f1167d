/*
 * stack.c - assembling a stack from its layers, and the public entry
 * points that span them: create, destroy, input, poll, pool usage. The
 * socket calls every kind shares are core's (core/sock_common.c).
 *
 * This is the only file that knows every layer. Creation order is bottom
 * up (core pools, then IPv4, UDP, TCP); each layer registers its protocol
 * handlers and its poll/fini hooks in the core's tables, so lower layers
 * never call upper ones directly.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/handle.h"
#include "core/log.h"
#include "core/stack.h"
#include "core/stats.h"
#include "ip/ip.h"
#include "ip/ip6.h"
#include "tcp/tcp.h"
#include "udp/udp.h"
#include "ustack/us_socket.h"
#include "ustack/us_stack.h"

/* Each layer names its own slot of struct us_stack (core/stack.h). */
_Static_assert(US_LAYER_IP != US_LAYER_UDP && US_LAYER_IP != US_LAYER_TCP &&
                   US_LAYER_UDP != US_LAYER_TCP,
               "two layers share a slot of struct us_stack");
_Static_assert(US_HK_UDP != US_HK_TCP && US_HK_UDP != US_HK_FREE && US_HK_TCP != US_HK_FREE &&
                   US_HK_UDP < US_HK_NKINDS && US_HK_TCP < US_HK_NKINDS,
               "socket kinds must differ and fit the handle table");
_Static_assert(US_LAYER_IP < US_MAX_LAYERS && US_LAYER_UDP < US_MAX_LAYERS &&
                   US_LAYER_TCP < US_MAX_LAYERS,
               "a layer slot beyond US_MAX_LAYERS");

us_stack *us_stack_create(const struct us_config *cfg, const struct us_device *dev) {
  const char *why = NULL;
  if (!cfg || (why = stack_config_check(cfg)) != NULL) {
    if (cfg && cfg->log.fn)
      cfg->log.fn(cfg->log.ctx, US_LOG_ERROR, why ? why : "no config");
    return NULL;
  }
  struct us_stack *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->cfg = *cfg;
  if (dev)
    s->dev = *dev;
  if (s->dev.caps != 0 && !s->dev.tx_meta) {
    US_LOGW(s, "device advertises offloads but has no tx_meta: sending plain packets");
    s->dev.caps = 0;
  }
  if ((s->dev.caps & (US_DEV_TSO4 | US_DEV_TSO6)) && !(s->dev.caps & US_DEV_CSUM)) {
    /* A super-segment always carries a partial checksum (us_device.h). */
    US_LOGW(s, "device advertises TSO without checksum offload: TSO not used");
    s->dev.caps &= ~(US_DEV_TSO4 | US_DEV_TSO6);
  }
  s->log_level = cfg->log_level;
  s->rand_state = 0x5eed5eed5eed5eedull;
  if (!cfg->rand.fill)
    US_LOGW(s, "no random source configured: ISNs and ports are predictable");

  /* Each MTU buffer holds a whole link datagram plus output headroom.
   * Received TCP data stays in the buffers it was read into (tcp_rcvq.c,
   * DESIGN 8), so both pools also get room for the receive half of
   * tcp_buf_mem (docs/MEMORY.md): address space, used only as needed. */
  uint32_t small = (uint32_t)cfg->mtu + US_PKT_HEADROOM;
  uint64_t nrcv = cfg->tcp_buf_mem / ((uint64_t)cfg->tcp_sndbuf + cfg->tcp_rcvbuf);
  if (nrcv > cfg->max_tcp_sockets)
    nrcv = cfg->max_tcp_sockets;
  uint64_t rcv_mem = nrcv * cfg->tcp_rcvbuf;
  uint64_t extra_small = rcv_mem / small, extra_big = rcv_mem / US_PKT_BIG_SIZE;
  if (extra_small > (1u << 24))
    extra_small = 1u << 24;
  if (extra_big > (1u << 16))
    extra_big = 1u << 16;
  uint32_t small_count = cfg->pkt_count + (uint32_t)extra_small;
  uint32_t big_count = cfg->reass_contexts + 4 + (uint32_t)extra_big;
  uint32_t nsock = cfg->max_udp_sockets + cfg->max_tcp_sockets;
  int err = 0;
  if (us_pkt_pool_init(&s->pkts, small_count, small, 1) ||
      us_pkt_pool_init(&s->big, big_count, US_PKT_BIG_SIZE, 2) ||
      us_handle_table_init(&s->handles, nsock)) {
    US_LOGE(s, "out of memory creating the stack pools");
    err = US_ERR_NOMEM;
  }
  if (!err)
    err = us_ip_init(s);
  if (!err)
    err = us_udp_init(s);
  if (!err)
    err = us_tcp_init(s);
  if (err) {
    US_LOGE(s, "stack creation failed: %s", us_strerror(err));
    us_stack_destroy(s);
    return NULL;
  }
  return s;
}

void us_stack_destroy(us_stack *s) {
  if (!s)
    return;
  /* Upper layers first: they hold packets from the lower layers' pools. */
  for (unsigned i = s->nlayers; i-- > 0;)
    if (s->finis[i])
      s->finis[i](s);
  if (s->rx_reserved)
    us_pkt_free(s, s->rx_reserved);
  us_handle_table_fini(&s->handles);
  us_pkt_pool_fini(&s->big);
  us_pkt_pool_fini(&s->pkts);
  free(s);
}

void us_stack_input(us_stack *s, const uint8_t *pkt, size_t len, us_time_t now) {
  us_stack_input_meta(s, pkt, len, NULL, now);
}

void us_stack_input_meta(us_stack *s, const uint8_t *pkt, size_t len, const struct us_rx_meta *meta,
                         us_time_t now) {
  if (now > s->now)
    s->now = now;
  if (len == 0 || !pkt) {
    US_STAT_INC(s, input_empty);
    return;
  }
  if (len > 65535) {
    US_STAT_INC(s, input_too_big);
    return;
  }
  struct us_pkt *r = s->rx_reserved;
  if (r && pkt == us_pkt_data(r) && len <= r->cap - r->off) {
    /* Read into our own buffer: layers may keep it (us_pkt_take_rx). */
    s->rx_reserved = NULL;
    r->len = (uint32_t)len;
    s->rx_pkt = r;
  }
  /* The version nibble picks the IP layer (RFC 8200 3, RFC 791 3.1); a
   * datagram of neither version is counted by IPv4 input as a bad
   * version. */
  if ((pkt[0] >> 4) == 6)
    us_ip6_input(s, pkt, len, meta, now);
  else
    us_ip4_input(s, pkt, len, meta, now);
  if (s->rx_pkt) {
    /* Nobody kept it: it serves the next read. */
    r = s->rx_pkt;
    s->rx_pkt = NULL;
    r->off = US_PKT_HEADROOM;
    r->len = 0;
    if (!s->rx_reserved)
      s->rx_reserved = r;
    else
      us_pkt_free(s, r);
  }
}

uint8_t *us_stack_rx_buffer(us_stack *s, size_t want, size_t *cap) {
  if (want == 0)
    want = s->cfg.mtu;
  struct us_pkt *r = s->rx_reserved;
  if (r && r->cap - US_PKT_HEADROOM < want) {
    us_pkt_free(s, r); /* too small for what the caller reads now */
    r = s->rx_reserved = NULL;
  }
  if (!r) {
    const struct us_pkt_pool *pool =
        want + US_PKT_HEADROOM <= s->pkts.buf_size ? &s->pkts : &s->big;
    /* Below the reserve the rest is for output and reassembly: the
     * caller reads into its own buffer and the data is copied. */
    if (us_pkt_pool_low(pool) || !(r = us_pkt_alloc(s, want))) {
      US_STAT_INC(s, rx_buffer_fallback);
      return NULL;
    }
    s->rx_reserved = r;
  }
  *cap = r->cap - r->off;
  return us_pkt_data(r);
}

us_time_t us_stack_poll(us_stack *s, us_time_t now) {
  if (now > s->now)
    s->now = now;
  us_time_t next = US_TIME_NEVER;
  for (unsigned i = 0; i < s->nlayers; i++) {
    if (!s->pollers[i])
      continue;
    us_time_t t = s->pollers[i](s, now);
    if (t < next)
      next = t;
  }
  return next;
}

void us_stack_pool_usage(const us_stack *s, struct us_pool_usage *out) {
  memset(out, 0, sizeof *out);
  out->pkt_free = s->pkts.nfree;
  out->pkt_total = s->pkts.count;
  out->big_free = s->big.nfree;
  if (s->rx_reserved) { /* waiting for the next read: as good as free */
    if (s->rx_reserved->cap == s->big.buf_size)
      out->big_free++;
    else
      out->pkt_free++;
  }
  out->big_total = s->big.count;
  uint32_t used = 0, total = 0, ooo = 0;
  us_tcp_pool_usage(s, &used, &total, &ooo);
  out->tcb_total = total;
  out->tcb_free = total - used;
  out->ooo_bytes = ooo;
  us_tcp_time_wait_usage(s, &out->tcp_time_wait, &out->tcp_time_wait_max);
  us_tcp_buf_usage(s, &out->tcp_sndbuf_free, &out->tcp_rcvbuf_free, &out->tcp_buf_total);
  uint32_t udp_used = 0;
  for (uint32_t i = 0; i < s->handles.nfresh; i++)
    if (s->handles.slots[i].kind == US_HK_UDP)
      udp_used++;
  out->udp_total = s->cfg.max_udp_sockets;
  out->udp_free = out->udp_total - udp_used;
  out->reass_active = us_ip_reass_active(s);
}

bool us_stack_pools_full(const us_stack *s) {
  struct us_pool_usage u;
  us_stack_pool_usage(s, &u);
  return u.pkt_free == u.pkt_total && u.big_free == u.big_total && u.tcb_free == u.tcb_total &&
         u.tcp_sndbuf_free == u.tcp_buf_total && u.tcp_rcvbuf_free == u.tcp_buf_total &&
         u.udp_free == u.udp_total && u.reass_active == 0 && u.ooo_bytes == 0 &&
         s->handles.nfree == s->handles.count;
}
