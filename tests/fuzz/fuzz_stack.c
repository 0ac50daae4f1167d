/*
 * fuzz_stack.c - libFuzzer target: the whole stack fed a sequence of
 * packets with time deltas (record format in fuzz_common.h).
 *
 * Every input starts from the same state, made by really exchanging
 * packets: S (10.0.0.2) with a UDP echo socket on port 7, a TCP listener on
 * port 80, one connection from P (10.0.0.1:40000) that completed its
 * handshake (MSS, window scale 7, SACK permitted) and was accepted, and
 * one active open of S towards 10.0.0.1:5000 left in SYN-SENT. Then each record moves the virtual clock,
 * is handed to us_stack_input, and an "application" reacts to every event:
 * accepts, reads everything, writes a little, echoes UDP, closes on EOF or
 * error.
 *
 * Oracles (abort() = a finding):
 *  - ASan/UBSan, of course;
 *  - every datagram S emits is well formed (IPv4 header and transport
 *    checksums right, our source address) and never goes to a broadcast,
 *    multicast or martian destination (RFC 1122 3.2.2, MUST-57/63); the
 *    same over IPv6 (S is also fd00::2), where no error may go to a
 *    multicast or martian address either (RFC 4443 2.4 (e));
 *  - the clock never spins: poll never keeps returning a deadline that is
 *    already past;
 *  - no illegal TCP state transition was counted (in this NDEBUG build
 *    the stack survives one, so the counter is the oracle);
 *  - after the application aborts every socket and the virtual clock runs
 *    on (timers, TIME-WAIT, reassembly timeouts), every pool is full:
 *    a leak of a packet buffer, TCB, socket or reassembly context is found
 *    like a crash.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "ustack/ustack.h"

#define S_ADDR      0x0a000002u
#define P_ADDR      0x0a000001u
#define P_PORT      40000
#define S_PORT      80
#define P_ISN       0x10000000u
#define MAX_SOCKS   16
#define DRAIN_STEPS 200000

#define FAIL(...)                                \
  do {                                           \
    fprintf(stderr, "fuzz_stack: " __VA_ARGS__); \
    fprintf(stderr, "\n");                       \
    abort();                                     \
  } while (0)

struct fz {
  us_stack *s;
  us_time_t now;
  uint64_t rng;
  /* The last TCP segment S emitted (to learn its ISN in the set-up). */
  uint8_t last_tcp[128];
  size_t last_tcp_len;
  uint64_t emitted;
  us_sock_t udp, listener, active;
  us_sock_t conns[MAX_SOCKS];
  uint32_t sent[MAX_SOCKS];
  size_t nconns;
  uint32_t s_iss, a_iss;
  uint16_t a_port;
  bool checking; /* validate S's output (off only while building state) */
};

static uint8_t appbuf[8192];

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static void rand_fill(void *ctx, void *buf, size_t len) {
  uint8_t *p = buf;
  while (len) {
    uint64_t v = splitmix(ctx);
    size_t n = len < 8 ? len : 8;
    memcpy(p, &v, n);
    p += n;
    len -= n;
  }
}

static bool bad_dst(uint32_t d) {
  uint8_t top = (uint8_t)(d >> 24);
  return d == 0xffffffffu || d == 0x0a0000ffu || top == 0 || top == 127 || top >= 224 ||
         d == S_ADDR;
}

/* S's IPv6 address, fd00::2, and its peer's, fd00::1. */
static const uint8_t S_ADDR6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

/* What S emits over IPv6: the fixed header, from S, never to a multicast,
 * unspecified, loopback, v4-mapped or S's own address (RFC 4443 2.4 (e)),
 * and the ICMPv6/UDP/TCP checksum right when no extension header is in
 * front (S adds none but the fragment header). */
