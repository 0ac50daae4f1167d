/*
 * tcp_harness.c - see tcp_harness.h.
 *
 * Design note. The harness is the scripted peer P and the clock. It owns
 * the capture device of S: every datagram S emits is copied into a FIFO
 * with the virtual time of emission, and th_expect pops from that FIFO.
 * Time advances only in th_advance/th_run_until_packet, which step through
 * the deadlines us_stack_poll returns, never jumping over one, so a timer
 * is observed at the exact microsecond it is due. Packets are built and
 * parsed here with our own checksum code: a bug in stack/wire cannot hide
 * a bug in stack/tcp (or the other way round).
 */
#include "tcp_harness.h"
#include "core/testing.h"
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define TH_MAX_STEPS  2000000
#define TH_BUSY_LIMIT 16

/* ---- small helpers -------------------------------------------------------- */

uint8_t th_pat(uint32_t salt, uint64_t i) { return h_oracle_byte(salt, i); }

void th_pat_fill(uint32_t salt, uint64_t off, uint8_t *buf, size_t n) {
  h_oracle_fill(salt, off, buf, n);
}

static double secs(us_time_t t) { return (double)t / 1e6; }

/* P's address as the socket API shows it. */
static us_addr_t th_p_addr(const struct th *h) {
  return h->v6 ? us_addr_v6(h_peer6) : us_addr_v4(TH_P_ADDR);
}

/* ---- parsing what S emits ------------------------------------------------- */

static void parse_tcp(struct th_pkt *p, const uint8_t *t, size_t tl, uint32_t pseudo);

/* RFC 8200 3: S sends no extension headers, so the next header is TCP. */
static void parse_pkt6(struct th_pkt *p) {
  const uint8_t *b = p->buf;
  size_t len = p->len;
  p->v6 = true;
  if (len < 40) {
    snprintf(p->why, sizeof p->why, "IPv6 datagram of %zu bytes", len);
    return;
  }
  size_t plen = h_rd16(b + 4);
  if (40 + plen != len) {
    snprintf(p->why, sizeof p->why, "IPv6 payload length %zu, got %zu", plen, len - 40);
    return;
  }
  memcpy(p->src6, b + 8, 16);
  memcpy(p->dst6, b + 24, 16);
  p->ttl = b[7];
  p->tos = (uint8_t)(h_rd32(b) >> 20);
  p->df = true;
  if (b[6] != 6) {
    snprintf(p->why, sizeof p->why, "IPv6 next header %u, not TCP", b[6]);
    return;
  }
  parse_tcp(p, b + 40, plen, h_pseudo6(p->src6, p->dst6, 6, (uint32_t)plen));
}

static void parse_pkt(struct th_pkt *p) {
  const uint8_t *b = p->buf;
  size_t len = p->len;
  p->ok = false;
  p->v6 = false;
  if (len >= 1 && (b[0] >> 4) == 6) {
    parse_pkt6(p);
    return;
  }
  if (len < 20 || (b[0] >> 4) != 4) {
    snprintf(p->why, sizeof p->why, "not IPv4 (%zu bytes)", len);
    return;
  }
  size_t ihl = (size_t)(b[0] & 15) * 4;
  size_t tot = h_rd16(b + 2);
  if (ihl < 20 || ihl > len || tot < ihl || tot > len) {
    snprintf(p->why, sizeof p->why, "bad IPv4 lengths ihl=%zu total=%zu got=%zu", ihl, tot, len);
    return;
  }
  if (h_csum_fold(h_csum_add(0, b, ihl)) != 0) {
    snprintf(p->why, sizeof p->why, "bad IPv4 header checksum");
    return;
  }
  p->src = h_rd32(b + 12);
  p->dst = h_rd32(b + 16);
  p->ttl = b[8];
  p->df = (h_rd16(b + 6) & 0x4000) != 0;
  p->tos = b[1];
  if (b[9] != 6) {
    snprintf(p->why, sizeof p->why, "IP protocol %u, not TCP", b[9]);
    return;
  }
  if ((h_rd16(b + 6) & 0x3fff) != 0) {
    snprintf(p->why, sizeof p->why, "an IP fragment");
    return;
  }
  parse_tcp(p, b + ihl, tot - ihl, h_pseudo4(p->src, p->dst, 6, (uint32_t)(tot - ihl)));
}

/* The TCP segment `t` (tl bytes) whose pseudo-header sums to `pseudo`. */
static void parse_tcp(struct th_pkt *p, const uint8_t *t, size_t tl, uint32_t pseudo) {
  if (tl < 20) {
    snprintf(p->why, sizeof p->why, "TCP segment of %zu bytes", tl);
    return;
  }
  size_t doff = (size_t)(t[12] >> 4) * 4;
  if (doff < 20 || doff > tl) {
    snprintf(p->why, sizeof p->why, "bad TCP data offset %zu", doff);
    return;
  }
  if (h_csum_fold(h_csum_add(pseudo, t, tl)) != 0) {
    snprintf(p->why, sizeof p->why, "bad TCP checksum");
    return;
  }
  p->sport = h_rd16(t);
  p->dport = h_rd16(t + 2);
  p->seq = h_rd32(t + 4);
  p->ack = h_rd32(t + 8);
  p->flags = t[13];
  p->wnd = h_rd16(t + 14);
  p->has_mss = p->has_ws = p->sack_perm = p->has_ts = false;
  p->nsack = 0;
  size_t i = 20;
  while (i < doff) {
    uint8_t kind = t[i];
    if (kind == 0)
      break;
    if (kind == 1) {
      i++;
      continue;
    }
    if (i + 1 >= doff || t[i + 1] < 2 || i + t[i + 1] > doff) {
      snprintf(p->why, sizeof p->why, "S emitted malformed options");
      return;
    }
    uint8_t ol = t[i + 1];
    if (kind == 2 && ol == 4) {
      p->has_mss = true;
      p->mss = h_rd16(t + i + 2);
    } else if (kind == 3 && ol == 3) {
      p->has_ws = true;
      p->ws = t[i + 2];
    } else if (kind == 4) {
      p->sack_perm = true;
    } else if (kind == 8 && ol == 10) {
      p->has_ts = true;
      p->tsval = h_rd32(t + i + 2);
      p->tsecr = h_rd32(t + i + 6);
    } else if (kind == 5 && ol >= 10 && (ol - 2) % 8 == 0) {
      p->nsack = (uint8_t)((ol - 2) / 8);
    }
    i += ol;
  }
  p->payload = t + doff;
  p->plen = (uint32_t)(tl - doff);
  p->ok = true;
}

