/*
 * harness.h - what every unit test needs: a stack on a virtual clock whose
 * output is captured, seeded randomness, pool checks, and a link that joins
 * two stacks back to back.
 *
 * Nothing here sleeps or reads a clock: `now` is a number the test moves.
 */
#ifndef USTACK_TEST_HARNESS_H
#define USTACK_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ustack/ustack.h"

/* ---- captured output ---------------------------------------------------- */

struct h_pkt {
  uint8_t *data;
  size_t len;
  us_time_t at; /* the capture's clock when it was emitted */
};

struct h_capture {
  struct h_pkt *pkts;
  size_t count, cap;
  size_t next;   /* first packet not yet taken by h_capture_take */
  us_time_t now; /* set by the test; stamped on captured packets */
};

/* A us_device that appends every packet to `c` (copying it). */
struct us_device h_capture_device(struct h_capture *c);
/* The next uncollected packet, or NULL. Valid until h_capture_reset. */
const struct h_pkt *h_capture_take(struct h_capture *c);
/* Packets not yet taken. */
size_t h_capture_pending(const struct h_capture *c);
void h_capture_reset(struct h_capture *c);

/* ---- seeds and randomness ------------------------------------------------- */

/*
 * One generator for everything a test randomises (splitmix64). Every seed
 * a test names goes through h_seed(), which XORs in $US_TEST_SEED (hex or
 * decimal; unset = 0, so each test runs with the seeds it names): one
 * variable reseeds a whole run, and H_RUN prints it when a test fails.
 */
uint64_t h_seed(uint64_t seed);
uint64_t h_seed_env(void); /* $US_TEST_SEED, or 0 */
/* The next 64 random bits of the stream in *state. */
uint64_t h_rand_next(uint64_t *state);
/* A number in [0, n) (0 when n is 0). */
uint32_t h_rand_below(uint64_t *state, uint32_t n);

/* A stack's random source: same seed, same bytes. (h_stack_init,
 * h_link_init and th_new pass their seeds through h_seed first.) */
struct h_rand {
  uint64_t seed; /* what a failure report prints */
  uint64_t state;
};
struct us_rand_source h_rand_source(struct h_rand *r, uint64_t seed);

/* A seeded content oracle: byte i of stream `seed` (not reseeded by
 * $US_TEST_SEED: both ends of a transfer compute it). */
uint8_t h_oracle_byte(uint64_t seed, uint64_t i);
void h_oracle_fill(uint64_t seed, uint64_t offset, uint8_t *buf, size_t len);
/* Offset of the first byte that differs from the oracle, or -1. */
long long h_oracle_check(uint64_t seed, uint64_t offset, const uint8_t *buf, size_t len);

/* ---- the log switch --------------------------------------------------------- */

/* $US_TEST_LOG shows the stacks' logs on stderr: error (the default),
 * warn, info, debug, trace (any other value: info). h_log_config sets
 * cfg->log and cfg->log_level, each line prefixed with `name`. */
enum us_log_level h_log_level(void);
struct us_log_sink h_log_sink(const char *name);
void h_log_config(struct us_config *cfg, const char *name);

/* ---- running a test program -------------------------------------------------- */

/* Run a cmocka group (main's return value). $US_TEST_FILTER, a glob on
 * test names, selects tests: US_TEST_FILTER='test_synack*' ./test_x. On a
 * failure it prints the seed override and the log switch to rerun with. */
#define H_RUN(name, tests)                                              \
  h_run_report(name, (cmocka_set_test_filter(getenv("US_TEST_FILTER")), \
                      cmocka_run_group_tests_name(name, tests, NULL, NULL)))
int h_run_report(const char *name, int failed);

/* ---- bytes and checksums ------------------------------------------------------ */

/* Big-endian fields. */
uint16_t h_rd16(const uint8_t *p);
uint32_t h_rd32(const uint8_t *p);
void h_wr16(uint8_t *p, uint16_t v);
void h_wr32(uint8_t *p, uint32_t v);
/* The Internet checksum (RFC 1071), the harness's own code so that a bug
 * in stack/wire cannot hide one elsewhere. h_csum_add sums 16-bit words
 * into an accumulator (add even-length pieces, an odd one last);
 * h_csum_fold folds and complements it into the value for the field (0
 * when checking a header whose checksum is right). */