static void check_output6(const uint8_t *b, size_t len) {
  static const uint8_t zero[16];
  if (len < 40 || fz_get16(b + 4) != len - 40)
    FAIL("S emitted a bad IPv6 length (%zu bytes)", len);
  if (memcmp(b + 8, S_ADDR6, 16) != 0)
    FAIL("S emitted from another IPv6 address");
  const uint8_t *d = b + 24;
  bool mapped = memcmp(d, zero, 10) == 0 && d[10] == 0xff && d[11] == 0xff;
  bool loop = memcmp(d, zero, 15) == 0 && d[15] <= 1;
  if (d[0] == 0xff || mapped || loop || memcmp(d, S_ADDR6, 16) == 0)
    FAIL("S emitted to a multicast/unspecified/martian IPv6 address (next header %u)", b[6]);
  if (b[7] == 0)
    FAIL("S emitted hop limit 0");
  const uint8_t *t = b + 40;
  size_t tl = len - 40;
  switch (b[6]) {
  case 44:
    return; /* a fragment: its checksum spans the datagram */
  case 58:
  case 6:
  case 17:
    if ((b[6] == 58 && tl < 8) || (b[6] == 17 && (tl < 8 || fz_get16(t + 4) != tl)) ||
        (b[6] == 6 && (tl < 20 || (size_t)(t[12] >> 4) * 4 < 20 || (size_t)(t[12] >> 4) * 4 > tl)))
      FAIL("S emitted a malformed header over IPv6 (next header %u, %zu bytes)", b[6], tl);
    if (fz_fold(fz_sum(fz_pseudo6(b, b[6], (uint32_t)tl), t, tl)) != 0)
      FAIL("S emitted a bad checksum over IPv6 (next header %u)", b[6]);
    return;
  default:
    FAIL("S emitted IPv6 next header %u", b[6]);
  }
}

/* Our own check of what S emits (independent of stack/wire). */
static void check_output(const uint8_t *b, size_t len) {
  if (len >= 1 && (b[0] >> 4) == 6) {
    check_output6(b, len);
    return;
  }
  if (len < 20 || (b[0] >> 4) != 4)
    FAIL("S emitted a non-IPv4 datagram of %zu bytes", len);
  size_t ihl = (size_t)(b[0] & 15) * 4;
  size_t tot = fz_get16(b + 2);
  if (ihl < 20 || ihl > len || tot != len)
    FAIL("S emitted bad lengths ihl=%zu total=%zu len=%zu", ihl, tot, len);
  if (fz_fold(fz_sum(0, b, ihl)) != 0)
    FAIL("S emitted a bad IPv4 header checksum");
  uint32_t src = fz_get32(b + 12), dst = fz_get32(b + 16);
  if (src != S_ADDR)
    FAIL("S emitted from %08x", src);
  if (bad_dst(dst))
    FAIL("S emitted to a broadcast/multicast/martian address %08x (proto %u)", dst, b[9]);
  if ((fz_get16(b + 6) & 0x3fff) != 0)
    return; /* a fragment: its transport checksum spans the datagram */
  const uint8_t *t = b + ihl;
  size_t tl = tot - ihl;
  switch (b[9]) {
  case 6:
    if (tl < 20 || (size_t)(t[12] >> 4) * 4 < 20 || (size_t)(t[12] >> 4) * 4 > tl)
      FAIL("S emitted a malformed TCP header (%zu bytes)", tl);
    if (fz_fold(fz_sum(fz_pseudo(src, dst, 6, (uint32_t)tl), t, tl)) != 0)
      FAIL("S emitted a bad TCP checksum");
    break;
  case 17:
    if (tl < 8 || fz_get16(t + 4) != tl)
      FAIL("S emitted a malformed UDP datagram");
    if (fz_get16(t + 6) != 0 && fz_fold(fz_sum(fz_pseudo(src, dst, 17, (uint32_t)tl), t, tl)) != 0)
      FAIL("S emitted a bad UDP checksum");
    break;
  case 1:
    if (tl < 8 || fz_fold(fz_sum(0, t, tl)) != 0)
      FAIL("S emitted a bad ICMP message");
    break;
  default:
    FAIL("S emitted protocol %u", b[9]);
  }
}

static void dev_tx(void *ctx, const uint8_t *pkt, size_t len) {
  struct fz *f = ctx;
  f->emitted++;
  if (f->checking)
    check_output(pkt, len);
  if (len >= 40 && pkt[9] == 6 && len <= sizeof f->last_tcp) {
    memcpy(f->last_tcp, pkt, len);
    f->last_tcp_len = len;
  }
}

/* ---- building packets (set-up only) ------------------------------------ */