/* ---- the capture device --------------------------------------------------- */

static void q_push(struct th_queue *q, struct th_pkt *p) {
  if (q->count == q->cap) {
    size_t ncap = q->cap ? q->cap * 2 : 64;
    struct th_pkt *nv = calloc(ncap, sizeof *nv);
    assert_non_null(nv);
    for (size_t i = 0; i < q->count; i++)
      nv[i] = q->v[(q->head + i) % q->cap];
    free(q->v);
    q->v = nv;
    q->cap = ncap;
    q->head = 0;
  }
  q->v[(q->head + q->count) % q->cap] = *p;
  q->count++;
}

static bool q_pop(struct th_queue *q, struct th_pkt *out) {
  if (q->count == 0)
    return false;
  *out = q->v[q->head];
  q->head = (q->head + 1) % q->cap;
  q->count--;
  return true;
}

static struct th_pkt *q_peek(struct th_queue *q) { return q->count ? &q->v[q->head] : NULL; }

static void dev_tx(void *ctx, const uint8_t *pkt, size_t len) {
  struct th *h = ctx;
  struct th_pkt p;
  memset(&p, 0, sizeof p);
  p.at = h->now;
  p.buf = malloc(len ? len : 1);
  if (!p.buf)
    abort();
  memcpy(p.buf, pkt, len);
  p.len = len;
  parse_pkt(&p);
  if (h->q.count > 100000) {
    /* A runaway emitter: keep memory bounded, the test will fail on it. */
    free(p.buf);
    return;
  }
  q_push(&h->q, &p);
}

/* ---- the kernel's side of offloads (th_new_offload) ---------------------- */

static void offl_keep(struct th *h, const uint8_t *pkt, size_t len, const struct us_tx_meta *m) {
  h->offl.total++;
  if (m->gso_size)
    h->offl.super++;
  if (h->offl.kept == TH_OFFL_KEEP)
    return;
  struct th_offl_pkt *k = &h->offl.v[h->offl.kept++];
  k->buf = malloc(len ? len : 1);
  if (!k->buf)
    abort();
  memcpy(k->buf, pkt, len);
  k->len = len;
  k->meta = *m;
}

/* Complete the checksum at csum_start + csum_offset: the sum of everything
 * from csum_start (the field holds the pseudo-header sum), complemented. */
static void offl_csum(uint8_t *b, size_t len, const struct us_tx_meta *m) {
  h_wr16(b + m->csum_start + m->csum_offset,
         h_csum_fold(h_csum_add(0, b + m->csum_start, len - m->csum_start)));
}

static void dev_tx_meta(void *ctx, const uint8_t *pkt, size_t len, const struct us_tx_meta *m) {
  struct th *h = ctx;
  offl_keep(h, pkt, len, m);
  /* IPv6 (TSO6): a 40-byte header and TCP right behind it. */
  bool v6 = len >= 40 && (pkt[0] >> 4) == 6;
  size_t ihl = v6 ? 40 : len >= 20 ? (size_t)(pkt[0] & 15) * 4 : 0;
  bool ip_ok = v6 ? pkt[6] == 6 && h_rd16(pkt + 4) + 40u == len
                  : ihl >= 20 && pkt[9] == 6 && h_rd16(pkt + 2) == len;
  /* What the TUN driver checks before it takes the packet. */
  if (!m->csum_partial || !ip_ok || m->csum_start != ihl || m->csum_offset != 16 || len < ihl + 20)
    th_fail(h, __FILE__, __LINE__, "tx_meta: a packet the kernel would refuse (%zu bytes)", len);
  size_t thl = (size_t)(pkt[ihl + 12] >> 4) * 4;
  size_t hl = ihl + thl;
  if (thl < 20 || hl > len)
    th_fail(h, __FILE__, __LINE__, "tx_meta: bad TCP header length %zu", thl);
  size_t payload = len - hl;
  if (m->gso_size == 0 || payload <= m->gso_size) {
    uint8_t *b = malloc(len);
    if (!b)
      abort();
    memcpy(b, pkt, len);
    offl_csum(b, len, m);
    dev_tx(h, b, len);
    free(b);
    return;
  }
  /* Segmentation: each piece repeats the headers. */
  uint8_t *b = malloc(hl + m->gso_size);
  if (!b)
    abort();
  uint16_t id = h_rd16(pkt + 4);
  uint32_t seq = h_rd32(pkt + ihl + 4);
  uint8_t flags = pkt[ihl + 13];
  for (size_t off = 0, i = 0; off < payload; off += m->gso_size, i++) {
    size_t n = payload - off < m->gso_size ? payload - off : m->gso_size;
    bool last = off + n == payload;
    memcpy(b, pkt, hl);
    memcpy(b + hl, pkt + hl + off, n);
    uint32_t ps;
    if (v6) {
      h_wr16(b + 4, (uint16_t)(thl + n)); /* the payload length; nothing else moves */
      ps = h_pseudo6(b + 8, b + 24, 6, (uint32_t)(thl + n));
    } else {
      h_wr16(b + 2, (uint16_t)(hl + n));
      h_wr16(b + 4, (uint16_t)(id + i));
      h_wr16(b + 10, 0);
      h_wr16(b + 10, h_csum_fold(h_csum_add(0, b, ihl)));
      ps = h_pseudo4(h_rd32(b + 12), h_rd32(b + 16), 6, (uint16_t)(thl + n));
    }
    h_wr32(b + ihl + 4, seq + (uint32_t)off);
    b[ihl + 13] = last ? flags : (uint8_t)(flags & ~(TH_FIN | TH_PSH));
    /* The field must hold the pseudo-header sum for THIS piece's length. */
    h_wr16(b + ihl + 16, (uint16_t)~h_csum_fold(ps));
    offl_csum(b, hl + n, m);
    dev_tx(h, b, hl + n);
  }
  free(b);
}

