/*
 * reass.c - fragment reassembly for IPv4 (RFC 791 3.2, RFC 815, RFC 1122
 * 3.3.2) and IPv6 (RFC 8200 4.5), one engine for both, hardened against
 * the classic attacks (RFC 1858, RFC 3128, FragmentSmack CVE-2018-5391,
 * ping of death). IP input hands it fragments and gets the whole datagram
 * back as a packet it owns: the engine never calls up into input.
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
 *  - any overlap with data already held drops the whole datagram (RFC
 *    5722 and RFC 8200 4.5 demand it for IPv6; for IPv4 a teardrop
 *    fragment so never gets to trim anything), exact duplicates included
 *    (RFC 8200 4.5 allows keeping the others; we do not);
 *  - a datagram that would exceed 65535 bytes (IPv4: header and payload;
 *    IPv6: the payload after the fixed header) is dropped (ping of death);
 *  - a zero-length fragment, or one with MF set and a length that is not a
 *    multiple of 8, is dropped on its own;
 *  - a second "last" fragment (MF=0) with a different end, or data beyond
 *    the end a last fragment set, drops the whole datagram;
 *  - RFC 1858's tiny-fragment and offset-1 attacks target packet filters
 *    that judge the first fragment alone; here the transport only ever
 *    sees the whole datagram, and a fragment rewriting bytes already held
 *    is an overlap, so both are harmless and no special rule applies.
 * On timeout the context is freed and counted. For IPv4 no ICMP time
 * exceeded is sent (RFC 1122 3.3.2 makes it a MAY); for IPv6, when the
 * first fragment came, a time exceeded (fragment reassembly) quoting it
 * goes to its source, as RFC 8200 4.5 says it should.
 *
 * Counters are per family (ip_reasm_* and ip6_reasm_*).
 */
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/log.h"
#include "core/stack.h"
#include "core/stats.h"
#include "ip.h"
#include "ip_internal.h"
#include "ip6.h"
#include "wire/bytes.h"
#include "wire/checksum.h"
#include "wire/icmp6.h"

/* What happened, counted under the family's own counter. */
enum reass_ev {
  EV_REQD,
  EV_OK,
  EV_FAIL,
  EV_OVERLAP,
  EV_OVERSIZE,
  EV_BAD_FRAG,
  EV_NO_CONTEXT,
  EV_NO_BYTES,
  EV_NO_BUFFER,
  EV_TIMEOUT,
  EV_EVICTED,
  EV_EVICTED_SOURCE,
};

static void count6(struct us_stack *s, enum reass_ev ev) {
  switch (ev) {
  case EV_REQD:
    US_STAT_INC(s, ip6_reasm_reqds);
    break;
  case EV_OK:
    US_STAT_INC(s, ip6_reasm_oks);
    break;
  case EV_FAIL:
    US_STAT_INC(s, ip6_reasm_fails);
    break;
  case EV_OVERLAP:
    US_STAT_INC(s, ip6_reasm_overlap);
    break;
  case EV_OVERSIZE:
    US_STAT_INC(s, ip6_reasm_oversize);
    break;
  case EV_BAD_FRAG:
    US_STAT_INC(s, ip6_reasm_bad_frag);
    break;
  case EV_NO_CONTEXT:
    US_STAT_INC(s, ip6_reasm_no_context);
    break;
  case EV_NO_BYTES:
    US_STAT_INC(s, ip6_reasm_no_bytes);
    break;
  case EV_NO_BUFFER:
    US_STAT_INC(s, ip6_reasm_no_buffer);
    break;
  case EV_TIMEOUT:
    US_STAT_INC(s, ip6_reasm_timeout);
    break;
  case EV_EVICTED:
    US_STAT_INC(s, ip6_reasm_evicted);
    break;
  case EV_EVICTED_SOURCE:
    US_STAT_INC(s, ip6_reasm_evicted_source);
    break;
  }
}

static void count4(struct us_stack *s, enum reass_ev ev) {
  switch (ev) {
  case EV_REQD:
    US_STAT_INC(s, ip_reasm_reqds);
    break;
  case EV_OK:
    US_STAT_INC(s, ip_reasm_oks);
    break;
  case EV_FAIL:
    US_STAT_INC(s, ip_reasm_fails);
    break;
  case EV_OVERLAP:
    US_STAT_INC(s, ip_reasm_overlap);
    break;
  case EV_OVERSIZE:
    US_STAT_INC(s, ip_reasm_oversize);
    break;
  case EV_BAD_FRAG:
    US_STAT_INC(s, ip_reasm_bad_frag);
    break;
  case EV_NO_CONTEXT:
    US_STAT_INC(s, ip_reasm_no_context);
    break;
  case EV_NO_BYTES:
    US_STAT_INC(s, ip_reasm_no_bytes);
    break;
  case EV_NO_BUFFER:
    US_STAT_INC(s, ip_reasm_no_buffer);
    break;
  case EV_TIMEOUT:
    US_STAT_INC(s, ip_reasm_timeout);
    break;
  case EV_EVICTED:
    US_STAT_INC(s, ip_reasm_evicted);
    break;
  case EV_EVICTED_SOURCE:
    US_STAT_INC(s, ip_reasm_evicted_source);
    break;
  }
}

