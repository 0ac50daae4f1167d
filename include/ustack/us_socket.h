/*
 * us_socket.h - non-blocking UDP and TCP sockets over a us_stack.
 *
 * Contracts shared by every call here:
 *  - Sockets are handles (us_sock_t). A stale or foreign handle returns
 *    US_ERR_BADF; it never touches another socket.
 *  - Nothing blocks. Where a blocking API would wait, these return
 *    US_ERR_AGAIN and the caller waits for a readiness event.
 *  - Calls that may emit packets take `now`, the same clock as us_stack_poll.
 *  - Application buffers are BORROWED: the stack copies from or into them.
 *  - Readiness is delivered two ways: us_sock_events() tells the current
 *    level, and us_stack_events() drains the list of sockets whose readiness
 *    changed since the last drain (edge), so an event loop only visits the
 *    sockets that need it. Events are never delivered by callback, so the
 *    application may call any function here from its event handling.
 */
#ifndef USTACK_US_SOCKET_H
#define USTACK_US_SOCKET_H

#include "us_stack.h"

/* Readiness bits. */
enum {
  US_EV_READABLE = 1u << 0,  /* recv would return data, EOF or an error */
  US_EV_WRITABLE = 1u << 1,  /* send would accept at least one byte */
  US_EV_CONNECTED = 1u << 2, /* the handshake completed */
  US_EV_CLOSED = 1u << 3,    /* the connection is gone (see us_sock_error) */
  US_EV_ACCEPT = 1u << 4,    /* a listener has a connection to accept */
  US_EV_ERROR = 1u << 5,     /* a sticky error is set */
};

struct us_event {
  us_sock_t sock;
  uint32_t events; /* level at the time of the drain */
};

/* Drain up to `max` sockets whose readiness changed. Returns the count. */
size_t us_stack_events(us_stack *s, struct us_event *out, size_t max);

/* Current readiness of `sock` (0 for a bad handle). */
uint32_t us_sock_events(us_stack *s, us_sock_t sock);

/*
 * The sticky error of `sock`: 0, or the us_err that ended its connection
 * (US_ERR_CONNRESET, US_ERR_CONNREFUSED, US_ERR_TIMEDOUT, ...). Once set it
 * stays until the socket is closed; every later call returns it.
 */
int us_sock_error(us_stack *s, us_sock_t sock);

/* Opaque pointer for the application, returned by us_sock_user(). */
int us_sock_set_user(us_stack *s, us_sock_t sock, void *user);
void *us_sock_user(us_stack *s, us_sock_t sock);

/* ---- UDP ---------------------------------------------------------------- */

/* Open a UDP socket. */
int us_udp_open(us_stack *s, us_sock_t *out);
/* Bind to a local port, on every address of both IP versions; 0 picks a
 * random ephemeral port (RFC 6056). */
int us_udp_bind(us_stack *s, us_sock_t sock, uint16_t port);
/* The local port (after bind), or 0. */
uint16_t us_udp_local_port(us_stack *s, us_sock_t sock);
/*
 * Send one datagram to `dst` (IPv4 or IPv6). An unbound socket is bound to
 * an ephemeral port first. Datagrams larger than the MTU are fragmented.
 * Returns `len` or a us_err (US_ERR_MSGSIZE above 65507 bytes, 65527 to
 * IPv6,
 * US_ERR_NOMEM when no buffer, US_ERR_ADDRNOTAVAIL when the stack has no
 * address of dst's family).
 */
long us_udp_sendto(us_stack *s, us_sock_t sock, us_endpoint_t dst, const void *buf, size_t len,
                   us_time_t now);
/*
 * Receive one datagram into `buf`. A datagram longer than `cap` is truncated
 * (the rest is discarded) and its full length is returned. Returns
 * US_ERR_AGAIN when the queue is empty. `src` (may be NULL) gets the
 * sender's address and port.
 */
long us_udp_recvfrom(us_stack *s, us_sock_t sock, void *buf, size_t cap, us_endpoint_t *src);
/* Close: queued datagrams are freed; the handle becomes stale. */
int us_udp_close(us_stack *s, us_sock_t sock);

/* ---- TCP ---------------------------------------------------------------- */

int us_tcp_socket(us_stack *s, us_sock_t *out);
/* Bind a local port; 0 = ephemeral (randomised, RFC 6056). */
int us_tcp_bind(us_stack *s, us_sock_t sock, uint16_t port);
/* Passive open on the bound port, for every local address of both IP
 * versions. `backlog` is clamped to cfg->tcp_backlog_max. */
int us_tcp_listen(us_stack *s, us_sock_t sock, uint32_t backlog);
/*
 * Take one established connection from the accept queue. US_ERR_AGAIN when
 * empty. `peer` (may be NULL) gets the remote address and port.
 */
int us_tcp_accept(us_stack *s, us_sock_t lsock, us_sock_t *out, us_endpoint_t *peer);
/*
 * Active open to `dst` (IPv4 or IPv6). Returns US_ERR_INPROGRESS once the
 * SYN is on its way; the socket becomes US_EV_CONNECTED (or gets a sticky
 * error: CONNREFUSED, TIMEDOUT). US_ERR_INVAL for a port 0 or an address
 * no peer can have, US_ERR_ADDRNOTAVAIL when the stack has no address of
 * dst's family.
 */
