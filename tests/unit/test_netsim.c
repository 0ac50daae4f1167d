/*
 * test_netsim.c - two in-process stacks joined by the fault injector on a
 * virtual clock (docs/HOSTILE.md FLT-1, FLT-2).
 *
 * Stack A (10.0.0.1) connects to stack B (10.0.0.2); both send `bytes`
 * bytes at once (full duplex), then shut down their sending side, read to
 * EOF and close. Every packet A emits goes through the injector's TX
 * direction to B, every packet B emits through its RX direction to A. A
 * packet the injector lets out is queued in the receiver's inbox and fed to
 * us_stack_input by the main loop, never from inside another stack's
 * output call.
 *
 * Each case checks: every byte against the seeded content oracle as it
 * arrives (first bad offset reported), SHA-256 of what was sent equals
 * SHA-256 of what arrived, exact byte counts, EOF exactly once and nothing
 * after it, no sticky socket error, the injector's books balance, and both
 * stacks' pools back to full after the close (TIME_WAIT is shortened).
 * Then it prints a table of simulated throughput and retransmissions.
 *
 * Replay: a failure prints the seed. Environment:
 *   US_TEST_SEED=N  reseed (XORed into each case's fixed seed, as in every
 *                   unit test), NETSIM_CASE=name (one case),
 *   NETSIM_SCALE=x  multiply the transfer sizes (default 1; CI keeps the
 *                   whole sweep well under a minute).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "fault/fault.h"
#include "sha256.h"

#define NS_PORT    7000
#define NS_CHUNK   16384
#define NS_INBOX   4096
#define NS_PKT_MAX 2048
#define NS_KB      1024u
#define NS_MB      (1024u * 1024u)
#define NS_SEED    0x5eed0000u /* + the case index */

/* ---- The sweep ---------------------------------------------------------- */

#define NS_MAXC 8

struct ns_case {
  const char *name;
  const char *spec;      /* the base delay is added in front */
  uint32_t bytes;        /* each way, per connection */
  uint32_t buf;          /* tcp_sndbuf = tcp_rcvbuf */
  uint32_t conns;        /* concurrent connections (0 = 1) */
  const uint32_t *sizes; /* per-connection sizes (conns entries), or NULL */
};

/* Transfer sizes around the edges (docs/HOSTILE.md FLT-1): nothing, one byte,
 * MSS-1, MSS, MSS+1 (MSS 1460 at MTU 1500), a window and one more. */
static const uint32_t edge_sizes[NS_MAXC] = { 0, 1, 1459, 1460, 1461, 65535, 65536, 65537 };

/* 5 ms each way = 10 ms RTT under everything. */
#define NS_BASE "both:delay=5ms;"

