/*
 * tcp_harness.h - a packetdrill-like harness for black-box TCP tests.
 *
 * One stack under test, S (10.0.0.2), and a scripted peer, P (10.0.0.1).
 * The test plays P: it injects segments with th_inject() and states which
 * segment S must emit next, and when, with th_expect(). Everything runs on
 * a virtual clock: time moves only when the test says so, by stepping
 * through the deadlines us_stack_poll() returns, so a timer that fires at
 * 3.000000 s is seen emitting at exactly 3.000000 s.
 *
 * Sequence numbers in TSEG() are RELATIVE, as in packetdrill and tcpdump:
 *  - in a segment P injects, .seq counts from P's ISN (chosen by the test,
 *    conn->p_isn) and .ack from S's ISN;
 *  - in a segment S must emit, .seq counts from S's ISN and .ack from P's.
 * S's ISN is learnt from the first SYN (or SYN-ACK) S emits.
 *
 * Payload bytes are a seeded oracle: P's byte at stream offset i is
 * th_pat(conn->p_salt, i), S's is th_pat(conn->s_salt, i). Injected data
 * without DATA() carries P's oracle bytes at the segment's offset; a data
 * segment S emits is checked against S's oracle at its offset, so the
 * contents of retransmissions are checked too.
 *
 * Only the public API (us_stack.h, us_socket.h) and the wire format are
 * used: the harness builds and parses packets itself, with its own
 * checksum code, so it does not trust the stack's wire layer either.
 *
 * Over IPv6 (th_new_v6): S is fd00::2 and P fd00::1 (h_us6, h_peer6);
 * everything else is the same, so a script runs unchanged over either
 * family.
 *
 * Two stacks back to back: use h_link in harness.h.
 *
 * Failures print the expected and the emitted segment with their times and
 * the segments still queued, then fail the cmocka test.
 */
#ifndef USTACK_TESTS_TCP_HARNESS_H
#define USTACK_TESTS_TCP_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <ustack/ustack.h>

#include "harness.h"

#define TH_S_ADDR    US_IP4(10, 0, 0, 2)
#define TH_P_ADDR    US_IP4(10, 0, 0, 1)
#define TH_S_PORT    80       /* S's listening port in passive fixtures */
#define TH_P_PORT    40000    /* P's port for connection 0 (+i for conn i) */
#define TH_P_SERVER  5000     /* P's port when S opens actively */
#define TH_P_ISN     1000000u /* P's ISN unless the test sets conn->p_isn */
#define TH_P_WND     65535    /* P's advertised window unless WND() says */
#define TH_MAX_CONN  8
#define TH_MAX_SOCKS 64

/* Flags, short names for scripts. */
#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20
#define TH_ECE 0x40
#define TH_CWR 0x80

/* A segment to inject or to expect. Zero means "the default" everywhere. */
struct th_seg {
  uint8_t flags;
  uint32_t seq, ack;     /* relative (see above) */
  bool seq_abs, ack_abs; /* seq/ack are absolute wire values */
  bool ack_any;          /* expect: do not check ack */
  bool seq_any;          /* expect: do not check seq */
  bool psh_check;        /* expect: PSH must match too (ignored otherwise) */
  bool ack_opt;          /* expect: the ACK bit may be set or not (RST) */

  bool has_wnd;     /* inject: this window (else TH_P_WND); */
  uint32_t wnd;     /*   expect: the window must be exactly this */
  bool wnd_nonzero; /* expect: window > 0 */
  bool wnd_zero;    /* expect: window == 0 */

  bool has_mss; /* inject: MSS option; expect: MSS == mss */
  uint16_t mss;
  bool no_mss; /* expect: no MSS option */
  bool has_ws; /* inject: window-scale option */
  uint8_t ws;
  bool has_ts; /* inject: NOP NOP TS(tsval, tsecr) (RFC 7323) */
  uint32_t tsval, tsecr;
  bool sack_perm; /* inject: NOP NOP SACK-permitted (RFC 2018) */
  uint8_t tos;    /* inject: the IP TOS byte (low 2 bits: ECN) */

  uint32_t len;        /* payload length (inject and expect) */
  bool len_any;        /* expect: any payload length (> 0 if len_min) */
  uint32_t len_min;    /* expect with len_any: at least this many bytes */
  const uint8_t *data; /* inject: these bytes, not the oracle */
  bool no_pat_check;   /* expect: do not compare payload with the oracle */