struct th *th_new_offload(const struct us_config *cfg, uint32_t caps) {
  struct th *h = th_new(cfg);
  /* Same stack set-up, but created on a device with offloads. */
  us_stack_destroy(h->s);
  struct us_device dev = { .tx = dev_tx, .ctx = h, .caps = caps, .tx_meta = dev_tx_meta };
  h->s = us_stack_create(&h->cfg, &dev);
  if (!h->s)
    fail_msg("us_stack_create failed");
  return h;
}

/* ---- life cycle ------------------------------------------------------------ */

void th_config(struct us_config *cfg) {
  us_config_default(cfg);
  cfg->addr = TH_S_ADDR;
  cfg->prefix_len = 24;
  cfg->tcp_msl = US_SEC(1);
}

void th_config6(struct us_config *cfg) {
  th_config(cfg);
  memcpy(cfg->addr6, h_us6, 16);
}

struct th *th_new_v6(const struct us_config *cfg) {
  struct us_config c;
  if (cfg)
    c = *cfg;
  else
    th_config6(&c);
  if (memcmp(c.addr6, h_us6, 16) != 0)
    fail_msg("th_new_v6: addr6 must be fd00::2 (th_config6)");
  struct th *h = th_new(&c);
  h->v6 = true;
  return h;
}

struct th_conn *th_use(struct th *h, int i) {
  assert_true(i >= 0 && i < TH_MAX_CONN);
  h->c = &h->conn[i];
  return h->c;
}

struct th *th_new(const struct us_config *cfg) {
  return th_new_seeded(cfg, 0x5eed1234u);
}

struct th *th_new_seeded(const struct us_config *cfg, uint64_t seed) {
  struct th *h = calloc(1, sizeof *h);
  assert_non_null(h);
  if (cfg)
    h->cfg = *cfg;
  else
    th_config(&h->cfg);
  h->cfg.rand = h_rand_source(&h->rand, h_seed(seed));
  h->seed = h->rand.seed;
  h_log_config(&h->cfg, "S");
  h->log_level = h->cfg.log_level;
  for (int i = 0; i < TH_MAX_CONN; i++) {
    struct th_conn *c = &h->conn[i];
    c->s_port = TH_S_PORT;
    c->p_port = (uint16_t)(TH_P_PORT + i);
    c->p_isn = TH_P_ISN + (uint32_t)i * 0x01000000u;
    c->p_salt = 0x1000u + (uint32_t)i;
    c->s_salt = 0x2000u + (uint32_t)i;
  }
  h->c = &h->conn[0];
  h->ip_id = 1;
  h->last_recv_at = -1;
  struct us_device dev = { .tx = dev_tx, .ctx = h };
  h->s = us_stack_create(&h->cfg, &dev);
  if (!h->s) {
    free(h);
    fail_msg("us_stack_create failed");
  } else {
    us_stack_check_invariants(h->s, true);
  }
  return h;
}

void th_free(struct th *h) {
  if (!h)
    return;
  th_drain(h);
  for (size_t i = 0; i < h->offl.kept; i++)
    free(h->offl.v[i].buf);
  free(h->q.v);
  if (h->s)
    us_stack_destroy(h->s);
  free(h);
}

struct th *th_new_state(void **state, void (*tweak)(struct us_config *)) {
  struct us_config cfg;
  th_config(&cfg);
  if (tweak)
    tweak(&cfg);
  struct th *h = th_new(&cfg);
  *state = h;
  return h;
}

int th_teardown(void **state) {
  th_free(*state);
  *state = NULL;
  return 0;
}

void th_track(struct th *h, us_sock_t sock) {
  if (h->nsocks == TH_MAX_SOCKS)
    th_fail(h, __FILE__, __LINE__, "more than %d sockets: raise TH_MAX_SOCKS", TH_MAX_SOCKS);
  h->socks[h->nsocks++] = sock;
}

/* ---- failure reporting ------------------------------------------------------ */

const char *th_fmt(struct th *h, const struct th_pkt *p, char *buf, size_t cap) {
  if (!p->ok) {
    snprintf(buf, cap, "t=%.6f %zu bytes: %s", secs(p->at), p->len, p->why);
    return buf;
  }
  char fl[H_TCP_FLAGS_LEN];
  h_tcp_flags(p->flags, fl);
  struct th_conn *c = h->c;
  char seqs[32], acks[32];
  if (c->s_isn_known)
    snprintf(seqs, sizeof seqs, "%u", p->seq - c->s_isn);
  else
    snprintf(seqs, sizeof seqs, "abs %u", p->seq);
  snprintf(acks, sizeof acks, "%u", p->ack - c->p_isn);
  char opts[96] = "";
  int o = 0;
  if (p->has_mss)
    o += snprintf(opts + o, sizeof opts - (size_t)o, " mss %u", p->mss);
  if (p->has_ws)
    o += snprintf(opts + o, sizeof opts - (size_t)o, " ws %u", p->ws);
  if (p->has_ts)
    o += snprintf(opts + o, sizeof opts - (size_t)o, " ts %u ecr %u", p->tsval, p->tsecr);
  if (p->nsack)
    o += snprintf(opts + o, sizeof opts - (size_t)o, " sack %u", p->nsack);
  snprintf(buf, cap, "t=%.6f %u>%u [%s] seq=%s ack=%s win=%u len=%u%s%s%s", secs(p->at), p->sport,
           p->dport, fl, seqs, (p->flags & TH_ACK) ? acks : "-", p->wnd, p->plen, o ? " <" : "",
           opts + (o ? 1 : 0), o ? ">" : "");
  return buf;
}