static void count(struct us_stack *s, uint8_t family, enum reass_ev ev) {
  if (family == 6)
    count6(s, ev);
  else
    count4(s, ev);
}

/* Header bytes that the 65535-byte limit does not cover: IPv4's total
 * length counts its header, IPv6's payload length not the fixed one. */
static uint32_t hdr_uncounted(uint8_t family) { return family == 6 ? US_IP6_HDR_LEN : 0; }

int us_reass_init(struct us_stack *s) {
  struct us_ip_layer *ip = ip_layer(s);
  ip->reass_count = s->cfg.reass_contexts;
  ip->reass_used = 0;
  ip->reass_bytes = 0;
  if (ip->reass_count == 0)
    return 0; /* reassembly disabled: every fragment is dropped */
  ip->reass = calloc(ip->reass_count, sizeof *ip->reass);
  return ip->reass ? 0 : -1;
}

static void ctx_free(struct us_stack *s, struct us_reass_ctx *c) {
  struct us_ip_layer *ip = ip_layer(s);
  us_pkt_free(s, c->buf);
  ip->reass_bytes -= c->received;
  ip->reass_used--;
  memset(c, 0, sizeof *c);
}

/* Drop a whole datagram: counted as a failure by the caller's reason. */
static void ctx_drop(struct us_stack *s, struct us_reass_ctx *c) {
  count(s, c->family, EV_FAIL);
  ctx_free(s, c);
}

void us_reass_fini(struct us_stack *s) {
  struct us_ip_layer *ip = ip_layer(s);
  if (!ip->reass)
    return;
  for (uint32_t i = 0; i < ip->reass_count; i++)
    if (ip->reass[i].used)
      ctx_free(s, &ip->reass[i]);
  free(ip->reass);
  ip->reass = NULL;
}

/* A timed-out context goes. For IPv6 with its first fragment in, RFC 8200
 * 4.5 says to send a time exceeded (code 1) to its source: the quote is
 * that first fragment rebuilt (its unfragmentable part as received, its
 * fragment header, its data), as much as fits (RFC 4443 2.4 (c)). */
static void time_exceeded(struct us_stack *s, struct us_reass_ctx *c, us_time_t now) {
  uint8_t q[US_ICMP6_ERR_QUOTE_MAX];
  size_t n = 0;
  bool send = c->family == 6 && c->have_first;
  if (send) {
    memcpy(q, c->first_hdr, c->first_hdr_len); /* <= 256 */
    n = c->first_hdr_len;
    q[n] = c->first_next;
    q[n + 1] = 0;
    us_put16(q + n + 2, 1); /* offset 0, M set */
    us_put32(q + n + 4, c->id);
    n += 8;
    size_t data = c->first_len < sizeof q - n ? c->first_len : sizeof q - n;
    memcpy(q + n, us_pkt_data(c->buf), data);
    n += data;
  }
  ctx_drop(s, c);
  if (send)
    us_icmp6_send_error(s, q, n, US_ICMP6_TIME_EXCEEDED, US_ICMP6_TIME_REASS, 0, now);
}

us_time_t us_reass_poll(struct us_stack *s, us_time_t now) {
  struct us_ip_layer *ip = ip_layer(s);
  us_time_t next = US_TIME_NEVER;
  for (uint32_t i = 0; i < ip->reass_count && ip->reass_used > 0; i++) {
    struct us_reass_ctx *c = &ip->reass[i];
    if (!c->used)
      continue;
    if (c->deadline <= now) {
      count(s, c->family, EV_TIMEOUT);
      time_exceeded(s, c, now);
    } else if (c->deadline < next) {
      next = c->deadline;
    }
  }
  return next;
}

static struct us_reass_ctx *ctx_find(struct us_stack *s, const struct us_reass_frag *f) {
  struct us_ip_layer *ip = ip_layer(s);
  for (uint32_t i = 0; i < ip->reass_count; i++) {
    struct us_reass_ctx *c = &ip->reass[i];
    if (c->used && c->id == f->id && c->family == f->family && c->proto == f->proto &&
        memcmp(c->src, f->src, 16) == 0 && memcmp(c->dst, f->dst, 16) == 0)
      return c;
  }
  return NULL;
}

