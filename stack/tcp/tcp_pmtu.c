/*
 * tcp_pmtu.c - the send MSS, and path MTU discovery (RFC 1191).
 *
 * The send MSS (t->mss, the payload of a full-sized segment) is
 *   min(the peer's MSS, tcp_mss_for(path MTU)) - the bytes of TSopt
 * (path MTU - 40 over IPv4, - 60 over IPv6)
 * (RFC 9293 3.7.1, MUST-16, and RFC 6691: options come out of the
 * segment, not on top of it). Every TCP segment leaves with DF set
 * (cfg.tcp_pmtud); a router that cannot forward one answers with ICMP
 * "fragmentation needed" (type 3 code 4) and its next-hop MTU, which
 * stack/ip/icmp.c checks and passes on (with an RFC 1191 plateau estimate
 * when the router gave none). Here:
 *  - the error must quote a sequence number we sent and have not seen
 *    acknowledged (SND.UNA <= seq < SND.NXT, RFC 5927 4.1; checked by the
 *    caller), else it is stale or forged;
 *  - a value below 68 (RFC 791's minimum) is ignored as impossible;
 *  - the estimate only ever goes down (RFC 1191 6.3; no probing upwards,
 *    so a route that grows back is not noticed: docs/TCP.md);
 *  - it never goes below TCP_PMTU_FLOOR (552, Linux's min_pmtu): a report
 *    below that (RFC 5927 7: an attacker shrinking segments to a few bytes)
 *    is clamped to the floor and DF is turned off for the connection, so
 *    a router on a really tiny path may fragment instead;
 *  - the data in flight is resent at once at the new size (RFC 1191 6.5),
 *    without treating the drop as congestion: cwnd and ssthresh stay.
 *
 * Over IPv6 (RFC 8201) a router never fragments, so a packet too big
 * (type 2) is acted on even with cfg.tcp_pmtud off, and the floor is the
 * IPv6 minimum MTU, 1280: icmp6.c raises a smaller report to it (RFC 8201
 * 4; RFC 8021: no atomic fragments), and there is no DF to turn off.
 *
 * Black holes (cfg.tcp_pmtu_blackhole, off by default as in Linux): a
 * router that drops DF segments too big for it without sending the ICMP
 * (or a firewall that drops the ICMP) stalls a connection with nothing
 * but timeouts. With the switch on, the second consecutive timeout of a
 * full-sized segment, and every second one after it, halves the MSS, at
 * most to 1024 bytes the first time, never below the floor (Linux's
 * tcp_mtu_probing=1; the detection of RFC 4821 7.7 without its probing
 * back up). The resend that follows uses the new size.
 */
#include "cc.h"
#include "core/log.h"
#include "core/stats.h"
#include "tcp_int.h"

void tcp_mss_update(struct us_stack *s, struct us_tcb *t) {
  (void)s;
  uint32_t mss = t->peer_mss ? t->peer_mss : TCP_MSS_DEFAULT;
  uint32_t path = tcp_mss_for(t->pmtu, t->raddr.family);
  if (mss > path)
    mss = path;
  mss -= tcp_ts_optlen(t); /* peer_mss >= TCP_MSS_FLOOR > TSopt */
  t->mss = (uint16_t)mss;
}

static uint32_t pmtu_floor(const struct us_tcb *t) {
  return us_addr_is_v6(t->raddr) ? TCP_PMTU_FLOOR6 : TCP_PMTU_FLOOR;
}

void tcp_pmtu_frag_needed(struct us_stack *s, struct us_tcb *t, uint32_t mtu, us_time_t now) {
  bool v6 = us_addr_is_v6(t->raddr);
  if (!s->cfg.tcp_pmtud && !v6) {
    US_STAT_INC(s, tcp_pmtu_ignored); /* we never set DF: not about us */
    return;
  }
  if (mtu < 68) {
    /* RFC 791: every link carries 68 bytes; less is forged or broken
     * (and 0 is a report icmp.c could not estimate). */
    US_STAT_INC(s, tcp_pmtu_ignored);
    return;
  }
  bool floor = false;
  if (mtu < pmtu_floor(t)) {
    US_STAT_INC(s, tcp_pmtu_floor);
    mtu = pmtu_floor(t);
    floor = !t->pmtu_no_df && !v6;
    t->pmtu_no_df = !v6;
  }
  if (mtu >= t->pmtu && !floor) {
    US_STAT_INC(s, tcp_pmtu_ignored); /* RFC 1191 6.3: never raise it here */
    return;
  }
  uint16_t old_mss = t->mss;
  if (mtu < t->pmtu)
    t->pmtu = (uint16_t)mtu;
  if (t->syn_acked)
    tcp_mss_update(s, t); /* else the SYN-ACK's MSS option does it */
  US_STAT_INC(s, tcp_pmtu_reduced);
  US_LOGI(s, "tcp port %u: path MTU %u (fragmentation needed), MSS %u -> %u%s", t->lport, t->pmtu,
          old_mss, t->mss, t->pmtu_no_df ? ", DF off" : "");
  if (!t->syn_acked || t->snd_una == t->snd_max)
    return;
  /* RFC 1191 6.5: what is in flight was too big and has been dropped:
   * send it again now, cut to the new MSS. Everything not SACKed is
   * marked lost in the transmit records (tcp_sack.c), as after a timeout,
   * but without the congestion response or a backoff; the output resends
   * it in MSS pieces as the window allows. */
  uint64_t before = s->stats[US_STAT_tcp_retrans_segs];
  tcp_xr_mark_lost_range(s, t, t->snd_una, t->snd_max);
  t->rtt_timing = false;
  tcp_output(s, t, now);
  US_STAT_ADD(s, tcp_pmtu_rexmit, s->stats[US_STAT_tcp_retrans_segs] - before);
}

void tcp_pmtu_on_rto(struct us_stack *s, struct us_tcb *t) {
  if (!s->cfg.tcp_pmtu_blackhole || !s->cfg.tcp_pmtud || !t->syn_acked)
    return;
  if (t->nrexmit < 2 || t->nrexmit % 2 != 0)
    return;
  if (t->snd.len < t->mss || t->pmtu_no_df)
    return; /* what timed out was short: not about its size */
  /* Half the MSS, and at most a 1024-byte MSS (Linux's tcp_base_mss). */
  uint32_t hdrs = tcp_hdrs_for(t->raddr.family);
  uint32_t mss = t->pmtu - hdrs - tcp_ts_optlen(t);
  mss /= 2;
  if (mss > 1024)
    mss = 1024;
  uint32_t mtu = mss + hdrs + tcp_ts_optlen(t);
  if (mtu < pmtu_floor(t)) {
    mtu = pmtu_floor(t);
    /* Even the floor did not pass: let IPv4 routers fragment. */
    t->pmtu_no_df = us_addr_is_v4(t->raddr);
  }
  if (mtu >= t->pmtu && !t->pmtu_no_df)
    return;
  uint16_t old_mss = t->mss;
  if (mtu < t->pmtu)
    t->pmtu = (uint16_t)mtu;
  tcp_mss_update(s, t);
  US_STAT_INC(s, tcp_pmtu_blackhole);
  US_LOGI(s, "tcp port %u: %u timeouts of full-sized segments: path MTU %u, MSS %u -> %u%s",
          t->lport, t->nrexmit, t->pmtu, old_mss, t->mss, t->pmtu_no_df ? ", DF off" : "");
}
