/*
 * fault_flow.h - which TCP connections are in their handshake, for rules
 * with `when=handshake`.
 *
 * A connection is in its handshake from its SYN until a segment without
 * SYN has been delivered in each direction (or a RST has been). The table
 * only has to remember connections during their handshake, which are few
 * and short-lived, so it is small and replaces round-robin. Connections
 * over IPv4 and IPv6 share it: addresses are us_addr_t.
 */
#ifndef USTACK_FAULT_FLOW_H
#define USTACK_FAULT_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "fault_match.h"

#define FAULT_FLOWS 64

struct fault_flow {
  bool used;
  us_addr_t a_addr, b_addr; /* a = the smaller (addr, port) end */
  uint16_t a_port, b_port;
  bool syn_seen, rst;
  bool nonsyn_delivered[2]; /* [0] from a, [1] from b */
};

struct fault_flows {
  struct fault_flow flow[FAULT_FLOWS];
  uint32_t next; /* the slot a new connection replaces */
};

/* True when `pi` is a TCP segment of a connection in its handshake. */
bool fault_flow_in_handshake(struct fault_flows *t, const struct fault_pkt *pi);

/* Called for every packet offered, once its fate is known: a SYN
 * (re)starts the handshake; a delivered non-SYN segment counts toward
 * ending it; a delivered RST ends it. Non-TCP packets are ignored. */
void fault_flow_note(struct fault_flows *t, const struct fault_pkt *pi, bool delivered);

#endif