/* The oldest context other than `keep` (all have the same timeout, so the
 * earliest deadline is the oldest), only among those from the source of
 * `by_src` when it is not NULL; NULL if there is none. */
static bool same_source(const struct us_reass_ctx *c, const struct us_reass_frag *f) {
  return c->family == f->family && memcmp(c->src, f->src, 16) == 0;
}

static struct us_reass_ctx *ctx_oldest(struct us_stack *s, const struct us_reass_frag *by_src,
                                       const struct us_reass_ctx *keep) {
  struct us_ip_layer *ip = ip_layer(s);
  struct us_reass_ctx *best = NULL;
  for (uint32_t i = 0; i < ip->reass_count; i++) {
    struct us_reass_ctx *c = &ip->reass[i];
    if (!c->used || c == keep || (by_src && !same_source(c, by_src)))
      continue;
    if (!best || c->deadline < best->deadline)
      best = c;
  }
  return best;
}

static uint32_t ctx_count_src(const struct us_stack *s, const struct us_reass_frag *f) {
  const struct us_ip_layer *ip = ip_layer(s);
  uint32_t n = 0;
  for (uint32_t i = 0; i < ip->reass_count; i++)
    if (ip->reass[i].used && same_source(&ip->reass[i], f))
      n++;
  return n;
}

/* A context for a new datagram. Under pressure an old one makes room
 * (FragmentSmack-style floods, HOSTILE FR-4): a source already holding
 * cfg.reass_per_source contexts loses its oldest, and when the table is
 * full the oldest of all goes. A flood of lone fragments then only ever
 * holds the table for as long as it keeps sending, and a real datagram,
 * whose fragments arrive together, completes between its evictions. */