static const char *fmt_seg(const struct th_seg *s, char *buf, size_t cap) {
  char fl[H_TCP_FLAGS_LEN];
  h_tcp_flags(s->flags, fl);
  char w[24] = "any";
  if (s->has_wnd)
    snprintf(w, sizeof w, "%u", s->wnd);
  else if (s->wnd_zero)
    snprintf(w, sizeof w, "0");
  else if (s->wnd_nonzero)
    snprintf(w, sizeof w, ">0");
  char sq[24], ak[24], ln[24];
  if (s->seq_any)
    snprintf(sq, sizeof sq, "any");
  else
    snprintf(sq, sizeof sq, "%s%u", s->seq_abs ? "abs " : "", s->seq);
  if (s->ack_any || !(s->flags & TH_ACK))
    snprintf(ak, sizeof ak, "%s", (s->flags & TH_ACK) ? "any" : "-");
  else
    snprintf(ak, sizeof ak, "%s%u", s->ack_abs ? "abs " : "", s->ack);
  if (s->len_any)
    snprintf(ln, sizeof ln, ">=%u", s->len_min);
  else
    snprintf(ln, sizeof ln, "%u", s->len);
  snprintf(buf, cap, "[%s] seq=%s ack=%s win=%s len=%s%s", fl, sq, ak, w, ln,
           s->has_mss ? " <mss>" : "");
  return buf;
}

void th_fail(struct th *h, const char *file, int line, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  print_error("%s:%d: at t=%.6f: %s\n", file, line, h ? secs(h->now) : 0.0, msg);
  if (h) {
    print_error(
        "  (stack seed %#llx, US_TEST_SEED=%#llx; rerun with US_TEST_LOG=trace for the "
        "stack's log)\n",
        (unsigned long long)h->seed, (unsigned long long)h_seed_env());
    size_t nh = h->nhist < 8 ? h->nhist : 8;
    if (nh)
      print_error("  last segments matched:\n");
    for (size_t i = 0; i < nh; i++) {
      char b[200];
      print_error("    %s\n", th_fmt(h, &h->hist[(h->nhist - nh + i) % 8], b, sizeof b));
    }
    if (h->q.count)
      print_error("  still queued from S:\n");
    for (size_t i = 0; i < h->q.count && i < 12; i++) {
      char b[200];
      print_error("    %s\n", th_fmt(h, &h->q.v[(h->q.head + i) % h->q.cap], b, sizeof b));
    }
  }
  _fail(file, line);
}

/* ---- time ------------------------------------------------------------------- */

us_time_t th_deadline(struct th *h) { return us_stack_poll(h->s, h->now); }

/* One poll at `now`; returns the next deadline, insisting that it moves. */
static us_time_t poll_step(struct th *h, int *busy, const char *file, int line) {
  us_time_t d = us_stack_poll(h->s, h->now);
  if (d <= h->now) {
    if (++*busy > TH_BUSY_LIMIT)
      th_fail(h, file, line, "us_stack_poll keeps returning a deadline (%.6f) <= now: busy loop",
              secs(d));
  } else {
    *busy = 0;
  }
  return d;
}

void th_advance_(struct th *h, us_time_t t, const char *file, int line) {
  if (t < h->now)
    th_fail(h, file, line, "script goes back in time to %.6f", secs(t));
  int busy = 0;
  for (long i = 0; i < TH_MAX_STEPS; i++) {
    us_time_t d = poll_step(h, &busy, file, line);
    if (d > t) {
      h->now = t;
      us_stack_poll(h->s, t);
      return;
    }
    if (d > h->now)
      h->now = d;
  }
  th_fail(h, file, line, "more than %d timer steps before %.6f", TH_MAX_STEPS, secs(t));
}

us_time_t th_advance_to_deadline_(struct th *h, const char *file, int line) {
  us_time_t d = us_stack_poll(h->s, h->now);
  if (d == US_TIME_NEVER)
    return d;
  if (d < h->now)
    d = h->now;
  th_advance_(h, d, file, line);
  return d;
}

bool th_run_until_packet(struct th *h, us_time_t tmax) {
  int busy = 0;
  if (h->q.count)
    return true;
  for (long i = 0; i < TH_MAX_STEPS; i++) {
    us_time_t d = poll_step(h, &busy, __FILE__, __LINE__);
    if (h->q.count)
      return true;
    if (d > tmax) {
      if (tmax > h->now) {
        h->now = tmax;
        us_stack_poll(h->s, tmax);
      }
      return h->q.count > 0;
    }
    if (d > h->now)
      h->now = d;
  }
  return h->q.count > 0;
}

/* ---- inject ------------------------------------------------------------------ */

