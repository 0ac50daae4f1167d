/*
 * udp.c - UDP (RFC 768, RFC 1122 4.1) and its sockets.
 *
 * Sockets come from a pool sized at creation (cfg.max_udp_sockets) and
 * are found by local port through a small hash table; each keeps a FIFO of
 * at most cfg.udp_rx_queue received datagrams. A queued datagram is a
 * packet buffer whose data is the source (a us_endpoint_t), then the
 * payload. A socket bound to a port takes datagrams of either IP version.
 */
#include <stdlib.h>
#include <string.h>

#include "core/handle.h"
#include "core/log.h"
#include "core/rand.h"
#include "core/stack.h"
#include "core/stats.h"
#include "ip/ip.h"
#include "ustack/us_err.h"
#include "udp.h"
#include "ustack/us_socket.h"
#include "wire/checksum.h"
#include "wire/udp.h"

#define UDP_MAX_PAYLOAD  (US_IP4_MAX_DATAGRAM - US_IP4_HDR_MIN - US_UDP_HDR_LEN) /* 65507 */
#define UDP_MAX_PAYLOAD6 (65535u - US_UDP_HDR_LEN) /* 65527: IPv6's payload length is 16 bits */
#define META_LEN         sizeof(us_endpoint_t)
#define PORT_BUCKETS     64
/* RFC 6056 2.1: the IANA dynamic range 49152-65535. */
#define EPHEMERAL_MIN    49152u
#define EPHEMERAL_COUNT  (65536u - EPHEMERAL_MIN)

struct us_udp_sock {
  bool used;
  us_sock_t handle;
  uint16_t port;             /* 0 = unbound */
  struct us_udp_sock *hnext; /* bucket chain (bound sockets) */
  struct us_udp_sock *fnext; /* free list */
  struct us_pkt *qhead, *qtail;
  uint32_t qlen;
};

struct us_udp_layer {
  struct us_udp_sock *socks;
  uint32_t count;
  struct us_udp_sock *free_list;
  struct us_udp_sock *buckets[PORT_BUCKETS];
};

/* The layer's state (core/stack.h, "one slot per layer"). */
static inline struct us_udp_layer *udp_layer(const struct us_stack *s) {
  return s->layer[US_LAYER_UDP];
}

static struct us_udp_sock *lookup(struct us_udp_layer *u, uint16_t port) {
  for (struct us_udp_sock *k = u->buckets[port % PORT_BUCKETS]; k; k = k->hnext)
    if (k->port == port)
      return k;
  return NULL;
}

static void hash_insert(struct us_udp_layer *u, struct us_udp_sock *k) {
  struct us_udp_sock **b = &u->buckets[k->port % PORT_BUCKETS];
  k->hnext = *b;
  *b = k;
}

static void hash_remove(struct us_udp_layer *u, struct us_udp_sock *k) {
  for (struct us_udp_sock **pp = &u->buckets[k->port % PORT_BUCKETS]; *pp; pp = &(*pp)->hnext) {
    if (*pp == k) {
      *pp = k->hnext;
      k->hnext = NULL;
      return;
    }
  }
}

static uint32_t udp_events(struct us_stack *s, void *obj) {
  (void)s;
  struct us_udp_sock *k = obj;
  uint32_t ev = US_EV_WRITABLE; /* a datagram send never waits for space */
  if (k->qlen > 0)
    ev |= US_EV_READABLE;
  return ev;
}

