/*
 * cc.h - the congestion-control interface (DESIGN section 4).
 *
 * The state machine calls these hooks and never touches cwnd/ssthresh
 * itself, so NewReno (cc_newreno.c), SACK-based recovery or CUBIC can be
 * swapped without changing tcp_input.c. The algorithm owns the fields
 * cwnd, ssthresh, bytes_acked, dupacks, recover, in_recovery and
 * cc_after_rto of the TCB.
 * FlightSize (RFC 5681) is snd_max - snd_una.
 */
#ifndef USTACK_TCP_CC_H
#define USTACK_TCP_CC_H

#include <stdbool.h>
#include <stdint.h>

#include "ustack/us_config.h"

struct us_tcb;

struct tcp_cc_ops {
  const char *name;
  /* The connection is synchronized: set the initial window. */
  void (*init)(struct us_tcb *t, const struct us_config *cfg);
  /* `acked` new bytes were acknowledged (snd_una already advanced).
   * Returns true when the first unacknowledged segment must be sent again
   * now (a NewReno partial acknowledgment, RFC 6582 3.2 step 5). */
  bool (*on_ack)(struct us_tcb *t, uint32_t acked);
  /* A duplicate ACK (RFC 5681 2). Returns true at the threshold: the
   * caller then calls on_loss() and retransmits the first segment. */
  bool (*on_dupack)(struct us_tcb *t);
  /* Loss detected by duplicate ACKs: enter fast recovery. */
  void (*on_loss)(struct us_tcb *t);
  /* The retransmission timer expired (RFC 5681 3.1 eq. 4). */
  void (*on_timeout)(struct us_tcb *t);
};

extern const struct tcp_cc_ops tcp_cc_newreno;

#endif
