/*
 * reass.c - IPv4 fragment reassembly (RFC 791 3.2, RFC 815, RFC 1122
 * 3.3.2), hardened against the classic attacks (RFC 1858, RFC 3128,
 * FragmentSmack CVE-2018-5391, ping of death).
 *
 * Bounds: at most cfg.reass_contexts datagrams at once, each holding one
 * large buffer, at most cfg.reass_per_source of them from one source; at
 * most cfg.reass_bytes_max payload bytes across all of them; each context
 * dies cfg.reass_timeout after its first fragment. When a bound is hit by
 * a new datagram, the oldest context (of that source, for the per-source
 * bound) is dropped to make room, so fragments that never complete cannot
 * keep real datagrams out for the whole timeout (docs/LIMITS.md).
 * Every fragment costs O(its length) to copy plus O(its length / 512) to
 * check the block map, and O(contexts) to find its context.
 *
 * Policy, chosen for safety over salvage:
 *  - any overlap with data already held drops the whole datagram (as
 *    RFC 5722 does for IPv6; a teardrop fragment never gets to trim
 *    anything), exact duplicates included;
 *  - a datagram that would exceed 65535 bytes is dropped (ping of death);
 *  - a zero-length fragment, or one with MF set and a length that is not a
 *    multiple of 8, is dropped on its own;
 *  - a second "last" fragment (MF=0) with a different end, or data beyond
 *    the end a last fragment set, drops the whole datagram;
 *  - RFC 1858's tiny-fragment and offset-1 attacks target packet filters
 *    that judge the first fragment alone; here the transport only ever
 *    sees the whole datagram, and a fragment rewriting bytes already held
 *    is an overlap, so both are harmless and no special rule applies.
 * No ICMP time exceeded is sent on timeout (RFC 1122 3.3.2 makes it a
 * MAY); the context is freed and counted.
 */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/log.h"
#include "core/stack.h"
#include "core/stats.h"
#include "ip.h"
#include "ip_internal.h"
#include "wire/bytes.h"
#include "wire/checksum.h"

int us_reass_init(struct us_stack *s) {
  struct us_ip_layer *ip = s->ip;
  ip->reass_count = s->cfg.reass_contexts;
  ip->reass_used = 0;
  ip->reass_bytes = 0;
  if (ip->reass_count == 0)
    return 0; /* reassembly disabled: every fragment is dropped */
  ip->reass = calloc(ip->reass_count, sizeof *ip->reass);
  return ip->reass ? 0 : -1;
}

static void ctx_free(struct us_stack *s, struct us_reass_ctx *c) {
  struct us_ip_layer *ip = s->ip;
  us_pkt_free(s, c->buf);
  ip->reass_bytes -= c->received;
  ip->reass_used--;
  memset(c, 0, sizeof *c);
}

/* Drop a whole datagram: counted as a failure by the caller's reason. */
static void ctx_drop(struct us_stack *s, struct us_reass_ctx *c) {
  US_STAT_INC(s, ip_reasm_fails);
  ctx_free(s, c);
}

void us_reass_fini(struct us_stack *s) {
  struct us_ip_layer *ip = s->ip;
  if (!ip->reass)
    return;
  for (uint32_t i = 0; i < ip->reass_count; i++)
    if (ip->reass[i].used)
      ctx_free(s, &ip->reass[i]);
  free(ip->reass);
  ip->reass = NULL;
}

us_time_t us_reass_poll(struct us_stack *s, us_time_t now) {
  struct us_ip_layer *ip = s->ip;
  us_time_t next = US_TIME_NEVER;
  for (uint32_t i = 0; i < ip->reass_count && ip->reass_used > 0; i++) {
    struct us_reass_ctx *c = &ip->reass[i];
    if (!c->used)
      continue;
    if (c->deadline <= now) {
      US_STAT_INC(s, ip_reasm_timeout);
      ctx_drop(s, c);
    } else if (c->deadline < next) {
      next = c->deadline;
    }
  }
  return next;
}

static struct us_reass_ctx *ctx_find(struct us_stack *s, const struct us_ip4_hdr *h) {
  struct us_ip_layer *ip = s->ip;
  for (uint32_t i = 0; i < ip->reass_count; i++) {
    struct us_reass_ctx *c = &ip->reass[i];
    if (c->used && c->id == h->id && c->src == h->src && c->dst == h->dst && c->proto == h->proto)
      return c;
  }
  return NULL;
}

/* The oldest context other than `keep` (all have the same timeout, so the
 * earliest deadline is the oldest), only among those from `src` when
 * `by_src`; NULL if there is none. */
