/*
 * us_config.h - everything a stack is created from.
 *
 * Fill a us_config with us_config_default() and change what you need before
 * us_stack_create(). The stack copies the struct; later changes to the
 * caller's copy have no effect. All sizes are fixed at creation: the stack
 * never allocates after us_stack_create() returns.
 */
#ifndef USTACK_US_CONFIG_H
#define USTACK_US_CONFIG_H

#include "us_types.h"

enum us_log_level {
  US_LOG_ERROR = 0,
  US_LOG_WARN = 1,
  US_LOG_INFO = 2,
  US_LOG_DEBUG = 3,
  US_LOG_TRACE = 4,
};

/* Where log lines go. `fn` receives one finished line without a newline. */
struct us_log_sink {
  void (*fn)(void *ctx, enum us_log_level level, const char *line);
  void *ctx;
};

/*
 * Randomness. `fill` MUST write `len` unpredictable bytes (the platform uses
 * getrandom()); tests inject a seeded generator so runs replay exactly.
 */
struct us_rand_source {
  void (*fill)(void *ctx, void *buf, size_t len);
  void *ctx;
};

/* Congestion-control algorithm of new connections (docs/TCP.md). */
enum us_tcp_cc {
  US_TCP_CC_CUBIC,   /* RFC 9438 (the default, as in Linux) */
  US_TCP_CC_NEWRENO, /* RFC 5681 + RFC 6582 */
};
/* ECN (RFC 3168) modes, as Linux's tcp_ecn sysctl: ACCEPT answers a peer
 * that asks for ECN but does not ask itself (middleboxes that drop ECN
 * SYNs still exist). */
enum { US_TCP_ECN_OFF = 0, US_TCP_ECN_ON = 1, US_TCP_ECN_ACCEPT = 2 };

struct us_config {
  /* Interface. */
  us_ip4_t addr;      /* our address */
  uint8_t prefix_len; /* on-link prefix, for broadcast detection */
  uint16_t mtu;       /* link MTU in bytes (576..9000) */
  uint8_t ttl;        /* TTL of datagrams we originate (MUST-49), and
                         the IPv6 hop limit */
  /* Our IPv6 address, 16 bytes in network order (fd00::2 is fd 00 0...0
   * 02); all zero (the default) leaves IPv6 off: every IPv6 datagram is
   * counted and dropped. With IPv6 on, mtu must be at least 1280 (RFC
   * 8200 5). docs/IPV6.md. */
  uint8_t addr6[16];

  /* Logging and randomness (both optional: no sink = silent). */
  struct us_log_sink log;
  enum us_log_level log_level;
  struct us_rand_source rand;

  /* Packet buffers. */
  uint32_t pkt_count;        /* MTU-sized buffers in the pool */
  uint32_t reass_contexts;   /* datagrams being reassembled at once */
  uint32_t reass_bytes_max;  /* bytes held by all reassembly contexts */
  us_time_t reass_timeout;   /* RFC 1122 3.3.2: 60..120 s suggested */
  uint32_t reass_per_source; /* contexts one source address may hold; when
                                 it starts another, its oldest goes (0 = no
                                 cap: only the table size) */

  /* ICMP. */
  uint32_t icmp_err_rate; /* ICMP errors per second (token bucket) */
  uint32_t icmp_err_burst;
  uint32_t icmp_echo_rate; /* echo replies per second; 0 = unlimited */
  uint32_t icmp_echo_burst;

  /* Sockets. */
  uint32_t max_udp_sockets;
  uint32_t udp_rx_queue;    /* datagrams queued per UDP socket */
  uint32_t max_tcp_sockets; /* all TCBs: listeners, half-open, TIME_WAIT
                                 (1..US_TCP_MAX_CONNS, with the UDP ones) */

