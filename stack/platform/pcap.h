/*
 * pcap.h - write packets to a classic pcap file (tcpdump/tshark/Wireshark).
 *
 * The link type is LINKTYPE_RAW (101): each record is a bare IPv4 or IPv6
 * datagram, exactly what crosses the TUN (readers tell the two apart by the
 * version nibble, as the TUN itself does). Timestamps are microseconds of wall-clock
 * time, derived from the loop's monotonic `now` so the clock is not read
 * again per packet.
 *
 * The tee (struct us_pcap_tee) sits in both paths: as a us_device it
 * records what the stack sends and passes it on; as a us_rx_sink it
 * records what arrives and passes it on.
 */
#ifndef USTACK_PLATFORM_PCAP_H
#define USTACK_PLATFORM_PCAP_H

#include "rxsink.h"
#include "ustack/us_device.h"
#include "ustack/us_types.h"

#define US_PCAP_LINKTYPE_RAW 101u

struct us_pcap;

/* Create (truncate) `path` and write the file header. NULL with one line in
 * err on failure. */
struct us_pcap *us_pcap_open(const char *path, char *err, size_t errlen);

/* Append one record stamped with the monotonic time `now`. Write errors
 * are counted and logged once by the caller via us_pcap_errors(); the
 * capture stops at the first one (a truncated file still opens). */
void us_pcap_write(struct us_pcap *p, const uint8_t *pkt, size_t len, us_time_t now);

/* Push buffered records to the file (the loop does this before sleeping,
 * so a capture read while the daemon runs is at most one wake-up old). */
void us_pcap_flush(struct us_pcap *p);

/* Records written / write errors. */
uint64_t us_pcap_records(const struct us_pcap *p);
uint64_t us_pcap_errors(const struct us_pcap *p);

/* Flush and close. NULL is fine. */
void us_pcap_close(struct us_pcap *p);

struct us_pcap_tee {
  struct us_pcap *pcap;
  struct us_device next_tx;  /* where output goes after recording */
  struct us_rx_sink next_rx; /* where input goes after recording */
  /* The loop's cached time (us_loop_now_ref), used to stamp output, which
   * arrives through us_device without a `now`. NULL: read the clock. */
  const us_time_t *now;
};

/* The tee as an output device / input sink (ctx = the tee). */
struct us_device us_pcap_tee_device(struct us_pcap_tee *tee);
struct us_rx_sink us_pcap_tee_rx_sink(struct us_pcap_tee *tee);

#endif