static void send_tcp(struct fz *f, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                     uint8_t flags, bool syn_opts) {
  uint8_t b[64];
  size_t thl = syn_opts ? 32 : 20;
  size_t tot = 20 + thl;
  memset(b, 0, sizeof b);
  b[0] = 0x45;
  fz_put16(b + 2, (uint16_t)tot);
  b[8] = 64;
  b[9] = 6;
  fz_put32(b + 12, P_ADDR);
  fz_put32(b + 16, S_ADDR);
  uint8_t *t = b + 20;
  fz_put16(t, sport);
  fz_put16(t + 2, dport);
  fz_put32(t + 4, seq);
  fz_put32(t + 8, ack);
  t[12] = (uint8_t)((thl / 4) << 4);
  t[13] = flags;
  fz_put16(t + 14, 65535);
  if (syn_opts) {
    /* MSS 1460, window scale 7, SACK permitted: the connection runs with
     * every option S implements, so their code is reachable. */
    static const uint8_t o[12] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2 };
    memcpy(t + 20, o, sizeof o);
  }
  fz_fix_ip(b, tot);
  us_stack_input(f->s, b, tot, f->now);
  us_stack_poll(f->s, f->now);
}

static void track(struct fz *f, us_sock_t k) {
  if (f->nconns < MAX_SOCKS) {
    f->sent[f->nconns] = 0;
    f->conns[f->nconns++] = k;
  } else {
    us_tcp_abort(f->s, k, f->now);
  }
}

static void untrack(struct fz *f, size_t i) {
  f->conns[i] = f->conns[--f->nconns];
  f->sent[i] = f->sent[f->nconns];
}

static void setup(struct fz *f) {
  memset(f, 0, sizeof *f);
  f->rng = 0x5eedf00dull;
  struct us_config cfg;
  us_config_default(&cfg);
  cfg.addr = S_ADDR;
  cfg.prefix_len = 24;
  memcpy(cfg.addr6, S_ADDR6, 16); /* IPv6 inputs reach the whole IPv6 path */
  cfg.rand.fill = rand_fill;
  cfg.rand.ctx = &f->rng;
  cfg.log.fn = NULL;
  /* Small pools: caps are reached and exhaustion paths run. */
  cfg.pkt_count = 64;
  cfg.reass_contexts = 4;
  cfg.reass_bytes_max = 4u * 65536u;
  cfg.max_udp_sockets = 4;
  cfg.max_tcp_sockets = 24;
  cfg.udp_rx_queue = 8;
  cfg.tcp_sndbuf = 16384;
  cfg.tcp_rcvbuf = 16384;
  cfg.tcp_ooo_bytes_max = 16384;
  cfg.tcp_ooo_bytes_total = 65536;
  cfg.tcp_backlog_max = 4;
  cfg.tcp_listener_conn_max = 8; /* docs/LIMITS.md: the limit paths run too */
  cfg.tcp_source_conn_max = 3;
  cfg.reass_per_source = 2;
  cfg.tcp_rst_rate = 200;
  cfg.tcp_rst_burst = 20;
  cfg.tcp_synack_retries = 2;
  cfg.tcp_syn_retries = 2;
  cfg.tcp_r2 = 5;
  cfg.tcp_rto_max = US_SEC(10);
  cfg.tcp_msl = US_SEC(1);
  cfg.icmp_echo_rate = 100;
  cfg.icmp_echo_burst = 10;
  struct us_device dev = { .tx = dev_tx, .ctx = f };
  f->s = us_stack_create(&cfg, &dev);
  if (!f->s)
    FAIL("us_stack_create failed");
  f->now = US_SEC(1);

  if (us_udp_open(f->s, &f->udp) != 0 || us_udp_bind(f->s, f->udp, 7) != 0)
    FAIL("UDP set-up failed");
  if (us_tcp_socket(f->s, &f->listener) != 0 || us_tcp_bind(f->s, f->listener, S_PORT) != 0 ||
      us_tcp_listen(f->s, f->listener, 4) != 0)
    FAIL("listener set-up failed");

  /* The handshake of the established connection, for real. */
  f->last_tcp_len = 0;
  send_tcp(f, P_PORT, S_PORT, P_ISN, 0, 0x02, true);
  if (f->last_tcp_len < 40 || f->last_tcp[20 + 13] != 0x12)
    FAIL("no SYN-ACK in the set-up");
  f->s_iss = fz_get32(f->last_tcp + 20 + 4);
  send_tcp(f, P_PORT, S_PORT, P_ISN + 1, f->s_iss + 1, 0x10, false);
  us_sock_t c;
  if (us_tcp_accept(f->s, f->listener, &c, NULL) != 0)
    FAIL("accept in the set-up failed");
  track(f, c);

  /* An active open left in SYN-SENT. */
  if (us_tcp_socket(f->s, &f->active) != 0)
    FAIL("socket failed");
  f->last_tcp_len = 0;
  int r = us_tcp_connect(f->s, f->active, us_endpoint(us_addr_v4(P_ADDR), 5000), f->now);
  if (r != US_ERR_INPROGRESS && r != 0)
    FAIL("connect failed: %d", r);
  us_stack_poll(f->s, f->now);
  if (f->last_tcp_len < 40 || f->last_tcp[20 + 13] != 0x02)
    FAIL("no SYN for the active open");
  f->a_iss = fz_get32(f->last_tcp + 20 + 4);
  f->a_port = fz_get16(f->last_tcp + 20);
  f->checking = true;
}