uint32_t h_csum_add(uint32_t sum, const void *p, size_t n);
uint16_t h_csum_fold(uint32_t sum);
uint16_t h_csum(const void *p, size_t n);
/* The IPv4 pseudo-header's sum (RFC 9293 3.1, RFC 768) for `len` bytes of
 * transport header and data. */
uint32_t h_pseudo4(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len);
/* The IPv6 pseudo-header's sum (RFC 8200 8.1): both addresses, the 32-bit
 * length, three zero bytes and the next header. */
uint32_t h_pseudo6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t len);

/* ---- a stack under test ------------------------------------------------- */

struct h_stack {
  us_stack *s;
  struct h_capture cap;
  struct h_rand rand;
  struct us_config cfg;
};

/* Defaults: us_config_default() with the test log sink and a seeded rand;
 * `tweak` (may be NULL) edits the config before creation. Asserts success. */
void h_stack_init(struct h_stack *h, uint64_t seed, void (*tweak)(struct us_config *));
void h_stack_fini(struct h_stack *h);

/* cmocka fixtures. A setup stores h_stack_new(seed, tweak) in *state:
 *   static int setup(void **st) { *st = h_stack_new(7, NULL); return 0; }
 * and one of these teardowns frees it: h_teardown only frees;
 * h_teardown_full first asserts every pool is full as the test left it;
 * h_teardown_drained first runs the clock 100000 s on (timers, reassembly)
 * and then asserts it. */
struct h_stack *h_stack_new(uint64_t seed, void (*tweak)(struct us_config *));
void h_stack_free(struct h_stack *h);
int h_teardown(void **state);
int h_teardown_full(void **state);
int h_teardown_drained(void **state);
/* Move the clock, feed a packet. */
void h_input(struct h_stack *h, const uint8_t *pkt, size_t len, us_time_t now);
us_time_t h_poll(struct h_stack *h, us_time_t now);

/* Counter snapshots: take one before an input, then ask how much a
 * counter moved ("was it dropped for the right reason?"). */
struct h_snap {
  uint64_t v[US_STAT_COUNT];
};
void h_snap_take(us_stack *s, struct h_snap *sn);
uint64_t h_snap_delta(us_stack *s, const struct h_snap *sn, enum us_stat id);

/* End of a test: run the clock past every timer (reassembly timeout
 * included, then 300 s more), drop the captured packets, and assert that
 * every pool is full. */
void h_finish(struct h_stack *h, us_time_t now);

/* The pools' use now (us_stack_pool_usage as a value). */
struct us_pool_usage h_pool_usage(us_stack *s);

/* Assert every pool of `s` is full (no buffer, TCB, socket or context
 * held), printing what is not. */
void h_assert_pools_full(us_stack *s);

/* ---- packet building ------------------------------------------------------ */

/*
 * Builders written independently of stack/wire (plain byte pokes and
 * h_csum), so a bug in the code under test cannot hide by building its own
 * inputs. The IP header is described by struct h_ip and the transport
 * builders take it for their pseudo-header, so one call shape serves
 * both address families: H_IP4(src, dst, proto) or H_IP6(src, dst, proto).
 */
#define H_PEER US_IP4(10, 0, 0, 1) /* the test's side */
#define H_US   US_IP4(10, 0, 0, 2) /* the stack under test */
/* The same over IPv6: fd00::1 and fd00::2. */
extern const uint8_t h_peer6[16], h_us6[16];

struct h_ip {
  uint8_t family; /* 0 or 4: IPv4; 6: IPv6 with src6/dst6, tos as the
                     traffic class, ttl as the hop limit, and no options or
                     fragment fields (a 40-byte header, next header proto) */
  uint32_t src, dst;
  uint8_t src6[16], dst6[16];
  uint8_t proto;
  uint8_t ttl; /* 0: 64 */
  uint8_t tos;
  uint16_t id;
  bool df, mf;
  uint16_t frag_off;   /* bytes, a multiple of 8 */
  const uint8_t *opts; /* IPv4 options, opt_len a multiple of 4 */
  size_t opt_len;
};
#define H_IP4(s, d, p) (&(const struct h_ip){ .src = (s), .dst = (d), .proto = (p) })
/* A struct h_ip for IPv6 src -> dst carrying `proto`; h_ip6_to_us is
 * h_peer6 -> h_us6. */
struct h_ip h_ip6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto);
struct h_ip h_ip6_to_us(uint8_t proto);
/* The IPv6 twin of H_IP4: a pointer to a temporary h_ip6(src, dst, proto). */
#define H_IP6(s, d, p) ((const struct h_ip[]){ h_ip6((s), (d), (p)) })