  const uint8_t *opts; /* inject: raw option bytes instead of built ones */
  uint8_t opts_len;    /*   (the harness pads to a multiple of 4 with EOL) */
  bool raw_doff;       /* inject: use doff as the data offset field */
  uint8_t doff;
  bool bad_csum;         /* inject: corrupt the TCP checksum */
  uint16_t sport, dport; /* inject: override ports (0 = the conn's) */
  uint32_t src;          /* inject: override source address */
  /* inject: hand the segment in with us_stack_input_meta(meta), as the
   * TUN does for the local kernel's packets; with US_RX_CSUM_PARTIAL the
   * checksum field holds only the pseudo-header sum (bad_csum still
   * corrupts it). */
  const struct us_rx_meta *meta;
};

#define TSEG(...)  (&(const struct th_seg){ __VA_ARGS__ })
#define WND(x)     .has_wnd = true, .wnd = (x)
#define MSS(x)     .has_mss = true, .mss = (x)
#define WSCALE(x)  .has_ws = true, .ws = (x)
#define TS(v, e)   .has_ts = true, .tsval = (v), .tsecr = (e)
#define DATA(p, n) .data = (const uint8_t *)(p), .len = (n)
#define OPTS(p, n) .opts = (const uint8_t *)(p), .opts_len = (n)
#define ACK_ANY    .ack_any = true
#define LEN_ANY    .len_any = true

/* One captured datagram from S, parsed by the harness. */
struct th_pkt {
  us_time_t at; /* virtual time it was emitted */
  uint8_t *buf;
  size_t len;
  bool ok;      /* a valid IPv4 or IPv6 TCP segment with good checksums */
  char why[96]; /* when !ok: why not */
  bool v6;
  uint32_t src, dst;          /* IPv4 */
  uint8_t src6[16], dst6[16]; /* IPv6 */
  uint8_t ttl;                /* or the hop limit */
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t flags;
  uint16_t wnd;
  bool has_mss, has_ws, sack_perm, has_ts;
  uint16_t mss;
  uint8_t ws;
  uint32_t tsval, tsecr; /* when has_ts */
  uint8_t nsack;         /* SACK blocks */
  bool df;               /* the IP header's DF bit (always set over IPv6) */
  uint8_t tos;           /* TOS byte / traffic class (low 2 bits: ECN) */
  const uint8_t *payload;
  uint32_t plen;
};

/* One connection between S and P, as the harness tracks it. */
struct th_conn {
  uint16_t s_port, p_port;
  uint32_t p_isn; /* P's ISN (set it before the fixture) */
  uint32_t s_isn; /* learnt from S's SYN */
  bool s_isn_known;
  us_sock_t sock;  /* S's application socket for it */
  uint64_t s_sent; /* bytes the app has handed to us_tcp_send */
  uint64_t p_read; /* bytes the app has read from P's stream */
  uint32_t p_nxt;  /* relative: highest seq P has sent, plus one */
  uint32_t p_salt, s_salt;
};

/* What an offloading device (th_new_offload) was handed: the packets
 * that came through tx_meta, as the stack made them (the first
 * TH_OFFL_KEEP are kept), before the harness did the kernel's part. */
#define TH_OFFL_KEEP 64
struct th_offl_pkt {
  uint8_t *buf;
  size_t len;
  struct us_tx_meta meta;
};
struct th_offl {
  struct th_offl_pkt v[TH_OFFL_KEEP];
  size_t kept;
  uint64_t total, super; /* every tx_meta packet; those with gso_size > 0 */
};

struct th_queue {
  struct th_pkt *v;
  size_t head, count, cap;
};

struct th {
  us_stack *s;
  bool v6;           /* th_new_v6: S and P talk IPv6 */
  bool rx_zero_copy; /* inject through us_stack_rx_buffer, as the loop reads */
  struct us_config cfg;
  us_time_t now;
  struct h_rand rand; /* the stack's seeded random source */
  uint64_t seed;      /* its seed after h_seed() */
  struct th_conn conn[TH_MAX_CONN];
  struct th_conn *c;             /* the connection scripts talk about */
  us_sock_t lsock;               /* listener of the passive fixtures */
  us_sock_t socks[TH_MAX_SOCKS]; /* every socket made (closed at the end) */
  size_t nsocks;
  struct th_queue q;  /* emitted, not yet expected */
  struct th_pkt last; /* the segment the last th_expect matched */
  uint8_t last_buf[65536];
  bool have_last;
  us_time_t last_recv_at;  /* time of the app's last recv (window updates) */
  uint32_t redundant_acks; /* no-news ACKs after a recv that th_expect skipped */
  struct th_pkt hist[8];   /* the last segments matched, for failure reports */
  uint8_t hist_buf[8][128];
  size_t nhist;
  uint16_t ip_id;
  enum us_log_level log_level;
  struct th_offl offl; /* th_new_offload: what came through tx_meta */
};

/* ---- Life cycle -------------------------------------------------------- */

