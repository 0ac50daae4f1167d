/*
 * tcp_layer.c - the TCP layer put together: its state created and freed,
 * and what it registers with the core: protocol 6 and its ICMP errors for
 * IPv4 input, the readiness and error hooks of TCP handles, and the poll
 * that runs the timers and the coalesced output.
 *
 * Set-up is the one place that names input, output, timers and the socket
 * calls together. Keeping it here, above the rest of stack/tcp, lets the
 * pools (tcb.c) stay at the bottom of the layer: they name none of them.
 */
#include <stdlib.h>

#include "cc.h"
#include "core/handle.h"
#include "core/stack.h"
#include "tcp.h"
#include "tcp_int.h"
#include "ustack/us_err.h"
#include "wire/ipv4.h"

static void tcp_fini(struct us_stack *s) {
  struct us_tcp_layer *ts = tcp_layer(s);
  if (!ts)
    return;
  tcp_limit_fini(s);
  tcb_pool_fini(s);
  tcp_timerq_fini(&ts->tq);
  free(ts);
  s->layer[US_LAYER_TCP] = NULL;
}

int us_tcp_init(struct us_stack *s) {
  const struct us_config *c = &s->cfg;
  struct us_tcp_layer *ts = calloc(1, sizeof *ts);
  if (!ts)
    return US_ERR_NOMEM;
  s->layer[US_LAYER_TCP] = ts;
  if (tcp_timerq_init(&ts->tq, c->max_tcp_sockets) || tcb_pool_init(s) != 0) {
    tcp_fini(s);
    return US_ERR_NOMEM;
  }
  ts->cc = tcp_cc_ops_for(c->tcp_cc);
  /* 0: half the pool, so TIME-WAIT never holds more than half of it. */
  ts->tw_max = c->tcp_max_time_wait ? c->tcp_max_time_wait : ts->ntcb / 2;
  if (ts->tw_max == 0)
    ts->tw_max = 1;
  tcp_isn_init(s);
  if (tcp_limit_init(s) != 0) {
    tcp_fini(s);
    return US_ERR_NOMEM;
  }

  us_ip_register_proto(s, US_IPPROTO_TCP, tcp_input, tcp_icmp_error);
  s->handles.events_fn[US_HK_TCP] = tcp_events;
  s->handles.error_fn[US_HK_TCP] = tcp_error;
  us_stack_register_layer(s, tcp_poll, tcp_fini);
  return 0;
}
