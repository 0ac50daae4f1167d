/*
 * sansio_test.c - drive ustack from a test, with no TUN, no sockets of the
 * operating system and no clock: packets in, packets out, time as a number.
 *
 * The stack's device is a capture: every datagram the stack emits is copied
 * into a queue that the test reads. Time is a variable the test advances,
 * so a one-second retransmission timer is checked without waiting a second.
 *
 *   1. A UDP datagram to port 7: the application echoes it through the
 *      socket API; the capture holds the reply with the same payload.
 *   2. A TCP SYN to a listener: a SYN-ACK comes out at once; with no ACK
 *      from us, advancing the virtual clock past the initial RTO (RFC 6298:
 *      1 s) makes the stack send it again.
 *
 * Build from an installed ustack:
 *   cc sansio_test.c -o sansio_test $(pkg-config --cflags --libs ustack)
 * Exit status 0 when every check holds; a failed check names itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ustack/ustack.h>

#define OUR_ADDR  US_IP4(10, 0, 0, 2)
#define PEER_ADDR US_IP4(10, 0, 0, 1)

/* ---- the capture device: tx copies, the test pops later -------------- */

struct pkt {
  uint8_t b[1600];
  size_t len;
};
struct capture {
  struct pkt q[64];
  size_t n;
};

/* tx runs inside the stack's own calls: it only copies (us_device.h). */
static void capture_tx(void *ctx, const uint8_t *p, size_t len) {
  struct capture *c = ctx;
  if (c->n < 64 && len <= sizeof c->q[0].b) {
    memcpy(c->q[c->n].b, p, len);
    c->q[c->n].len = len;
    c->n++;
  }
}

/* A fixed "random" source: the run replays exactly (a test's choice). */
static void fixed_rand(void *ctx, void *buf, size_t len) {
  uint64_t *x = ctx;
  uint8_t *b = buf;
  for (size_t i = 0; i < len; i++) {
    *x = *x * 6364136223846793005ull + 1442695040888963407ull;
    b[i] = (uint8_t)(*x >> 56);
  }
}

/* ---- building packets for the stack to receive ---------------------- */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) {
  put16(p, (uint16_t)(v >> 16)), put16(p + 2, (uint16_t)v);
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t sum(const uint8_t *p, size_t n, uint32_t acc) {
  for (size_t i = 0; i + 1 < n; i += 2)
    acc += get16(p + i);
  if (n & 1)
    acc += (uint32_t)p[n - 1] << 8;
  return acc;
}
static uint16_t fold(uint32_t acc) {
  while (acc >> 16)
    acc = (acc & 0xffff) + (acc >> 16);
  return (uint16_t)~acc;
}

/* IPv4 header (RFC 791) around `l4` of `n` bytes; transport checksum with
 * the pseudo-header (RFC 768, RFC 9293 3.1) at `csum_at` inside l4. */
static size_t ip4(uint8_t *out, uint8_t proto, const uint8_t *l4, size_t n, size_t csum_at) {
  memset(out, 0, 20);
  out[0] = 0x45;
  put16(out + 2, (uint16_t)(20 + n));
  out[8] = 64;
  out[9] = proto;
  put32(out + 12, PEER_ADDR);
  put32(out + 16, OUR_ADDR);
  put16(out + 10, fold(sum(out, 20, 0)));
  memcpy(out + 20, l4, n);
  uint8_t pseudo[12];
  memcpy(pseudo, out + 12, 8);
  pseudo[8] = 0, pseudo[9] = proto;
  put16(pseudo + 10, (uint16_t)n);
  put16(out + 20 + csum_at, fold(sum(out + 20, n, sum(pseudo, 12, 0))));
  return 20 + n;
}

static int failures;
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "sansio_test: FAILED: %s (line %d)\n", #cond, __LINE__); \
      failures++;                                                              \
    }                                                                          \
  } while (0)