/* ---- the application --------------------------------------------------- */

static void app_conn(struct fz *f, size_t i, uint32_t ev) {
  us_sock_t k = f->conns[i];
  if (ev & US_EV_READABLE) {
    for (int n = 0; n < 64; n++) {
      long r = us_tcp_recv(f->s, k, appbuf, sizeof appbuf, f->now);
      if (r > 0)
        continue;
      if (r == US_ERR_AGAIN)
        break;
      /* EOF: half the time close at once, else half-close and close later. */
      if (r == 0 && (f->emitted & 1)) {
        us_tcp_shutdown(f->s, k, f->now);
        break;
      }
      us_tcp_close(f->s, k, f->now);
      untrack(f, i);
      return;
    }
  }
  if ((ev & US_EV_WRITABLE) && f->sent[i] < 48 * 1024) {
    memset(appbuf, 'a' + (int)(i % 26), 1500);
    long r = us_tcp_send(f->s, k, appbuf, 1500, f->now);
    if (r > 0)
      f->sent[i] += (uint32_t)r;
  }
  if (ev & (US_EV_CLOSED | US_EV_ERROR)) {
    us_tcp_close(f->s, k, f->now);
    untrack(f, i);
  }
}

static void app(struct fz *f) {
  /* Drain the edge list (exercises it), then act on levels. */
  struct us_event evs[32];
  for (int n = 0; n < 8 && us_stack_events(f->s, evs, 32) == 32; n++)
    ;
  if (us_sock_events(f->s, f->listener) & US_EV_ACCEPT) {
    for (int n = 0; n < 8; n++) {
      us_sock_t c;
      if (us_tcp_accept(f->s, f->listener, &c, NULL) != 0)
        break;
      track(f, c);
    }
  }
  if (us_sock_valid(f->active)) {
    uint32_t ev = us_sock_events(f->s, f->active);
    if (ev & (US_EV_CONNECTED | US_EV_CLOSED | US_EV_ERROR)) {
      track(f, f->active);
      f->active = US_SOCK_INVALID;
    }
  }
  for (size_t i = f->nconns; i-- > 0;)
    app_conn(f, i, us_sock_events(f->s, f->conns[i]));
  for (int n = 0; n < 8; n++) {
    us_endpoint_t src;
    long r = us_udp_recvfrom(f->s, f->udp, appbuf, sizeof appbuf, &src);
    if (r < 0)
      break;
    size_t len = (size_t)r < sizeof appbuf ? (size_t)r : sizeof appbuf;
    us_udp_sendto(f->s, f->udp, src, appbuf, len, f->now);
  }
  us_stack_poll(f->s, f->now);
}

/* Invariants of every TCB and pool, checked after every record. Bounds
 * are deliberately loose: a violation is a real inconsistency. */
