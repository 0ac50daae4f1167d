/*
 * tcp_api.c - the us_tcp_* calls of us_socket.h (the contracts are there),
 * and the readiness/error hooks of the handle table.
 *
 * A socket is a handle to a TCB. us_tcp_close() frees the handle at once;
 * the TCB goes on (FIN exchange, TIME-WAIT) as an orphan and is freed by
 * tcp_gc() when it reaches CLOSED. A listener's children get a handle only
 * when accepted.
 *
 * Calls that may send take `now` and send at once (a connect's SYN, data
 * after send, FIN after shutdown/close). Calls that arm or clear timers
 * re-key the TCB in the timer queue before they return (tcp_timer_sync,
 * or tcp_gc). A window update after recv is
 * only marked: the next us_stack_poll() sends it, coalesced with any ACK.
 */
#include <string.h>

#include "core/handle.h"
#include "core/log.h"
#include "core/stats.h"
#include "ip/ip.h"
#include "tcp_int.h"

static struct us_tcb *get(struct us_stack *s, us_sock_t sock) {
  return us_handle_get(s, sock, US_HK_TCP);
}

uint32_t tcp_events(struct us_stack *s, void *obj) {
  const struct us_tcb *t = obj;
  uint32_t ev = 0;
  if (t->err)
    ev |= US_EV_ERROR | US_EV_READABLE | US_EV_WRITABLE | US_EV_CLOSED;
  if (t->state == US_TCP_LISTEN) {
    if (t->acq_len > 0)
      ev |= US_EV_ACCEPT | US_EV_READABLE;
    return ev;
  }
  if (t->rq_len > 0 || t->fin_rcvd)
    ev |= US_EV_READABLE;
  /* Writable with room in the attached send ring, or with none attached
   * while the pool has one to give. */
  bool room = t->snd.buf ? us_ring_free(&t->snd) > 0 : tcp_layer(s)->sndp.nfree > 0;
  if ((t->state == US_TCP_ESTABLISHED || t->state == US_TCP_CLOSE_WAIT) && !t->fin_queued && room)
    ev |= US_EV_WRITABLE;
  if (t->was_connected)
    ev |= US_EV_CONNECTED;
  if ((t->state == US_TCP_CLOSED || t->state == US_TCP_TIME_WAIT) && t->was_connected)
    ev |= US_EV_CLOSED;
  return ev;
}

int tcp_error(struct us_stack *s, void *obj) {
  (void)s;
  return ((const struct us_tcb *)obj)->err;
}

int us_tcp_socket(us_stack *s, us_sock_t *out) {
  if (!out)
    return US_ERR_INVAL;
  struct us_tcb *t = tcb_alloc(s);
  if (!t)
    return US_ERR_NOMEM;
  us_sock_t h = us_handle_alloc(s, US_HK_TCP, t);
  if (!us_sock_valid(h)) {
    tcb_release(s, t);
    return US_ERR_NOMEM;
  }
  t->h = h;
  *out = h;
  return 0;
}

int us_tcp_bind(us_stack *s, us_sock_t sock, uint16_t port) {
  struct us_tcb *t = get(s, sock);
  if (!t)
    return US_ERR_BADF;
  if (t->bound || t->state != US_TCP_CLOSED)
    return US_ERR_INVAL;
  if (port == 0) {
    int rc = tcp_pick_bind_port(s, &port);
    if (rc)
      return rc;
  } else if (tcb_port_used(s, port, false)) {
    return US_ERR_ADDRINUSE;
  }
  t->lport = port;
  t->bound = true;
  return 0;
}

int us_tcp_listen(us_stack *s, us_sock_t sock, uint32_t backlog) {
  struct us_tcb *t = get(s, sock);
  if (!t)
    return US_ERR_BADF;
  if (t->state == US_TCP_LISTEN)
    return 0;
  if (t->state != US_TCP_CLOSED || t->was_connected || t->err)
    return US_ERR_INVAL;
  if (!t->bound) {
    int rc = us_tcp_bind(s, sock, 0);
    if (rc)
      return rc;
  }
  if (backlog == 0)
    backlog = 1;
  if (backlog > s->cfg.tcp_backlog_max)
    backlog = s->cfg.tcp_backlog_max ? s->cfg.tcp_backlog_max : 1;
  t->backlog = backlog;
  t->laddr = (us_addr_t){ 0 }; /* every local address, both families */
  tcp_set_state(s, t, US_TCP_LISTEN, "listen");
  tcb_listener_add(s, t);
  return 0;
}

