/*
 * fault_spec.h - the injector's spec language (the --fault grammar),
 * parsed into a configuration the engine runs.
 *
 * fault_spec_parse() fills a whole struct fault_conf or fails with a
 * one-line reason naming the clause and the offending token; the engine
 * swaps a conf in only when the whole spec parsed, so a bad spec never
 * leaves a half-applied configuration.
 *
 * ------------------------------------------------------------------------
 * SPEC GRAMMAR (also in scripts/fault/README.md)
 *
 *   spec    := clause { ';' clause }          (empty spec = no impairment)
 *   clause  := [ dir ':' ] item { ',' item }
 *   dir     := 'tx' | 'rx' | 'both'           (default: both)
 *   item    := key '=' value                  (spaces around tokens ignored)
 *
 * A clause that contains `match=` is a RULE; any other clause sets LINK
 * IMPAIRMENTS of its direction(s). A key may appear only once per clause.
 * Impairments come in groups (loss+burst, truncate+keep, corrupt+bits,
 * dup+copies, reorder+gap+hold, rate+bucket+qlen, delay+jitter): a
 * modifier must sit in the same clause as its main key, and a later clause
 * that names a main key replaces that whole group for its direction(s).
 * Clauses for different groups add up.
 *
 * Values:  PCT  = number followed by '%' (0%..100%, e.g. 5%, 0.5%)
 *          TIME = number with a unit: us, ms, s (e.g. 20ms, 1.5s, 250us)
 *          N    = unsigned integer
 *          SIZE = number with a unit: B, kB (1000), KiB (1024), MB, MiB
 *          RATE = number with a unit per second: bit, kbit, mbit, gbit
 *                 (bits/s) or Bps, kBps, MBps (bytes/s)
 *          WIN  = TIME '-' [TIME]  (from..to, relative to the origin; an
 *                 empty end means "until cleared")
 *
 * Link impairment keys (applied in this order to each packet):
 *   loss=PCT        drop with probability PCT
 *   burst=N         ... correlated: mean loss-burst length N packets
 *                   (Gilbert-Elliott two-state chain: in the Bad state
 *                   every packet is lost, Bad->Good with probability 1/N,
 *                   Good->Bad chosen so the long-run loss rate is PCT;
 *                   needs loss, and loss <= N/(N+1))
 *   truncate=PCT    cut the packet short
 *   keep=N          ... to N bytes (default: a random length 1..len-1)
 *   corrupt=PCT     flip bits
 *   bits=N          ... N distinct random bits of the packet (default 1,
 *                   1..64). With bits=1 every flip is caught by the IP or
 *                   TCP/UDP checksum; with more, the Internet checksum can
 *                   miss some (two opposite flips in the same bit column),
 *                   as on a real link.
 *   dup=PCT         deliver extra copies
 *   copies=N        ... N extra copies (default 1, max 8)
 *   reorder=PCT     hold the packet back so later packets overtake it
 *   gap=N           ... until N later packets of that direction have been
 *                   delivered (default 1 = swap with the next one)
 *   hold=TIME       ... or until TIME has passed, whichever comes first.
 *                   gap alone: hold defaults to 100ms (a safety valve so
 *                   an idle link does not keep a packet forever); hold
 *                   alone: time only, no gap.
 *   rate=RATE       token-bucket shaper (GCRA), FIFO
 *   bucket=SIZE     ... bucket depth (default 3000B)
 *   qlen=N          ... packets waiting in the shaper; beyond: drop
 *                   (counted rate_dropped) (default 100)
 *   delay=TIME      fixed one-way delay (after the shaper)
 *   jitter=TIME     ... plus uniform [-jitter, +jitter]; needs delay and
 *                   jitter <= delay. Order is kept (netem without
 *                   reordering): a packet never leaves before the one
 *                   ahead of it.
 *   blackhole=WIN   drop everything in the window (counted blackholed)
 *
 * Rule keys (one rule per clause; rules are tried in spec order and the
 * first that applies acts on the packet):
 *   match=EXPR      EXPR := atom { '&' atom }, atom := ['!'] name
 *                   names: ip (any packet), ip4, ip6 (the family),
 *                   tcp, udp, icmp (ICMP over IPv4, ICMPv6 over IPv6),
 *                   tcp.syn (SYN without ACK), tcp.synack, tcp.ack (ACK
 *                   flag set), tcp.pureack (ACK, no SYN/FIN/RST, no data),
 *                   tcp.fin, tcp.rst, tcp.psh, tcp.urg,
 *                   data (TCP or UDP payload not empty),
 *                   sport:N, dport:N, port:N (either port)
 *                   The transport atoms mean the same over IPv4 and
 *                   IPv6 (behind IPv6's extension headers). Non-first
 *                   fragments match only `ip`, their family and negated
 *                   atoms; unparseable packets only `ip` and negated
 *                   atoms, and so does an IPv6 packet whose extension
 *                   headers a destination would refuse (plus `ip6`).
 *   action=ACT      drop | pass | dup[:N] | delay:TIME | corrupt[:BITS]
 *                   | truncate:N  (pass = exempt from link impairments)
 *   count=N         act on at most N packets (default: unlimited)
 *   skip=N          let the first N matching packets through untouched
 *   when=WIN        only inside the window, or
 *   when=handshake  only while the packet's TCP connection is in its
 *                   handshake: from its SYN until a segment without SYN
 *                   has been delivered in each direction (or a RST has).
 *   A rule that acts with anything but `pass` exempts the packet from the
 *   random link impairments (loss, truncate, corrupt, dup, reorder); the
 *   shaper and delay still apply. A packet delayed by a rule does not hold
 *   back those behind it.
 *
 * Time origin: windows (`blackhole`, `when=T1-T2`) count from the first
 * `now` the injector sees after us_fault_create() or us_fault_set().
 *
 * Examples:
 *   rx:loss=5%,burst=3;tx:delay=20ms,jitter=5ms
 *   tx:match=tcp.synack,count=2,action=drop
 *   rx:match=tcp.ack,when=handshake,action=drop
 *   both:match=tcp.fin,action=delay:3s
 *   tx:blackhole=5s-25s
 *   both:reorder=2%,gap=3;both:dup=1%;both:corrupt=1%,bits=1
 *   rx:rate=10mbit,bucket=15kB,qlen=50
 * ------------------------------------------------------------------------
 */
