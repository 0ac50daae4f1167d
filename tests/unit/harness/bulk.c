/*
 * bulk.c - one application end of a bulk transfer between two stacks (see
 * harness.h): send a seeded stream, read and check the peer's.
 */
#include "harness.h"

#include <string.h>

#define H_BULK_CHUNK     16384
#define H_BULK_MAX_READS 10000 /* per pump: a stack that never says AGAIN fails */

static uint8_t scratch[65536];

void h_bulk_init(struct h_bulk *b, us_stack *s, us_sock_t sock, uint64_t total, uint64_t tx_seed,
                 uint64_t rx_seed) {
  memset(b, 0, sizeof *b);
  b->s = s;
  b->sock = sock;
  b->total = total;
  b->tx_seed = tx_seed;
  b->rx_seed = rx_seed;
  b->bad_at = -1;
}

bool h_bulk_accept(struct h_bulk *b, us_sock_t listener) {
  if (us_sock_valid(b->sock))
    return true;
  us_sock_t s;
  if (us_tcp_accept(b->s, listener, &s, NULL) != 0)
    return false;
  b->sock = s;
  return true;
}

static void note_err(struct h_bulk *b, int err) {
  if (!b->err)
    b->err = err;
}

/* Offer the stream while the socket takes it. */
static void bulk_send(struct h_bulk *b, us_time_t now) {
  size_t chunk = b->chunk ? b->chunk : H_BULK_CHUNK;
  if (chunk > sizeof scratch)
    chunk = sizeof scratch;
  while (b->sent < b->total) {
    size_t want = b->total - b->sent < chunk ? (size_t)(b->total - b->sent) : chunk;
    if (b->sndbuf) {
      /* Generate only what the send buffer can take: the oracle is not
       * free and most rounds find the buffer full. */
      uint32_t queued = us_tcp_send_queued(b->s, b->sock);
      size_t room = queued < b->sndbuf ? b->sndbuf - queued : 0;
      if (room == 0)
        return;
      if (want > room)
        want = room;
    }
    h_oracle_fill(b->tx_seed, b->sent, scratch, want);
    long r = us_tcp_send(b->s, b->sock, scratch, want, now);
    if (r == US_ERR_AGAIN || r == US_ERR_NOTCONN)
      return;
    if (r < 0) {
      note_err(b, (int)r);
      return;
    }
    if (b->on_data)
      b->on_data(b, true, scratch, (size_t)r);
    b->sent += (uint64_t)r;
    if ((size_t)r < want)
      return;
  }
}

/* Read everything there is, checking it against the peer's stream. */
static void bulk_recv(struct h_bulk *b, us_time_t now) {
  for (int k = 0; k < H_BULK_MAX_READS; k++) {
    long r = us_tcp_recv(b->s, b->sock, scratch, sizeof scratch, now);
    if (r == US_ERR_AGAIN || r == US_ERR_NOTCONN)
      return;
    if (r < 0) {
      note_err(b, (int)r);
      return;
    }
    if (r == 0) {
      if (!b->eof)
        b->eofs++;
      b->eof = true;
      return;
    }
    if (b->eof) {
      b->after_eof += (uint64_t)r;
      continue;
    }
    if (b->bad_at < 0)
      b->bad_at = h_oracle_check(b->rx_seed, b->rcvd, scratch, (size_t)r);
    if (b->on_data)
      b->on_data(b, false, scratch, (size_t)r);
    b->rcvd += (uint64_t)r;
  }
}

static void bulk_close(struct h_bulk *b, us_time_t now) {
  int r = us_tcp_close(b->s, b->sock, now);
  if (r != 0)
    note_err(b, r);
  b->closed = true;
}

void h_bulk_pump(struct h_bulk *b, us_time_t now) {
  if (!us_sock_valid(b->sock) || b->closed || b->err)
    return;
  uint32_t ev = us_sock_events(b->s, b->sock);
  if (ev & US_EV_ERROR) {
    note_err(b, us_sock_error(b->s, b->sock));
    return;
  }
  /* An application waits for the handshake before it sends or closes (a
   * CLOSE in SYN-SENT would delete the connection, RFC 9293 3.10.4). */
  if (ev & US_EV_CONNECTED)
    b->connected = true;
  if (!b->connected)
    return;
  bulk_send(b, now);
  if (b->err)
    return;
  if (b->end == H_BULK_CLOSE) {
    /* A sender closes once all is queued (RFC 9293 3.10.4: CLOSE still
     * sends it, then FIN); a receive-only end reads to the EOF first. */
    if (!b->total)
      bulk_recv(b, now);
    if (b->total ? b->sent == b->total : b->eof && !b->err)
      bulk_close(b, now);
    return;
  }
  if (b->sent == b->total && !b->shut) {
    int r = us_tcp_shutdown(b->s, b->sock, now);
    if (r != 0) {
      note_err(b, r);
      return;
    }
    b->shut = true;
  }
  bulk_recv(b, now);
  if (b->end == H_BULK_SHUT_CLOSE && b->eof && b->shut && !b->err)
    bulk_close(b, now);
}

bool h_bulk_done(const struct h_bulk *b, uint64_t expect) {
  return b->sent == b->total && b->shut && b->eof && b->rcvd == expect;
}

bool h_bulk_failed(const struct h_bulk *b) { return b->err || b->bad_at >= 0 || b->after_eof; }
