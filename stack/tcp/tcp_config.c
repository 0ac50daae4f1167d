/*
 * tcp_config.c - the TCP layer's defaults and checks. Each value says
 * where it comes from; where we follow Linux rather than the letter of an
 * RFC, the comment says so.
 */
#include "tcp.h"
#include "ustack/us_config.h"

void us_tcp_defaults(struct us_config *cfg) {
  cfg->max_tcp_sockets = 1024;

  /* The send buffer bounds the bytes in flight. 1 MiB covers the round
   * trip of a loaded host, where the kernel reader ACKs only when it gets
   * a CPU; 256 KiB left the sender idle waiting for ACKs (docs/SENDING.md). */
  cfg->tcp_sndbuf = 1024u * 1024u;
  cfg->tcp_rcvbuf = 256u * 1024u;
  cfg->tcp_buf_mem = 160u * 1024u * 1024u; /* 128 send + 128 receive buffers */
  cfg->tcp_ooo_bytes_max = 256u * 1024u;
  cfg->tcp_ooo_bytes_total = 8u * 1024u * 1024u;
  cfg->tcp_backlog_max = 128;
  cfg->tcp_listener_conn_max = 0; /* no limit: a policy for the application */
  cfg->tcp_source_conn_max = 0;
  cfg->tcp_rst_rate = 1000; /* FreeBSD limits these RSTs to 200/s */
  cfg->tcp_rst_burst = 500;
  cfg->tcp_synack_retries = 5;            /* Linux tcp_synack_retries */
  cfg->tcp_synack_timeout_rst = true;     /* RFC-friendly; Linux drops silently */
  cfg->tcp_syn_retries = 7;               /* 1+2+...+64 s > 3 min (MUST-23) */
  cfg->tcp_r1 = 3;                        /* RFC 9293 3.8.3: R1 at least 3 */
  cfg->tcp_r2 = 15;                       /* Linux tcp_retries2; R2 >= 100 s */
  cfg->tcp_rto_initial = US_SEC(1);       /* RFC 6298 2.1 */
  cfg->tcp_rto_min = US_MSEC(200);        /* Linux; RFC 6298 2.4 says 1 s (SHOULD) */
  cfg->tcp_rto_max = US_SEC(120);         /* RFC 6298 2.5: >= 60 s; Linux 120 s */
  cfg->tcp_msl = US_SEC(30);              /* 2*MSL = 60 s, like Linux */
  cfg->tcp_max_time_wait = 0;             /* half the TCB pool (Linux: tcp_max_tw_buckets) */
  cfg->tcp_fin_timeout = US_SEC(60);      /* Linux tcp_fin_timeout */
  cfg->tcp_delack = US_MSEC(40);          /* MUST-40: < 500 ms; Linux minimum */
  cfg->tcp_keepalive_idle = US_SEC(7200); /* MUST-28: >= 2 h */
  cfg->tcp_keepalive_interval = US_SEC(75);
  cfg->tcp_keepalive_probes = 9;
  cfg->tcp_challenge_ack_per_sec = 10;   /* per connection: CVE-2016-5696 */
  cfg->tcp_time_wait_rst_closes = false; /* RFC 1337: ignore RST in TIME-WAIT */
  cfg->tcp_syncookies = true;
  cfg->tcp_init_cwnd_segs = 10;     /* RFC 6928 */
  cfg->tcp_timestamps = true;       /* RFC 7323; Linux tcp_timestamps=1 */
  cfg->tcp_pmtud = true;            /* RFC 1191; Linux ip_no_pmtu_disc=0 */
  cfg->tcp_pmtu_blackhole = false;  /* Linux tcp_mtu_probing=0 */
  cfg->tcp_cc = US_TCP_CC_CUBIC;    /* RFC 9438, Linux's default */
  cfg->tcp_rack_tlp = true;         /* RFC 8985 */
  cfg->tcp_ecn = US_TCP_ECN_ACCEPT; /* RFC 3168; Linux tcp_ecn=2 */
}

const char *us_tcp_config_check(const struct us_config *c) {
  if (c->max_tcp_sockets > US_TCP_MAX_CONNS)
    return "max_tcp_sockets must be at most 1000000";
  if (c->tcp_sndbuf < US_TCP_BUF_MIN || c->tcp_rcvbuf < US_TCP_BUF_MIN ||
      c->tcp_sndbuf > US_TCP_BUF_MAX || c->tcp_rcvbuf > US_TCP_BUF_MAX)
    return "TCP buffers must be 4096..16777216 bytes";
  if (c->tcp_buf_mem / ((uint64_t)c->tcp_sndbuf + c->tcp_rcvbuf) < 1)
    return "tcp_buf_mem must hold at least one send and one receive buffer";
  if (c->tcp_rto_min <= 0 || c->tcp_rto_max < c->tcp_rto_min || c->tcp_rto_initial < c->tcp_rto_min)
    return "need 0 < tcp_rto_min <= tcp_rto_initial and tcp_rto_min <= tcp_rto_max";
  if (c->tcp_delack <= 0 || c->tcp_delack >= US_MSEC(500))
    return "tcp_delack must be in (0, 500 ms) (RFC 9293 MUST-40)";
  if (c->tcp_msl <= 0)
    return "tcp_msl must be positive";
  if (c->tcp_fin_timeout <= 0)
    return "tcp_fin_timeout must be positive";
  return NULL;
}