static const struct ns_case cases[] = {
  { "clean", "", 4 * NS_MB, 64 * NS_KB },
  { "clean-16k", "", 1 * NS_MB, 16 * NS_KB },
  { "clean-256k", "", 4 * NS_MB, 256 * NS_KB },
  { "loss-1%", "both:loss=1%", 2 * NS_MB, 64 * NS_KB },
  { "loss-5%", "both:loss=5%", 2 * NS_MB, 64 * NS_KB },
  { "loss-5%-16k", "both:loss=5%", 512 * NS_KB, 16 * NS_KB },
  { "loss-5%-256k", "both:loss=5%", 2 * NS_MB, 256 * NS_KB },
  { "loss-10%", "both:loss=10%", 1 * NS_MB, 64 * NS_KB },
  { "loss-20%", "both:loss=20%", 256 * NS_KB, 64 * NS_KB },
  { "loss-30%", "both:loss=30%", 128 * NS_KB, 64 * NS_KB },
  { "loss-30%-tx", "tx:loss=30%", 256 * NS_KB, 64 * NS_KB },
  { "loss-5%-burst3", "both:loss=5%,burst=3", 1 * NS_MB, 64 * NS_KB },
  { "reorder-5%", "both:reorder=5%,gap=3", 2 * NS_MB, 64 * NS_KB },
  { "reorder-20%", "both:reorder=20%,gap=1", 2 * NS_MB, 256 * NS_KB },
  { "reorder-hold", "both:reorder=2%,hold=30ms", 1 * NS_MB, 64 * NS_KB },
  { "dup-5%", "both:dup=5%", 2 * NS_MB, 64 * NS_KB },
  { "dup-20%-x2", "both:dup=20%,copies=2", 1 * NS_MB, 16 * NS_KB },
  { "corrupt-2%", "both:corrupt=2%,bits=1", 2 * NS_MB, 64 * NS_KB },
  { "truncate-1%", "both:truncate=1%", 1 * NS_MB, 64 * NS_KB },
  { "jitter", "both:delay=10ms,jitter=8ms", 2 * NS_MB, 64 * NS_KB },
  { "rate-20mbit", "both:rate=20mbit,qlen=30", 2 * NS_MB, 256 * NS_KB },
  { "mix", "both:loss=2%;both:reorder=2%,gap=2;both:dup=2%;both:corrupt=1%", 1 * NS_MB,
    64 * NS_KB },
  { "synack-lost",
    "rx:match=tcp.synack,count=2,action=drop;tx:match=tcp.syn,count=1,"
    "action=drop",
    256 * NS_KB, 64 * NS_KB },
  /* The rate limit keeps the transfer going when the blackhole starts. */
  { "blackhole-3s", "both:rate=20mbit,qlen=100;both:blackhole=100ms-3100ms", 1 * NS_MB,
    64 * NS_KB },
  { "conns-4-loss-2%", "both:loss=2%", 512 * NS_KB, 64 * NS_KB, 4, NULL },
  { "edge-sizes", "", 0, 16 * NS_KB, NS_MAXC, edge_sizes },
  { "edge-sizes-loss", "both:loss=5%;both:reorder=3%", 0, 16 * NS_KB, NS_MAXC, edge_sizes },
};
#define NCASES (sizeof cases / sizeof cases[0])

struct ns_result {
  bool ran, ok;
  uint64_t seed;
  double secs;      /* simulated transfer time */
  uint64_t bytes;   /* moved, both directions, all connections */
  double mbps;      /* both directions, MB/s */
  uint64_t retrans; /* A + B */
  uint64_t harmed;  /* dropped, corrupted or truncated by the injector */
  uint64_t delivered;
};
static struct ns_result results[NCASES];

/* ---- Inboxes: packets in flight to a stack ------------------------------ */

struct inbox {
  uint8_t *mem;
  uint32_t len[NS_INBOX];
  size_t head, count;
  uint64_t overflow;
};

static void inbox_push(struct inbox *q, const uint8_t *p, size_t len) {
  if (q->count == NS_INBOX || len > NS_PKT_MAX) {
    q->overflow++; /* reported as a failure: the sim must not lose packets */
    return;
  }
  size_t i = (q->head + q->count) % NS_INBOX;
  memcpy(q->mem + i * NS_PKT_MAX, p, len);
  q->len[i] = (uint32_t)len;
  q->count++;
}

static size_t inbox_pop(struct inbox *q, uint8_t *out) {
  size_t i = q->head;
  size_t len = q->len[i];
  memcpy(out, q->mem + i * NS_PKT_MAX, len);
  q->head = (q->head + 1) % NS_INBOX;
  q->count--;
  return len;
}

/* ---- One endpoint's application ----------------------------------------- */

struct ep {
  struct h_bulk b; /* the application: a bulk transfer each way */
  struct us_sha256 sha_tx, sha_rx;
};

/* The last packets each stack emitted, for the failure report. */
#define NS_TRACE 24
struct pkt_note {
  us_time_t t;
  uint32_t seq, ack, len;
  uint16_t win;
  uint8_t flags;
};

struct ns {
  struct pkt_note notes[2][NS_TRACE];
  uint64_t nnotes[2];
  us_stack *a, *b;
  struct h_rand ra, rb;
  struct us_fault *f;
  us_time_t now;
  struct inbox in_a, in_b;
  struct ep ea[NS_MAXC], eb[NS_MAXC];
  uint16_t aport[NS_MAXC]; /* A's local port of each connection */
  uint32_t nconn;
  us_sock_t listener;
};

static void to_a(void *ctx, const uint8_t *p, size_t len) {
  inbox_push(&((struct ns *)ctx)->in_a, p, len);
}
static void to_b(void *ctx, const uint8_t *p, size_t len) {
  inbox_push(&((struct ns *)ctx)->in_b, p, len);
}