static struct us_reass_ctx *ctx_new(struct us_stack *s, const struct us_reass_frag *f,
                                    us_time_t now) {
  struct us_ip_layer *ip = ip_layer(s);
  uint32_t per = s->cfg.reass_per_source;
  if (per && ctx_count_src(s, f) >= per) {
    struct us_reass_ctx *old = ctx_oldest(s, f, NULL);
    if (US_ALWAYS(old)) {
      count(s, old->family, EV_EVICTED_SOURCE);
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
    c = ctx_oldest(s, NULL, NULL);
    if (US_ALWAYS(c)) {
      count(s, c->family, EV_EVICTED);
      ctx_drop(s, c);
    }
  }
  if (!c || us_stack_alloc_should_fail(s)) {
    count(s, f->family, EV_NO_CONTEXT);
    count(s, f->family, EV_FAIL);
    return NULL;
  }
  struct us_pkt *buf = us_pkt_alloc(s, US_IP4_MAX_DATAGRAM);
  if (!buf) {
    count(s, f->family, EV_NO_BUFFER);
    count(s, f->family, EV_FAIL);
    return NULL;
  }
  memset(c, 0, sizeof *c);
  c->used = true;
  c->family = f->family;
  memcpy(c->src, f->src, 16);
  memcpy(c->dst, f->dst, 16);
  c->id = f->id;
  c->proto = f->proto;
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

/* IPv4: the first fragment's header, in the headroom (>= 60 bytes) right
 * before the payload, with the total length, the flags and the checksum
 * rewritten for the whole datagram. */
static void finish4(struct us_reass_ctx *c, struct us_pkt *buf) {
  size_t hl = c->first_hdr_len;
  buf->len = c->total;
  uint8_t *hdr = us_pkt_push(buf, hl);
  memcpy(hdr, c->first_hdr, hl);
  us_put16(hdr + 2, (uint16_t)(hl + c->total));
  us_put16(hdr + 6, (uint16_t)(us_get16(hdr + 6) & 0x4000)); /* keep DF; MF and offset 0 */
  us_put16(hdr + 10, 0);
  us_put16(hdr + 10, us_csum(hdr, hl));
}

/* IPv6 (RFC 8200 4.5): the unfragmentable part of the first fragment,
 * with its Payload Length set for the whole datagram and the Next Header
 * field that named the fragment header now naming what the fragment
 * header named. A part too long for the headroom moves the payload up
 * (the buffer holds 40 + 65535 + 256 bytes: inside its 64 KiB + headroom). */
static void finish6(struct us_reass_ctx *c, struct us_pkt *buf) {
  size_t hl = c->first_hdr_len;
  buf->len = c->total;
  if (buf->off < hl) {
    memmove(buf->base + hl, us_pkt_data(buf), c->total);
    buf->off = (uint32_t)hl;
  }
  uint8_t *hdr = us_pkt_push(buf, hl);
  memcpy(hdr, c->first_hdr, hl);
  us_put16(hdr + 4, (uint16_t)(hl - US_IP6_HDR_LEN + c->total));
  hdr[c->first_nh_ptr] = c->first_next;
}

/* The datagram is whole: hand its buffer to the caller and free the
 * context. NULL (and the datagram dropped) when, with the first
 * fragment's header, it is too long. */
static struct us_pkt *finish(struct us_stack *s, struct us_reass_ctx *c) {
  if (c->first_hdr_len - hdr_uncounted(c->family) + c->total > US_IP4_MAX_DATAGRAM) {
    count(s, c->family, EV_OVERSIZE);
    ctx_drop(s, c);
    return NULL;
  }
  struct us_pkt *buf = c->buf;
  if (c->family == 6)
    finish6(c, buf);
  else
    finish4(c, buf);
  count(s, c->family, EV_OK);
  c->buf = NULL;
  ctx_free(s, c);
  return buf;
}

/* Keep the first fragment's header (the caller made sure it fits). */
static void keep_first(struct us_reass_ctx *c, const struct us_reass_frag *f) {
  c->have_first = true;
  c->first_hdr_len = f->hdr_len;
  memcpy(c->first_hdr, f->hdr, f->hdr_len);
  c->first_len = (uint16_t)f->len;
  c->first_nh_ptr = f->nh_ptr;
  c->first_next = f->next;
}

struct us_pkt *us_reass_input(struct us_stack *s, const struct us_reass_frag *f, us_time_t now) {
  struct us_ip_layer *ip = ip_layer(s);
  uint8_t fam = f->family;
  count(s, fam, EV_REQD);
  uint32_t off = f->off;
  uint32_t len = f->len;
  uint32_t end = off + len;
  if (US_NEVER(f->hdr_len > US_REASS_HDR_MAX || f->hdr_len < hdr_uncounted(fam))) {
    count(s, fam, EV_FAIL); /* a caller bug: IP input bounds the header */
    return NULL;
  }

  /* Checks on the fragment alone: these drop only this fragment. */
  if (len == 0 || (f->mf && (len & 7) != 0)) {
    count(s, fam, EV_BAD_FRAG);
    count(s, fam, EV_FAIL);
    return NULL;
  }
  struct us_reass_ctx *c = ctx_find(s, f);
  /* Ping of death: the datagram would exceed 65535 bytes. */
  if (end + f->hdr_len - hdr_uncounted(fam) > US_IP4_MAX_DATAGRAM) {
    count(s, fam, EV_OVERSIZE);
    if (c)
      ctx_drop(s, c);
    else
      count(s, fam, EV_FAIL);
    return NULL;
  }
  if (ip->reass_count == 0) {
    count(s, fam, EV_NO_CONTEXT);
    count(s, fam, EV_FAIL);
    return NULL;
  }
  /* The byte cap: older datagrams make room, oldest first; only when
   * this one alone would break the cap is the fragment refused. */
  while (ip->reass_bytes + len > s->cfg.reass_bytes_max) {
    struct us_reass_ctx *old = ctx_oldest(s, NULL, c);
    if (!old) {
      count(s, fam, EV_NO_BYTES);
      count(s, fam, EV_FAIL);
      return NULL;
    }
    count(s, old->family, EV_EVICTED);
    ctx_drop(s, old);
  }
  if (!c) {
    c = ctx_new(s, f, now);
    if (!c)
      return NULL;
  }

  /* Contradictions with what the datagram already told us. */
  if (!f->mf && c->have_last && c->total != end) {
    count(s, fam, EV_BAD_FRAG); /* two different last fragments */
    ctx_drop(s, c);
    return NULL;
  }
  /* With the end known, a non-last fragment must stop short of it. */
  bool past_end = c->have_last && (f->mf ? end >= c->total : end > c->total);
  if (past_end || (!f->mf && c->received > 0 && !c->have_last &&
                   blocks_any(c->blocks, (end + 7) / 8, US_REASS_BLOCKS - 1))) {
    /* Data beyond the end of the datagram (MF set past the last, or a last
     * fragment that ends before data already held). */
    count(s, fam, EV_BAD_FRAG);
    ctx_drop(s, c);
    return NULL;
  }
  uint32_t first_blk = off / 8, last_blk = (end - 1) / 8;
  if (blocks_any(c->blocks, first_blk, last_blk)) {
    count(s, fam, EV_OVERLAP); /* teardrop and friends (RFC 1858, RFC 5722) */
    ctx_drop(s, c);
    return NULL;
  }

  memcpy(us_pkt_data(c->buf) + off, f->data, len);
  blocks_set(c->blocks, first_blk, last_blk);
  c->received += len;
  ip->reass_bytes += len;
  if (!f->mf) {
    c->have_last = true;
    c->total = end;
  }
  if (off == 0)
    keep_first(c, f);
  if (c->have_first && c->have_last && c->received == c->total)
    return finish(s, c);
  return NULL;
}