int us_tcp_accept(us_stack *s, us_sock_t lsock, us_sock_t *out, us_endpoint_t *peer) {
  struct us_tcb *l = get(s, lsock);
  if (!l)
    return US_ERR_BADF;
  if (l->state != US_TCP_LISTEN || !out)
    return US_ERR_INVAL;
  struct us_tcb *c = l->acq_head;
  if (!c)
    return US_ERR_AGAIN;
  us_sock_t h = us_handle_alloc(s, US_HK_TCP, c);
  if (!us_sock_valid(h))
    return US_ERR_NOMEM; /* stays queued; try again later */
  tcb_unlink_listener(s, c);
  c->h = h;
  *out = h;
  if (peer)
    *peer = us_endpoint(c->raddr, c->rport);
  tcb_mark(s, c);
  tcb_mark(s, l);
  return 0;
}

int us_tcp_connect(us_stack *s, us_sock_t sock, us_endpoint_t dst, us_time_t now) {
  struct us_tcb *t = get(s, sock);
  if (!t)
    return US_ERR_BADF;
  if (t->err)
    return t->err;
  if (t->state == US_TCP_SYN_SENT || t->state == US_TCP_SYN_RECEIVED)
    return US_ERR_ALREADY;
  if (t->state != US_TCP_CLOSED || t->was_connected)
    return US_ERR_ISCONN;
  /* MUST-46: no OPEN to a broadcast, multicast or impossible address
   * (this also refuses our own address: there is no loopback here). */
  if (dst.port == 0 || us_ip_is_martian(s, dst.addr))
    return US_ERR_INVAL;
  us_addr_t laddr;
  if (!us_ip_local_addr(s, dst.addr.family, &laddr))
    return US_ERR_ADDRNOTAVAIL; /* no address of that family to send from */
  if (!t->bound) {
    uint16_t p;
    int rc = tcp_pick_ephemeral(s, laddr, dst.addr, dst.port, &p);
    if (rc)
      return rc;
    t->lport = p;
    t->bound = true;
  } else if (tcb_lookup(s, laddr, t->lport, dst.addr, dst.port)) {
    return US_ERR_ADDRINUSE;
  }
  t->laddr = laddr;
  t->raddr = dst.addr;
  t->rport = dst.port;
  t->passive = false;
  t->rcv_mss = (uint16_t)tcp_mss_for(s->cfg.mtu, laddr.family);
  t->mss = TCP_MSS_DEFAULT;
  t->rcv_wscale = tcp_our_wscale(s);
  t->iss = tcp_isn(s, t->laddr, t->lport, t->raddr, t->rport, now);
  t->snd_una = t->snd_nxt = t->snd_max = t->snd_sml = t->iss;
  tcp_set_state(s, t, US_TCP_SYN_SENT, "connect");
  tcb_hash_insert(s, t);
  tcp_send_syn(s, t, now);
  tcp_timer_sync(s, t);
  return US_ERR_INPROGRESS;
}