void th_inject_(struct th *h, us_time_t t, const struct th_seg *seg, const char *file, int line) {
  th_advance_(h, t, file, line);
  struct th_conn *c = h->c;
  uint8_t pkt[65536];
  uint8_t opts[64];
  size_t olen = 0;
  if (seg->opts) {
    if (seg->opts_len > 40)
      th_fail(h, file, line, "more than 40 option bytes");
    memcpy(opts, seg->opts, seg->opts_len);
    olen = seg->opts_len;
  } else {
    if (seg->has_mss) {
      opts[olen++] = 2;
      opts[olen++] = 4;
      h_wr16(opts + olen, seg->mss);
      olen += 2;
    }
    if (seg->has_ws) {
      opts[olen++] = 1;
      opts[olen++] = 3;
      opts[olen++] = 3;
      opts[olen++] = seg->ws;
    }
    if (seg->sack_perm) {
      opts[olen++] = 1;
      opts[olen++] = 1;
      opts[olen++] = 4;
      opts[olen++] = 2;
    }
    if (seg->has_ts) {
      opts[olen++] = 1;
      opts[olen++] = 1;
      opts[olen++] = 8;
      opts[olen++] = 10;
      h_wr32(opts + olen, seg->tsval);
      h_wr32(opts + olen + 4, seg->tsecr);
      olen += 8;
    }
  }
  while (olen % 4)
    opts[olen++] = 0;
  size_t thl = 20 + olen;
  size_t tl = thl + seg->len;
  size_t iphl = h->v6 ? 40 : 20;
  size_t tot = iphl + tl;
  if (tot > sizeof pkt)
    th_fail(h, file, line, "segment too large");
  uint32_t src = seg->src ? seg->src : TH_P_ADDR;
  struct h_ip ih = {
    .src = src, .dst = TH_S_ADDR, .proto = 6, .tos = seg->tos, .id = h->ip_id++, .df = true
  };
  if (h->v6) {
    if (seg->src)
      th_fail(h, file, line, "an IPv4 source override on an IPv6 harness");
    ih = h_ip6_to_us(6);
    ih.tos = seg->tos;
  }
  uint32_t seq = seg->seq_abs ? seg->seq : c->p_isn + seg->seq;
  uint32_t ack = 0;
  if (seg->ack_abs) {
    ack = seg->ack;
  } else if (seg->flags & TH_ACK) {
    if (!c->s_isn_known)
      th_fail(h, file, line, "relative ack before S's ISN is known");
    ack = c->s_isn + seg->ack;
  } else if (seg->ack) {
    ack = c->s_isn + seg->ack; /* an ack field without the ACK flag */
  }
  uint8_t *tcp = pkt + iphl;
  const uint8_t *data = seg->data;
  if (seg->len && !data) {
    /* P's oracle: relative seq r carries stream byte r-1 (the SYN takes 0). */
    uint32_t rel = seq - c->p_isn;
    uint64_t off = (uint32_t)(rel + ((seg->flags & TH_SYN) ? 1u : 0u) - 1u);
    th_pat_fill(c->p_salt, off, tcp + thl, seg->len);
    data = tcp + thl;
  }
  struct h_tcp ts = { .sport = seg->sport ? seg->sport : c->p_port,
                      .dport = seg->dport ? seg->dport : c->s_port,
                      .seq = seq,
                      .ack = ack,
                      .flags = seg->flags,
                      .has_doff = seg->raw_doff,
                      .doff = seg->doff,
                      .wnd = (uint16_t)(seg->has_wnd ? seg->wnd : TH_P_WND),
                      .opts = opts,
                      .opt_len = olen,
                      .data = data,
                      .len = seg->len };
  h_tcp_build(tcp, &ih, &ts);
  if (seg->meta && (seg->meta->flags & US_RX_CSUM_PARTIAL)) /* as the kernel leaves it */
    h_wr16(tcp + 16, (uint16_t)~h_csum_fold(h_ip_pseudo(&ih, tl)));
  if (seg->bad_csum)
    h_wr16(tcp + 16, h_rd16(tcp + 16) ^ 0x5a5a);
  h_ip_build(pkt, &ih, tcp, tl);
  if (!seg->sport && !seg->dport && !seg->src) {
    uint32_t end = (seq - c->p_isn) + seg->len + ((seg->flags & TH_SYN) ? 1u : 0u) +
                   ((seg->flags & TH_FIN) ? 1u : 0u);
    if ((int32_t)(end - c->p_nxt) > 0)
      c->p_nxt = end;
  }
  h->now = t;
  size_t cap = 0;
  uint8_t *in = h->rx_zero_copy ? us_stack_rx_buffer(h->s, tot, &cap) : NULL;
  if (in && cap >= tot) {
    memcpy(in, pkt, tot); /* what the TUN read would have put there */
    us_stack_input_meta(h->s, in, tot, seg->meta, t);
  } else {
    us_stack_input_meta(h->s, pkt, tot, seg->meta, t);
  }
  us_stack_poll(h->s, t);
}

/* ---- expect ------------------------------------------------------------------- */

size_t th_queued(struct th *h) { return h->q.count; }

void th_drain(struct th *h) {
  struct th_pkt p;
  while (q_pop(&h->q, &p))
    free(p.buf);
}

bool th_pop(struct th *h, struct th_pkt *out) {
  struct th_pkt p;
  if (!q_pop(&h->q, &p))
    return false;
  size_t n = p.len < sizeof h->last_buf ? p.len : sizeof h->last_buf;
  memcpy(h->last_buf, p.buf, n);
  ptrdiff_t poff = p.payload ? p.payload - p.buf : 0;
  free(p.buf);
  p.buf = h->last_buf;
  p.len = n;
  if (p.payload)
    p.payload = h->last_buf + poff;
  h->last = p;
  h->have_last = true;
  size_t k = h->nhist++ % 8;
  size_t hn = n < sizeof h->hist_buf[k] ? n : sizeof h->hist_buf[k];
  memcpy(h->hist_buf[k], p.buf, hn);
  h->hist[k] = p;
  h->hist[k].buf = h->hist_buf[k];
  h->hist[k].len = hn;
  h->hist[k].payload = NULL;
  *out = p;
  return true;
}

/* A pure ACK emitted when the app read, repeating S's previous segment. */
static bool redundant_ack(struct th *h, const struct th_pkt *p) {
  const struct th_pkt *l = &h->last;
  if (!p->ok || !h->have_last || !l->ok)
    return false;
  if ((p->flags & (uint8_t)~TH_PSH) != TH_ACK || p->plen != 0)
    return false;
  if ((l->flags & (uint8_t)~TH_PSH) != TH_ACK || l->plen != 0)
    return false;
  return p->at == h->last_recv_at && p->sport == l->sport && p->dport == l->dport &&
         p->seq == l->seq && p->ack == l->ack && p->wnd == l->wnd;
}

const struct th_pkt *th_last(struct th *h) { return &h->last; }

uint32_t th_rel_seq(struct th *h, const struct th_pkt *p) { return p->seq - h->c->s_isn; }
uint32_t th_rel_ack(struct th *h, const struct th_pkt *p) { return p->ack - h->c->p_isn; }

