/*
 * cc.h - the congestion-control interface (docs/TCP.md, "Congestion
 * control").
 *
 * An algorithm sees a struct tcp_cc and nothing else of the connection:
 * its state lives in the union below, and every hook is handed an event
 * with the time, the RTT estimator and the sizes it may need. Loss
 * detection and recovery (tcp_rack.c, tcp_sack.c) decide WHEN a congestion
 * event happens; the algorithm decides only by how much the window moves.
 * Output asks tcp_cc_window() how many bytes may be in flight and never
 * reads an algorithm's fields.
 *
 * Call order, for one connection:
 *   init                 once, when our SYN is acknowledged;
 *   on_ack               for every ACK that acknowledges new data (RFC 3465
 *                        counts bytes, so `acked` is bytes newly covered by
 *                        SND.UNA);
 *   on_congestion        loss detected by ACKs: fast recovery starts
 *                        (RFC 5681 3.2, RFC 6675 5, RFC 9438 4.6);
 *   on_recovery_exit     the recovery point was acknowledged;
 *   on_rto               the retransmission timer expired (RFC 5681 3.1);
 *   on_idle_restart      sending resumes after an idle period longer than
 *                        the RTO (RFC 5681 4.1).
 */
#ifndef USTACK_TCP_CC_H
#define USTACK_TCP_CC_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/us_config.h"
#include "ustack/us_types.h"

/* The RTT estimator as the algorithms see it (tcp_rtt.c), microseconds;
 * 0 means "no sample yet". */
struct tcp_cc_rtt {
  us_time_t srtt;    /* RFC 6298 smoothed RTT */
  us_time_t min_rtt; /* lowest sample seen on the connection */
  us_time_t latest;  /* the most recent sample */
};

/* What a hook is told about the moment it is called. */
struct tcp_cc_event {
  us_time_t now;
  const struct tcp_cc_rtt *rtt;
  uint32_t mss;     /* SMSS */
  uint32_t flight;  /* FlightSize (RFC 5681): sent, not cumulatively ACKed */
  uint32_t acked;   /* on_ack: bytes newly acknowledged */
  bool in_recovery; /* on_ack: fast or RTO recovery is in progress */
  bool after_rto;   /* on_ack: the ACK is part of RTO recovery */
};

/* RFC 5681 with RFC 3465 byte counting (cc_newreno.c). */
struct tcp_cc_newreno {
  uint32_t cwnd, ssthresh;
  uint32_t bytes_acked; /* congestion avoidance: bytes toward the next SMSS */
};

/* RFC 9438 (cc_cubic.c). Windows in bytes, times in microseconds. */
struct tcp_cc_cubic {
  uint32_t cwnd, ssthresh;
  uint32_t w_max;      /* window before the last reduction (W_max) */
  uint32_t cwnd_epoch; /* cwnd when the current epoch began */
  us_time_t t_epoch;   /* start of the congestion-avoidance epoch; 0 = none */
  double k;            /* seconds until W_cubic reaches W_max again */
  double w_est;        /* Reno-friendly estimate, bytes (RFC 9438 4.3) */
  double cnt;          /* fractional growth carried between ACKs, bytes */
};

struct tcp_cc_ops;

struct tcp_cc {
  const struct tcp_cc_ops *ops;
  union {
    struct tcp_cc_newreno nr;
    struct tcp_cc_cubic cubic;
  } u;
};

struct tcp_cc_ops {
  const char *name;
  /* The initial window `iw` bytes (RFC 5681 3.1 / RFC 6928). */
  void (*init)(struct tcp_cc *cc, const struct tcp_cc_event *ev, uint32_t iw);
  void (*on_ack)(struct tcp_cc *cc, const struct tcp_cc_event *ev);
  void (*on_congestion)(struct tcp_cc *cc, const struct tcp_cc_event *ev);
  void (*on_recovery_exit)(struct tcp_cc *cc, const struct tcp_cc_event *ev);
  void (*on_rto)(struct tcp_cc *cc, const struct tcp_cc_event *ev);
  void (*on_idle_restart)(struct tcp_cc *cc, const struct tcp_cc_event *ev, uint32_t rw);
  /* How many bytes may be in flight (cwnd). */
  uint32_t (*window)(const struct tcp_cc *cc);
  uint32_t (*ssthresh)(const struct tcp_cc *cc); /* for ustack-ss */
};

extern const struct tcp_cc_ops tcp_cc_newreno;
extern const struct tcp_cc_ops tcp_cc_cubic;

/* The algorithm a us_config names. */
const struct tcp_cc_ops *tcp_cc_ops_for(enum us_tcp_cc which);

/* RFC 3465 2.2: in slow start an ACK grows cwnd by at most L = 2*SMSS. */
#define TCP_ABC_L_SEGS 2u

/* Largest window an algorithm lets cwnd reach (keeps sums in 32 bits). */
#define TCP_CC_CWND_MAX 0x3fffffffu

#endif