int main(void) {
  struct capture cap = { 0 };
  uint64_t seed = 1;
  struct us_config cfg;
  us_config_default(&cfg);
  cfg.addr = OUR_ADDR;
  cfg.prefix_len = 24;
  cfg.rand = (struct us_rand_source){ .fill = fixed_rand, .ctx = &seed };
  struct us_device dev = { .tx = capture_tx, .ctx = &cap };
  us_stack *s = us_stack_create(&cfg, &dev);
  if (!s) {
    fprintf(stderr, "sansio_test: us_stack_create failed\n");
    return 1;
  }
  us_time_t now = 0; /* the virtual clock, in microseconds */
  uint8_t pkt[1600], l4[64];

  /* 1. UDP echo through the socket API. */
  us_sock_t u;
  CHECK(us_udp_open(s, &u) == 0);
  CHECK(us_udp_bind(s, u, 7) == 0);
  static const char msg[] = "hello, sans-IO";
  memset(l4, 0, 8);
  put16(l4, 5000), put16(l4 + 2, 7), put16(l4 + 4, (uint16_t)(8 + sizeof msg));
  memcpy(l4 + 8, msg, sizeof msg);
  size_t n = ip4(pkt, 17, l4, 8 + sizeof msg, 6);
  us_stack_input(s, pkt, n, now);
  char got[64];
  us_endpoint_t from;
  long r = us_udp_recvfrom(s, u, got, sizeof got, &from);
  CHECK(r == (long)sizeof msg && memcmp(got, msg, sizeof msg) == 0);
  CHECK(us_addr_ip4(from.addr) == PEER_ADDR && from.port == 5000);
  CHECK(us_udp_sendto(s, u, from, got, (size_t)r, now) == r);
  us_stack_poll(s, now);
  CHECK(cap.n == 1);
  if (cap.n >= 1) {
    const uint8_t *o = cap.q[0].b;
    CHECK(o[9] == 17 && get16(o + 20) == 7 && get16(o + 22) == 5000);
    CHECK(cap.q[0].len == 20 + 8 + sizeof msg && memcmp(o + 28, msg, sizeof msg) == 0);
  }
  cap.n = 0;

  /* 2. A SYN to a listener, and the SYN-ACK's retransmission timer. */
  us_sock_t l;
  CHECK(us_tcp_socket(s, &l) == 0);
  CHECK(us_tcp_bind(s, l, 80) == 0);
  CHECK(us_tcp_listen(s, l, 8) == 0);
  memset(l4, 0, 24);
  put16(l4, 40000), put16(l4 + 2, 80), put32(l4 + 4, 1000);
  l4[12] = 6 << 4; /* data offset: 24 bytes */
  l4[13] = 0x02;   /* SYN */
  put16(l4 + 14, 65535);
  l4[20] = 2, l4[21] = 4, put16(l4 + 22, 1460); /* MSS option */
  n = ip4(pkt, 6, l4, 24, 16);
  us_stack_input(s, pkt, n, now);
  us_time_t next = us_stack_poll(s, now);
  CHECK(cap.n == 1);
  uint32_t iss = 0;
  if (cap.n >= 1) {
    const uint8_t *o = cap.q[0].b;
    CHECK(o[9] == 6 && o[20 + 13] == 0x12); /* SYN+ACK */
    iss = (uint32_t)get16(o + 24) << 16 | get16(o + 26);
  }
  cap.n = 0;
  CHECK(next != US_TIME_NEVER && next > now);
  /* Nothing more until the timer is due, then the same SYN-ACK again. */
  while (now < US_SEC(3) && cap.n == 0) {
    now = next > now ? next : now + US_MSEC(1);
    next = us_stack_poll(s, now);
  }
  CHECK(cap.n == 1);
  CHECK(now >= US_MSEC(900) && now <= US_SEC(3)); /* RFC 6298 2.1: 1 s */
  if (cap.n >= 1) {
    const uint8_t *o = cap.q[0].b;
    CHECK(o[20 + 13] == 0x12 && ((uint32_t)get16(o + 24) << 16 | get16(o + 26)) == iss);
  }
  printf("sansio_test: UDP echo and SYN-ACK retransmission at t=%.3f s (virtual): %s\n",
         (double)now / 1e6, failures ? "FAILED" : "ok");
  us_udp_close(s, u);
  us_tcp_close(s, l, now);
  us_stack_destroy(s);
  return failures ? 1 : 0;
}