us_time_t th_expect_(struct th *h, us_time_t t0, us_time_t t1, const struct th_seg *seg,
                     const char *file, int line) {
  char eb[160], gb[200], what[160];
  struct th_conn *c = h->c;
  struct th_pkt tmp;
  if (t0 > t1)
    th_fail(h, file, line, "bad script: window [%.6f, %.6f]", secs(t0), secs(t1));
retry:
  if (!h->q.count && h->now <= t1)
    th_run_until_packet(h, t1);
  struct th_pkt *p = q_peek(&h->q);
  if (!p)
    th_fail(h, file, line, "expected %s at %.6f..%.6f; S emitted nothing",
            fmt_seg(seg, eb, sizeof eb), secs(t0), secs(t1));
#define TH_MISMATCH(...)                      \
  do {                                        \
    snprintf(what, sizeof what, __VA_ARGS__); \
    goto mismatch;                            \
  } while (0)
  if (p->at < t0 || p->at > t1)
    TH_MISMATCH("wrong time");
  if (!p->ok)
    TH_MISMATCH("not a valid TCP segment");
  if (p->v6 != h->v6)
    TH_MISMATCH("IPv%d, expected IPv%d", p->v6 ? 6 : 4, h->v6 ? 6 : 4);
  if (h->v6 ? memcmp(p->src6, h_us6, 16) != 0 || memcmp(p->dst6, h_peer6, 16) != 0
            : p->src != TH_S_ADDR || p->dst != TH_P_ADDR)
    TH_MISMATCH("wrong addresses");
  if (p->dport != c->p_port)
    TH_MISMATCH("wrong destination port (another connection?)");
  if (c->s_port == 0)
    c->s_port = p->sport;
  if (p->sport != c->s_port)
    TH_MISMATCH("wrong source port");
  uint8_t mask = seg->psh_check ? 0xff : (uint8_t)~TH_PSH;
  if (seg->ack_opt)
    mask &= (uint8_t)~TH_ACK;
  if ((p->flags & mask) != (seg->flags & mask))
    TH_MISMATCH("wrong flags");
  if (!seg->seq_any) {
    if (seg->seq_abs) {
      if (p->seq != seg->seq)
        TH_MISMATCH("wrong seq (absolute %u)", p->seq);
    } else if (!c->s_isn_known) {
      if (!(p->flags & TH_SYN))
        TH_MISMATCH("S's ISN unknown and this is not a SYN");
      c->s_isn = p->seq - seg->seq;
      c->s_isn_known = true;
    } else if (p->seq - c->s_isn != seg->seq) {
      TH_MISMATCH("wrong seq");
    }
  }
  bool check_ack = seg->ack_opt ? (p->flags & TH_ACK) != 0 : (seg->flags & TH_ACK) != 0;
  if (check_ack && !seg->ack_any) {
    uint32_t want = seg->ack_abs ? seg->ack : c->p_isn + seg->ack;
    if (p->ack != want)
      TH_MISMATCH("wrong ack");
  }
  if (seg->has_wnd && p->wnd != seg->wnd)
    TH_MISMATCH("wrong window");
  if (seg->wnd_zero && p->wnd != 0)
    TH_MISMATCH("window not zero");
  if (seg->wnd_nonzero && p->wnd == 0)
    TH_MISMATCH("window zero");
  if (seg->has_mss && (!p->has_mss || p->mss != seg->mss))
    TH_MISMATCH("wrong/missing MSS");
  if (seg->no_mss && p->has_mss)
    TH_MISMATCH("unexpected MSS option");
  if (seg->len_any) {
    if (p->plen < seg->len_min)
      TH_MISMATCH("payload too short");
  } else if (p->plen != seg->len) {
    TH_MISMATCH("wrong payload length");
  }
  if (p->plen && !seg->no_pat_check && c->s_isn_known) {
    uint32_t rel = p->seq - c->s_isn + ((p->flags & TH_SYN) ? 1u : 0u) - 1u;
    for (uint32_t i = 0; i < p->plen; i++) {
      if (p->payload[i] != th_pat(c->s_salt, (uint64_t)rel + i))
        TH_MISMATCH("payload byte %u differs from what the app sent at that offset", i);
    }
  }
#undef TH_MISMATCH
  us_time_t at = p->at;
  th_pop(h, &tmp);
  return at;
mismatch:
  if (redundant_ack(h, p)) {
    h->redundant_acks++;
    th_pop(h, &tmp);
    goto retry;
  }
  th_fail(h, file, line, "%s\n  expected %s at %.6f..%.6f\n  got      %s", what,
          fmt_seg(seg, eb, sizeof eb), secs(t0), secs(t1), th_fmt(h, p, gb, sizeof gb));
  return 0;
}

void th_expect_nothing_until_(struct th *h, us_time_t t, const char *file, int line) {
  char gb[200];
  struct th_pkt tmp;
  if (t < h->now)
    th_fail(h, file, line, "script goes back in time to %.6f", secs(t));
  for (;;) {
    struct th_pkt *p = q_peek(&h->q);
    if (!p && !th_run_until_packet(h, t))
      return;
    p = q_peek(&h->q);
    if (!redundant_ack(h, p))
      th_fail(h, file, line, "expected nothing until %.6f, but S emitted %s", secs(t),
              th_fmt(h, p, gb, sizeof gb));
    h->redundant_acks++;
    th_pop(h, &tmp);
  }
}

int th_expect_acks_until_(struct th *h, us_time_t t, uint32_t seq, uint32_t *last_ack,
                          const char *file, int line) {
  th_advance_(h, t, file, line);
  int n = 0;
  while (h->q.count) {
    th_expect_(h, 0, t, TSEG(.flags = TH_ACK, .seq = seq, ACK_ANY), file, line);
    if (last_ack)
      *last_ack = th_rel_ack(h, &h->last);
    n++;
  }
  return n;
}

/* ---- application side ------------------------------------------------------------ */

us_sock_t th_listen_(struct th *h, uint16_t port, uint32_t backlog, const char *file, int line) {
  us_sock_t sock;
  int r = us_tcp_socket(h->s, &sock);
  if (r != 0)
    th_fail(h, file, line, "us_tcp_socket: %s", us_err_name(r));
  th_track(h, sock);
  r = us_tcp_bind(h->s, sock, port);
  if (r != 0)
    th_fail(h, file, line, "us_tcp_bind(%u): %s", port, us_err_name(r));
  r = us_tcp_listen(h->s, sock, backlog);
  if (r != 0)
    th_fail(h, file, line, "us_tcp_listen: %s", us_err_name(r));
  if (!us_sock_valid(h->lsock))
    h->lsock = sock;
  return sock;
}

