/*
 * fault_spec_rule.c - a rule clause of the spec language: match=EXPR,
 * action=ACT, count=N, skip=N, when=WIN|handshake (fault_spec.h).
 */
#include <string.h>

#include "fault_spec_int.h"

/* The atoms without an argument. */
static const struct {
  const char *name;
  uint8_t kind;
} atom_names[] = {
  { "ip", FAULT_AT_IP },       { "tcp", FAULT_AT_TCP },
  { "udp", FAULT_AT_UDP },     { "icmp", FAULT_AT_ICMP },
  { "tcp.syn", FAULT_AT_SYN }, { "tcp.synack", FAULT_AT_SYNACK },
  { "tcp.ack", FAULT_AT_ACK }, { "tcp.pureack", FAULT_AT_PUREACK },
  { "tcp.fin", FAULT_AT_FIN }, { "tcp.rst", FAULT_AT_RST },
  { "tcp.psh", FAULT_AT_PSH }, { "tcp.urg", FAULT_AT_URG },
  { "data", FAULT_AT_DATA },   { "ip4", FAULT_AT_IP4 },
  { "ip6", FAULT_AT_IP6 },
};

/* sport:N, dport:N, port:N. */
static int parse_port_atom(struct fault_pctx *p, const char *t, struct fault_atom *a) {
  const char *colon = strchr(t, ':');
  size_t n = colon ? (size_t)(colon - t) : 0;
  uint8_t kind = 0;
  if (colon && n == 5 && strncmp(t, "sport", 5) == 0)
    kind = FAULT_AT_SPORT;
  else if (colon && n == 5 && strncmp(t, "dport", 5) == 0)
    kind = FAULT_AT_DPORT;
  else if (colon && n == 4 && strncmp(t, "port", 4) == 0)
    kind = FAULT_AT_PORT;
  else
    return fault_perr(
        p,
        "match: unknown atom '%s' (ip, ip4, ip6, tcp, udp, icmp, tcp.syn, tcp.synack, "
        "tcp.ack, tcp.pureack, tcp.fin, tcp.rst, tcp.psh, tcp.urg, data, "
        "sport:N, dport:N, port:N)",
        t);
  uint64_t port = 0;
  if (fault_parse_uint(p, "match port", colon + 1, 65535, &port) < 0)
    return -1;
  a->kind = kind;
  a->port = (uint16_t)port;
  return 0;
}

/* One atom, `t` trimmed: ['!'] name. `expr` is the whole expression, for
 * the message. */
static int parse_atom(struct fault_pctx *p, char *t, const char *expr, struct fault_atom *a) {
  memset(a, 0, sizeof *a);
  if (*t == '!') {
    a->neg = true;
    t = fault_trim(t + 1);
  }
  if (*t == '\0')
    return fault_perr(p, "match: empty atom in '%s'", expr);
  for (size_t i = 0; i < sizeof atom_names / sizeof atom_names[0]; i++) {
    if (strcmp(t, atom_names[i].name) == 0) {
      a->kind = atom_names[i].kind;
      return 0;
    }
  }
  return parse_port_atom(p, t, a);
}

/* EXPR := atom { '&' atom } */
static int parse_match(struct fault_pctx *p, const char *v, struct fault_rule *r) {
  char buf[256];
  if (strlen(v) >= sizeof buf)
    return fault_perr(p, "match: expression too long");
  strcpy(buf, v);
  r->natoms = 0;
  char *cur = buf;
  for (char *tok = fault_split_next(&cur, '&'); tok; tok = fault_split_next(&cur, '&')) {
    if (r->natoms == FAULT_MAX_ATOMS)
      return fault_perr(p, "match: more than %d atoms", FAULT_MAX_ATOMS);
    if (parse_atom(p, fault_trim(tok), v, &r->atoms[r->natoms]) < 0)
      return -1;
    r->natoms++;
  }
  if (r->natoms == 0)
    return fault_perr(p, "match: empty expression");
  return 0;
}