/* Defaults for tests: us_config_default() with S's address, MSL 1 s. The
 * harness replaces cfg.rand and cfg.log with its own seeded source and
 * stderr sink (harness.h: h_rand_source, h_log_config: $US_TEST_LOG). */
void th_config(struct us_config *cfg);
/* A stack from `cfg` (NULL = th_config()). Fails the test on error. The
 * random source is seeded with a fixed default through h_seed(), so
 * $US_TEST_SEED changes it. */
struct th *th_new(const struct us_config *cfg);
/* The same with an explicit seed. */
struct th *th_new_seeded(const struct us_config *cfg, uint64_t seed);
/* th_config() with S's IPv6 address (fd00::2) as well. */
void th_config6(struct us_config *cfg);
/* A stack that S and P reach over IPv6: `cfg` (NULL = th_config6()) must
 * have addr6 = h_us6. */
struct th *th_new_v6(const struct us_config *cfg);
/*
 * A stack whose device advertises offloads `caps` (US_DEV_CSUM,
 * US_DEV_TSO4) and plays the kernel behind a TUN (docs/OFFLOAD.md): every
 * packet that comes through tx_meta is logged in h->offl as made, then
 * finished the way the kernel finishes it (checksum completed; a
 * super-segment cut into gso_size segments with the headers copied, IP
 * length, ID and checksum fixed, sequence numbers advanced, PSH and FIN
 * only on the last) and queued like any other emitted segment, so
 * th_expect sees the wire. A tx_meta packet the kernel would refuse fails
 * the test.
 */
struct th *th_new_offload(const struct us_config *cfg, uint32_t caps);
/* Close every socket, run the clock until no TCB is left (at most 4 h of
 * virtual time), and assert that every pool is full. */
void th_finish_(struct th *h, const char *file, int line);
#define th_finish(h) th_finish_((h), __FILE__, __LINE__)
/* Destroy the stack and free the harness (no checks). */
void th_free(struct th *h);
/* For cmocka: th_new with th_config() edited by `tweak` (may be NULL),
 * stored in *state so that th_teardown frees it even when the test fails. */
struct th *th_new_state(void **state, void (*tweak)(struct us_config *));
int th_teardown(void **state);

/* Select connection i (0..TH_MAX_CONN-1) as the one scripts talk about. */
struct th_conn *th_use(struct th *h, int i);

/* ---- Time ---------------------------------------------------------------- */

/* Step through the stack's deadlines up to `t` (>= now), capturing what it
 * emits with the time of emission; ends with a poll at `t`. */
void th_advance_(struct th *h, us_time_t t, const char *file, int line);
#define th_advance(h, t) th_advance_((h), (t), __FILE__, __LINE__)
/* The deadline us_stack_poll() returns now. */
us_time_t th_deadline(struct th *h);
/* Advance to that deadline and return it (US_TIME_NEVER: nothing moves). */
us_time_t th_advance_to_deadline_(struct th *h, const char *file, int line);
#define th_advance_to_deadline(h) th_advance_to_deadline_((h), __FILE__, __LINE__)

/* ---- Script -------------------------------------------------------------- */

/* At time t, P sends `seg` to S (after S's timers up to t have run). */
void th_inject_(struct th *h, us_time_t t, const struct th_seg *seg, const char *file, int line);
#define th_inject(h, t, seg)             th_inject_((h), (t), (seg), __FILE__, __LINE__)
/* The next segment S emits is `seg`, emitted at exactly t.
 * One leniency, in th_expect and th_expect_nothing_until: a pure ACK that
 * S emits at the instant the app reads, identical (seq, ack, window) to
 * the segment S sent before it, carries no news (a window update with no
 * change); if it is not what the script expects it is skipped and counted
 * in h->redundant_acks. RFC 9293 neither requires nor forbids it. */
#define th_expect(h, t, seg)             th_expect_((h), (t), (t), (seg), __FILE__, __LINE__)
/* ... emitted at some time in [t0, t1]; returns that time. */
#define th_expect_within(h, t0, t1, seg) th_expect_((h), (t0), (t1), (seg), __FILE__, __LINE__)
us_time_t th_expect_(struct th *h, us_time_t t0, us_time_t t1, const struct th_seg *seg,
                     const char *file, int line);
/* S emits nothing from now up to and including t. */
void th_expect_nothing_until_(struct th *h, us_time_t t, const char *file, int line);
#define th_expect_nothing_until(h, t) th_expect_nothing_until_((h), (t), __FILE__, __LINE__)
/* Run until S emits something, at most until tmax; the packet stays queued.
 * Returns true if one is queued. */
bool th_run_until_packet(struct th *h, us_time_t tmax);
/* Run to t; everything S emitted by then must be a pure ACK (no payload,
 * no SYN/FIN/RST) of the current conn with relative seq `seq`. Returns the
 * number of ACKs; *last_ack gets the last one's relative ack (unchanged if
 * none). */