void th_accept_(struct th *h, const char *file, int line) {
  us_sock_t sock;
  us_endpoint_t peer = { 0 };
  int r = us_tcp_accept(h->s, h->lsock, &sock, &peer);
  if (r != 0)
    th_fail(h, file, line, "us_tcp_accept: %s", us_err_name(r));
  th_track(h, sock);
  if (!us_addr_eq(peer.addr, th_p_addr(h)) || peer.port != h->c->p_port) {
    char got[US_ENDPOINT_STRLEN];
    us_endpoint_format(peer, got, sizeof got);
    th_fail(h, file, line, "accepted %s, expected the current conn (port %u)", got, h->c->p_port);
  }
  h->c->sock = sock;
}

void th_connect_(struct th *h, us_time_t t, const char *file, int line) {
  th_advance_(h, t, file, line);
  struct th_conn *c = h->c;
  us_sock_t sock;
  int r = us_tcp_socket(h->s, &sock);
  if (r != 0)
    th_fail(h, file, line, "us_tcp_socket: %s", us_err_name(r));
  th_track(h, sock);
  c->sock = sock;
  c->s_isn_known = false;
  c->p_port = TH_P_SERVER + (uint16_t)(c - h->conn);
  r = us_tcp_connect(h->s, sock, us_endpoint(th_p_addr(h), c->p_port), h->now);
  if (r != US_ERR_INPROGRESS && r != 0)
    th_fail(h, file, line, "us_tcp_connect: %s", us_err_name(r));
  us_endpoint_t local = { 0 };
  r = us_tcp_addrs(h->s, sock, &local, NULL);
  uint16_t lport = local.port;
  if (r != 0 || lport == 0)
    th_fail(h, file, line, "us_tcp_addrs after connect: %s, port %u", us_err_name(r), lport);
  c->s_port = lport;
  us_stack_poll(h->s, h->now);
}

long th_send(struct th *h, us_time_t t, size_t n) {
  th_advance(h, t);
  struct th_conn *c = h->c;
  uint8_t *buf = malloc(n ? n : 1);
  assert_non_null(buf);
  th_pat_fill(c->s_salt, c->s_sent, buf, n);
  long r = us_tcp_send(h->s, c->sock, buf, n, h->now);
  free(buf);
  if (r > 0)
    c->s_sent += (uint64_t)r;
  us_stack_poll(h->s, h->now);
  return r;
}

long th_recv(struct th *h, us_time_t t, size_t cap) {
  th_advance(h, t);
  struct th_conn *c = h->c;
  uint8_t *buf = malloc(cap ? cap : 1);
  assert_non_null(buf);
  long r = us_tcp_recv(h->s, c->sock, buf, cap, h->now);
  h->last_recv_at = h->now;
  if (r > 0) {
    for (long i = 0; i < r; i++) {
      if (buf[i] != th_pat(c->p_salt, c->p_read + (uint64_t)i)) {
        free(buf);
        th_fail(h, __FILE__, __LINE__, "received byte %llu of P's stream is wrong",
                (unsigned long long)(c->p_read + (uint64_t)i));
      }
    }
    c->p_read += (uint64_t)r;
  }
  free(buf);
  us_stack_poll(h->s, h->now);
  return r;
}

void th_recv_expect_(struct th *h, us_time_t t, size_t n, const char *file, int line) {
  size_t got = 0;
  th_advance_(h, t, file, line);
  while (got < n) {
    long r = th_recv(h, t, n - got);
    if (r <= 0)
      th_fail(h, file, line, "recv: got %zu of %zu bytes, then %s", got, n,
              r == 0 ? "EOF" : us_err_name((int)r));
    got += (size_t)r;
  }
}

/* ---- state ---------------------------------------------------------------------- */

static bool find_info(struct th *h, struct us_tcp_info *out) {
  struct us_tcp_info v[256];
  size_t n = us_tcp_list(h->s, v, 256);
  for (size_t i = 0; i < n && i < 256; i++) {
    if (v[i].state == US_TCP_LISTEN)
      continue;
    if (v[i].lport == h->c->s_port && v[i].rport == h->c->p_port &&
        us_addr_eq(v[i].raddr, th_p_addr(h))) {
      *out = v[i];
      return true;
    }
  }
  return false;
}

bool th_info(struct th *h, struct us_tcp_info *out) { return find_info(h, out); }

int th_state(struct th *h) {
  struct us_tcp_info in;
  if (!find_info(h, &in) || in.state == US_TCP_CLOSED)
    return -1;
  return (int)in.state;
}

void th_assert_state_(struct th *h, int st, const char *file, int line) {
  int got = th_state(h);
  if (got != st)
    th_fail(h, file, line, "state is %s, expected %s",
            got < 0 ? "(no TCB)" : us_tcp_state_name((enum us_tcp_state)got),
            st < 0 ? "(no TCB)" : us_tcp_state_name((enum us_tcp_state)st));
}

size_t th_tcb_count(struct th *h) {
  struct us_tcp_info v[256];
  return us_tcp_list(h->s, v, 256);
}

uint64_t th_stat(struct th *h, enum us_stat id) { return us_stack_stat(h->s, id); }

/* ---- fixtures ---------------------------------------------------------------------- */

us_time_t th_fx_listen(struct th *h, us_time_t t) {
  th_advance(h, t);
  if (!us_sock_valid(h->lsock))
    th_listen(h, TH_S_PORT, 16);
  return t;
}

us_time_t th_fx_syn_received(struct th *h, us_time_t t) {
  struct th_conn *c = h->c;
  th_fx_listen(h, t);
  c->s_port = TH_S_PORT;
  c->s_isn_known = false;
  c->p_nxt = 0;
  th_inject(h, t, TSEG(.flags = TH_SYN, .seq = 0, MSS(1460)));
  th_expect(h, t, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1));
  th_assert_state(h, US_TCP_SYN_RECEIVED);
  return t;
}

us_time_t th_fx_established(struct th *h, us_time_t t) {
  t = th_fx_syn_received(h, t) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  th_accept(h);
  return t;
}