long us_tcp_send(us_stack *s, us_sock_t sock, const void *buf, size_t len, us_time_t now) {
  struct us_tcb *t = get(s, sock);
  if (!t)
    return US_ERR_BADF;
  if (t->err)
    return t->err;
  switch (t->state) {
  case US_TCP_ESTABLISHED:
  case US_TCP_CLOSE_WAIT:
    break;
  case US_TCP_CLOSED:
  case US_TCP_LISTEN:
  case US_TCP_SYN_SENT:
  case US_TCP_SYN_RECEIVED:
    return t->was_connected ? US_ERR_PIPE : US_ERR_NOTCONN;
  default:
    return US_ERR_PIPE;
  }
  if (t->fin_queued)
    return US_ERR_PIPE;
  if (len == 0)
    return 0;
  if (!buf)
    return US_ERR_INVAL;
  if (!tcb_snd_attach(s, t))
    return US_ERR_AGAIN; /* WRITABLE is marked when a buffer comes back */
  uint32_t n = us_ring_write(&t->snd, buf, len > 0x7fffffffu ? 0x7fffffffu : (uint32_t)len);
  if (n == 0)
    return US_ERR_AGAIN;
  if (tcp_tso_ok(s, t)) {
    /* With a device that segments, the writes of one wake-up leave at
     * its poll as super-segments as large as the window allows, not one
     * small one per write (Linux calls this autocorking). The daemon's
     * loop polls after every dispatch round (docs/OFFLOAD.md). */
    tcb_pending_add(s, t);
    return (long)n;
  }
  tcp_output(s, t, now);
  tcp_timer_sync(s, t);
  return (long)n;
}

long us_tcp_recv(us_stack *s, us_sock_t sock, void *buf, size_t cap, us_time_t now) {
  (void)now;
  struct us_tcb *t = get(s, sock);
  if (!t)
    return US_ERR_BADF;
  if (t->rq_len > 0 && cap > 0) {
    if (!buf)
      return US_ERR_INVAL;
    uint32_t want = cap > t->rq_len ? t->rq_len : (uint32_t)cap;
    uint32_t n = tcp_rcvq_read(s, t, buf, want); /* the one copy (docs/ARCHITECTURE.md 3) */
    tcb_rcv_release_if_empty(s, t);              /* drained: the buffer goes back */
    if (tcp_window_update_due(s, t))
      tcp_ack_needed(s, t); /* sent by the next us_stack_poll() */
    tcb_maybe_release_buf(s, t);
    return (long)n;
  }
  if (t->err)
    return t->err;
  if (t->fin_rcvd)
    return 0;
  if (t->state == US_TCP_LISTEN || (t->state == US_TCP_CLOSED && !t->was_connected))
    return US_ERR_NOTCONN;
  if (t->state == US_TCP_CLOSED)
    return 0;
  return US_ERR_AGAIN;
}

uint32_t us_tcp_recv_queued(us_stack *s, us_sock_t sock) {
  struct us_tcb *t = get(s, sock);
  return t ? t->rq_len : 0;
}

uint32_t us_tcp_send_queued(us_stack *s, us_sock_t sock) {
  struct us_tcb *t = get(s, sock);
  return t ? t->snd.len : 0;
}

/* Queue our FIN after everything already in the send ring. */
static void queue_fin(struct us_tcb *t) {
  if (t->fin_queued)
    return;
  t->fin_queued = true;
  t->snd_fin_seq = tcb_snd_base(t) + t->snd.len;
}

int us_tcp_shutdown(us_stack *s, us_sock_t sock, us_time_t now) {
  struct us_tcb *t = get(s, sock);
  if (!t)
    return US_ERR_BADF;
  if (t->err)
    return t->err;
  switch (t->state) {
  case US_TCP_ESTABLISHED:
  case US_TCP_SYN_RECEIVED:
    /* RFC 9293 3.10.4 CLOSE: "In any case, enter FIN-WAIT-1 state". */
    queue_fin(t);
    tcp_set_state(s, t, US_TCP_FIN_WAIT_1, "shutdown");
    break;
  case US_TCP_CLOSE_WAIT:
    queue_fin(t);
    tcp_set_state(s, t, US_TCP_LAST_ACK, "shutdown");
    break;
  case US_TCP_CLOSED:
  case US_TCP_LISTEN:
  case US_TCP_SYN_SENT:
    return US_ERR_NOTCONN;
  default:
    return 0; /* already closing */
  }
  tcp_output(s, t, now);
  tcp_timer_sync(s, t);
  return 0;
}

/* A listener goes away: its accepted-but-not-taken connections are reset
 * (nobody will ever read them), half-open ones are just forgotten. */
static void close_listener(struct us_stack *s, struct us_tcb *t, us_time_t now) {
  for (struct us_tcb *c = t->acq_head; c; c = c->qnext)
    tcp_send_rst_tcb(s, c, now);
  tcp_set_state(s, t, US_TCP_CLOSED, "close listener");
}