/* Write the IP header (IPv4: 20 bytes + options; IPv6: the 40-byte fixed
 * header) + payload into out; returns the total length. The payload may
 * already be in place (built at out + the header length). */
size_t h_ip_build(uint8_t *out, const struct h_ip *ip, const void *payload, size_t len);
/* The pseudo-header's sum for `len` bytes of ip->proto (RFC 9293 3.1,
 * RFC 768; RFC 8200 8.1 for IPv6), unfolded. */
uint32_t h_ip_pseudo(const struct h_ip *ip, size_t len);

/* ICMP message (8-byte header + data) with a correct checksum: ICMPv4
 * (RFC 792: no pseudo-header), and ICMPv6 (RFC 4443 2.3: over ip's
 * pseudo-header, next header 58). */
size_t h_icmp_build(uint8_t *out, uint8_t type, uint8_t code, uint32_t rest, const void *data,
                    size_t len);
size_t h_icmp6_build(uint8_t *out, const struct h_ip *ip, uint8_t type, uint8_t code, uint32_t rest,
                     const void *data, size_t len);
/* UDP header + data, checksummed over ip's pseudo-header (0 sent as 0xffff). */
size_t h_udp_build(uint8_t *out, const struct h_ip *ip, uint16_t sport, uint16_t dport,
                   const void *data, size_t len);

/* A TCP header (+ options + data), checksummed over ip's pseudo-header. */
struct h_tcp {
  uint16_t sport, dport;
  uint32_t seq, ack;
  uint8_t flags;
  bool has_doff; /* write `doff` as the data offset field (else the real one) */
  uint8_t doff;
  uint8_t reserved; /* the low nibble of byte 12 */
  uint16_t wnd, urp;
  const uint8_t *opts; /* opt_len a multiple of 4 */
  size_t opt_len;
  const void *data; /* may already be in place, after the options */
  size_t len;
};
size_t h_tcp_build(uint8_t *out, const struct h_ip *ip, const struct h_tcp *t);
/* TCP flags as tcpdump prints them (S F R P U . then E W for ECE, CWR)
 * into out, which holds H_TCP_FLAGS_LEN bytes; returns out. */
#define H_TCP_FLAGS_LEN 9
const char *h_tcp_flags(uint8_t flags, char *out);

/* Feed `l4` of protocol `proto` from src to dst as one datagram. */
void h_send(struct h_stack *h, uint32_t src, uint32_t dst, uint8_t proto, const void *l4,
            size_t len, us_time_t now);
/* Feed `l4` from H_PEER to H_US as fragments of at most `chunk` payload
 * bytes (a multiple of 8). */
void h_send_frags(struct h_stack *h, uint8_t proto, uint16_t id, const uint8_t *l4, size_t len,
                  size_t chunk, us_time_t now);

/* ---- reading what a stack emitted -------------------------------------------- */

/* A checked view of one emitted IPv4 datagram (or fragment). */
struct h_out {
  const uint8_t *pkt;
  size_t len;
  size_t hl;
  uint16_t id, frag_off;
  bool mf, df;
  uint8_t proto;
  uint32_t src, dst;
  const uint8_t *payload;
  size_t payload_len;
};
/* Check an emitted packet's IPv4 header (version, IHL, length, checksum)
 * and fill `o`. */
void h_out_check(const struct h_pkt *p, struct h_out *o);
/*
 * Collect every pending captured packet into one datagram: a single
 * unfragmented one, or fragments of one ID (in any order) which must tile
 * [0, total) exactly with no overlap and 8-byte alignment. Returns a
 * malloc'd payload (caller frees) and its length; checks every fragment
 * fits `mtu`. `first` gets the header of the first packet.
 */
uint8_t *h_collect(struct h_capture *cap, size_t mtu, size_t *len_out, struct h_out *first,
                   size_t *nfrags);
/* A counter of the stack. */
uint64_t h_stat(struct h_stack *h, enum us_stat id);

/* ---- two stacks back to back ---------------------------------------------- */

/*
 * A link between stack A and stack B on one virtual clock. Each packet
 * emitted by one side is delivered to the other after `delay`. An optional
 * filter sees every packet (dir 0 = A->B, 1 = B->A) and may drop it
 * (return false) or hand it on. h_link_run advances time, delivering
 * packets and firing timers, until `until` or until `done` returns true.
 */
struct h_link_pkt {
  uint8_t *data;
  size_t len;
  us_time_t due;
  int dir;
};