#ifndef USTACK_FAULT_SPEC_H
#define USTACK_FAULT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault.h"
#include "fault_match.h"

#define FAULT_SPEC_MAX   1024
#define FAULT_MAX_RULES  32
#define FAULT_MAX_ATOMS  8
#define FAULT_MAX_COPIES 8
#define FAULT_MAX_BITS   64
/* A whole day: longer times are surely typos, and keeping them small keeps
 * every sum of times far from overflow. */
#define FAULT_TIME_MAX   ((us_time_t)86400 * 1000000)

enum fault_action {
  FAULT_ACT_DROP,
  FAULT_ACT_PASS,
  FAULT_ACT_DUP,
  FAULT_ACT_DELAY,
  FAULT_ACT_CORRUPT,
  FAULT_ACT_TRUNCATE
};

struct fault_rule {
  uint8_t dirmask; /* bit 0 = TX, bit 1 = RX */
  bool blackhole;  /* made from blackhole=: counted as blackholed */
  uint8_t natoms;
  struct fault_atom atoms[FAULT_MAX_ATOMS];
  uint8_t action;  /* enum fault_action */
  uint32_t arg;    /* dup copies, corrupt bits, truncate length */
  us_time_t delay; /* FAULT_ACT_DELAY */
  uint64_t count;  /* UINT64_MAX = unlimited */
  uint64_t skip;
  bool win;
  us_time_t win_from, win_to; /* win_to = US_TIME_NEVER: open end */
  bool handshake;
  uint64_t matched; /* run-time: matching packets seen in the window */
};

/* One direction's link impairments. */
struct fault_link {
  double loss;
  uint32_t burst;    /* 0/1 = independent */
  double p_gb, p_bg; /* Gilbert-Elliott transition probabilities */
  double truncate;
  uint32_t keep; /* 0 = random */
  bool keep_set;
  double corrupt;
  uint32_t bits;
  double dup;
  uint32_t copies;
  double reorder;
  uint32_t gap;    /* 0 = time only */
  us_time_t hold;  /* 0 = gap only (never: hold defaults when gap alone) */
  uint64_t rate;   /* bytes per second, 0 = off */
  uint64_t bucket; /* bytes */
  uint32_t qlen;
  us_time_t delay, jitter;
};

struct fault_conf {
  struct fault_link link[US_FAULT_NDIRS];
  struct fault_rule rules[FAULT_MAX_RULES];
  uint32_t nrules;
  bool uses_handshake;
  char spec[FAULT_SPEC_MAX];
};

/* Parse `spec` (NULL = "") into `c` (cleared first). 0, or -1 with a
 * one-line reason in `err` (if err && errlen). */
int fault_spec_parse(const char *spec, struct fault_conf *c, char *err, size_t errlen);

#endif