/* Remember a summary of a TCP segment a stack emitted (before the injector). */
static void note_pkt(struct ns *n, int dir, const uint8_t *p, size_t len) {
  if (len < 40 || p[9] != 6)
    return;
  size_t ihl = (size_t)(p[0] & 15) * 4;
  if (ihl < 20 || len < ihl + 20)
    return;
  const uint8_t *t = p + ihl;
  size_t doff = (size_t)(t[12] >> 4) * 4;
  size_t tot = (size_t)(p[2] << 8 | p[3]);
  if (tot > len)
    tot = len;
  struct pkt_note *pn = &n->notes[dir][n->nnotes[dir]++ % NS_TRACE];
  pn->t = n->now;
  pn->seq = h_rd32(t + 4);
  pn->ack = h_rd32(t + 8);
  pn->flags = t[13];
  pn->win = (uint16_t)(t[14] << 8 | t[15]);
  pn->len = tot >= ihl + doff ? (uint32_t)(tot - ihl - doff) : 0;
}

static void dev_tx_a(void *ctx, const uint8_t *p, size_t len) {
  struct ns *n = ctx;
  note_pkt(n, 0, p, len);
  us_fault_process(n->f, US_FAULT_TX, p, len, n->now, to_b, n);
}
static void dev_tx_b(void *ctx, const uint8_t *p, size_t len) {
  struct ns *n = ctx;
  note_pkt(n, 1, p, len);
  us_fault_process(n->f, US_FAULT_RX, p, len, n->now, to_a, n);
}

/* Both directions' bytes go into SHA-256 as well as past the oracle. */
static void ep_hash(struct h_bulk *b, bool tx, const uint8_t *p, size_t len) {
  struct ep *e = b->ctx;
  us_sha256_update(tx ? &e->sha_tx : &e->sha_rx, p, len);
}

/* ---- The simulation loop ------------------------------------------------ */

static uint32_t g_buf; /* for the config tweak */

static void ns_config(struct us_config *c, us_ip4_t addr, const char *name) {
  us_config_default(c);
  c->addr = addr;
  h_log_config(c, name);
  c->tcp_sndbuf = g_buf;
  c->tcp_rcvbuf = g_buf;
  c->tcp_msl = US_MSEC(500); /* TIME_WAIT 1 s: the test waits it out */
  c->tcp_r2 = 30;            /* 30 % loss each way must not abort */
  c->tcp_syn_retries = 12;
}

static void ns_init(struct ns *n, const struct ns_case *c, uint64_t seed) {
  memset(n, 0, sizeof *n);
  n->in_a.mem = malloc((size_t)NS_INBOX * NS_PKT_MAX);
  n->in_b.mem = malloc((size_t)NS_INBOX * NS_PKT_MAX);
  assert_non_null(n->in_a.mem);
  assert_non_null(n->in_b.mem);
  char spec[512], err[256] = "";
  snprintf(spec, sizeof spec, "%s%s", NS_BASE, c->spec);
  n->f = us_fault_create(spec, seed, err, sizeof err);
  if (!n->f)
    fail_msg("netsim %s: spec rejected: %s", c->name, err);
  g_buf = c->buf;
  struct us_config ca, cb;
  ns_config(&ca, US_IP4(10, 0, 0, 1), "A");
  ns_config(&cb, US_IP4(10, 0, 0, 2), "B");
  ca.rand = h_rand_source(&n->ra, seed);
  cb.rand = h_rand_source(&n->rb, seed ^ 0x9e3779b97f4a7c15ull);
  struct us_device da = { dev_tx_a, n }, db = { dev_tx_b, n };
  n->a = us_stack_create(&ca, &da);
  n->b = us_stack_create(&cb, &db);
  assert_non_null(n->a);
  assert_non_null(n->b);
  n->now = US_SEC(1);

  n->nconn = c->conns ? c->conns : 1;
  for (uint32_t i = 0; i < n->nconn; i++) {
    struct ep *ea = &n->ea[i], *eb = &n->eb[i];
    uint64_t total = c->sizes ? c->sizes[i] : c->bytes;
    h_bulk_init(&ea->b, n->a, US_SOCK_INVALID, total, seed * 64 + 2 * i + 1, seed * 64 + 2 * i + 2);
    h_bulk_init(&eb->b, n->b, US_SOCK_INVALID, total, seed * 64 + 2 * i + 2, seed * 64 + 2 * i + 1);
    ea->b.chunk = eb->b.chunk = NS_CHUNK;
    ea->b.sndbuf = eb->b.sndbuf = c->buf;
    ea->b.on_data = eb->b.on_data = ep_hash;
    ea->b.ctx = ea;
    eb->b.ctx = eb;
    us_sha256_init(&ea->sha_tx);
    us_sha256_init(&ea->sha_rx);
    us_sha256_init(&eb->sha_tx);
    us_sha256_init(&eb->sha_rx);
  }
}