static void udp_input(struct us_stack *s, const struct us_ipinfo *ii, us_time_t now) {
  struct us_udp_layer *u = udp_layer(s);
  struct us_udp_hdr h;
  enum us_udp_parse_result pr = ii->l4_csum_trusted
                                    ? us_udp_parse_trusted(ii->payload, ii->payload_len, &h)
                                    : us_udp_parse(ii->payload, ii->payload_len, ii->pseudo, &h);
  switch (pr) {
  case US_UDP_OK:
    break;
  case US_UDP_BAD_CSUM:
    US_STAT_INC(s, udp_in_bad_csum);
    US_STAT_INC(s, udp_in_errors);
    return;
  case US_UDP_TOO_SHORT:
  case US_UDP_BAD_LEN:
    US_STAT_INC(s, udp_in_bad_len);
    US_STAT_INC(s, udp_in_errors);
    return;
  }
  /* RFC 8200 8.1: over IPv6 the checksum is mandatory; a zero one is
   * dropped (and counted) rather than taken as "none". */
  if (us_addr_is_v6(ii->src) && h.csum == 0 && !ii->l4_csum_trusted) {
    US_STAT_INC(s, udp_in_zero_csum6);
    US_STAT_INC(s, udp_in_errors);
    return;
  }
  struct us_udp_sock *k = h.dport ? lookup(u, h.dport) : NULL;
  if (!k) {
    US_STAT_INC(s, udp_no_ports);
    /* RFC 1122 4.1.3.1: port unreachable (the IP layer refuses
     * broadcasts and the other RFC 1122 3.2.2 cases). */
    us_ip_send_port_unreach(s, ii, now);
    return;
  }
  if (k->qlen >= s->cfg.udp_rx_queue) {
    US_STAT_INC(s, udp_rcvbuf_errors);
    return;
  }
  struct us_pkt *p = us_pkt_alloc(s, META_LEN + (size_t)h.payload_len);
  uint8_t *d = p ? us_pkt_put(p, META_LEN + (size_t)h.payload_len) : NULL;
  if (!d) {
    us_pkt_free(s, p);
    US_STAT_INC(s, udp_in_no_buffer);
    return;
  }
  us_endpoint_t from = us_endpoint(ii->src, h.sport);
  memcpy(d, &from, META_LEN);
  memcpy(d + META_LEN, h.payload, h.payload_len);
  p->next = NULL;
  if (k->qtail)
    k->qtail->next = p;
  else
    k->qhead = p;
  k->qtail = p;
  k->qlen++;
  US_STAT_INC(s, udp_in_datagrams);
  us_handle_mark(s, k->handle);
}

static void queue_flush(struct us_stack *s, struct us_udp_sock *k) {
  while (k->qhead) {
    struct us_pkt *p = k->qhead;
    k->qhead = p->next;
    us_pkt_free(s, p);
  }
  k->qtail = NULL;
  k->qlen = 0;
}

static void udp_fini(struct us_stack *s) {
  struct us_udp_layer *u = udp_layer(s);
  if (!u)
    return;
  for (uint32_t i = 0; i < u->count; i++)
    if (u->socks[i].used)
      queue_flush(s, &u->socks[i]);
  free(u->socks);
  free(u);
  s->layer[US_LAYER_UDP] = NULL;
}

void us_udp_defaults(struct us_config *cfg) {
  cfg->max_udp_sockets = 64;
  cfg->udp_rx_queue = 64;
}

int us_udp_init(struct us_stack *s) {
  struct us_udp_layer *u = calloc(1, sizeof *u);
  if (!u)
    return US_ERR_NOMEM;
  u->count = s->cfg.max_udp_sockets;
  if (u->count) {
    u->socks = calloc(u->count, sizeof *u->socks);
    if (!u->socks) {
      free(u);
      return US_ERR_NOMEM;
    }
  }
  for (uint32_t i = u->count; i-- > 0;) {
    u->socks[i].fnext = u->free_list;
    u->free_list = &u->socks[i];
  }
  s->layer[US_LAYER_UDP] = u;
  us_ip_register_proto(s, US_IPPROTO_UDP, udp_input, NULL);
  s->handles.events_fn[US_HK_UDP] = udp_events;
  us_stack_register_layer(s, NULL, udp_fini);
  return 0;
}

static struct us_udp_sock *get(struct us_stack *s, us_sock_t sock) {
  return udp_layer(s) ? us_handle_get(s, sock, US_HK_UDP) : NULL;
}

int us_udp_open(us_stack *s, us_sock_t *out) {
  struct us_udp_layer *u = udp_layer(s);
  if (!out)
    return US_ERR_INVAL;
  *out = US_SOCK_INVALID;
  if (!u || !u->free_list || us_stack_alloc_should_fail(s))
    return US_ERR_NOMEM;
  struct us_udp_sock *k = u->free_list;
  us_sock_t h = us_handle_alloc(s, US_HK_UDP, k);
  if (!us_sock_valid(h))
    return US_ERR_NOMEM;
  u->free_list = k->fnext;
  memset(k, 0, sizeof *k);
  k->used = true;
  k->handle = h;
  *out = h;
  return 0;
}

/* RFC 6056 3.3.1 (Algorithm 1): start at a random port of the range and
 * walk it until a free one, so the port a socket gets is unpredictable. */