int us_tcp_connect(us_stack *s, us_sock_t sock, us_endpoint_t dst, us_time_t now);
/*
 * Queue up to `len` bytes for sending. Returns the count accepted (maybe
 * less than `len`), US_ERR_AGAIN when the send buffer is full, US_ERR_PIPE
 * after shutdown, US_ERR_NOTCONN before the handshake, or the sticky error.
 */
long us_tcp_send(us_stack *s, us_sock_t sock, const void *buf, size_t len, us_time_t now);
/*
 * Copy up to `cap` received bytes. Returns the count, 0 at end of stream
 * (the peer's FIN, after all its data), US_ERR_AGAIN when nothing is
 * there yet, or the sticky error.
 */
long us_tcp_recv(us_stack *s, us_sock_t sock, void *buf, size_t cap, us_time_t now);
/* Bytes waiting to be read / waiting to be sent or acknowledged. */
uint32_t us_tcp_recv_queued(us_stack *s, us_sock_t sock);
uint32_t us_tcp_send_queued(us_stack *s, us_sock_t sock);
/* Half-close: send FIN after the queued data; receiving goes on. */
int us_tcp_shutdown(us_stack *s, us_sock_t sock, us_time_t now);
/*
 * Close. The handle becomes stale at once; the connection goes on with an
 * orderly release (FIN) in the background. If received data was never read
 * the connection is reset instead (RFC 2525 2.17).
 */
int us_tcp_close(us_stack *s, us_sock_t sock, us_time_t now);
/* Abort: send RST, free everything now. */
int us_tcp_abort(us_stack *s, us_sock_t sock, us_time_t now);

enum us_tcp_opt {
  US_TCP_NODELAY = 1,   /* 1 = Nagle off (MUST-17) */
  US_TCP_KEEPALIVE = 2, /* 1 = keepalive on (MUST-24: off by default) */
  US_TCP_KEEPIDLE = 3,  /* seconds */
  US_TCP_KEEPINTVL = 4, /* seconds */
  US_TCP_KEEPCNT = 5,
  US_TCP_USER_TIMEOUT = 6, /* R2 as milliseconds; 0 = from config */
};
int us_tcp_setopt(us_stack *s, us_sock_t sock, enum us_tcp_opt opt, long value);
int us_tcp_getopt(us_stack *s, us_sock_t sock, enum us_tcp_opt opt, long *value);

/* Local and remote endpoint of a TCP socket (either may be NULL; a
 * listener's local address is unset: every address). */
int us_tcp_addrs(us_stack *s, us_sock_t sock, us_endpoint_t *local, us_endpoint_t *remote);

/* ---- Introspection (ustack-ss) ----------------------------------------- */

enum us_tcp_state {
  US_TCP_CLOSED = 0,
  US_TCP_LISTEN,
  US_TCP_SYN_SENT,
  US_TCP_SYN_RECEIVED,
  US_TCP_ESTABLISHED,
  US_TCP_FIN_WAIT_1,
  US_TCP_FIN_WAIT_2,
  US_TCP_CLOSE_WAIT,
  US_TCP_CLOSING,
  US_TCP_LAST_ACK,
  US_TCP_TIME_WAIT,
  US_TCP_NSTATES
};

/* "ESTABLISHED", "SYN-RECEIVED", ... as RFC 9293 writes them. */
const char *us_tcp_state_name(enum us_tcp_state st);

struct us_tcp_info {
  us_sock_t sock; /* US_SOCK_INVALID once the app has closed it */
  enum us_tcp_state state;
  us_addr_t laddr, raddr; /* a listener's laddr is unset (US_AF_NONE) */
  uint16_t lport, rport;
  uint32_t rcv_queued, snd_queued; /* bytes */
  uint32_t snd_una, snd_nxt, snd_wnd, rcv_nxt, rcv_wnd;
  uint32_t mss;
  us_time_t srtt, rttvar, rto; /* microseconds */
  uint32_t cwnd, ssthresh;     /* bytes */
  const char *cc;              /* congestion control: "cubic", "newreno" */
  const char *recovery;        /* loss recovery: "fast", "rto" or "" */
  uint32_t sacked;             /* bytes the peer SACKed above snd_una */
  uint32_t retransmits;        /* total for this connection */
  uint32_t backoff;            /* current RTO backoff exponent */
  const char *timer;           /* "rto", "persist", "delack", "keepalive",
                                      "time-wait", "synack", "tlp" (tail-loss
                                      probe), "rack" (reordering timer), or "" */
  us_time_t timer_at;          /* absolute deadline; US_TIME_NEVER */
  uint64_t bytes_in, bytes_out;
  bool ts_ok;                     /* RFC 7323 timestamps negotiated */
  bool ecn_ok;                    /* RFC 3168 ECN negotiated */
  bool sack_ok;                   /* RFC 2018 SACK-permitted both ways */
  bool ws_ok;                     /* RFC 7323 window scaling both ways */
  uint8_t snd_wscale, rcv_wscale; /* the peer's shift and ours (0 without) */
  uint32_t rtt_samples;           /* RTT measurements taken so far */
  uint32_t pmtu;                  /* path MTU estimate (RFC 1191) */
  /* Listeners only (0 otherwise): half-open and accepted-not-yet queues,
   * the backlog, and the connections counted on its limits. */
  uint32_t synq_len, acceptq_len, backlog, conns;
};

/* Fill up to `max` entries, one per TCB (listeners too). Returns the count. */
size_t us_tcp_list(us_stack *s, struct us_tcp_info *out, size_t max);

#endif