static struct us_reass_ctx *ctx_oldest(struct us_stack *s, bool by_src, uint32_t src,
                                       const struct us_reass_ctx *keep) {
  struct us_ip_layer *ip = s->ip;
  struct us_reass_ctx *best = NULL;
  for (uint32_t i = 0; i < ip->reass_count; i++) {
    struct us_reass_ctx *c = &ip->reass[i];
    if (!c->used || c == keep || (by_src && c->src != src))
      continue;
    if (!best || c->deadline < best->deadline)
      best = c;
  }
  return best;
}

static uint32_t ctx_count_src(const struct us_stack *s, uint32_t src) {
  const struct us_ip_layer *ip = s->ip;
  uint32_t n = 0;
  for (uint32_t i = 0; i < ip->reass_count; i++)
    if (ip->reass[i].used && ip->reass[i].src == src)
      n++;
  return n;
}

/* A context for a new datagram. Under pressure an old one makes room
 * (FragmentSmack-style floods, HOSTILE FR-4): a source already holding
 * cfg.reass_per_source contexts loses its oldest, and when the table is
 * full the oldest of all goes. A flood of lone fragments then only ever
 * holds the table for as long as it keeps sending, and a real datagram,
 * whose fragments arrive together, completes between its evictions. */
static struct us_reass_ctx *ctx_new(struct us_stack *s, const struct us_ip4_hdr *h, us_time_t now) {
  struct us_ip_layer *ip = s->ip;
  uint32_t per = s->cfg.reass_per_source;
  if (per && ctx_count_src(s, h->src) >= per) {
    struct us_reass_ctx *old = ctx_oldest(s, true, h->src, NULL);
    if (US_ALWAYS(old)) {
      US_STAT_INC(s, ip_reasm_evicted_source);
      ctx_drop(s, old);
    }
  }
  struct us_reass_ctx *c = NULL;
  for (uint32_t i = 0; i < ip->reass_count; i++) {
    if (!ip->reass[i].used) {
      c = &ip->reass[i];
      break;
    }
  }
  if (!c) {
    c = ctx_oldest(s, false, 0, NULL);
    if (US_ALWAYS(c)) {
      US_STAT_INC(s, ip_reasm_evicted);
      ctx_drop(s, c);
    }
  }
  if (!c || us_stack_alloc_should_fail(s)) {
    US_STAT_INC(s, ip_reasm_no_context);
    US_STAT_INC(s, ip_reasm_fails);
    return NULL;
  }
  struct us_pkt *buf = us_pkt_alloc(s, US_IP4_MAX_DATAGRAM);
  if (!buf) {
    US_STAT_INC(s, ip_reasm_no_buffer);
    US_STAT_INC(s, ip_reasm_fails);
    return NULL;
  }
  memset(c, 0, sizeof *c);
  c->used = true;
  c->src = h->src;
  c->dst = h->dst;
  c->id = h->id;
  c->proto = h->proto;
  c->buf = buf;
  c->deadline = now + s->cfg.reass_timeout;
  ip->reass_used++;
  return c;
}

/* Blocks [first, last] (8-byte units). */
static bool blocks_any(const uint64_t *map, uint32_t first, uint32_t last) {
  for (uint32_t b = first; b <= last; b++) {
    if ((b & 63) == 0 && b + 63 <= last) {
      if (map[b >> 6])
        return true;
      b += 63;
      continue;
    }
    if (map[b >> 6] >> (b & 63) & 1)
      return true;
  }
  return false;
}

static void blocks_set(uint64_t *map, uint32_t first, uint32_t last) {
  for (uint32_t b = first; b <= last; b++) {
    if ((b & 63) == 0 && b + 63 <= last) {
      map[b >> 6] = ~(uint64_t)0;
      b += 63;
      continue;
    }
    map[b >> 6] |= (uint64_t)1 << (b & 63);
  }
}

/* Rebuild the first fragment's header for the whole datagram and hand it
 * on. The context is freed afterwards, whatever the handler did. */
