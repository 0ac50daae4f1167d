/*
 * tcp_input_int.h - what the segment-arrival files of stack/tcp share
 * (RFC 9293 3.10.7): the segment being processed, the verdict each step
 * returns (docs/TCP.md, "Segment arrival: steps and verdicts"), and the
 * per-state handlers tcp_input() dispatches to. Private to stack/tcp.
 *
 *   tcp_input.c      arrival: validation, TCB lookup, dispatch by state,
 *                    3.10.7.1 CLOSED, apply_verdict(), ICMP errors
 *   tcp_listen.c     3.10.7.2 LISTEN: child TCBs, SYN queue, SYN cookies
 *   tcp_synsent.c    3.10.7.3 SYN-SENT
 *   tcp_steps.c      3.10.7.4 the eight steps (all but the fifth's parts)
 *   tcp_step5_ack.c  3.10.7.4 the fifth step: the ACK field
 *   tcp_timewait.c   TIME-WAIT (RFC 1337, RFC 6191), then the steps
 */
#ifndef USTACK_TCP_TCP_INPUT_INT_H
#define USTACK_TCP_TCP_INPUT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "tcp_int.h"

enum tcp_verdict {
  TV_CONTINUE,      /* go on with the next step */
  TV_DROP,          /* discard the segment (any ACK owed is already marked) */
  TV_DROP_ACK,      /* discard, and send <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> */
  TV_CHALLENGE_ACK, /* discard, and send that ACK within the connection's
                       challenge-ACK budget (RFC 5961 7) */
  TV_DROP_RST,      /* discard, and answer with a RST built from the segment;
                       rate-limited when no TCB has its 4-tuple */
  TV_ABORT_RST,     /* discard, send <SEQ=SND.NXT><CTL=RST>, abort the TCB */
  TV_DUP_ACK,       /* text held beyond a hole: the later steps still run,
                       then an ACK goes out at once (RFC 5681 4.2) */
  TV_COOKIE_SYNACK, /* LISTEN, SYN queue full: a SYN-ACK with a cookie */
  TV_REFUSE_FIN,    /* LISTEN: a cookie handshake a limit refuses: FIN */
  TV_REOPEN,        /* TIME-WAIT only: a new SYN may reuse the 4-tuple */
};

/* One segment being processed. `seg` may be trimmed by the first step;
 * seq0/len0/flags0 keep what arrived, for RST replies and the RST check. */
struct seg_in {
  struct us_tcp_seg seg;
  uint32_t seq0, len0;
  uint8_t flags0;
  us_addr_t src, dst;
  uint8_t ecn; /* the IP header's ECN field (RFC 3168 5) */
  us_time_t now;
};

/* tcp_input.c: the peer's SYN options (MSS, timestamps, ECN, SACK, window
 * scale) as a SYN or SYN-ACK negotiates them. */
void tcp_apply_syn_options(struct us_stack *s, struct us_tcb *t, const struct us_tcp_seg *g,
                           bool we_offered_ws, us_time_t now);

/* The per-state handlers. Each returns the verdict for the segment. */
enum tcp_verdict tcp_input_listen(struct us_stack *s, struct us_tcb *l, const struct seg_in *in,
                                  bool iss_floor_set, uint32_t iss_floor, struct us_tcb **child);
enum tcp_verdict tcp_input_syn_sent(struct us_stack *s, struct us_tcb *t, struct seg_in *in);
enum tcp_verdict tcp_input_other(struct us_stack *s, struct us_tcb *t, struct seg_in *in);
enum tcp_verdict tcp_input_time_wait(struct us_stack *s, struct us_tcb *t, struct seg_in *in);

/* The steps of 3.10.7.4 that other states reach: SYN-SENT continues at
 * the sixth with text after a SYN-ACK, trimmed by the first. */
enum tcp_verdict tcp_step1_check_seq(struct us_stack *s, struct us_tcb *t, struct seg_in *in);
enum tcp_verdict tcp_step5_check_ack(struct us_stack *s, struct us_tcb *t, struct seg_in *in);
enum tcp_verdict tcp_steps6_to_8(struct us_stack *s, struct us_tcb *t, struct seg_in *in);

#endif