static void check_invariants(struct fz *f) {
  const struct us_config *c = us_stack_config(f->s);
  struct us_pool_usage u;
  us_stack_pool_usage(f->s, &u);
  if (u.ooo_bytes > c->tcp_ooo_bytes_total)
    FAIL("out-of-order bytes %u above the global cap %u", u.ooo_bytes, c->tcp_ooo_bytes_total);
  if (u.reass_active > c->reass_contexts)
    FAIL("%u reassembly contexts, cap %u", u.reass_active, c->reass_contexts);
  if (u.pkt_free > u.pkt_total || u.big_free > u.big_total || u.tcb_free > u.tcb_total ||
      u.udp_free > u.udp_total)
    FAIL("a pool has more free items than it has items");
  struct us_tcp_info ti[32];
  size_t n = us_tcp_list(f->s, ti, 32);
  if (n > 32)
    n = 32;
  for (size_t i = 0; i < n; i++) {
    const struct us_tcp_info *t = &ti[i];
    if (t->state >= US_TCP_NSTATES)
      FAIL("TCB in state %d", (int)t->state);
    if (t->state == US_TCP_LISTEN && t->backlog > 0) {
      /* A listener (its children may pass through LISTEN too: backlog 0). */
      if (t->conns > c->tcp_listener_conn_max)
        FAIL("listener with %u connections, limit %u", t->conns, c->tcp_listener_conn_max);
      if (t->synq_len > t->backlog || t->acceptq_len > t->backlog)
        FAIL("listener queues %u and %u, backlog %u", t->synq_len, t->acceptq_len, t->backlog);
    }
    if (t->state == US_TCP_LISTEN || t->state == US_TCP_CLOSED)
      continue;
    /* RFC 7323 2.3, whatever a SYN or a SYN cookie's echoed TSecr said. */
    if (t->snd_wscale > 14 || t->rcv_wscale > 14 || (!t->ws_ok && (t->snd_wscale || t->rcv_wscale)))
      FAIL("%s: window scale %u/%u (ws_ok %d)", us_tcp_state_name(t->state), t->snd_wscale,
           t->rcv_wscale, (int)t->ws_ok);
    if ((int32_t)(t->snd_nxt - t->snd_una) < 0)
      FAIL("%s: SND.NXT %u before SND.UNA %u", us_tcp_state_name(t->state), t->snd_nxt, t->snd_una);
    if (t->snd_nxt - t->snd_una > c->tcp_sndbuf + 2)
      FAIL("%s: %u bytes in flight, send buffer %u", us_tcp_state_name(t->state),
           t->snd_nxt - t->snd_una, c->tcp_sndbuf);
    if (t->rcv_queued > c->tcp_rcvbuf || t->snd_queued > c->tcp_sndbuf)
      FAIL("%s: queued %u/%u beyond buffers", us_tcp_state_name(t->state), t->rcv_queued,
           t->snd_queued);
    if (t->rcv_wnd > c->tcp_rcvbuf)
      FAIL("%s: RCV.WND %u beyond the receive buffer", us_tcp_state_name(t->state), t->rcv_wnd);
    if (t->state != US_TCP_SYN_SENT && (t->mss == 0 || t->mss > (uint32_t)c->mtu - 40))
      FAIL("%s: MSS %u", us_tcp_state_name(t->state), t->mss);
  }
}

static void feed(struct fz *f, uint16_t word, const uint8_t *bytes, size_t len) {
  uint8_t *b = malloc(len ? len : 1);
  if (!b)
    FAIL("malloc");
  memcpy(b, bytes, len);
  if ((word & FZ_REL_SEQ) && len >= 40 && b[9] == 6 && (b[0] & 15) >= 5 &&
      (size_t)(b[0] & 15) * 4 + 20 <= len) {
    uint8_t *t = b + (size_t)(b[0] & 15) * 4;
    size_t tl = len - (size_t)(b[0] & 15) * 4;
    fz_put32(t + 4, fz_get32(t + 4) + P_ISN + 1);
    fz_put32(t + 8, fz_get32(t + 8) + f->s_iss + 1);
    /* SACK block edges are offsets in S's sequence space too (a bounded
     * walk of our own; malformed options are left for the stack). */
    size_t hl = (size_t)(t[12] >> 4) * 4;
    for (size_t i = 20; hl <= tl && i < hl;) {
      uint8_t kind = t[i];
      if (kind == 0)
        break;
      if (kind == 1) {
        i++;
        continue;
      }
      if (i + 1 >= hl || t[i + 1] < 2 || t[i + 1] > hl - i)
        break;
      if (kind == 5)
        for (size_t e = i + 2; e + 4 <= i + t[i + 1]; e += 4)
          fz_put32(t + e, fz_get32(t + e) + f->s_iss + 1);
      i += t[i + 1];
    }
  }
  if ((word & FZ_REL_ACTIVE) && len >= 40 && b[9] == 6 && (b[0] & 15) >= 5 &&
      (size_t)(b[0] & 15) * 4 + 20 <= len) {
    uint8_t *t = b + (size_t)(b[0] & 15) * 4;
    fz_put32(t + 8, fz_get32(t + 8) + f->a_iss + 1);
    if (fz_get16(t + 2) == 0)
      fz_put16(t + 2, f->a_port);
  }
  if ((word & FZ_FIX_CSUM) && len >= 1 && (b[0] >> 4) == 6) {
    fz_fix_ip6(b, len);
  } else if (word & FZ_FIX_CSUM) {
    fz_fix_lengths(b, len);
    fz_fix_ip(b, len);
  }
  us_stack_input(f->s, b, len, f->now);
  free(b);
}

