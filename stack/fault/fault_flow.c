/* fault_flow.c - see fault_flow.h. */
#include "fault_flow.h"

#include <string.h>

#include "wire/tcp.h"

/* A total order on addresses: their 16 bytes (an IPv4 address held
 * IPv4-mapped orders as its 32-bit value would). */
static int addr_cmp(const us_addr_t *x, const us_addr_t *y) {
  return memcmp(x->b, y->b, sizeof x->b);
}

static struct fault_flow *flow_find(struct fault_flows *t, const struct fault_pkt *pi, int *side,
                                    bool create) {
  int c = addr_cmp(&pi->src, &pi->dst);
  bool a_is_src = c < 0 || (c == 0 && pi->sport <= pi->dport);
  us_addr_t aa = a_is_src ? pi->src : pi->dst, ba = a_is_src ? pi->dst : pi->src;
  uint16_t ap = a_is_src ? pi->sport : pi->dport, bp = a_is_src ? pi->dport : pi->sport;
  *side = a_is_src ? 0 : 1;
  for (uint32_t i = 0; i < FAULT_FLOWS; i++) {
    struct fault_flow *fl = &t->flow[i];
    if (fl->used && us_addr_eq(fl->a_addr, aa) && us_addr_eq(fl->b_addr, ba) && fl->a_port == ap &&
        fl->b_port == bp)
      return fl;
  }
  if (!create)
    return NULL;
  struct fault_flow *fl = &t->flow[t->next];
  t->next = (t->next + 1) % FAULT_FLOWS;
  memset(fl, 0, sizeof *fl);
  fl->used = true;
  fl->a_addr = aa;
  fl->b_addr = ba;
  fl->a_port = ap;
  fl->b_port = bp;
  return fl;
}

bool fault_flow_in_handshake(struct fault_flows *t, const struct fault_pkt *pi) {
  if (!fault_pkt_is_tcp(pi))
    return false;
  int side;
  struct fault_flow *fl = flow_find(t, pi, &side, false);
  if (!fl || !fl->syn_seen || fl->rst)
    return false;
  return !(fl->nonsyn_delivered[0] && fl->nonsyn_delivered[1]);
}

void fault_flow_note(struct fault_flows *t, const struct fault_pkt *pi, bool delivered) {
  if (!fault_pkt_is_tcp(pi))
    return;
  int side;
  bool syn_only = (pi->tflags & US_TH_SYN) && !(pi->tflags & US_TH_ACK);
  struct fault_flow *fl = flow_find(t, pi, &side, syn_only);
  if (!fl)
    return;
  if (syn_only && (fl->rst || (fl->nonsyn_delivered[0] && fl->nonsyn_delivered[1]))) {
    /* A new connection on an old 4-tuple. */
    fl->rst = false;
    fl->nonsyn_delivered[0] = fl->nonsyn_delivered[1] = false;
  }
  if (syn_only)
    fl->syn_seen = true;
  if (!delivered)
    return;
  if (pi->tflags & US_TH_RST)
    fl->rst = true;
  if (!(pi->tflags & US_TH_SYN))
    fl->nonsyn_delivered[side] = true;
}