static void ns_fini(struct ns *n) {
  if (n->a)
    us_stack_destroy(n->a);
  if (n->b)
    us_stack_destroy(n->b);
  us_fault_destroy(n->f);
  free(n->in_a.mem);
  free(n->in_b.mem);
}

/* Deliver what is in the inboxes, pump the apps, poll everything; repeat at
 * the same instant while packets keep flowing, then jump to the next
 * deadline. Returns false when nothing will ever happen again. */
static bool ns_step(struct ns *n, bool pump) {
  uint8_t pkt[NS_PKT_MAX];
  for (int rounds = 0; rounds < 100000; rounds++) {
    while (n->in_a.count || n->in_b.count) {
      if (n->in_b.count) {
        size_t len = inbox_pop(&n->in_b, pkt);
        us_stack_input(n->b, pkt, len, n->now);
      }
      if (n->in_a.count) {
        size_t len = inbox_pop(&n->in_a, pkt);
        us_stack_input(n->a, pkt, len, n->now);
      }
    }
    if (pump) {
      /* Accept, and pair each connection with its A side by A's port. */
      us_sock_t s;
      us_endpoint_t peer = { 0 };
      while (us_tcp_accept(n->b, n->listener, &s, &peer) == 0) {
        uint16_t pport = peer.port;
        uint32_t i = 0;
        while (i < n->nconn && n->aport[i] != pport)
          i++;
        if (i == n->nconn || us_sock_valid(n->eb[i].b.sock))
          fail_msg("netsim: accepted a connection from unknown port %u", pport);
        n->eb[i].b.sock = s;
        n->eb[i].b.connected = true;
      }
      for (uint32_t i = 0; i < n->nconn; i++) {
        h_bulk_pump(&n->ea[i].b, n->now);
        h_bulk_pump(&n->eb[i].b, n->now);
      }
    }
    struct us_event evs[16];
    while (us_stack_events(n->a, evs, 16) == 16) {
    }
    while (us_stack_events(n->b, evs, 16) == 16) {
    }
    us_time_t ta = us_stack_poll(n->a, n->now);
    us_time_t tb = us_stack_poll(n->b, n->now);
    us_time_t tf = us_fault_poll(n->f, n->now);
    if (n->in_a.count || n->in_b.count)
      continue;
    us_time_t next = ta < tb ? ta : tb;
    if (tf < next)
      next = tf;
    if (next == US_TIME_NEVER)
      return false;
    n->now = next > n->now ? next : n->now + 1;
    return true;
  }
  fail_msg("netsim: no progress at t=%" PRId64 " after 100000 rounds", n->now);
  return false;
}

/* The case being run, so the teardown frees it when an assertion jumps out. */
static struct ns *g_cur;