struct h_link {
  us_stack *a, *b;
  struct h_rand rand_a, rand_b;
  us_time_t now;
  us_time_t delay;
  struct h_link_pkt *q;
  size_t qlen, qcap;
  bool (*filter)(void *ctx, int dir, uint8_t *pkt, size_t *len, us_time_t now);
  void *filter_ctx;
  uint64_t delivered[2];
  uint64_t dropped[2];
};

/* Both stacks from `cfg_a`/`cfg_b` (NULL = defaults with 10.0.0.1 and
 * 10.0.0.2). Asserts success. */
void h_link_init(struct h_link *l, const struct us_config *cfg_a, const struct us_config *cfg_b,
                 uint64_t seed, us_time_t delay);
void h_link_fini(struct h_link *l);
/* Queue a raw packet into the link as if `from_dir` emitted it. */
void h_link_inject(struct h_link *l, int dir, const uint8_t *pkt, size_t len);
/* Run until `until`, or until done(ctx) is true (checked after every step).
 * Returns true if `done` was satisfied. */
bool h_link_run(struct h_link *l, us_time_t until, bool (*done)(void *ctx), void *ctx);

/* ---- bulk transfer between two stacks ----------------------------------------- */

/*
 * One application end of a TCP bulk transfer: it sends `total` bytes of
 * the oracle stream tx_seed, shuts its sending side down when all are
 * queued, and reads the peer's bytes, each checked against the oracle
 * stream rx_seed as it arrives. Pump both ends from the done() callback of
 * h_link_run (or any loop that moves packets); nothing here asserts, so
 * the test states what it requires:
 *
 *   h_bulk_init(&x.a, l.a, sock_a, total, 1, 2);
 *   h_bulk_init(&x.b, l.b, US_SOCK_INVALID, total, 2, 1);
 *   ... in done(): h_bulk_accept(&x.b, listener); h_bulk_pump(&x.a, now); ...
 *   assert_false(h_bulk_failed(&x.a));
 *   assert_true(h_bulk_done(&x.a, total));
 *
 * An end waits for the handshake before it sends (RFC 9293 3.10.4); a
 * socket error, a failed call or a wrong byte stops it and is kept. How it
 * ends is b->end.
 */
struct h_bulk {
  /* Set by h_bulk_init; the options after it may be set by the test. */
  us_stack *s;
  us_sock_t sock;            /* US_SOCK_INVALID until h_bulk_accept */
  uint64_t total;            /* bytes to send */
  uint64_t tx_seed, rx_seed; /* oracle streams: sent, expected */
  size_t chunk;              /* bytes per us_tcp_send (0: 16 KiB) */
  uint32_t sndbuf;           /* nonzero: offer only the send buffer's free room */
  enum h_bulk_end {
    H_BULK_SHUT = 0,   /* shut down when all is sent; the test closes */
    H_BULK_SHUT_CLOSE, /* ... and us_tcp_close once the EOF is read too */
    H_BULK_CLOSE,      /* us_tcp_close (no shutdown) once all is sent; an end
                          that sends nothing closes once it read the EOF */
  } end;
  /* Sees every byte sent (tx) and received before EOF, in order. */
  void (*on_data)(struct h_bulk *b, bool tx, const uint8_t *p, size_t n);
  void *ctx; /* for on_data */

  /* What happened. */
  bool connected, shut, eof, closed;
  uint64_t sent, rcvd;
  uint64_t after_eof; /* bytes read after the EOF (must stay 0) */
  int eofs;           /* EOFs seen (must be 1) */
  long long bad_at;   /* the first offset that did not match rx_seed, or -1 */
  int err;            /* the first socket error or failed call, or 0 */
};
void h_bulk_init(struct h_bulk *b, us_stack *s, us_sock_t sock, uint64_t total, uint64_t tx_seed,
                 uint64_t rx_seed);
/* Take a connection from `listener` of b->s if b has none; true once it has one. */
bool h_bulk_accept(struct h_bulk *b, us_sock_t listener);
/* One application step at `now`: send, shut down, read, close. */
void h_bulk_pump(struct h_bulk *b, us_time_t now);
/* Everything sent and shut down, EOF read after exactly `expect` bytes. */
bool h_bulk_done(const struct h_bulk *b, uint64_t expect);
/* A socket error, a failed call, a wrong byte or bytes after the EOF. */
bool h_bulk_failed(const struct h_bulk *b);

#endif
