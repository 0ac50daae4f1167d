/*
 * fault_rule.c - which rule acts on a packet: rules are tried in spec
 * order and the first that applies wins (fault_spec.h, "Rule keys").
 */
#include "fault_int.h"

/* Direction and time window: what a rule asks before looking at bytes. */
static bool rule_active(const struct fault_rule *r, int dir, us_time_t rel) {
  if (!(r->dirmask & (1u << dir)))
    return false;
  return !r->win || (rel >= r->win_from && rel < r->win_to);
}

const struct fault_rule *fault_rule_find(struct us_fault *f, int dir, const struct fault_pkt *pi,
                                         us_time_t now) {
  us_time_t rel = now - f->origin;
  int hs = -1; /* handshake state, computed lazily */
  for (uint32_t i = 0; i < f->conf.nrules; i++) {
    struct fault_rule *r = &f->conf.rules[i];
    if (!rule_active(r, dir, rel))
      continue;
    if (r->handshake) {
      if (hs < 0)
        hs = fault_flow_in_handshake(&f->flows, pi) ? 1 : 0;
      if (!hs)
        continue;
    }
    if (!fault_atoms_match(r->atoms, r->natoms, pi))
      continue;
    /* count= and skip= count the packets that match in the window. */
    uint64_t m = r->matched++;
    if (m < r->skip)
      continue;
    if (m - r->skip >= r->count)
      continue;
    return r;
  }
  return NULL;
}