/* Step the clock through the stack's deadlines up to `until`. */
static void run_until(struct fz *f, us_time_t until, bool stop_when_full) {
  int stuck = 0;
  for (long i = 0; i < DRAIN_STEPS; i++) {
    us_time_t d = us_stack_poll(f->s, f->now);
    if (f->nconns || us_sock_valid(f->active))
      app(f);
    if (stop_when_full && us_stack_pools_full(f->s))
      return;
    if (d <= f->now) {
      if (++stuck > 1000)
        FAIL("poll keeps returning a past deadline (%lld <= %lld)", (long long)d,
             (long long)f->now);
      continue;
    }
    stuck = 0;
    if (d > until)
      break;
    f->now = d;
  }
  if (f->now < until)
    f->now = until;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct fz f;
  setup(&f);
  size_t off = 0;
  while (size - off >= 4) {
    uint16_t word = fz_get16(data + off);
    uint16_t dt = fz_get16(data + off + 2);
    off += 4;
    size_t len = word & FZ_LEN_MASK;
    if (len > size - off)
      len = size - off;
    run_until(&f, f.now + US_MSEC(dt), false);
    feed(&f, word, data + off, len);
    off += len;
    app(&f);
    check_invariants(&f);
  }
  /* Tear down: the application lets go of everything, then time runs on
   * until every timer is done (2 days of virtual time at most). */
  for (size_t i = 0; i < f.nconns; i++)
    us_tcp_abort(f.s, f.conns[i], f.now);
  f.nconns = 0;
  if (us_sock_valid(f.active))
    us_tcp_abort(f.s, f.active, f.now);
  f.active = US_SOCK_INVALID;
  us_tcp_close(f.s, f.listener, f.now);
  us_udp_close(f.s, f.udp);
  run_until(&f, f.now + US_SEC(2 * 86400), true);
  /* fuzz.sh builds RelWithDebInfo (NDEBUG), where an illegal state
   * transition is survived and only counted (US_BUG): the count is the
   * finding here. */
  if (us_stack_stat(f.s, US_STAT_tcp_illegal_transitions) != 0)
    FAIL("%llu illegal TCP state transition(s)",
         (unsigned long long)us_stack_stat(f.s, US_STAT_tcp_illegal_transitions));
  if (!us_stack_pools_full(f.s)) {
    struct us_pool_usage u;
    us_stack_pool_usage(f.s, &u);
    struct us_tcp_info ti[8];
    size_t n = us_tcp_list(f.s, ti, 8);
    for (size_t i = 0; i < n && i < 8; i++)
      fprintf(stderr, "  TCB left: %s %u -> %u timer %s\n", us_tcp_state_name(ti[i].state),
              ti[i].lport, ti[i].rport, ti[i].timer ? ti[i].timer : "");
    FAIL("pools not full after teardown: pkt %u/%u big %u/%u tcb %u/%u udp %u/%u reass %u ooo %u",
         u.pkt_free, u.pkt_total, u.big_free, u.big_total, u.tcb_free, u.tcb_total, u.udp_free,
         u.udp_total, u.reass_active, u.ooo_bytes);
  }
  us_stack_destroy(f.s);
  return 0;
}