static void release_handle(struct us_stack *s, struct us_tcb *t) {
  us_handle_free(s, t->h);
  t->h = US_SOCK_INVALID;
  t->app_closed = true;
  tcb_maybe_release_buf(s, t);
  tcp_tw_track(s, t); /* a TIME-WAIT nobody holds any more */
  tcp_gc(s, t);
}

int us_tcp_close(us_stack *s, us_sock_t sock, us_time_t now) {
  struct us_tcb *t = get(s, sock);
  if (!t)
    return US_ERR_BADF;
  bool unread = t->rq_len > 0;
  switch (t->state) {
  case US_TCP_CLOSED:
  case US_TCP_TIME_WAIT:
    break;
  case US_TCP_LISTEN:
    close_listener(s, t, now);
    break;
  case US_TCP_SYN_SENT:
    tcp_drop(s, t, 0, "close in SYN-SENT");
    break;
  default:
    if (unread) {
      /* RFC 2525 2.17 (SHLD-3): closing with unread data resets. */
      US_STAT_INC(s, tcp_abort_on_close);
      tcp_send_rst_tcb(s, t, now);
      tcp_drop(s, t, 0, "close with unread data");
      break;
    }
    if (t->state == US_TCP_ESTABLISHED || t->state == US_TCP_SYN_RECEIVED) {
      queue_fin(t);
      tcp_set_state(s, t, US_TCP_FIN_WAIT_1, "close");
    } else if (t->state == US_TCP_CLOSE_WAIT) {
      queue_fin(t);
      tcp_set_state(s, t, US_TCP_LAST_ACK, "close");
    } else if (t->state == US_TCP_FIN_WAIT_2) {
      t->timer[TT_2MSL] = now + s->cfg.tcp_fin_timeout; /* orphan: see tcp_step5_ack.c */
    }
    tcp_output(s, t, now);
    break;
  }
  release_handle(s, t);
  return 0;
}

int us_tcp_abort(us_stack *s, us_sock_t sock, us_time_t now) {
  struct us_tcb *t = get(s, sock);
  if (!t)
    return US_ERR_BADF;
  switch (t->state) {
  case US_TCP_LISTEN:
    close_listener(s, t, now);
    break;
  case US_TCP_SYN_RECEIVED:
  case US_TCP_ESTABLISHED:
  case US_TCP_FIN_WAIT_1:
  case US_TCP_FIN_WAIT_2:
  case US_TCP_CLOSE_WAIT:
    /* RFC 9293 3.10.5 ABORT: <SEQ=SND.NXT><CTL=RST>. */
    tcp_send_rst_tcb(s, t, now);
    tcp_drop(s, t, 0, "abort");
    break;
  default:
    tcp_drop(s, t, 0, "abort");
    break;
  }
  release_handle(s, t);
  return 0;
}

int us_tcp_setopt(us_stack *s, us_sock_t sock, enum us_tcp_opt opt, long value) {
  struct us_tcb *t = get(s, sock);
  if (!t)
    return US_ERR_BADF;
  switch (opt) {
  case US_TCP_NODELAY:
    t->nodelay = value != 0;
    if (t->nodelay && tcp_state_synchronized(t->state))
      tcb_pending_add(s, t); /* held small segments may go now */
    return 0;
  case US_TCP_KEEPALIVE:
    t->keepalive = value != 0;
    tcp_keepalive_arm(s, t, s->now);
    tcp_timer_sync(s, t);
    return 0;
  case US_TCP_KEEPIDLE:
    if (value <= 0 || value > 86400L * 365)
      return US_ERR_INVAL;
    t->keep_idle = US_SEC(value);
    if (t->keepalive)
      tcp_keepalive_arm(s, t, s->now);
    tcp_timer_sync(s, t);
    return 0;
  case US_TCP_KEEPINTVL:
    if (value <= 0 || value > 86400L * 365)
      return US_ERR_INVAL;
    t->keep_intvl = US_SEC(value);
    return 0;
  case US_TCP_KEEPCNT:
    if (value <= 0 || value > 1000)
      return US_ERR_INVAL;
    t->keep_cnt = (uint32_t)value;
    return 0;
  case US_TCP_USER_TIMEOUT:
    if (value < 0)
      return US_ERR_INVAL;
    t->user_timeout = US_MSEC(value);
    return 0;
  }
  return US_ERR_INVAL;
}