static void ns_dump(struct ns *n) {
  static const char *const who[2] = { "A", "B" };
  us_stack *st[2] = { n->a, n->b };
  for (int k = 0; k < 2; k++) {
    struct us_tcp_info ti[8];
    size_t cnt = us_tcp_list(st[k], ti, 8);
    for (size_t i = 0; i < cnt; i++) {
      fprintf(stderr,
              "  %s: %s %u->%u snd_una=%u snd_nxt=%u snd_wnd=%u rcv_nxt=%u rcv_wnd=%u "
              "rto=%lldus backoff=%u retrans=%u cwnd=%u ssthresh=%u timer=%s@%lld "
              "rcvq=%u sndq=%u err=%s\n",
              who[k], us_tcp_state_name(ti[i].state), ti[i].lport, ti[i].rport, ti[i].snd_una,
              ti[i].snd_nxt, ti[i].snd_wnd, ti[i].rcv_nxt, ti[i].rcv_wnd, (long long)ti[i].rto,
              ti[i].backoff, ti[i].retransmits, ti[i].cwnd, ti[i].ssthresh,
              ti[i].timer ? ti[i].timer : "", (long long)ti[i].timer_at, ti[i].rcv_queued,
              ti[i].snd_queued,
              us_sock_valid(ti[i].sock) ? us_err_name(us_sock_error(st[k], ti[i].sock)) : "-");
    }
  }
  for (int k = 0; k < 2; k++) {
    fprintf(stderr, "  %s counters:", who[k]);
    for (int i = 0; i < US_STAT_COUNT; i++) {
      uint64_t v = us_stack_stat(st[k], (enum us_stat)i);
      if (v)
        fprintf(stderr, " %s=%" PRIu64, us_stat_name((enum us_stat)i), v);
    }
    fprintf(stderr, "\n");
  }
  for (int k = 0; k < 2; k++) {
    uint64_t first = n->nnotes[k] > NS_TRACE ? n->nnotes[k] - NS_TRACE : 0;
    fprintf(stderr, "  last segments sent by %s (before the injector):\n", who[k]);
    for (uint64_t i = first; i < n->nnotes[k]; i++) {
      const struct pkt_note *pn = &n->notes[k][i % NS_TRACE];
      char fl[H_TCP_FLAGS_LEN];
      fprintf(stderr, "    t=%.6f seq=%u ack=%u len=%u win=%u flags=%s\n", (double)pn->t / 1e6,
              pn->seq, pn->ack, pn->len, pn->win, h_tcp_flags(pn->flags, fl));
    }
  }
  char buf[1024];
  us_fault_format(n->f, buf, sizeof buf);
  fprintf(stderr, "  %s", buf);
}

