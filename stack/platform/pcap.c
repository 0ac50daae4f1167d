/*
 * pcap.c - the classic libpcap file format, written by hand: a 24-byte
 * global header then a 16-byte record header per packet, all in host byte
 * order (readers detect it from the magic number 0xa1b2c3d4).
 */
#include "pcap.h"

#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct us_pcap {
  FILE *f;
  int64_t wall_minus_mono; /* add to monotonic µs to get epoch µs */
  uint64_t records;
  uint64_t errors;
};

struct pcap_file_hdr {
  uint32_t magic;
  uint16_t version_major, version_minor;
  int32_t thiszone;
  uint32_t sigfigs;
  uint32_t snaplen;
  uint32_t linktype;
};

struct pcap_rec_hdr {
  uint32_t ts_sec, ts_usec, incl_len, orig_len;
};

/* Larger than any IPv4 or IPv6 datagram short of a jumbogram (65535 and
 * 40 + 65535; jumbograms are refused on input, RFC 2675 needs a jumbo
 * link), so nothing is ever cut. */
#define SNAPLEN 262144u

struct us_pcap *us_pcap_open(const char *path, char *err, size_t errlen) {
  struct us_pcap *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, errlen, "pcap %s: out of memory", path);
    return NULL;
  }
  p->f = fopen(path, "wbe");
  if (!p->f) {
    snprintf(err, errlen, "cannot create pcap file %s: %s", path, strerror(errno));
    free(p);
    return NULL;
  }
  struct pcap_file_hdr h = {
    .magic = 0xa1b2c3d4u, /* microsecond timestamps */
    .version_major = 2,
    .version_minor = 4,
    .snaplen = SNAPLEN,
    .linktype = US_PCAP_LINKTYPE_RAW,
  };
  if (fwrite(&h, sizeof h, 1, p->f) != 1 || fflush(p->f) != 0) {
    snprintf(err, errlen, "cannot write pcap file %s: %s", path, strerror(errno));
    fclose(p->f);
    free(p);
    return NULL;
  }
  p->wall_minus_mono = us_clock_wall_us() - us_clock_now();
  return p;
}

void us_pcap_write(struct us_pcap *p, const uint8_t *pkt, size_t len, us_time_t now) {
  if (!p || !p->f || p->errors)
    return;
  int64_t t = now + p->wall_minus_mono;
  if (t < 0)
    t = 0;
  uint32_t incl = len > SNAPLEN ? SNAPLEN : (uint32_t)len;
  struct pcap_rec_hdr r = {
    .ts_sec = (uint32_t)(t / 1000000),
    .ts_usec = (uint32_t)(t % 1000000),
    .incl_len = incl,
    .orig_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len,
  };
  if (fwrite(&r, sizeof r, 1, p->f) != 1 || fwrite(pkt, 1, incl, p->f) != incl) {
    p->errors++;
    return;
  }
  p->records++;
}

void us_pcap_flush(struct us_pcap *p) {
  if (p && p->f && fflush(p->f) != 0)
    p->errors++;
}

uint64_t us_pcap_records(const struct us_pcap *p) { return p ? p->records : 0; }
uint64_t us_pcap_errors(const struct us_pcap *p) { return p ? p->errors : 0; }

void us_pcap_close(struct us_pcap *p) {
  if (!p)
    return;
  if (p->f)
    fclose(p->f);
  free(p);
}

static void tee_tx(void *ctx, const uint8_t *pkt, size_t len) {
  struct us_pcap_tee *tee = ctx;
  us_pcap_write(tee->pcap, pkt, len, tee->now ? *tee->now : us_clock_now());
  if (tee->next_tx.tx)
    tee->next_tx.tx(tee->next_tx.ctx, pkt, len);
}

/* An offloaded packet is recorded as the stack made it (a super-segment,
 * a partial checksum), as tcpdump on a host with TSO shows it. */
static void tee_tx_meta(void *ctx, const uint8_t *pkt, size_t len, const struct us_tx_meta *m) {
  struct us_pcap_tee *tee = ctx;
  us_pcap_write(tee->pcap, pkt, len, tee->now ? *tee->now : us_clock_now());
  if (tee->next_tx.tx_meta)
    tee->next_tx.tx_meta(tee->next_tx.ctx, pkt, len, m);
}

static void tee_rx(void *ctx, const uint8_t *pkt, size_t len, const struct us_rx_meta *meta,
                   us_time_t now) {
  struct us_pcap_tee *tee = ctx;
  us_pcap_write(tee->pcap, pkt, len, now);
  if (tee->next_rx.rx)
    tee->next_rx.rx(tee->next_rx.ctx, pkt, len, meta, now);
}

struct us_device us_pcap_tee_device(struct us_pcap_tee *tee) {
  /* The tee passes offloaded packets through: it offers what the next
   * device offers. */
  return (struct us_device){ .tx = tee_tx,
                             .ctx = tee,
                             .caps = tee->next_tx.tx_meta ? tee->next_tx.caps : 0,
                             .tx_meta = tee_tx_meta };
}

struct us_rx_sink us_pcap_tee_rx_sink(struct us_pcap_tee *tee) {
  return (struct us_rx_sink){ .rx = tee_rx, .ctx = tee };
}
