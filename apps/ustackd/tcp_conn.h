/*
 * tcp_conn.h - one connection of a TCP service or of the client
 * (tcp_services.h), and the list its listener or client keeps of them.
 *
 * Each connection is a struct tcp_conn whose first member is the
 * svc_handler (svc.h), set as the socket's user pointer. Handlers are
 * level-driven: on any event a connection does as much as it can (read
 * until AGAIN, write until AGAIN) and keeps at most one buffer of pending
 * output, so a slow reader on the other side never makes the service read
 * more than it can send (back-pressure instead of unbounded memory).
 */
#ifndef USTACKD_TCP_CONN_H
#define USTACKD_TCP_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sha256.h"
#include "svc.h"
#include "tcp_services.h"

enum tcp_kind { TK_ECHO, TK_DISCARD, TK_CHARGEN, TK_SOURCE, TK_SINK, TK_CLIENT };

/* The name of a kind in log lines ("tcp-echo", ..., "client"). */
const char *tcp_kind_name(enum tcp_kind k);

struct tcp_conn;

/* The connections of one listener or client: closed together at stop. A
 * client's list also records how its connection ended. */
struct tcp_conn_list {
  struct tcp_conn *head;
  bool finished; /* a client connection ended */
  int status;    /* ... 0 when it succeeded, else 1 */
};

struct tcp_conn {
  struct svc_handler h; /* first: svc_dispatch finds us through it */
  enum tcp_kind kind;
  const struct tcp_svc_settings *set;
  struct tcp_conn_list *list;
  us_sock_t sock;
  us_addr_t peer;
  uint16_t pport;
  uint64_t bytes_in, bytes_out;
  uint64_t out_target;   /* source/client: bytes to send */
  bool eof_seen;         /* the peer's FIN arrived */
  bool shut;             /* we sent our FIN (shutdown/close) */
  bool hashed;           /* sink, source, client: SHA-256 of what moves */
  struct us_sha256 *sha; /* hashed only: [0] what came in, [1] what went out */
  uint8_t *pending;      /* one buffer once needed, else NULL */
  size_t pend_off, pend_len;
  uint32_t chargen_pos;         /* offset in the RFC 864 period */
  struct tcp_conn *next, *prev; /* in list: O(1) removal with many connections */
};

/* Build RFC 864's pattern (once; before the first chargen connection). */
void tcp_chargen_init(void);

/* A connection of kind `k` on `sock`, on `list`, its socket's user pointer
 * set. NULL when out of memory (the caller aborts the socket). */
struct tcp_conn *tcp_conn_new(us_stack *s, enum tcp_kind k, us_sock_t sock,
                              const struct tcp_svc_settings *set, struct tcp_conn_list *list);
/* Do what the socket's state allows (svc_handler.on_event). */
void tcp_conn_on_event(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t ev,
                       us_time_t now);
/* The connection is over for us: report, close (abort when err), free. */
void tcp_conn_finish(us_stack *s, struct tcp_conn *c, int err, us_time_t now);
/* Close every connection on the list (orderly) and free them. */
void tcp_conn_close_all(us_stack *s, struct tcp_conn_list *list, us_time_t now);

#endif