  /* TCP (RFC 9293, RFC 6298). */
  uint32_t tcp_sndbuf; /* send buffer bytes per connection */
  uint32_t tcp_rcvbuf; /* receive buffer bytes per connection */
  /* Bytes of send and receive buffers for all connections together
   * (docs/MEMORY.md). A connection takes a buffer only while it has data
   * queued and returns it when drained, so an idle connection holds none;
   * the pool has tcp_buf_mem / (tcp_sndbuf + tcp_rcvbuf) buffers of each
   * kind. */
  uint64_t tcp_buf_mem;
  uint32_t tcp_ooo_bytes_max;   /* out-of-order bytes held per connection */
  uint32_t tcp_ooo_bytes_total; /* ... and by all connections together */
  uint32_t tcp_backlog_max;     /* cap on any listener's backlog */
  /* Connection limits (docs/LIMITS.md). A listener's connections are its
   * children from SYN-RECEIVED until they reach TIME-WAIT or CLOSED,
   * accepted or not. A SYN beyond a limit is refused with a RST. 0 = no
   * limit (the default here; ustackd derives its defaults from the pool). */
  uint32_t tcp_listener_conn_max; /* connections per listener */
  uint32_t tcp_source_conn_max;   /* ... per listener from one source address */
  /* RSTs answering segments that have no connection (a closed port, an ACK
   * at a listener that matches nothing, a SYN refused by a limit): a token
   * bucket, like ICMP's. 0 = unlimited. */
  uint32_t tcp_rst_rate; /* per second */
  uint32_t tcp_rst_burst;
  uint32_t tcp_synack_retries; /* SYN-ACK retransmissions before giving up */
  bool tcp_synack_timeout_rst; /* send RST when those run out (Linux: no) */
  uint32_t tcp_syn_retries;    /* SYN retransmissions of an active open */
  uint32_t tcp_r1;             /* retransmissions before "advise IP" (R1) */
  uint32_t tcp_r2;             /* retransmissions before abort (R2) */
  us_time_t tcp_rto_initial;   /* RFC 6298 2.1: 1 s */
  us_time_t tcp_rto_min;       /* RFC 6298 2.4: 1 s (Linux uses 200 ms) */
  us_time_t tcp_rto_max;       /* RFC 6298 2.5: at least 60 s */
  us_time_t tcp_msl;           /* TIME_WAIT lasts 2*MSL (MUST-13) */
  /* TIME_WAIT connections kept at most, like Linux's tcp_max_tw_buckets:
   * beyond it, and whenever the TCB pool is full and a new connection
   * needs a TCB, the oldest TIME_WAIT ends early (docs/TCP.md). 0 = half
   * of max_tcp_sockets. */
  uint32_t tcp_max_time_wait;
  /* FIN-WAIT-2 after the application closed (an orphan, which can no
   * longer be told of the peer's FIN) ends after this, like Linux's
   * tcp_fin_timeout; a FIN-WAIT-2 the application still holds waits. */
  us_time_t tcp_fin_timeout;
  us_time_t tcp_delack;         /* delayed-ACK timeout, < 500 ms (MUST-40) */
  us_time_t tcp_keepalive_idle; /* MUST-28: default >= 2 h */
  us_time_t tcp_keepalive_interval;
  uint32_t tcp_keepalive_probes;
  uint32_t tcp_challenge_ack_per_sec; /* per connection (RFC 5961, CVE-2016-5696) */
  bool tcp_time_wait_rst_closes;      /* true: RFC 9293 (RST closes TIME_WAIT); false: RFC 1337 */
  bool tcp_syncookies;                /* answer with SYN cookies when the SYN queue is full */
  uint32_t tcp_init_cwnd_segs;        /* RFC 5681 IW (RFC 6928 allows 10) */
  bool tcp_timestamps;                /* RFC 7323 timestamps and PAWS: offer and accept */
  bool tcp_pmtud;                     /* RFC 1191: DF on TCP, obey fragmentation needed */
  bool tcp_pmtu_blackhole;            /* lower the MSS after timeouts of full-sized
                                 segments (RFC 4821 7.7; Linux tcp_mtu_probing=1) */
  enum us_tcp_cc tcp_cc;              /* congestion control (default CUBIC) */
  bool tcp_rack_tlp;                  /* RFC 8985 RACK-TLP (default on; off = DupThresh only) */
  uint8_t tcp_ecn;                    /* RFC 3168: US_TCP_ECN_OFF, _ON (ask and accept), _ACCEPT */
};

/* Limits checked by us_stack_create(). */
#define US_TCP_MAX_CONNS 1000000u
#define US_TCP_BUF_MIN   4096u
#define US_TCP_BUF_MAX   (16u * 1024u * 1024u)

/* Fill `cfg` with defaults: 10.0.0.2/24, MTU 1500, the RFC timer values. */
void us_config_default(struct us_config *cfg);

#endif