#define th_expect_acks_until(h, t, seq, last_ack) \
  th_expect_acks_until_((h), (t), (seq), (last_ack), __FILE__, __LINE__)
int th_expect_acks_until_(struct th *h, us_time_t t, uint32_t seq, uint32_t *last_ack,
                          const char *file, int line);
/* The segment the last th_expect matched. */
const struct th_pkt *th_last(struct th *h);
/* Number of queued (emitted, not yet expected) datagrams; drop them all. */
size_t th_queued(struct th *h);
void th_drain(struct th *h);
/* Pop the next queued datagram into *out (valid until the next call). */
bool th_pop(struct th *h, struct th_pkt *out);
/* Relative numbers of a captured segment of the current connection. */
uint32_t th_rel_seq(struct th *h, const struct th_pkt *p);
uint32_t th_rel_ack(struct th *h, const struct th_pkt *p);
/* Printable form of a captured segment (relative to the current conn). */
const char *th_fmt(struct th *h, const struct th_pkt *p, char *buf, size_t cap);

/* ---- Application side (S's socket API) ------------------------------------ */

us_sock_t th_listen_(struct th *h, uint16_t port, uint32_t backlog, const char *file, int line);
#define th_listen(h, port, backlog) th_listen_((h), (port), (backlog), __FILE__, __LINE__)
/* Accept one connection into the current conn; fails the test if none. */
void th_accept_(struct th *h, const char *file, int line);
#define th_accept(h) th_accept_((h), __FILE__, __LINE__)
/* Active open from S to P:TH_P_SERVER at time t (the SYN is not consumed). */
void th_connect_(struct th *h, us_time_t t, const char *file, int line);
#define th_connect(h, t) th_connect_((h), (t), __FILE__, __LINE__)
/* At t, the app sends n bytes of S's oracle; returns us_tcp_send's result. */
long th_send(struct th *h, us_time_t t, size_t n);
/* At t, the app reads; exactly n bytes must come and match P's oracle. */
void th_recv_expect_(struct th *h, us_time_t t, size_t n, const char *file, int line);
#define th_recv_expect(h, t, n) th_recv_expect_((h), (t), (n), __FILE__, __LINE__)
/* us_tcp_recv at t into a scratch buffer (contents checked against the oracle
 * when the result is > 0); returns its result. */
long th_recv(struct th *h, us_time_t t, size_t cap);
/* Remember a socket so th_finish closes it. */
void th_track(struct th *h, us_sock_t sock);

/* ---- State ---------------------------------------------------------------- */

/* State of the current conn's TCB (by 4-tuple), or -1 when there is none
 * or it is CLOSED (a TCB kept only for the app's sticky error). */
int th_state(struct th *h);
#define th_assert_state(h, st) th_assert_state_((h), (st), __FILE__, __LINE__)
void th_assert_state_(struct th *h, int st, const char *file, int line);
/* Fill *out for the current conn; false if it has no TCB. */
bool th_info(struct th *h, struct us_tcp_info *out);
/* TCBs in the stack (listeners included). */
size_t th_tcb_count(struct th *h);
uint64_t th_stat(struct th *h, enum us_stat id);

/* ---- Fixtures: build each state by a real exchange. ------------------------
 * Each starts at time t, uses the current conn, leaves the emitted segments
 * all expected, and returns the time it ended at. Passive fixtures use a
 * listener on TH_S_PORT (made if there is none). P offers MSS 1460. */
us_time_t th_fx_listen(struct th *h, us_time_t t);
us_time_t th_fx_syn_received(struct th *h, us_time_t t);
us_time_t th_fx_established(struct th *h, us_time_t t); /* passive */
us_time_t th_fx_established_active(struct th *h, us_time_t t);
/* S closes first (us_tcp_close: the handle goes stale). */
us_time_t th_fx_fin_wait_1(struct th *h, us_time_t t);
us_time_t th_fx_fin_wait_2(struct th *h, us_time_t t);
us_time_t th_fx_closing(struct th *h, us_time_t t);
us_time_t th_fx_time_wait(struct th *h, us_time_t t);
/* P closes first; S reads the EOF. */
us_time_t th_fx_close_wait(struct th *h, us_time_t t);
us_time_t th_fx_last_ack(struct th *h, us_time_t t);

/* ---- Misc ---------------------------------------------------------------- */

/* The oracle (h_oracle_byte): byte i of the stream with this salt. */
uint8_t th_pat(uint32_t salt, uint64_t i);
void th_pat_fill(uint32_t salt, uint64_t off, uint8_t *buf, size_t n);
/* Print and fail the test at file:line. */
void th_fail(struct th *h, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