static int pick_ephemeral(struct us_stack *s, uint16_t *port) {
  uint32_t start = us_rand_u32(s) % EPHEMERAL_COUNT;
  for (uint32_t i = 0; i < EPHEMERAL_COUNT; i++) {
    uint16_t p = (uint16_t)(EPHEMERAL_MIN + (start + i) % EPHEMERAL_COUNT);
    if (!lookup(udp_layer(s), p)) {
      *port = p;
      return 0;
    }
  }
  return US_ERR_ADDRINUSE;
}

int us_udp_bind(us_stack *s, us_sock_t sock, uint16_t port) {
  struct us_udp_sock *k = get(s, sock);
  if (!k)
    return US_ERR_BADF;
  if (k->port != 0)
    return US_ERR_INVAL; /* already bound */
  if (port == 0) {
    int err = pick_ephemeral(s, &port);
    if (err)
      return err;
  } else if (lookup(udp_layer(s), port)) {
    return US_ERR_ADDRINUSE;
  }
  k->port = port;
  hash_insert(udp_layer(s), k);
  return 0;
}

uint16_t us_udp_local_port(us_stack *s, us_sock_t sock) {
  struct us_udp_sock *k = get(s, sock);
  return k ? k->port : 0;
}

long us_udp_sendto(us_stack *s, us_sock_t sock, us_endpoint_t dst, const void *buf, size_t len,
                   us_time_t now) {
  struct us_udp_sock *k = get(s, sock);
  if (!k)
    return US_ERR_BADF;
  if (len > (us_addr_is_v6(dst.addr) ? UDP_MAX_PAYLOAD6 : UDP_MAX_PAYLOAD))
    return US_ERR_MSGSIZE;
  if ((len > 0 && !buf) || dst.port == 0 || us_addr_is_any(dst.addr))
    return US_ERR_INVAL;
  struct us_ip_tx tx = { .dst = dst.addr, .proto = US_IPPROTO_UDP };
  if (!us_ip_local_addr(s, dst.addr.family, &tx.src))
    return US_ERR_ADDRNOTAVAIL;
  if (k->port == 0) {
    int err = us_udp_bind(s, sock, 0);
    if (err)
      return err;
  }
  struct us_pkt *p = us_pkt_alloc(s, US_UDP_HDR_LEN + len);
  uint8_t *d = p ? us_pkt_put(p, US_UDP_HDR_LEN + len) : NULL;
  if (!d) {
    us_pkt_free(s, p);
    US_STAT_INC(s, udp_out_errors);
    return US_ERR_NOMEM;
  }
  if (len)
    memcpy(d + US_UDP_HDR_LEN, buf, len);
  us_udp_build(k->port, dst.port, d, US_UDP_HDR_LEN + len, len,
               us_csum_pseudo(tx.src, tx.dst, US_IPPROTO_UDP));
  int err = us_ip_output(s, p, &tx, now);
  if (err) {
    US_STAT_INC(s, udp_out_errors);
    return err;
  }
  US_STAT_INC(s, udp_out_datagrams);
  return (long)len;
}

long us_udp_recvfrom(us_stack *s, us_sock_t sock, void *buf, size_t cap, us_endpoint_t *src) {
  struct us_udp_sock *k = get(s, sock);
  if (!k)
    return US_ERR_BADF;
  if (cap > 0 && !buf)
    return US_ERR_INVAL;
  struct us_pkt *p = k->qhead;
  if (!p)
    return US_ERR_AGAIN;
  k->qhead = p->next;
  if (!k->qhead)
    k->qtail = NULL;
  k->qlen--;
  const uint8_t *d = us_pkt_data(p);
  size_t n = p->len - META_LEN;
  if (src)
    memcpy(src, d, META_LEN);
  /* A datagram longer than the buffer is truncated, the rest discarded,
   * and its full length returned (like recvfrom with MSG_TRUNC). */
  if (cap)
    memcpy(buf, d + META_LEN, n < cap ? n : cap);
  us_pkt_free(s, p);
  us_handle_mark(s, k->handle);
  return (long)n;
}

int us_udp_close(us_stack *s, us_sock_t sock) {
  struct us_udp_sock *k = get(s, sock);
  if (!k)
    return US_ERR_BADF;
  queue_flush(s, k);
  if (k->port)
    hash_remove(udp_layer(s), k);
  us_handle_free(s, sock);
  memset(k, 0, sizeof *k);
  k->fnext = udp_layer(s)->free_list;
  udp_layer(s)->free_list = k;
  return 0;
}