static void ns_failf(const struct ns_case *c, uint64_t seed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ns_failf(const struct ns_case *c, uint64_t seed, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (g_cur) {
    fprintf(stderr, "netsim %s at t=%" PRId64 "us:\n", c->name, g_cur->now);
    ns_dump(g_cur);
  }
  fail_msg(
      "netsim case '%s' (spec '%s%s', buf %u, %u bytes each way per connection): %s\n"
      "  case seed %" PRIu64 "; replay: NETSIM_CASE=%s US_TEST_SEED=%#" PRIx64 " ./test_netsim",
      c->name, NS_BASE, c->spec, c->buf, c->bytes, msg, seed, c->name, h_seed_env());
}

static void run_case(const struct ns_case *c0, size_t idx) {
  struct ns_case c = *c0;
  double scale = getenv("NETSIM_SCALE") ? atof(getenv("NETSIM_SCALE")) : 1.0;
  if (scale > 0 && scale != 1.0)
    c.bytes = (uint32_t)(c.bytes * scale);
  uint64_t seed = h_seed(NS_SEED + idx);
  struct ns *n = calloc(1, sizeof *n);
  assert_non_null(n);
  g_cur = n;
  ns_init(n, &c, seed);

  int rc = us_tcp_socket(n->b, &n->listener);
  if (rc == 0)
    rc = us_tcp_bind(n->b, n->listener, NS_PORT);
  if (rc == 0)
    rc = us_tcp_listen(n->b, n->listener, 2 * NS_MAXC);
  if (rc != 0)
    ns_failf(&c, seed, "listen: %s", us_strerror(rc));
  for (uint32_t i = 0; i < n->nconn; i++) {
    rc = us_tcp_socket(n->a, &n->ea[i].b.sock);
    if (rc != 0)
      ns_failf(&c, seed, "socket: %s", us_strerror(rc));
    rc = us_tcp_connect(n->a, n->ea[i].b.sock,
                        us_endpoint(us_addr_v4(US_IP4(10, 0, 0, 2)), NS_PORT), n->now);
    if (rc != 0 && rc != US_ERR_INPROGRESS)
      ns_failf(&c, seed, "connect: %s", us_strerror(rc));
    us_endpoint_t local = { 0 };
    rc = us_tcp_addrs(n->a, n->ea[i].b.sock, &local, NULL);
    n->aport[i] = local.port;
    if (rc != 0)
      ns_failf(&c, seed, "addrs: %s", us_strerror(rc));
  }

  const us_time_t t0 = n->now;
  const us_time_t limit = t0 + US_SEC(3600); /* simulated */
  for (;;) {
    bool done = true;
    for (uint32_t i = 0; i < n->nconn; i++) {
      const struct ep *ea = &n->ea[i], *eb = &n->eb[i];
      done = done && h_bulk_done(&ea->b, eb->b.total) && h_bulk_done(&eb->b, ea->b.total);
      if (ea->b.err || eb->b.err)
        ns_failf(&c, seed,
                 "conn %u: socket error A=%s B=%s at t=%.3fs (A sent %" PRIu64 " rcvd %" PRIu64
                 ", B sent %" PRIu64 " rcvd %" PRIu64 ")",
                 i, us_err_name(ea->b.err), us_err_name(eb->b.err), (double)(n->now - t0) / 1e6,
                 ea->b.sent, ea->b.rcvd, eb->b.sent, eb->b.rcvd);
      if (ea->b.bad_at >= 0 || eb->b.bad_at >= 0)
        ns_failf(&c, seed, "conn %u: corrupt byte delivered: A at offset %lld, B at offset %lld", i,
                 ea->b.bad_at, eb->b.bad_at);
      if (ea->b.after_eof || eb->b.after_eof)
        ns_failf(&c, seed, "conn %u: bytes after EOF: A %" PRIu64 ", B %" PRIu64, i,
                 ea->b.after_eof, eb->b.after_eof);
    }
    if (done)
      break;
    if (n->now > limit || !ns_step(n, true)) {
      char what[1024];
      size_t off = 0;
      for (uint32_t i = 0; i < n->nconn && off < sizeof what; i++) {
        const struct ep *ea = &n->ea[i], *eb = &n->eb[i];
        int w =
            snprintf(what + off, sizeof what - off,
                     "%sconn %u: A sent %" PRIu64 " rcvd %" PRIu64 " eof %d err %s, B sent %" PRIu64
                     " rcvd %" PRIu64 " eof %d err %s",
                     i ? "; " : "", i, ea->b.sent, ea->b.rcvd, ea->b.eof, us_err_name(ea->b.err),
                     eb->b.sent, eb->b.rcvd, eb->b.eof, us_err_name(eb->b.err));
        if (w < 0)
          break;
        off += (size_t)w;
      }
      ns_failf(&c, seed, "stalled (%s) at t=%.3fs: %s",
               n->now > limit ? "time limit" : "nothing pending", (double)(n->now - t0) / 1e6,
               what);
    }
  }
  const us_time_t t_done = n->now;

  /* Every byte, in order, identical, EOF exactly once. */
  for (uint32_t i = 0; i < n->nconn; i++) {
    struct ep *ea = &n->ea[i], *eb = &n->eb[i];
    uint8_t d1[32], d2[32], d3[32], d4[32];
    char x1[65], x2[65];
    us_sha256_final(&ea->sha_tx, d1);
    us_sha256_final(&eb->sha_rx, d2);
    us_sha256_final(&eb->sha_tx, d3);
    us_sha256_final(&ea->sha_rx, d4);
    if (memcmp(d1, d2, 32) != 0) {
      us_sha256_hex(d1, x1);
      us_sha256_hex(d2, x2);
      ns_failf(&c, seed, "conn %u: A->B SHA-256 differs: sent %s, received %s", i, x1, x2);
    }
    if (memcmp(d3, d4, 32) != 0) {
      us_sha256_hex(d3, x1);
      us_sha256_hex(d4, x2);
      ns_failf(&c, seed, "conn %u: B->A SHA-256 differs: sent %s, received %s", i, x1, x2);
    }
    if (ea->b.rcvd != ea->b.total || eb->b.rcvd != eb->b.total || ea->b.eofs != 1 ||
        eb->b.eofs != 1)
      ns_failf(&c, seed,
               "conn %u: counts: A rcvd %" PRIu64 " (eof %d), B rcvd %" PRIu64
               " (eof %d), want %" PRIu64,
               i, ea->b.rcvd, ea->b.eofs, eb->b.rcvd, eb->b.eofs, ea->b.total);
  }

  /* Close both and let TIME_WAIT and every retransmission run out. */
  for (uint32_t i = 0; i < n->nconn; i++) {
    us_tcp_close(n->a, n->ea[i].b.sock, n->now);
    us_tcp_close(n->b, n->eb[i].b.sock, n->now);
    n->ea[i].b.closed = n->eb[i].b.closed = true;
  }
  us_tcp_close(n->b, n->listener, n->now);
  const us_time_t close_limit = n->now + US_SEC(1800);
  while (!(us_stack_pools_full(n->a) && us_stack_pools_full(n->b) && us_fault_held(n->f) == 0)) {
    if (n->now > close_limit || !ns_step(n, false))
      break;
  }
  if (n->in_a.overflow || n->in_b.overflow)
    ns_failf(&c, seed, "simulator inbox overflow (%" PRIu64 ", %" PRIu64 ")", n->in_a.overflow,
             n->in_b.overflow);
  if (!us_stack_pools_full(n->a) || !us_stack_pools_full(n->b)) {
    fprintf(stderr, "netsim %s: pools not full after close (seed %" PRIu64 ")\n", c.name, seed);
    if (!us_stack_pools_full(n->a))
      h_assert_pools_full(n->a);
    h_assert_pools_full(n->b);
    ns_failf(&c, seed, "pools not back to full");
  }
  /* The injector's books: every packet offered (plus copies) was either
   * delivered or dropped, nothing is still held. */
  uint64_t fdropped = 0, fdelivered = 0, acted = 0;
  for (int d = 0; d < US_FAULT_NDIRS; d++) {
    struct us_fault_counters fc;
    us_fault_counters(n->f, (enum us_fault_dir)d, &fc);
    if (fc.seen + fc.duplicated != fc.delivered + fc.dropped)
      ns_failf(&c, seed,
               "injector books (dir %d): seen %" PRIu64 " + dup %" PRIu64 " != delivered %" PRIu64
               " + dropped %" PRIu64,
               d, fc.seen, fc.duplicated, fc.delivered, fc.dropped);
    fdropped += fc.dropped + fc.corrupted + fc.truncated;
    acted += fc.dropped + fc.duplicated + fc.reordered + fc.corrupted + fc.truncated +
             fc.rate_queued + fc.rule_hits;
    fdelivered += fc.delivered;
  }
  if (us_fault_held(n->f) != 0)
    ns_failf(&c, seed, "injector still holds packets");
  /* A case whose impairment never fired proves nothing (jitter only
   * moves release times, which test_fault_timing checks). */
  if (c.spec[0] && !strstr(c.spec, "jitter") && acted == 0)
    ns_failf(&c, seed, "the impairment never acted: the case tests nothing");

  struct ns_result *r = &results[idx];
  r->ran = r->ok = true;
  r->seed = seed;
  r->secs = (double)(t_done - t0) / 1e6;
  r->bytes = 0;
  for (uint32_t i = 0; i < n->nconn; i++)
    r->bytes += n->ea[i].b.total + n->eb[i].b.total;
  r->mbps = r->secs > 0 ? (double)r->bytes / r->secs / 1e6 : 0;
  us_stack *both[2] = { n->a, n->b };
  r->retrans = 0;
  for (int k = 0; k < 2; k++)
    r->retrans += us_stack_stat(both[k], US_STAT_tcp_retrans_segs) +
                  us_stack_stat(both[k], US_STAT_tcp_syn_retrans) +
                  us_stack_stat(both[k], US_STAT_tcp_synack_retrans);
  r->harmed = fdropped;
  r->delivered = fdelivered;
  ns_fini(n);
  free(n);
  g_cur = NULL;
}

static int case_teardown(void **state) {
  (void)state;
  if (g_cur) {
    ns_fini(g_cur);
    free(g_cur);
    g_cur = NULL;
  }
  return 0;
}

/* ---- cmocka glue -------------------------------------------------------- */

static void test_case(void **state) {
  const struct ns_case *c = *state;
  size_t idx = (size_t)(c - cases);
  const char *only = getenv("NETSIM_CASE");
  if (only && *only && strcmp(only, c->name) != 0) {
    /* Deselected by the user: not counted as a pass. */
    skip();
  }
  run_case(c, idx);
}

/* The hash the sweep trusts must itself be right (FIPS 180-4 examples). */
static void test_sha256_vectors(void **state) {
  (void)state;
  static const struct {
    const char *in, *hex;
  } v[] = {
    { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    struct us_sha256 c;
    uint8_t d[32];
    char hex[65];
    us_sha256_init(&c);
    /* Fed one byte at a time to cross the block boundary the hard way. */
    for (size_t k = 0; v[i].in[k]; k++)
      us_sha256_update(&c, &v[i].in[k], 1);
    us_sha256_final(&c, d);
    us_sha256_hex(d, hex);
    assert_string_equal(hex, v[i].hex);
  }
  struct us_sha256 c;
  uint8_t d[32];
  char hex[65];
  uint8_t a[1000];
  memset(a, 'a', sizeof a);
  us_sha256_init(&c);
  for (int i = 0; i < 1000; i++)
    us_sha256_update(&c, a, sizeof a);
  us_sha256_final(&c, d);
  us_sha256_hex(d, hex);
  assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Goodput of the loss cases before RACK-TLP, SACK-based recovery and CUBIC
 * (commit 285648a: NewReno, go-back-N after a timeout, no tail-loss probe),
 * measured with the default seed base and scale: printed beside today's
 * figures as a reference, never asserted. */
static const struct {
  const char *name;
  double mbps;
} before_285648a[] = {
  { "loss-1%", 2.741 },
  { "loss-5%", 0.480 },
  { "loss-5%-256k", 0.488 },
  { "loss-10%", 0.145 },
};

static void print_before_after(void) {
  if (h_seed_env() || getenv("NETSIM_SCALE"))
    return; /* the reference holds for the default seed and sizes only */
  printf("\n%-16s %14s %14s %8s\n", "case", "285648a MB/s", "now MB/s", "now/then");
  for (size_t k = 0; k < sizeof before_285648a / sizeof before_285648a[0]; k++)
    for (size_t i = 0; i < NCASES; i++)
      if (results[i].ran && strcmp(cases[i].name, before_285648a[k].name) == 0)
        printf("%-16s %14.3f %14.3f %8.2f\n", cases[i].name, before_285648a[k].mbps,
               results[i].mbps, results[i].mbps / before_285648a[k].mbps);
}

static void test_print_table(void **state) {
  (void)state;
  size_t ran = 0;
  printf("\n%-16s %-44s %6s %5s %9s %8s %9s %8s %8s\n", "case", "impairment", "buf", "conns",
         "bytes", "sim s", "MB/s", "retrans", "harmed");
  for (size_t i = 0; i < NCASES; i++) {
    const struct ns_result *r = &results[i];
    if (!r->ran)
      continue;
    ran++;
    char imp[64];
    snprintf(imp, sizeof imp, "%s", cases[i].spec[0] ? cases[i].spec : "(delay 5ms each way)");
    printf("%-16s %-44.44s %5uk %5u %9" PRIu64 " %8.3f %9.3f %8" PRIu64 " %8" PRIu64 "\n",
           cases[i].name, imp, cases[i].buf / 1024, cases[i].conns ? cases[i].conns : 1, r->bytes,
           r->secs, r->mbps, r->retrans, r->harmed);
  }
  printf(
      "(bytes and MB/s: both directions and all connections together, simulated time; retrans: data, SYN and SYN-ACK\n"
      " retransmissions of both stacks; harmed: packets the injector dropped, corrupted or\n"
      " truncated. Case seeds %#x + case index, XOR US_TEST_SEED=%#" PRIx64
      "; replay a case with\n"
      " NETSIM_CASE=name US_TEST_SEED=...)\n",
      NS_SEED, h_seed_env());
  print_before_after();
  /* The table itself is the output; at least one case must have run. */
  assert_true(ran > 0);
}

int main(void) {
  struct CMUnitTest tests[NCASES + 2];
  tests[0] = (struct CMUnitTest)cmocka_unit_test(test_sha256_vectors);
  for (size_t i = 0; i < NCASES; i++) {
    tests[i + 1] =
        (struct CMUnitTest){ cases[i].name, test_case, NULL, case_teardown, (void *)&cases[i] };
  }
  tests[NCASES + 1] = (struct CMUnitTest)cmocka_unit_test(test_print_table);
  return h_run_report("netsim", _cmocka_run_group_tests("netsim", tests, NCASES + 2, NULL, NULL));
}