int us_tcp_getopt(us_stack *s, us_sock_t sock, enum us_tcp_opt opt, long *value) {
  struct us_tcb *t = get(s, sock);
  if (!t)
    return US_ERR_BADF;
  if (!value)
    return US_ERR_INVAL;
  switch (opt) {
  case US_TCP_NODELAY:
    *value = t->nodelay;
    return 0;
  case US_TCP_KEEPALIVE:
    *value = t->keepalive;
    return 0;
  case US_TCP_KEEPIDLE:
    *value = (long)(t->keep_idle / US_SEC(1));
    return 0;
  case US_TCP_KEEPINTVL:
    *value = (long)(t->keep_intvl / US_SEC(1));
    return 0;
  case US_TCP_KEEPCNT:
    *value = (long)t->keep_cnt;
    return 0;
  case US_TCP_USER_TIMEOUT:
    *value = (long)(t->user_timeout / US_MSEC(1));
    return 0;
  }
  return US_ERR_INVAL;
}

int us_tcp_addrs(us_stack *s, us_sock_t sock, us_endpoint_t *local, us_endpoint_t *remote) {
  struct us_tcb *t = get(s, sock);
  if (!t)
    return US_ERR_BADF;
  if (local)
    *local = us_endpoint(t->laddr, t->lport);
  if (remote)
    *remote = us_endpoint(t->raddr, t->rport);
  return 0;
}

size_t us_tcp_list(us_stack *s, struct us_tcp_info *out, size_t max) {
  size_t n = 0;
  for (struct us_tcb *t = tcp_layer(s)->active; t && n < max; t = t->anext) {
    struct us_tcp_info *i = &out[n++];
    memset(i, 0, sizeof *i);
    i->sock = t->h;
    i->state = t->state;
    i->laddr = t->laddr;
    i->raddr = t->raddr;
    i->lport = t->lport;
    i->rport = t->rport;
    i->rcv_queued = t->rq_len;
    i->snd_queued = t->snd.len;
    i->snd_una = t->snd_una;
    i->snd_nxt = t->snd_nxt;
    i->snd_wnd = t->snd_wnd;
    i->rcv_nxt = t->rcv_nxt;
    i->rcv_wnd = tcp_rcv_wnd(t);
    i->mss = t->mss;
    i->srtt = t->srtt;
    i->rttvar = t->rttvar;
    i->rto = tcp_rto_current(s, t);
    i->cwnd = tcp_cc_window(t);
    i->ssthresh = t->cc.ops ? t->cc.ops->ssthresh(&t->cc) : 0;
    i->cc = t->cc.ops ? t->cc.ops->name : tcp_layer(s)->cc->name;
    i->recovery = t->recovery == TCP_REC_FAST ? "fast" : t->recovery == TCP_REC_RTO ? "rto" : "";
    i->sacked = t->fl ? t->fl->sacked : 0;
    i->retransmits = t->retransmits;
    i->backoff = t->backoff;
    i->timer_at = tcb_next_deadline(t, &i->timer);
    i->bytes_in = t->bytes_in;
    i->bytes_out = t->bytes_out;
    i->ts_ok = t->ts_ok;
    i->ecn_ok = t->ecn_ok;
    i->sack_ok = t->sack_ok;
    i->ws_ok = t->ws_ok;
    i->snd_wscale = t->snd_wscale;
    i->rcv_wscale = t->rcv_wscale;
    i->rtt_samples = t->rtt_samples;
    i->pmtu = t->pmtu;
    if (t->is_listener) {
      i->synq_len = t->synq_len;
      i->acceptq_len = t->acq_len;
      i->backlog = t->backlog;
      i->conns = tcp_limit_conns(s, t);
    }
  }
  return n;
}