static int parse_action(struct fault_pctx *p, const char *v, struct fault_rule *r) {
  const char *colon = strchr(v, ':');
  size_t n = colon ? (size_t)(colon - v) : strlen(v);
  const char *arg = colon ? colon + 1 : NULL;
  uint64_t x = 0;
#define IS(word) (n == strlen(word) && strncmp(v, word, n) == 0)
  if (IS("drop") || IS("pass")) {
    if (arg)
      return fault_perr(p, "action: '%.*s' takes no argument", (int)n, v);
    r->action = IS("drop") ? FAULT_ACT_DROP : FAULT_ACT_PASS;
  } else if (IS("dup")) {
    r->action = FAULT_ACT_DUP;
    r->arg = 1;
    if (arg) {
      if (fault_parse_uint(p, "action dup", arg, FAULT_MAX_COPIES, &x) < 0)
        return -1;
      if (x == 0)
        return fault_perr(p, "action: dup:0 makes no copy (1..%d)", FAULT_MAX_COPIES);
      r->arg = (uint32_t)x;
    }
  } else if (IS("delay")) {
    if (!arg)
      return fault_perr(p, "action: delay needs a time (delay:3s)");
    r->action = FAULT_ACT_DELAY;
    if (fault_parse_time(p, "action delay", arg, &r->delay) < 0)
      return -1;
  } else if (IS("corrupt")) {
    r->action = FAULT_ACT_CORRUPT;
    r->arg = 1;
    if (arg) {
      if (fault_parse_uint(p, "action corrupt", arg, FAULT_MAX_BITS, &x) < 0)
        return -1;
      if (x == 0)
        return fault_perr(p, "action: corrupt:0 flips nothing (1..%d)", FAULT_MAX_BITS);
      r->arg = (uint32_t)x;
    }
  } else if (IS("truncate")) {
    if (!arg)
      return fault_perr(p, "action: truncate needs a length (truncate:40)");
    r->action = FAULT_ACT_TRUNCATE;
    if (fault_parse_uint(p, "action truncate", arg, 65535, &x) < 0)
      return -1;
    r->arg = (uint32_t)x;
  } else {
    return fault_perr(p,
                      "action: unknown '%s' (drop, pass, dup[:N], delay:TIME, corrupt[:BITS], "
                      "truncate:N)",
                      v);
  }
#undef IS
  return 0;
}

int fault_parse_rule(struct fault_pctx *p, struct fault_conf *c, uint8_t dirmask,
                     struct fault_item *it, int nit) {
  if (c->nrules == FAULT_MAX_RULES)
    return fault_perr(p, "more than %d rules", FAULT_MAX_RULES);
  struct fault_rule r;
  memset(&r, 0, sizeof r);
  r.dirmask = dirmask;
  r.count = UINT64_MAX;
  bool have_action = false;
  for (int i = 0; i < nit; i++) {
    const char *k = it[i].key, *v = it[i].val;
    if (strcmp(k, "match") == 0) {
      if (parse_match(p, v, &r) < 0)
        return -1;
    } else if (strcmp(k, "action") == 0) {
      if (parse_action(p, v, &r) < 0)
        return -1;
      have_action = true;
    } else if (strcmp(k, "count") == 0) {
      if (fault_parse_uint(p, k, v, UINT32_MAX, &r.count) < 0)
        return -1;
    } else if (strcmp(k, "skip") == 0) {
      if (fault_parse_uint(p, k, v, UINT32_MAX, &r.skip) < 0)
        return -1;
    } else if (strcmp(k, "when") == 0) {
      if (strcmp(v, "handshake") == 0) {
        r.handshake = true;
        c->uses_handshake = true;
      } else {
        r.win = true;
        if (fault_parse_window(p, k, v, &r.win_from, &r.win_to) < 0)
          return -1;
      }
    } else {
      return fault_perr(p,
                        "key '%s' is not allowed in a rule (rules take match, action, count, "
                        "skip, when)",
                        k);
    }
  }
  if (!have_action)
    return fault_perr(p, "a rule needs action= (drop, pass, dup, delay:T, corrupt, truncate:N)");
  c->rules[c->nrules++] = r;
  return 0;
}