us_time_t th_fx_established_active(struct th *h, us_time_t t) {
  th_connect(h, t);
  th_expect(h, t, TSEG(.flags = TH_SYN, .seq = 0));
  th_assert_state(h, US_TCP_SYN_SENT);
  t += US_MSEC(10);
  h->c->p_nxt = 0;
  th_inject(h, t, TSEG(.flags = TH_SYN | TH_ACK, .seq = 0, .ack = 1, MSS(1460)));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = 1, .ack = 1));
  th_assert_state(h, US_TCP_ESTABLISHED);
  if (!(us_sock_events(h->s, h->c->sock) & US_EV_CONNECTED))
    th_fail(h, __FILE__, __LINE__, "no US_EV_CONNECTED after the handshake");
  return t;
}

static uint32_t s_nxt(struct th *h) { return 1u + (uint32_t)h->c->s_sent; }

us_time_t th_fx_fin_wait_1(struct th *h, us_time_t t) {
  if (th_state(h) != US_TCP_ESTABLISHED)
    t = th_fx_established(h, t) + US_MSEC(10);
  th_advance(h, t);
  int r = us_tcp_close(h->s, h->c->sock, t);
  if (r != 0)
    th_fail(h, __FILE__, __LINE__, "us_tcp_close: %s", us_err_name(r));
  h->c->sock = US_SOCK_INVALID;
  th_expect(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = s_nxt(h), .ack = h->c->p_nxt));
  th_assert_state(h, US_TCP_FIN_WAIT_1);
  return t;
}

us_time_t th_fx_fin_wait_2(struct th *h, us_time_t t) {
  t = th_fx_fin_wait_1(h, t) + US_MSEC(10);
  th_inject(h, t, TSEG(.flags = TH_ACK, .seq = h->c->p_nxt, .ack = s_nxt(h) + 1));
  th_assert_state(h, US_TCP_FIN_WAIT_2);
  return t;
}

us_time_t th_fx_time_wait(struct th *h, us_time_t t) {
  t = th_fx_fin_wait_2(h, t) + US_MSEC(10);
  uint32_t p = h->c->p_nxt;
  th_inject(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = p, .ack = s_nxt(h) + 1));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = s_nxt(h) + 1, .ack = p + 1));
  th_assert_state(h, US_TCP_TIME_WAIT);
  return t;
}

us_time_t th_fx_closing(struct th *h, us_time_t t) {
  t = th_fx_fin_wait_1(h, t) + US_MSEC(10);
  uint32_t p = h->c->p_nxt;
  /* P's FIN crossed ours: it does not acknowledge our FIN. */
  th_inject(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = p, .ack = s_nxt(h)));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = s_nxt(h) + 1, .ack = p + 1));
  th_assert_state(h, US_TCP_CLOSING);
  return t;
}

us_time_t th_fx_close_wait(struct th *h, us_time_t t) {
  if (th_state(h) != US_TCP_ESTABLISHED)
    t = th_fx_established(h, t) + US_MSEC(10);
  uint32_t p = h->c->p_nxt;
  th_inject(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = p, .ack = s_nxt(h)));
  th_expect(h, t, TSEG(.flags = TH_ACK, .seq = s_nxt(h), .ack = p + 1));
  th_assert_state(h, US_TCP_CLOSE_WAIT);
  if (us_sock_valid(h->c->sock)) {
    long r = th_recv(h, t, 64);
    if (r != 0)
      th_fail(h, __FILE__, __LINE__, "recv after P's FIN returned %ld, expected 0 (EOF)", r);
  }
  return t;
}

us_time_t th_fx_last_ack(struct th *h, us_time_t t) {
  t = th_fx_close_wait(h, t) + US_MSEC(10);
  th_advance(h, t);
  int r = us_tcp_close(h->s, h->c->sock, t);
  if (r != 0)
    th_fail(h, __FILE__, __LINE__, "us_tcp_close: %s", us_err_name(r));
  h->c->sock = US_SOCK_INVALID;
  th_expect(h, t, TSEG(.flags = TH_FIN | TH_ACK, .seq = s_nxt(h), .ack = h->c->p_nxt));
  th_assert_state(h, US_TCP_LAST_ACK);
  return t;
}

/* ---- finish ---------------------------------------------------------------------- */

void th_finish_(struct th *h, const char *file, int line) {
  for (size_t i = 0; i < h->nsocks; i++) {
    if (us_tcp_abort(h->s, h->socks[i], h->now) != 0)
      us_tcp_close(h->s, h->socks[i], h->now);
  }
  h->nsocks = 0;
  h->lsock = US_SOCK_INVALID;
  for (int i = 0; i < TH_MAX_CONN; i++)
    h->conn[i].sock = US_SOCK_INVALID;
  us_time_t end = h->now + US_SEC(4 * 3600);
  int busy = 0;
  for (long i = 0; i < TH_MAX_STEPS && th_tcb_count(h) > 0; i++) {
    th_drain(h);
    us_time_t d = poll_step(h, &busy, file, line);
    if (d > end)
      break;
    if (d > h->now)
      h->now = d;
  }
  th_drain(h);
  size_t n = th_tcb_count(h);
  if (n > 0) {
    struct us_tcp_info v[16];
    size_t k = us_tcp_list(h->s, v, 16);
    for (size_t i = 0; i < k && i < 16; i++)
      print_error("  left: %s %u -> %u timer %s\n", us_tcp_state_name(v[i].state), v[i].lport,
                  v[i].rport, v[i].timer ? v[i].timer : "");
    th_fail(h, file, line, "%zu TCB(s) still exist 4 h after every socket was closed", n);
  }
  if (!us_stack_pools_full(h->s)) {
    struct us_pool_usage u;
    us_stack_pool_usage(h->s, &u);
    th_fail(h, file, line,
            "pools not full: pkt %u/%u big %u/%u tcb %u/%u udp %u/%u reass %u ooo %u", u.pkt_free,
            u.pkt_total, u.big_free, u.big_total, u.tcb_free, u.tcb_total, u.udp_free, u.udp_total,
            u.reass_active, u.ooo_bytes);
  }
}
