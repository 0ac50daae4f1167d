/*
 * fuzz_offload.c - libFuzzer target: datagrams handed in with arbitrary
 * offload metadata (us_rx_meta, docs/OFFLOAD.md).
 *
 * The metadata is believed (only the TUN's driver may pass it), so a
 * partial or "valid" checksum takes TCP and UDP past their checksum check:
 * the parsers that then run without one (us_tcp_parse_trusted,
 * us_udp_parse_trusted) and the check that the metadata describes the
 * datagram (apply_rx_meta) must still hold against any bytes and any
 * metadata. S (10.0.0.2) listens on TCP port 80 and has a UDP socket on
 * port 7; its device advertises TSO and checksum offload, so its answers
 * take the offload output path too.
 *
 * Input: u8 flags, u16 be csum_start, u16 be csum_offset, u16 be gso_size,
 * then the IPv4 datagram. Bit 7 of flags set: fix the IPv4 header checksum
 * (so the datagram gets past IP input more often).
 *
 * Oracles (abort() = a finding): ASan/UBSan; every offloaded packet S
 * emits is one the kernel would take (partial checksum at the TCP field,
 * a super-segment only for TCP, within 65535 bytes); after the sockets
 * close and the clock runs on, every pool is full (no leak).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "ustack/ustack.h"

#define S_ADDR 0x0a000002u

#define FAIL(...)                                  \
  do {                                             \
    fprintf(stderr, "fuzz_offload: " __VA_ARGS__); \
    fprintf(stderr, "\n");                         \
    abort();                                       \
  } while (0)

static void dev_tx(void *ctx, const uint8_t *pkt, size_t len) {
  (void)ctx;
  (void)pkt;
  if (len < 20 || len > 65535)
    FAIL("emitted a datagram of %zu bytes", len);
}

static void dev_tx_meta(void *ctx, const uint8_t *pkt, size_t len, const struct us_tx_meta *m) {
  (void)ctx;
  if (len < 40 || len > 65535 || fz_get16(pkt + 2) != len)
    FAIL("offloaded datagram of %zu bytes, IPv4 length %u", len, fz_get16(pkt + 2));
  if (!m->csum_partial || m->csum_start != 20 || m->csum_offset != 16 || pkt[9] != 6)
    FAIL("offloaded datagram the kernel would refuse (start %u offset %u proto %u)", m->csum_start,
         m->csum_offset, pkt[9]);
  if (m->gso_size == 0 && len > 1500)
    FAIL("a %zu-byte datagram above the MTU without gso_size", len);
}

static void rand_fill(void *ctx, void *buf, size_t n) {
  uint64_t *st = ctx;
  uint8_t *b = buf;
  for (size_t i = 0; i < n; i++) {
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    b[i] = (uint8_t)(*st >> 56);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 7)
    return 0;
  static uint64_t rng;
  rng = 42;
  struct us_config cfg;
  us_config_default(&cfg);
  cfg.addr = S_ADDR;
  cfg.prefix_len = 24;
  cfg.rand.fill = rand_fill;
  cfg.rand.ctx = &rng;
  cfg.log_level = US_LOG_ERROR;
  /* Small pools: a fresh stack per input must be cheap. */
  cfg.pkt_count = 64;
  cfg.reass_contexts = 2;
  cfg.max_udp_sockets = 4;
  cfg.max_tcp_sockets = 16;
  cfg.tcp_buf_mem = 4u * (cfg.tcp_sndbuf + cfg.tcp_rcvbuf);
  struct us_device dev = {
    .tx = dev_tx, .ctx = NULL, .caps = US_DEV_CSUM | US_DEV_TSO4, .tx_meta = dev_tx_meta
  };
  us_stack *s = us_stack_create(&cfg, &dev);
  if (!s)
    FAIL("us_stack_create");
  us_time_t now = US_SEC(1);
  us_sock_t l, u;
  if (us_tcp_socket(s, &l) != 0 || us_tcp_bind(s, l, 80) != 0 || us_tcp_listen(s, l, 16) != 0)
    FAIL("listener");
  if (us_udp_open(s, &u) != 0 || us_udp_bind(s, u, 7) != 0)
    FAIL("udp socket");

  struct us_rx_meta m = {
    .flags = data[0] & 0x7fu,
    .csum_start = fz_get16(data + 1),
    .csum_offset = fz_get16(data + 3),
    .gso_size = fz_get16(data + 5),
  };
  size_t len = size - 7;
  uint8_t *b = malloc(len ? len : 1);
  if (!b)
    return 0;
  memcpy(b, data + 7, len);
  if ((data[0] & 0x80u) && len >= 20 && (b[0] & 15) >= 5 && (size_t)(b[0] & 15) * 4 <= len) {
    size_t ihl = (size_t)(b[0] & 15) * 4;
    fz_put16(b + 10, 0);
    fz_put16(b + 10, fz_fold(fz_sum(0, b, ihl)));
  }
  us_stack_input_meta(s, b, len, &m, now);
  free(b);

  /* The application: accept, read, answer a little, close. */
  for (int i = 0; i < 4; i++) {
    us_stack_poll(s, now);
    us_sock_t c;
    if (us_tcp_accept(s, l, &c, NULL) == 0) {
      uint8_t buf[4096];
      while (us_tcp_recv(s, c, buf, sizeof buf, now) > 0) {
      }
      us_tcp_send(s, c, "ok\n", 3, now);
      us_tcp_close(s, c, now);
    }
    now += US_MSEC(10);
  }
  us_tcp_close(s, l, now);
  us_udp_close(s, u);
  for (int i = 0; i < 100000 && !us_stack_pools_full(s); i++) {
    us_time_t d = us_stack_poll(s, now);
    if (d == US_TIME_NEVER)
      break;
    now = d > now ? d : now + 1;
  }
  if (!us_stack_pools_full(s))
    FAIL("pools not full after the clock ran on (a leak)");
  us_stack_destroy(s);
  return 0;
}