static void deliver(struct us_stack *s, struct us_reass_ctx *c, us_time_t now) {
  uint8_t *payload = us_pkt_data(c->buf);
  size_t hl = c->first_hdr_len;
  size_t tot = hl + c->total;
  if (tot > US_IP4_MAX_DATAGRAM) {
    US_STAT_INC(s, ip_reasm_oversize);
    ctx_drop(s, c);
    return;
  }
  /* The header goes in the buffer's headroom (>= 60 bytes), right before
   * the payload, so the datagram is one contiguous run. */
  uint8_t *hdr = payload - hl;
  memcpy(hdr, c->first_hdr, hl);
  us_put16(hdr + 2, (uint16_t)tot);
  us_put16(hdr + 6, (uint16_t)(us_get16(hdr + 6) & 0x4000)); /* keep DF; MF and offset 0 */
  us_put16(hdr + 10, 0);
  us_put16(hdr + 10, us_csum(hdr, hl));
  struct us_ip4_hdr whole;
  enum us_ip4_parse_result r = us_ip4_parse(hdr, tot, &whole);
  US_STAT_INC(s, ip_reasm_oks);
  /* Detach the buffer so a handler that ends up in reassembly again sees
   * a consistent table; free it after the handler returns. */
  struct us_pkt *buf = c->buf;
  c->buf = NULL;
  ctx_free(s, c);
  if (US_ALWAYS(r == US_IP4_OK))
    us_ip4_dispatch(s, &whole, now);
  us_pkt_free(s, buf);
}

void us_reass_input(struct us_stack *s, const uint8_t *raw, const struct us_ip4_hdr *h,
                    us_time_t now) {
  struct us_ip_layer *ip = s->ip;
  US_STAT_INC(s, ip_reasm_reqds);
  uint32_t off = h->frag_off;
  uint32_t len = h->payload_len;
  uint32_t end = off + len;

  /* Checks on the fragment alone: these drop only this fragment. */
  if (len == 0 || (h->mf && (len & 7) != 0)) {
    US_STAT_INC(s, ip_reasm_bad_frag);
    US_STAT_INC(s, ip_reasm_fails);
    return;
  }
  struct us_reass_ctx *c = ctx_find(s, h);
  /* Ping of death: the datagram would exceed 65535 bytes. */
  if (end + h->hdr_len > US_IP4_MAX_DATAGRAM) {
    US_STAT_INC(s, ip_reasm_oversize);
    if (c)
      ctx_drop(s, c);
    else
      US_STAT_INC(s, ip_reasm_fails);
    return;
  }
  if (ip->reass_count == 0) {
    US_STAT_INC(s, ip_reasm_no_context);
    US_STAT_INC(s, ip_reasm_fails);
    return;
  }
  /* The byte cap: older datagrams make room, oldest first; only when
   * this one alone would break the cap is the fragment refused. */
  while (ip->reass_bytes + len > s->cfg.reass_bytes_max) {
    struct us_reass_ctx *old = ctx_oldest(s, false, 0, c);
    if (!old) {
      US_STAT_INC(s, ip_reasm_no_bytes);
      US_STAT_INC(s, ip_reasm_fails);
      return;
    }
    US_STAT_INC(s, ip_reasm_evicted);
    ctx_drop(s, old);
  }
  if (!c) {
    c = ctx_new(s, h, now);
    if (!c)
      return;
  }

  /* Contradictions with what the datagram already told us. */
  if (!h->mf) {
    if (c->have_last && c->total != end) {
      US_STAT_INC(s, ip_reasm_bad_frag); /* two different last fragments */
      ctx_drop(s, c);
      return;
    }
  }
  /* With the end known, a non-last fragment must stop short of it. */
  bool past_end = c->have_last && (h->mf ? end >= c->total : end > c->total);
  if (past_end || (!h->mf && c->received > 0 && !c->have_last &&
                   blocks_any(c->blocks, (end + 7) / 8, US_REASS_BLOCKS - 1))) {
    /* Data beyond the end of the datagram (MF set past the last, or a last
     * fragment that ends before data already held). */
    US_STAT_INC(s, ip_reasm_bad_frag);
    ctx_drop(s, c);
    return;
  }
  uint32_t first_blk = off / 8, last_blk = (end - 1) / 8;
  if (blocks_any(c->blocks, first_blk, last_blk)) {
    US_STAT_INC(s, ip_reasm_overlap); /* teardrop and friends (RFC 1858) */
    ctx_drop(s, c);
    return;
  }

  memcpy(us_pkt_data(c->buf) + off, h->payload, len);
  blocks_set(c->blocks, first_blk, last_blk);
  c->received += len;
  ip->reass_bytes += len;
  if (!h->mf) {
    c->have_last = true;
    c->total = end;
  }
  if (off == 0) {
    c->have_first = true;
    c->first_hdr_len = h->hdr_len;
    memcpy(c->first_hdr, raw, h->hdr_len);
    if (c->have_last && c->total + h->hdr_len > US_IP4_MAX_DATAGRAM) {
      US_STAT_INC(s, ip_reasm_oversize);
      ctx_drop(s, c);
      return;
    }
  }
  if (c->have_first && c->have_last && c->received == c->total)
    deliver(s, c, now);
}
