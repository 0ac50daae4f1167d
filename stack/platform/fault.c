/*
 * fault.c - the seeded impairment layer (see fault.h for the contract and
 * the spec grammar).
 *
 * What this file owns and its invariants:
 *  - A parsed configuration (struct fault_conf): per direction one set of
 *    link impairments, plus an ordered list of rules. us_fault_set() parses
 *    into a scratch conf and swaps it in only when the whole spec is valid,
 *    so a bad spec never leaves a half-applied configuration.
 *  - A pool of `nslots` packet slots allocated at creation. A slot is FREE
 *    (on the free stack), QUEUED (listed in used[], waiting for its due
 *    time or its reorder gap) or BUSY (being delivered right now). Every
 *    QUEUED slot is in used[0..nused), every FREE slot in freel[0..nfree):
 *    nused + nfree == nslots at rest.
 *  - Per direction: a xoshiro256** stream seeded from the user's seed with
 *    splitmix64, so TX decisions never depend on how RX traffic
 *    interleaves; the Gilbert-Elliott state; the GCRA shaper's theoretical
 *    arrival time; the FIFO floor (`last_due`) that keeps delayed packets in
 *    order; the counters.
 *
 * Call order inside us_fault_process(): release what is already due,
 * classify the packet (parse IPv4/TCP/UDP headers, bounds-checked), try the
 * rules in spec order, then the random link impairments (loss, truncate,
 * corrupt, dup, reorder, each drawing from the PRNG only when enabled), then
 * the shaper and the delay line, then deliver now or park in a slot, then
 * release again.
 *
 * Re-entrancy: a deliver callback may call us_fault_process() again (a
 * stack that answers at once). Nested calls never deliver themselves: they
 * park the packet (due now) and the outermost release loop hands it on, so
 * the call depth stays bounded however long two stacks ping-pong.
 */
#include "fault.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define FAULT_SPEC_MAX           1024
#define FAULT_MAX_RULES          32
#define FAULT_MAX_ATOMS          8
#define FAULT_FLOWS              64
#define FAULT_DEFAULT_SLOTS      1024
#define FAULT_DEFAULT_SLOT_BYTES 2048
#define FAULT_MAX_COPIES         8
#define FAULT_MAX_BITS           64
/* A whole day: longer times are surely typos, and keeping them small keeps
 * every sum of times far from overflow. */
#define FAULT_TIME_MAX           ((us_time_t)86400 * 1000000)

/* ---- Configuration ------------------------------------------------------ */

enum atom_kind {
  AT_IP,
  AT_TCP,
  AT_UDP,
  AT_ICMP,
  AT_SYN,
  AT_SYNACK,
  AT_ACK,
  AT_PUREACK,
  AT_FIN,
  AT_RST,
  AT_PSH,
  AT_URG,
  AT_DATA,
  AT_SPORT,
  AT_DPORT,
  AT_PORT,
};

struct atom {
  uint8_t kind;
  bool neg;
  uint16_t port;
};

enum rule_action { ACT_DROP, ACT_PASS, ACT_DUP, ACT_DELAY, ACT_CORRUPT, ACT_TRUNCATE };

struct rule {
  uint8_t dirmask; /* bit 0 = TX, bit 1 = RX */
  bool blackhole;  /* made from blackhole=: counted as blackholed */
  uint8_t natoms;
  struct atom atoms[FAULT_MAX_ATOMS];
  uint8_t action;
  uint32_t arg;    /* dup copies, corrupt bits, truncate length */
  us_time_t delay; /* ACT_DELAY */
  uint64_t count;  /* UINT64_MAX = unlimited */
  uint64_t skip;
  bool win;
  us_time_t win_from, win_to; /* win_to = US_TIME_NEVER: open end */
  bool handshake;
  uint64_t matched; /* run-time: matching packets seen in the window */
};

struct link {
  double loss;
  uint32_t burst;    /* 0/1 = independent */
  double p_gb, p_bg; /* Gilbert-Elliott transition probabilities */
  double truncate;
  uint32_t keep; /* 0 = random */
  bool keep_set;
  double corrupt;
  uint32_t bits;
  double dup;
  uint32_t copies;
  double reorder;
  uint32_t gap;    /* 0 = time only */
  us_time_t hold;  /* 0 = gap only (never: hold defaults when gap alone) */
  uint64_t rate;   /* bytes per second, 0 = off */
  uint64_t bucket; /* bytes */
  uint32_t qlen;
  us_time_t delay, jitter;
};

struct fault_conf {
  struct link link[US_FAULT_NDIRS];
  struct rule rules[FAULT_MAX_RULES];
  uint32_t nrules;
  bool uses_handshake;
  char spec[FAULT_SPEC_MAX];
};

/* ---- Run-time state ----------------------------------------------------- */

enum slot_state { SLOT_FREE = 0, SLOT_QUEUED, SLOT_BUSY };

struct slot {
  uint8_t *data;
  uint32_t len;
  uint8_t dir, state, copies;
  bool held; /* reordering: waits for gap_left or hold_until */
  uint32_t gap_left;
  us_time_t due; /* release time (when not held) */
  us_time_t hold_until;
  us_time_t shaper_until; /* left the shaper at this time */
  uint64_t order;         /* arrival order, breaks ties */
  uint64_t idx;           /* packet index in its direction */
  us_fault_deliver_fn deliver;
  void *ctx;
};

struct dirstate {
  uint64_t rng[4];
  bool ge_bad;
  int64_t tat_ns;     /* GCRA theoretical arrival time, ns */
  us_time_t last_due; /* FIFO floor of the delay line */
  uint64_t pkt_index;
  uint32_t nqueued; /* QUEUED, not held (FIFO path) */
  struct us_fault_counters c;
};

struct flow {
  bool used;
  uint32_t a_addr, b_addr; /* a = the smaller (addr, port) end */
  uint16_t a_port, b_port;
  bool syn_seen, rst;
  bool nonsyn_delivered[2]; /* [0] from a, [1] from b */
};

struct us_fault {
  struct fault_conf conf;
  uint64_t seed;
  struct dirstate d[US_FAULT_NDIRS];

  bool origin_set;
  us_time_t origin;
  us_time_t now;

  struct slot *slots;
  uint8_t *mem;
  uint32_t nslots, slot_bytes;
  uint32_t *used, nused;
  uint32_t *freel, nfree;
  uint64_t order;
  int depth; /* > 0 while a deliver callback runs */

  struct flow flows[FAULT_FLOWS];
  uint32_t flow_next;

  us_fault_trace_fn trace;
  void *trace_ctx;

  struct us_device inner;
  struct us_rx_sink inner_rx;
  us_time_t (*clock)(void *ctx);
  void *clock_ctx;
};

/* ---- PRNG: splitmix64 seeds xoshiro256** (both public-domain algorithms,
 * written here from their published definitions). ------------------------ */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[4]) {
  uint64_t r = rotl64(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl64(s[3], 45);
  return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_unit(uint64_t s[4]) { return (double)(rng_next(s) >> 11) * 0x1.0p-53; }

/* Uniform in [0, n), n >= 1: the top 32 bits scaled (Lemire's multiply;
 * the bias is below 2^-32 per value for the small n used here). */
static uint64_t rng_below(uint64_t s[4], uint64_t n) {
  uint64_t x = rng_next(s);
  if (n <= UINT32_MAX)
    return ((x >> 32) * n) >> 32;
  return x % n;
}

static bool rng_chance(uint64_t s[4], double p) { return rng_unit(s) < p; }

static void dir_seed(struct dirstate *d, uint64_t seed, int dir) {
  uint64_t x = seed ^ (0x5851f42d4c957f2dull * (uint64_t)(dir + 1));
  for (int i = 0; i < 4; i++)
    d->rng[i] = splitmix64(&x);
}

/* ---- Spec parsing ------------------------------------------------------- */

struct pctx {
  char *err;
  size_t errlen;
  int clause;       /* 1-based */
  const char *text; /* the clause as written */
};

__attribute__((format(printf, 2, 3))) static int perr(struct pctx *p, const char *fmt, ...) {
  if (!p->err || p->errlen == 0)
    return -1;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (p->clause > 0)
    snprintf(p->err, p->errlen, "fault spec clause %d '%s': %s", p->clause, p->text, msg);
  else
    snprintf(p->err, p->errlen, "fault spec: %s", msg);
  return -1;
}

/* The next `delim`-separated token of *cur (possibly empty), or NULL at
 * the end. Unlike strtok, "a,,b" gives an empty token, so it is reported. */
static char *split_next(char **cur, char delim) {
  char *tok = *cur;
  if (!tok)
    return NULL;
  char *d = strchr(tok, delim);
  if (d) {
    *d = '\0';
    *cur = d + 1;
  } else {
    *cur = NULL;
  }
  return tok;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  return s;
}

/* A plain decimal: digits, optionally '.' digits. Sets *end past it.
 * Returns false when there is no digit. No locale, no exponent, no sign. */
static bool parse_decimal(const char *s, double *out, const char **end) {
  double v = 0;
  bool any = false;
  const char *q = s;
  while (*q >= '0' && *q <= '9') {
    v = v * 10 + (*q - '0');
    q++;
    any = true;
    if (v > 1e15)
      return false;
  }
  if (*q == '.') {
    q++;
    double scale = 0.1;
    while (*q >= '0' && *q <= '9') {
      v += (*q - '0') * scale;
      scale /= 10;
      q++;
      any = true;
    }
  }
  *out = v;
  *end = q;
  return any;
}

static int parse_uint(struct pctx *p, const char *key, const char *v, uint64_t max, uint64_t *out) {
  if (*v < '0' || *v > '9')
    return perr(p, "%s: '%s' is not a whole number", key, v);
  uint64_t x = 0;
  for (const char *q = v; *q; q++) {
    if (*q < '0' || *q > '9')
      return perr(p, "%s: '%s' is not a whole number", key, v);
    x = x * 10 + (uint64_t)(*q - '0');
    if (x > max)
      return perr(p, "%s: %s is above the maximum %llu", key, v, (unsigned long long)max);
  }
  *out = x;
  return 0;
}

static int parse_pct(struct pctx *p, const char *key, const char *v, double *out) {
  double x = 0;
  const char *end;
  if (!parse_decimal(v, &x, &end) || *end != '%' || end[1] != '\0')
    return perr(p, "%s: '%s' is not a percentage (write e.g. 5%% or 0.5%%)", key, v);
  if (x > 100)
    return perr(p, "%s: %s is above 100%%", key, v);
  *out = x / 100.0;
  return 0;
}

static int parse_time(struct pctx *p, const char *key, const char *v, us_time_t *out) {
  double x = 0;
  const char *end;
  if (!parse_decimal(v, &x, &end))
    return perr(p, "%s: '%s' is not a time (write e.g. 20ms, 1.5s, 250us)", key, v);
  double mul;
  if (strcmp(end, "us") == 0)
    mul = 1;
  else if (strcmp(end, "ms") == 0)
    mul = 1e3;
  else if (strcmp(end, "s") == 0)
    mul = 1e6;
  else if (*end == '\0')
    return perr(p, "%s: '%s' needs a unit: us, ms or s", key, v);
  else
    return perr(p, "%s: unknown time unit '%s' in '%s' (use us, ms or s)", key, end, v);
  double us = x * mul;
  if (us > (double)FAULT_TIME_MAX)
    return perr(p, "%s: %s is longer than a day", key, v);
  *out = (us_time_t)(us + 0.5);
  return 0;
}

static int parse_size(struct pctx *p, const char *key, const char *v, uint64_t *out) {
  double x = 0;
  const char *end;
  if (!parse_decimal(v, &x, &end))
    return perr(p, "%s: '%s' is not a size (write e.g. 3000B, 15kB, 64KiB)", key, v);
  double mul;
  if (strcmp(end, "B") == 0)
    mul = 1;
  else if (strcmp(end, "kB") == 0 || strcmp(end, "KB") == 0)
    mul = 1e3;
  else if (strcmp(end, "KiB") == 0)
    mul = 1024;
  else if (strcmp(end, "MB") == 0)
    mul = 1e6;
  else if (strcmp(end, "MiB") == 0)
    mul = 1048576;
  else if (*end == '\0')
    return perr(p, "%s: '%s' needs a unit: B, kB, KiB, MB or MiB", key, v);
  else
    return perr(p, "%s: unknown size unit '%s' in '%s' (use B, kB, KiB, MB, MiB)", key, end, v);
  double b = x * mul;
  if (b < 1 || b > 1e12)
    return perr(p, "%s: %s is out of range (1B..1000GB)", key, v);
  *out = (uint64_t)b;
  return 0;
}

static int parse_rate(struct pctx *p, const char *key, const char *v, uint64_t *out) {
  double x = 0;
  const char *end;
  if (!parse_decimal(v, &x, &end))
    return perr(p, "%s: '%s' is not a rate (write e.g. 10mbit, 500kbit, 2MBps)", key, v);
  static const struct {
    const char *unit;
    double bytes_per_unit;
  } units[] = {
    { "bit", 1.0 / 8 }, { "kbit", 1e3 / 8 }, { "mbit", 1e6 / 8 }, { "gbit", 1e9 / 8 },
    { "Bps", 1 },       { "kBps", 1e3 },     { "MBps", 1e6 },     { "GBps", 1e9 },
  };
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(end, units[i].unit) == 0) {
      double r = x * units[i].bytes_per_unit;
      if (r < 1 || r > 1e12)
        return perr(p, "%s: %s is out of range (8bit..8000gbit)", key, v);
      *out = (uint64_t)r;
      return 0;
    }
  }
  if (*end == '\0')
    return perr(p, "%s: '%s' needs a unit: bit, kbit, mbit, gbit (per second) or Bps, kBps, MBps",
                key, v);
  return perr(p, "%s: unknown rate unit '%s' in '%s' (use bit, kbit, mbit, gbit, Bps, kBps, MBps)",
              key, end, v);
}

static int parse_window(struct pctx *p, const char *key, const char *v, us_time_t *from,
                        us_time_t *to) {
  char buf[64];
  if (strlen(v) >= sizeof buf)
    return perr(p, "%s: '%s' is too long", key, v);
  strcpy(buf, v);
  char *dash = strchr(buf, '-');
  if (!dash)
    return perr(p, "%s: '%s' is not a window (write FROM-TO, e.g. 5s-25s, or FROM- )", key, v);
  *dash = '\0';
  if (parse_time(p, key, trim(buf), from) < 0)
    return -1;
  char *rest = trim(dash + 1);
  if (*rest == '\0') {
    *to = US_TIME_NEVER;
    return 0;
  }
  if (parse_time(p, key, rest, to) < 0)
    return -1;
  if (*to <= *from)
    return perr(p, "%s: window '%s' ends before it starts", key, v);
  return 0;
}

static int parse_match(struct pctx *p, const char *v, struct rule *r) {
  char buf[256];
  if (strlen(v) >= sizeof buf)
    return perr(p, "match: expression too long");
  strcpy(buf, v);
  static const struct {
    const char *name;
    uint8_t kind;
  } names[] = {
    { "ip", AT_IP },       { "tcp", AT_TCP },
    { "udp", AT_UDP },     { "icmp", AT_ICMP },
    { "tcp.syn", AT_SYN }, { "tcp.synack", AT_SYNACK },
    { "tcp.ack", AT_ACK }, { "tcp.pureack", AT_PUREACK },
    { "tcp.fin", AT_FIN }, { "tcp.rst", AT_RST },
    { "tcp.psh", AT_PSH }, { "tcp.urg", AT_URG },
    { "data", AT_DATA },
  };
  r->natoms = 0;
  char *cur = NULL;
  for (char *tok = (cur = buf, split_next(&cur, '&')); tok; tok = split_next(&cur, '&')) {
    char *t = trim(tok);
    if (r->natoms == FAULT_MAX_ATOMS)
      return perr(p, "match: more than %d atoms", FAULT_MAX_ATOMS);
    struct atom *a = &r->atoms[r->natoms];
    memset(a, 0, sizeof *a);
    if (*t == '!') {
      a->neg = true;
      t = trim(t + 1);
    }
    if (*t == '\0')
      return perr(p, "match: empty atom in '%s'", v);
    bool found = false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
      if (strcmp(t, names[i].name) == 0) {
        a->kind = names[i].kind;
        found = true;
        break;
      }
    }
    if (!found) {
      const char *colon = strchr(t, ':');
      size_t n = colon ? (size_t)(colon - t) : 0;
      uint8_t kind = 0;
      if (colon && n == 5 && strncmp(t, "sport", 5) == 0)
        kind = AT_SPORT;
      else if (colon && n == 5 && strncmp(t, "dport", 5) == 0)
        kind = AT_DPORT;
      else if (colon && n == 4 && strncmp(t, "port", 4) == 0)
        kind = AT_PORT;
      else
        return perr(p,
                    "match: unknown atom '%s' (ip, tcp, udp, icmp, tcp.syn, tcp.synack, "
                    "tcp.ack, tcp.pureack, tcp.fin, tcp.rst, tcp.psh, tcp.urg, data, "
                    "sport:N, dport:N, port:N)",
                    t);
      uint64_t port = 0;
      if (parse_uint(p, "match port", colon + 1, 65535, &port) < 0)
        return -1;
      a->kind = kind;
      a->port = (uint16_t)port;
    }
    r->natoms++;
  }
  if (r->natoms == 0)
    return perr(p, "match: empty expression");
  return 0;
}

static int parse_action(struct pctx *p, const char *v, struct rule *r) {
  const char *colon = strchr(v, ':');
  size_t n = colon ? (size_t)(colon - v) : strlen(v);
  const char *arg = colon ? colon + 1 : NULL;
  uint64_t x = 0;
#define IS(word) (n == strlen(word) && strncmp(v, word, n) == 0)
  if (IS("drop") || IS("pass")) {
    if (arg)
      return perr(p, "action: '%.*s' takes no argument", (int)n, v);
    r->action = IS("drop") ? ACT_DROP : ACT_PASS;
  } else if (IS("dup")) {
    r->action = ACT_DUP;
    r->arg = 1;
    if (arg) {
      if (parse_uint(p, "action dup", arg, FAULT_MAX_COPIES, &x) < 0)
        return -1;
      if (x == 0)
        return perr(p, "action: dup:0 makes no copy (1..%d)", FAULT_MAX_COPIES);
      r->arg = (uint32_t)x;
    }
  } else if (IS("delay")) {
    if (!arg)
      return perr(p, "action: delay needs a time (delay:3s)");
    r->action = ACT_DELAY;
    if (parse_time(p, "action delay", arg, &r->delay) < 0)
      return -1;
  } else if (IS("corrupt")) {
    r->action = ACT_CORRUPT;
    r->arg = 1;
    if (arg) {
      if (parse_uint(p, "action corrupt", arg, FAULT_MAX_BITS, &x) < 0)
        return -1;
      if (x == 0)
        return perr(p, "action: corrupt:0 flips nothing (1..%d)", FAULT_MAX_BITS);
      r->arg = (uint32_t)x;
    }
  } else if (IS("truncate")) {
    if (!arg)
      return perr(p, "action: truncate needs a length (truncate:40)");
    r->action = ACT_TRUNCATE;
    if (parse_uint(p, "action truncate", arg, 65535, &x) < 0)
      return -1;
    r->arg = (uint32_t)x;
  } else {
    return perr(p,
                "action: unknown '%s' (drop, pass, dup[:N], delay:TIME, corrupt[:BITS], "
                "truncate:N)",
                v);
  }
#undef IS
  return 0;
}

struct item {
  char *key, *val;
};

static int parse_rule(struct pctx *p, struct fault_conf *c, uint8_t dirmask, struct item *it,
                      int nit) {
  if (c->nrules == FAULT_MAX_RULES)
    return perr(p, "more than %d rules", FAULT_MAX_RULES);
  struct rule r;
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
      if (parse_uint(p, k, v, UINT32_MAX, &r.count) < 0)
        return -1;
    } else if (strcmp(k, "skip") == 0) {
      if (parse_uint(p, k, v, UINT32_MAX, &r.skip) < 0)
        return -1;
    } else if (strcmp(k, "when") == 0) {
      if (strcmp(v, "handshake") == 0) {
        r.handshake = true;
        c->uses_handshake = true;
      } else {
        r.win = true;
        if (parse_window(p, k, v, &r.win_from, &r.win_to) < 0)
          return -1;
      }
    } else {
      return perr(p,
                  "key '%s' is not allowed in a rule (rules take match, action, count, "
                  "skip, when)",
                  k);
    }
  }
  if (!have_action)
    return perr(p, "a rule needs action= (drop, pass, dup, delay:T, corrupt, truncate:N)");
  c->rules[c->nrules++] = r;
  return 0;
}

enum {
  K_LOSS,
  K_BURST,
  K_TRUNCATE,
  K_KEEP,
  K_CORRUPT,
  K_BITS,
  K_DUP,
  K_COPIES,
  K_REORDER,
  K_GAP,
  K_HOLD,
  K_RATE,
  K_BUCKET,
  K_QLEN,
  K_DELAY,
  K_JITTER,
  K_BLACKHOLE,
  K_COUNT_
};
static const char *const link_keys[K_COUNT_] = {
  "loss", "burst", "truncate", "keep",   "corrupt", "bits",  "dup",    "copies",    "reorder",
  "gap",  "hold",  "rate",     "bucket", "qlen",    "delay", "jitter", "blackhole",
};
/* The main key each modifier needs beside it in the same clause. */
static const int link_needs[K_COUNT_] = {
  -1,        K_LOSS,    -1, K_TRUNCATE, -1,     K_CORRUPT, -1,      K_DUP, -1,
  K_REORDER, K_REORDER, -1, K_RATE,     K_RATE, -1,        K_DELAY, -1,
};

static int parse_link(struct pctx *p, struct fault_conf *c, uint8_t dirmask, struct item *it,
                      int nit) {
  struct link l; /* this clause's values; only the groups it names are copied */
  memset(&l, 0, sizeof l);
  uint32_t seen = 0;
  uint64_t x = 0;
  for (int i = 0; i < nit; i++) {
    const char *k = it[i].key, *v = it[i].val;
    int key = -1;
    for (int j = 0; j < K_COUNT_; j++)
      if (strcmp(k, link_keys[j]) == 0)
        key = j;
    if (key < 0) {
      if (strcmp(k, "action") == 0 || strcmp(k, "count") == 0 || strcmp(k, "skip") == 0 ||
          strcmp(k, "when") == 0)
        return perr(p, "key '%s' belongs to a rule, and this clause has no match=", k);
      return perr(p,
                  "unknown key '%s' (loss, burst, truncate, keep, corrupt, bits, dup, "
                  "copies, reorder, gap, hold, rate, bucket, qlen, delay, jitter, "
                  "blackhole, or match= for a rule)",
                  k);
    }
    if (key == K_BLACKHOLE) {
      /* A blackhole is a rule "match everything in the window, drop". */
      if (c->nrules == FAULT_MAX_RULES)
        return perr(p, "more than %d rules", FAULT_MAX_RULES);
      struct rule r;
      memset(&r, 0, sizeof r);
      r.dirmask = dirmask;
      r.blackhole = true;
      r.natoms = 1;
      r.atoms[0].kind = AT_IP;
      r.action = ACT_DROP;
      r.count = UINT64_MAX;
      r.win = true;
      if (parse_window(p, k, v, &r.win_from, &r.win_to) < 0)
        return -1;
      c->rules[c->nrules++] = r;
      continue;
    }
    if (seen & (1u << key))
      return perr(p, "key '%s' given twice", k);
    seen |= 1u << key;
    switch (key) {
    case K_LOSS:
      if (parse_pct(p, k, v, &l.loss) < 0)
        return -1;
      break;
    case K_BURST:
      if (parse_uint(p, k, v, 1000000, &x) < 0)
        return -1;
      if (x == 0)
        return perr(p, "burst: mean burst length must be at least 1");
      l.burst = (uint32_t)x;
      break;
    case K_TRUNCATE:
      if (parse_pct(p, k, v, &l.truncate) < 0)
        return -1;
      break;
    case K_KEEP:
      if (parse_uint(p, k, v, 65535, &x) < 0)
        return -1;
      l.keep = (uint32_t)x;
      l.keep_set = true;
      break;
    case K_CORRUPT:
      if (parse_pct(p, k, v, &l.corrupt) < 0)
        return -1;
      break;
    case K_BITS:
      if (parse_uint(p, k, v, FAULT_MAX_BITS, &x) < 0)
        return -1;
      if (x == 0)
        return perr(p, "bits: must be 1..%d", FAULT_MAX_BITS);
      l.bits = (uint32_t)x;
      break;
    case K_DUP:
      if (parse_pct(p, k, v, &l.dup) < 0)
        return -1;
      break;
    case K_COPIES:
      if (parse_uint(p, k, v, FAULT_MAX_COPIES, &x) < 0)
        return -1;
      if (x == 0)
        return perr(p, "copies: must be 1..%d", FAULT_MAX_COPIES);
      l.copies = (uint32_t)x;
      break;
    case K_REORDER:
      if (parse_pct(p, k, v, &l.reorder) < 0)
        return -1;
      break;
    case K_GAP:
      if (parse_uint(p, k, v, 100000, &x) < 0)
        return -1;
      if (x == 0)
        return perr(p, "gap: must be at least 1 (leave it out for time-only holding)");
      l.gap = (uint32_t)x;
      break;
    case K_HOLD:
      if (parse_time(p, k, v, &l.hold) < 0)
        return -1;
      if (l.hold == 0)
        return perr(p, "hold: must be more than 0");
      break;
    case K_RATE:
      if (parse_rate(p, k, v, &l.rate) < 0)
        return -1;
      break;
    case K_BUCKET:
      if (parse_size(p, k, v, &l.bucket) < 0)
        return -1;
      break;
    case K_QLEN:
      if (parse_uint(p, k, v, 1000000, &x) < 0)
        return -1;
      if (x == 0)
        return perr(p, "qlen: must be at least 1");
      l.qlen = (uint32_t)x;
      break;
    case K_DELAY:
      if (parse_time(p, k, v, &l.delay) < 0)
        return -1;
      break;
    case K_JITTER:
      if (parse_time(p, k, v, &l.jitter) < 0)
        return -1;
      break;
    default:
      break;
    }
  }
  for (int j = 0; j < K_COUNT_; j++) {
    if ((seen & (1u << j)) && link_needs[j] >= 0 && !(seen & (1u << link_needs[j])))
      return perr(p, "'%s' needs '%s' in the same clause", link_keys[j], link_keys[link_needs[j]]);
  }
  /* Defaults and cross-checks of the groups this clause names. */
  if (seen & (1u << K_LOSS)) {
    if (l.burst == 0)
      l.burst = 1;
    if (l.burst > 1 && l.loss > 0 && l.loss < 1) {
      /* Gilbert-Elliott with a lossless Good state and an all-lost Bad
       * state: mean Bad sojourn = 1/p_bg = burst; stationary loss =
       * p_gb / (p_gb + p_bg), solved for p_gb. */
      l.p_bg = 1.0 / l.burst;
      l.p_gb = l.loss * l.p_bg / (1.0 - l.loss);
      if (l.p_gb > 1.0)
        return perr(p,
                    "loss %.4g%% with burst=%u is impossible (at most %.4g%% for that "
                    "burst)",
                    l.loss * 100, l.burst, 100.0 * l.burst / (l.burst + 1.0));
    }
  }
  if ((seen & (1u << K_CORRUPT)) && l.bits == 0)
    l.bits = 1;
  if ((seen & (1u << K_DUP)) && l.copies == 0)
    l.copies = 1;
  if (seen & (1u << K_REORDER)) {
    if (l.gap == 0 && l.hold == 0)
      l.gap = 1;
    if (l.gap > 0 && l.hold == 0)
      l.hold = 100000; /* the 100ms safety valve */
  }
  if (seen & (1u << K_RATE)) {
    if (l.bucket == 0)
      l.bucket = 3000;
    if (l.qlen == 0)
      l.qlen = 100;
  }
  if ((seen & (1u << K_DELAY)) && l.jitter > l.delay)
    return perr(p, "jitter (%lldus) must not exceed delay (%lldus)", (long long)l.jitter,
                (long long)l.delay);

  for (int d = 0; d < US_FAULT_NDIRS; d++) {
    if (!(dirmask & (1u << d)))
      continue;
    struct link *t = &c->link[d];
    if (seen & (1u << K_LOSS)) {
      t->loss = l.loss;
      t->burst = l.burst;
      t->p_gb = l.p_gb;
      t->p_bg = l.p_bg;
    }
    if (seen & (1u << K_TRUNCATE)) {
      t->truncate = l.truncate;
      t->keep = l.keep;
      t->keep_set = l.keep_set;
    }
    if (seen & (1u << K_CORRUPT)) {
      t->corrupt = l.corrupt;
      t->bits = l.bits;
    }
    if (seen & (1u << K_DUP)) {
      t->dup = l.dup;
      t->copies = l.copies;
    }
    if (seen & (1u << K_REORDER)) {
      t->reorder = l.reorder;
      t->gap = l.gap;
      t->hold = l.hold;
    }
    if (seen & (1u << K_RATE)) {
      t->rate = l.rate;
      t->bucket = l.bucket;
      t->qlen = l.qlen;
    }
    if (seen & (1u << K_DELAY)) {
      t->delay = l.delay;
      t->jitter = l.jitter;
    }
  }
  return 0;
}

#define FAULT_MAX_ITEMS 24

static int parse_clause(struct pctx *p, struct fault_conf *c, char *cl) {
  uint8_t dirmask = 3;
  char *colon = strchr(cl, ':');
  char *eq = strchr(cl, '=');
  if (colon && (!eq || colon < eq)) {
    *colon = '\0';
    char *d = trim(cl);
    if (strcmp(d, "tx") == 0)
      dirmask = 1u << US_FAULT_TX;
    else if (strcmp(d, "rx") == 0)
      dirmask = 1u << US_FAULT_RX;
    else if (strcmp(d, "both") == 0)
      dirmask = 3;
    else
      return perr(p, "unknown direction '%s' (use tx, rx or both)", d);
    cl = colon + 1;
  }
  cl = trim(cl);
  if (*cl == '\0')
    return perr(p, "no key=value item after the direction");
  struct item it[FAULT_MAX_ITEMS];
  int nit = 0;
  bool is_rule = false;
  char *cur = NULL;
  for (char *tok = (cur = cl, split_next(&cur, ',')); tok; tok = split_next(&cur, ',')) {
    char *t = trim(tok);
    if (*t == '\0')
      return perr(p, "empty item (two commas in a row?)");
    if (nit == FAULT_MAX_ITEMS)
      return perr(p, "more than %d items", FAULT_MAX_ITEMS);
    char *e = strchr(t, '=');
    if (!e)
      return perr(p, "item '%s' has no '=' (write key=value)", t);
    *e = '\0';
    it[nit].key = trim(t);
    it[nit].val = trim(e + 1);
    if (*it[nit].key == '\0')
      return perr(p, "item '=%s' has no key", it[nit].val);
    if (*it[nit].val == '\0')
      return perr(p, "key '%s' has no value", it[nit].key);
    if (strcmp(it[nit].key, "match") == 0)
      is_rule = true;
    nit++;
  }
  if (nit == 0)
    return perr(p, "no key=value item after the direction");
  if (is_rule) {
    for (int i = 0; i < nit; i++)
      for (int j = i + 1; j < nit; j++)
        if (strcmp(it[i].key, it[j].key) == 0)
          return perr(p, "key '%s' given twice", it[i].key);
    return parse_rule(p, c, dirmask, it, nit);
  }
  return parse_link(p, c, dirmask, it, nit);
}

static int parse_spec(const char *spec, struct fault_conf *c, char *err, size_t errlen) {
  struct pctx p = { err, errlen, 0, "" };
  memset(c, 0, sizeof *c);
  if (!spec)
    spec = "";
  size_t n = strlen(spec);
  if (n >= FAULT_SPEC_MAX)
    return perr(&p, "longer than %d bytes", FAULT_SPEC_MAX - 1);
  memcpy(c->spec, spec, n + 1);
  char buf[FAULT_SPEC_MAX];
  memcpy(buf, spec, n + 1);
  char orig[FAULT_SPEC_MAX];
  char *cur = NULL;
  int idx = 0;
  for (char *cl = (cur = buf, split_next(&cur, ';')); cl; cl = split_next(&cur, ';')) {
    char *t = trim(cl);
    if (*t == '\0')
      continue; /* "a;;b" and a trailing ';' are harmless */
    idx++;
    snprintf(orig, sizeof orig, "%s", t);
    p.clause = idx;
    p.text = orig;
    if (parse_clause(&p, c, t) < 0)
      return -1;
  }
  return 0;
}

int us_fault_check(const char *spec, char *err, size_t errlen) {
  struct fault_conf *c = malloc(sizeof *c);
  if (!c) {
    if (err && errlen)
      snprintf(err, errlen, "fault spec: out of memory");
    return -1;
  }
  int rc = parse_spec(spec, c, err, errlen);
  free(c);
  return rc;
}

/* ---- Packet classification ---------------------------------------------- */

struct pinfo {
  bool l4; /* ports and flags below are valid */
  uint8_t proto;
  uint32_t src, dst;
  uint16_t sport, dport;
  uint8_t tflags;
  uint32_t payload;
};

static uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static uint32_t rd32(const uint8_t *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Every length from the packet is checked against `len` before use; a
 * packet we cannot read is still a packet (it matches `ip`). */
static void classify(const uint8_t *b, size_t len, struct pinfo *pi) {
  memset(pi, 0, sizeof *pi);
  if (len < 20 || (b[0] >> 4) != 4)
    return;
  size_t ihl = (size_t)(b[0] & 0x0f) * 4;
  size_t tot = rd16(b + 2);
  if (ihl < 20 || ihl > len || tot < ihl)
    return;
  size_t end = tot < len ? tot : len;
  pi->proto = b[9];
  pi->src = rd32(b + 12);
  pi->dst = rd32(b + 16);
  if ((rd16(b + 6) & 0x1fff) != 0)
    return; /* not the first fragment */
  const uint8_t *l4 = b + ihl;
  size_t l4len = end - ihl;
  if (pi->proto == 6) {
    if (l4len < 20)
      return;
    size_t doff = (size_t)(l4[12] >> 4) * 4;
    if (doff < 20 || doff > l4len)
      return;
    pi->sport = rd16(l4);
    pi->dport = rd16(l4 + 2);
    pi->tflags = l4[13];
    pi->payload = (uint32_t)(l4len - doff);
    pi->l4 = true;
  } else if (pi->proto == 17) {
    if (l4len < 8)
      return;
    pi->sport = rd16(l4);
    pi->dport = rd16(l4 + 2);
    pi->payload = (uint32_t)(l4len - 8);
    pi->l4 = true;
  } else if (pi->proto == 1) {
    pi->l4 = true;
  }
}

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

static bool atom_true(const struct atom *a, const struct pinfo *pi) {
  bool tcp = pi->l4 && pi->proto == 6;
  bool udp = pi->l4 && pi->proto == 17;
  uint8_t fl = pi->tflags;
  switch (a->kind) {
  case AT_IP:
    return true;
  case AT_TCP:
    return tcp;
  case AT_UDP:
    return udp;
  case AT_ICMP:
    return pi->l4 && pi->proto == 1;
  case AT_SYN:
    return tcp && (fl & TH_SYN) && !(fl & TH_ACK);
  case AT_SYNACK:
    return tcp && (fl & TH_SYN) && (fl & TH_ACK);
  case AT_ACK:
    return tcp && (fl & TH_ACK);
  case AT_PUREACK:
    return tcp && (fl & TH_ACK) && !(fl & (TH_SYN | TH_FIN | TH_RST)) && pi->payload == 0;
  case AT_FIN:
    return tcp && (fl & TH_FIN);
  case AT_RST:
    return tcp && (fl & TH_RST);
  case AT_PSH:
    return tcp && (fl & TH_PSH);
  case AT_URG:
    return tcp && (fl & TH_URG);
  case AT_DATA:
    return (tcp || udp) && pi->payload > 0;
  case AT_SPORT:
    return (tcp || udp) && pi->sport == a->port;
  case AT_DPORT:
    return (tcp || udp) && pi->dport == a->port;
  case AT_PORT:
    return (tcp || udp) && (pi->sport == a->port || pi->dport == a->port);
  default:
    return false;
  }
}

static bool rule_matches(const struct rule *r, const struct pinfo *pi) {
  for (uint32_t i = 0; i < r->natoms; i++)
    if (atom_true(&r->atoms[i], pi) == r->atoms[i].neg)
      return false;
  return true;
}

/* ---- Handshake tracking (when=handshake) -------------------------------- */

static struct flow *flow_find(struct us_fault *f, const struct pinfo *pi, int *side, bool create) {
  bool a_is_src = pi->src < pi->dst || (pi->src == pi->dst && pi->sport <= pi->dport);
  uint32_t aa = a_is_src ? pi->src : pi->dst, ba = a_is_src ? pi->dst : pi->src;
  uint16_t ap = a_is_src ? pi->sport : pi->dport, bp = a_is_src ? pi->dport : pi->sport;
  *side = a_is_src ? 0 : 1;
  for (uint32_t i = 0; i < FAULT_FLOWS; i++) {
    struct flow *fl = &f->flows[i];
    if (fl->used && fl->a_addr == aa && fl->b_addr == ba && fl->a_port == ap && fl->b_port == bp)
      return fl;
  }
  if (!create)
    return NULL;
  /* Round-robin replacement: the table only needs to remember the
   * connections in their handshake, which are few and short-lived. */
  struct flow *fl = &f->flows[f->flow_next];
  f->flow_next = (f->flow_next + 1) % FAULT_FLOWS;
  memset(fl, 0, sizeof *fl);
  fl->used = true;
  fl->a_addr = aa;
  fl->b_addr = ba;
  fl->a_port = ap;
  fl->b_port = bp;
  return fl;
}

static bool in_handshake(struct us_fault *f, const struct pinfo *pi) {
  if (!pi->l4 || pi->proto != 6)
    return false;
  int side;
  struct flow *fl = flow_find(f, pi, &side, false);
  if (!fl || !fl->syn_seen || fl->rst)
    return false;
  return !(fl->nonsyn_delivered[0] && fl->nonsyn_delivered[1]);
}

/* Called for every TCP packet offered: a SYN (re)starts the handshake; a
 * delivered non-SYN segment counts toward ending it; a delivered RST ends it. */
static void flow_note(struct us_fault *f, const struct pinfo *pi, bool delivered) {
  if (!pi->l4 || pi->proto != 6)
    return;
  int side;
  bool syn_only = (pi->tflags & TH_SYN) && !(pi->tflags & TH_ACK);
  struct flow *fl = flow_find(f, pi, &side, syn_only);
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
  if (pi->tflags & TH_RST)
    fl->rst = true;
  if (!(pi->tflags & TH_SYN))
    fl->nonsyn_delivered[side] = true;
}

/* ---- Slots -------------------------------------------------------------- */

static struct slot *slot_alloc(struct us_fault *f) {
  if (f->nfree == 0)
    return NULL;
  uint32_t i = f->freel[--f->nfree];
  struct slot *s = &f->slots[i];
  f->used[f->nused++] = i;
  s->state = SLOT_QUEUED;
  return s;
}

static void slot_free(struct us_fault *f, struct slot *s) {
  uint32_t i = (uint32_t)(s - f->slots);
  for (uint32_t k = 0; k < f->nused; k++) {
    if (f->used[k] == i) {
      f->used[k] = f->used[--f->nused];
      break;
    }
  }
  s->state = SLOT_FREE;
  f->freel[f->nfree++] = i;
}

static us_time_t slot_ready_at(const struct slot *s) {
  if (!s->held)
    return s->due;
  if (s->gap_left == 0)
    return s->due;
  return s->hold_until;
}

/* ---- Trace and delivery ------------------------------------------------- */

static void trace(struct us_fault *f, int dir, enum us_fault_event_kind kind, uint64_t idx,
                  int64_t arg) {
  if (!f->trace)
    return;
  struct us_fault_event ev = { (enum us_fault_dir)dir, kind, idx, f->now, arg };
  f->trace(f->trace_ctx, &ev);
}

static void emit(struct us_fault *f, int dir, const uint8_t *pkt, size_t len,
                 us_fault_deliver_fn deliver, void *ctx, uint64_t idx) {
  f->d[dir].c.delivered++;
  trace(f, dir, US_FAULT_EV_DELIVER, idx, (int64_t)len);
  f->depth++;
  if (deliver)
    deliver(ctx, pkt, len);
  f->depth--;
  /* Reordering: a held packet waits for `gap` later packets to go by. */
  for (uint32_t k = 0; k < f->nused; k++) {
    struct slot *s = &f->slots[f->used[k]];
    if (s->state == SLOT_QUEUED && s->held && s->dir == dir && s->gap_left > 0 &&
        s->gap_left != UINT32_MAX)
      s->gap_left--;
  }
}

static void release_due(struct us_fault *f, us_time_t now) {
  if (f->depth > 0)
    return; /* the outermost loop does it */
  /* Bounded: each round frees a slot; callbacks may park new packets due
   * now, so cap the rounds and leave the rest for the next poll. */
  uint64_t rounds = (uint64_t)f->nslots * 4 + 16;
  while (rounds-- > 0) {
    struct slot *best = NULL;
    us_time_t best_t = 0;
    for (uint32_t k = 0; k < f->nused; k++) {
      struct slot *s = &f->slots[f->used[k]];
      if (s->state != SLOT_QUEUED)
        continue;
      us_time_t t = slot_ready_at(s);
      if (t > now)
        continue;
      if (!best || t < best_t || (t == best_t && s->order < best->order)) {
        best = s;
        best_t = t;
      }
    }
    if (!best)
      return;
    best->state = SLOT_BUSY;
    if (!best->held)
      f->d[best->dir].nqueued--;
    for (uint32_t c = 0; c <= best->copies; c++)
      emit(f, best->dir, best->data, best->len, best->deliver, best->ctx, best->idx);
    slot_free(f, best);
  }
}

static void set_now(struct us_fault *f, us_time_t now) {
  if (now > f->now || !f->origin_set)
    f->now = now;
  if (!f->origin_set) {
    f->origin_set = true;
    f->origin = now;
  }
}

/* ---- The decision path -------------------------------------------------- */

static int find_rule(struct us_fault *f, int dir, const struct pinfo *pi, us_time_t now) {
  us_time_t rel = now - f->origin;
  int hs = -1; /* handshake state, computed lazily */
  for (uint32_t i = 0; i < f->conf.nrules; i++) {
    struct rule *r = &f->conf.rules[i];
    if (!(r->dirmask & (1u << dir)))
      continue;
    if (r->win && (rel < r->win_from || rel >= r->win_to))
      continue;
    if (r->handshake) {
      if (hs < 0)
        hs = in_handshake(f, pi) ? 1 : 0;
      if (!hs)
        continue;
    }
    if (!rule_matches(r, pi))
      continue;
    uint64_t m = r->matched++;
    if (m < r->skip)
      continue;
    if (m - r->skip >= r->count)
      continue;
    return (int)i;
  }
  return -1;
}

/* Flip `bits` distinct random bits among the first `len` bytes. */
static void flip_bits(struct us_fault *f, int dir, uint8_t *b, size_t len, uint32_t bits,
                      uint64_t idx) {
  uint64_t nbits = (uint64_t)len * 8;
  if (bits > nbits)
    bits = (uint32_t)nbits;
  uint64_t done[FAULT_MAX_BITS];
  uint32_t n = 0;
  while (n < bits) {
    uint64_t pos = rng_below(f->d[dir].rng, nbits);
    bool dupl = false;
    for (uint32_t i = 0; i < n; i++)
      dupl |= done[i] == pos;
    if (dupl)
      continue; /* terminates: bits <= nbits */
    done[n++] = pos;
    b[pos / 8] ^= (uint8_t)(0x80u >> (pos % 8));
    trace(f, dir, US_FAULT_EV_CORRUPT, idx, (int64_t)pos);
  }
}

static uint32_t shaper_backlog(const struct us_fault *f, int dir, us_time_t now) {
  uint32_t n = 0;
  for (uint32_t k = 0; k < f->nused; k++) {
    const struct slot *s = &f->slots[f->used[k]];
    if (s->state == SLOT_QUEUED && s->dir == dir && s->shaper_until > now)
      n++;
  }
  return n;
}

void us_fault_process(struct us_fault *f, enum us_fault_dir dir, const uint8_t *pkt, size_t len,
                      us_time_t now, us_fault_deliver_fn deliver, void *ctx) {
  if (!f || (unsigned)dir >= US_FAULT_NDIRS)
    return;
  set_now(f, now);
  now = f->now;
  release_due(f, now);

  struct dirstate *d = &f->d[dir];
  const struct link *L = &f->conf.link[dir];
  uint64_t idx = d->pkt_index++;
  d->c.seen++;

  struct pinfo pi;
  classify(pkt, len, &pi);

  uint32_t copies = 0, bits = 0;
  size_t keep = len;
  us_time_t extra = 0;
  bool held = false, rule_delay = false;

  int ri = find_rule(f, dir, &pi, now);
  if (ri >= 0) {
    const struct rule *r = &f->conf.rules[ri];
    trace(f, dir, US_FAULT_EV_RULE, idx, ri);
    if (r->blackhole) {
      d->c.blackholed++;
      d->c.dropped++;
      trace(f, dir, US_FAULT_EV_BLACKHOLE, idx, 0);
      flow_note(f, &pi, false);
      release_due(f, now);
      return;
    }
    d->c.rule_hits++;
    switch (r->action) {
    case ACT_DROP:
      d->c.rule_dropped++;
      d->c.dropped++;
      flow_note(f, &pi, false);
      release_due(f, now);
      return;
    case ACT_DUP:
      copies = r->arg;
      break;
    case ACT_DELAY:
      extra = r->delay;
      rule_delay = true;
      break;
    case ACT_CORRUPT:
      bits = r->arg;
      break;
    case ACT_TRUNCATE:
      if (r->arg < keep)
        keep = r->arg;
      break;
    default:
      break; /* ACT_PASS */
    }
  } else {
    /* Random link impairments, each drawing only when enabled. */
    if (L->loss > 0) {
      bool lost;
      if (L->loss >= 1) {
        lost = true;
        (void)rng_next(d->rng);
      } else if (L->burst > 1) {
        if (d->ge_bad)
          d->ge_bad = !rng_chance(d->rng, L->p_bg);
        else
          d->ge_bad = rng_chance(d->rng, L->p_gb);
        lost = d->ge_bad;
      } else {
        lost = rng_chance(d->rng, L->loss);
      }
      if (lost) {
        d->c.lost++;
        d->c.dropped++;
        trace(f, dir, US_FAULT_EV_LOSS, idx, d->ge_bad);
        flow_note(f, &pi, false);
        release_due(f, now);
        return;
      }
    }
    if (L->truncate > 0 && rng_chance(d->rng, L->truncate) && len >= 2) {
      if (L->keep_set)
        keep = L->keep < len ? L->keep : len;
      else
        keep = 1 + (size_t)rng_below(d->rng, len - 1);
    }
    if (L->corrupt > 0 && rng_chance(d->rng, L->corrupt))
      bits = L->bits;
    if (L->dup > 0 && rng_chance(d->rng, L->dup))
      copies = L->copies;
    if (L->reorder > 0 && rng_chance(d->rng, L->reorder))
      held = true;
  }
  if (bits > 0 && keep == 0)
    bits = 0;

  /* Shaper (GCRA, equivalent to a token bucket of depth `bucket` filled
   * at `rate`): a packet may leave at tat - tau; leaving advances tat by
   * its serialisation time. Everything in ns to keep high rates exact. */
  us_time_t depart = now;
  if (L->rate > 0) {
    int64_t now_ns = now * 1000;
    int64_t tau_ns = (int64_t)(L->bucket * 1000000000ull / L->rate);
    int64_t ok_ns = d->tat_ns - tau_ns;
    if (ok_ns > now_ns) {
      if (shaper_backlog(f, dir, now) >= L->qlen) {
        d->c.rate_dropped++;
        d->c.dropped++;
        trace(f, dir, US_FAULT_EV_RATE_DROP, idx, 0);
        flow_note(f, &pi, false);
        release_due(f, now);
        return;
      }
      d->c.rate_queued++;
      depart = (ok_ns + 999) / 1000;
    } else {
      ok_ns = now_ns;
    }
    uint64_t bytes = (uint64_t)keep * (1 + copies);
    int64_t ser_ns = (int64_t)(bytes * 1000000000ull / L->rate);
    d->tat_ns = (d->tat_ns > ok_ns ? d->tat_ns : ok_ns) + ser_ns;
  }

  us_time_t due = depart;
  if (L->delay > 0) {
    us_time_t dl = L->delay;
    if (L->jitter > 0)
      dl += (us_time_t)rng_below(d->rng, (uint64_t)(2 * L->jitter + 1)) - L->jitter;
    due += dl;
  }
  if (!held && !rule_delay) {
    /* The delay line keeps order: never leave before the one ahead. */
    if (due < d->last_due)
      due = d->last_due;
    d->last_due = due;
  }
  due += extra;

  bool modify = keep < len || bits > 0 || copies > 0;
  if (!held && !modify && due <= now && d->nqueued == 0 && f->depth == 0) {
    /* The fast path: untouched, on time, nothing queued ahead. */
    flow_note(f, &pi, true);
    emit(f, dir, pkt, len, deliver, ctx, idx);
    release_due(f, now);
    return;
  }

  struct slot *s = (keep <= f->slot_bytes) ? slot_alloc(f) : NULL;
  if (!s) {
    d->c.queue_full++;
    d->c.dropped++;
    trace(f, dir, US_FAULT_EV_QUEUE_FULL, idx, 0);
    flow_note(f, &pi, false);
    release_due(f, now);
    return;
  }
  /* Counted only now that the packet will go out: the books stay
   * balanced (seen + duplicated == delivered + dropped). */
  flow_note(f, &pi, true);
  if (keep < len) {
    d->c.truncated++;
    trace(f, dir, US_FAULT_EV_TRUNCATE, idx, (int64_t)keep);
  }
  if (bits > 0)
    d->c.corrupted++;
  if (copies > 0) {
    d->c.duplicated += copies;
    trace(f, dir, US_FAULT_EV_DUP, idx, copies);
  }
  memcpy(s->data, pkt, keep);
  s->len = (uint32_t)keep;
  s->dir = (uint8_t)dir;
  s->copies = (uint8_t)copies;
  s->deliver = deliver;
  s->ctx = ctx;
  s->idx = idx;
  s->order = f->order++;
  s->due = due;
  s->shaper_until = depart;
  s->held = held;
  if (bits > 0)
    flip_bits(f, dir, s->data, keep, bits, idx);
  if (held) {
    d->c.reordered++;
    s->gap_left = L->gap > 0 ? L->gap : UINT32_MAX;
    s->hold_until = L->hold > 0 ? due + L->hold : US_TIME_NEVER;
    trace(f, dir, US_FAULT_EV_REORDER, idx, 0);
  } else {
    d->nqueued++;
  }
  if (due > now) {
    d->c.delayed++;
    trace(f, dir, US_FAULT_EV_DELAY, idx, due);
  }
  release_due(f, now);
}

us_time_t us_fault_poll(struct us_fault *f, us_time_t now) {
  if (!f)
    return US_TIME_NEVER;
  set_now(f, now);
  release_due(f, f->now);
  return us_fault_next_deadline(f);
}

us_time_t us_fault_next_deadline(const struct us_fault *f) {
  us_time_t t = US_TIME_NEVER;
  if (!f)
    return t;
  for (uint32_t k = 0; k < f->nused; k++) {
    const struct slot *s = &f->slots[f->used[k]];
    if (s->state != SLOT_QUEUED)
      continue;
    us_time_t r = slot_ready_at(s);
    if (r < t)
      t = r;
  }
  return t;
}

uint32_t us_fault_held(const struct us_fault *f) { return f ? f->nused : 0; }
us_time_t us_fault_now(const struct us_fault *f) { return f ? f->now : 0; }

/* ---- Life cycle --------------------------------------------------------- */

struct us_fault *us_fault_create(const char *spec, uint64_t seed, char *err, size_t errlen) {
  return us_fault_create_ex(spec, seed, NULL, err, errlen);
}

struct us_fault *us_fault_create_ex(const char *spec, uint64_t seed,
                                    const struct us_fault_limits *lim, char *err, size_t errlen) {
  uint32_t nslots = lim && lim->slots ? lim->slots : FAULT_DEFAULT_SLOTS;
  uint32_t sbytes = lim && lim->slot_bytes ? lim->slot_bytes : FAULT_DEFAULT_SLOT_BYTES;
  if (nslots > 1u << 20 || sbytes > 65536) {
    if (err && errlen)
      snprintf(err, errlen, "fault: limits too large (slots <= 1M, slot_bytes <= 64KiB)");
    return NULL;
  }
  struct us_fault *f = calloc(1, sizeof *f);
  if (!f)
    goto nomem;
  if (parse_spec(spec, &f->conf, err, errlen) < 0) {
    free(f);
    return NULL;
  }
  f->slots = calloc(nslots, sizeof *f->slots);
  f->mem = malloc((size_t)nslots * sbytes);
  f->used = calloc(nslots, sizeof *f->used);
  f->freel = calloc(nslots, sizeof *f->freel);
  if (!f->slots || !f->mem || !f->used || !f->freel) {
    us_fault_destroy(f);
    goto nomem;
  }
  f->nslots = nslots;
  f->slot_bytes = sbytes;
  for (uint32_t i = 0; i < nslots; i++) {
    f->slots[i].data = f->mem + (size_t)i * sbytes;
    f->freel[i] = nslots - 1 - i; /* slot 0 is handed out first */
  }
  f->nfree = nslots;
  f->seed = seed;
  for (int d = 0; d < US_FAULT_NDIRS; d++)
    dir_seed(&f->d[d], seed, d);
  return f;
nomem:
  if (err && errlen)
    snprintf(err, errlen, "fault: out of memory");
  return NULL;
}

void us_fault_destroy(struct us_fault *f) {
  if (!f)
    return;
  free(f->slots);
  free(f->mem);
  free(f->used);
  free(f->freel);
  free(f);
}

int us_fault_set(struct us_fault *f, const char *spec, char *err, size_t errlen) {
  if (!f)
    return -1;
  struct fault_conf *c = malloc(sizeof *c);
  if (!c) {
    if (err && errlen)
      snprintf(err, errlen, "fault: out of memory");
    return -1;
  }
  if (parse_spec(spec, c, err, errlen) < 0) {
    free(c);
    return -1;
  }
  f->conf = *c;
  free(c);
  f->origin_set = false;
  for (int d = 0; d < US_FAULT_NDIRS; d++)
    f->d[d].ge_bad = false;
  memset(f->flows, 0, sizeof f->flows);
  return 0;
}

void us_fault_clear(struct us_fault *f) { (void)us_fault_set(f, "", NULL, 0); }

const char *us_fault_spec(const struct us_fault *f) { return f ? f->conf.spec : ""; }
uint64_t us_fault_seed(const struct us_fault *f) { return f ? f->seed : 0; }

uint64_t us_fault_seed_from_os(void) {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, 0) == (ssize_t)sizeof s)
    return s;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t x = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
  return splitmix64(&x);
}

void us_fault_set_trace(struct us_fault *f, us_fault_trace_fn fn, void *ctx) {
  if (!f)
    return;
  f->trace = fn;
  f->trace_ctx = ctx;
}

/* ---- Counters ----------------------------------------------------------- */

void us_fault_counters(const struct us_fault *f, enum us_fault_dir dir,
                       struct us_fault_counters *out) {
  if (!f || (unsigned)dir >= US_FAULT_NDIRS) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = f->d[dir].c;
}

void us_fault_counters_reset(struct us_fault *f) {
  if (!f)
    return;
  for (int d = 0; d < US_FAULT_NDIRS; d++)
    memset(&f->d[d].c, 0, sizeof f->d[d].c);
}

static const char *const ctr_names[] = {
#define US_FAULT_CTR_NAME_(name, desc) #name,
  US_FAULT_COUNTERS(US_FAULT_CTR_NAME_)
#undef US_FAULT_CTR_NAME_
};
static const char *const ctr_descs[] = {
#define US_FAULT_CTR_DESC_(name, desc) desc,
  US_FAULT_COUNTERS(US_FAULT_CTR_DESC_)
#undef US_FAULT_CTR_DESC_
};
#define FAULT_NCTR (sizeof ctr_names / sizeof ctr_names[0])

size_t us_fault_counter_count(void) { return FAULT_NCTR; }
const char *us_fault_counter_name(size_t i) { return i < FAULT_NCTR ? ctr_names[i] : NULL; }
const char *us_fault_counter_desc(size_t i) { return i < FAULT_NCTR ? ctr_descs[i] : NULL; }

uint64_t us_fault_counter_value(const struct us_fault_counters *c, size_t i) {
  size_t k = 0;
#define US_FAULT_CTR_VAL_(name, desc) \
  if (k++ == i)                       \
    return c->name;
  US_FAULT_COUNTERS(US_FAULT_CTR_VAL_)
#undef US_FAULT_CTR_VAL_
  return 0;
}

int us_fault_format(const struct us_fault *f, char *buf, size_t len) {
  if (!f)
    return 0;
  size_t used = 0;
  int total = 0;
  static const char *const dname[US_FAULT_NDIRS] = { "tx", "rx" };
  for (int d = 0; d < US_FAULT_NDIRS; d++) {
    int n = snprintf(buf && used < len ? buf + used : NULL, buf && used < len ? len - used : 0,
                     "fault seed=%llu %s:", (unsigned long long)f->seed, dname[d]);
    if (n < 0)
      return n;
    total += n;
    used += (size_t)n;
    for (size_t i = 0; i < FAULT_NCTR; i++) {
      uint64_t v = us_fault_counter_value(&f->d[d].c, i);
      if (v == 0 && i != 0)
        continue;
      n = snprintf(buf && used < len ? buf + used : NULL, buf && used < len ? len - used : 0,
                   " %s=%llu", ctr_names[i], (unsigned long long)v);
      if (n < 0)
        return n;
      total += n;
      used += (size_t)n;
    }
    n = snprintf(buf && used < len ? buf + used : NULL, buf && used < len ? len - used : 0, "\n");
    total += n;
    used += (size_t)n;
  }
  return total;
}

/* ---- The us_device wrapper ---------------------------------------------- */

static void fault_dev_tx(void *ctx, const uint8_t *pkt, size_t len) {
  struct us_fault *f = ctx;
  us_time_t now = f->clock ? f->clock(f->clock_ctx) : f->now;
  if (now < f->now)
    now = f->now;
  us_fault_process(f, US_FAULT_TX, pkt, len, now, f->inner.tx, f->inner.ctx);
}

struct us_device us_fault_wrap_tx(struct us_fault *f, const struct us_device *inner,
                                  us_time_t (*clock)(void *ctx), void *clock_ctx) {
  f->inner = *inner;
  f->clock = clock;
  f->clock_ctx = clock_ctx;
  struct us_device dev = { fault_dev_tx, f };
  return dev;
}

void us_fault_set_clock(struct us_fault *f, us_time_t (*clock)(void *ctx), void *clock_ctx) {
  if (!f)
    return;
  f->clock = clock;
  f->clock_ctx = clock_ctx;
}

us_time_t us_fault_clock_ref(void *ctx) { return *(const us_time_t *)ctx; }

/* The injector models a wire: what it delivers carries no offload
 * metadata (a corrupted packet must fail its checksum), and its device
 * offers no offloads (caps 0), so the stack sends it only MSS-sized
 * packets with full checksums. ustackd runs it with offloads off
 * (docs/OFFLOAD.md). */
static void fault_rx_deliver(void *ctx, const uint8_t *pkt, size_t len) {
  struct us_fault *f = ctx;
  if (f->inner_rx.rx)
    f->inner_rx.rx(f->inner_rx.ctx, pkt, len, NULL, f->now);
}

static void fault_rx_sink(void *ctx, const uint8_t *pkt, size_t len, const struct us_rx_meta *meta,
                          us_time_t now) {
  (void)meta;
  struct us_fault *f = ctx;
  us_fault_process(f, US_FAULT_RX, pkt, len, now, fault_rx_deliver, f);
}

struct us_rx_sink us_fault_wrap_rx(struct us_fault *f, const struct us_rx_sink *inner) {
  f->inner_rx = *inner;
  struct us_rx_sink sink = { fault_rx_sink, f };
  return sink;
}

us_time_t us_fault_tick(void *f, us_time_t now) { return us_fault_poll(f, now); }

/* ---- Control-socket commands -------------------------------------------- */

int us_fault_ctl_command(struct us_fault *f, const char *cmd, char *out, size_t outlen) {
  if (!cmd || strncmp(cmd, "fault", 5) != 0 || (cmd[5] != '\0' && cmd[5] != ' '))
    return 0;
  if (!out || outlen == 0)
    return 1;
  out[0] = '\0';
  const char *arg = cmd + 5;
  while (*arg == ' ')
    arg++;
  if (!f) {
    snprintf(out, outlen, "error: no fault injector (start ustackd with --fault SPEC)\n");
    return 1;
  }
  if (*arg == '\0' || strcmp(arg, "show") == 0) {
    int n = snprintf(out, outlen, "spec: '%s'\nseed: %llu\nheld: %u\n", f->conf.spec,
                     (unsigned long long)f->seed, f->nused);
    if (n >= 0 && (size_t)n < outlen)
      us_fault_format(f, out + n, outlen - (size_t)n);
  } else if (strncmp(arg, "set", 3) == 0 && (arg[3] == ' ' || arg[3] == '\0')) {
    const char *spec = arg + 3;
    while (*spec == ' ')
      spec++;
    char err[256] = "";
    if (us_fault_set(f, spec, err, sizeof err) == 0)
      snprintf(out, outlen, "ok: fault spec set: '%s' (seed %llu)\n", f->conf.spec,
               (unsigned long long)f->seed);
    else
      snprintf(out, outlen, "error: %s\n", err);
  } else if (strcmp(arg, "clear") == 0) {
    us_fault_clear(f);
    snprintf(out, outlen, "ok: fault cleared\n");
  } else if (strcmp(arg, "reset") == 0) {
    us_fault_counters_reset(f);
    snprintf(out, outlen, "ok: fault counters reset\n");
  } else {
    snprintf(out, outlen, "error: unknown fault command '%s' (show, set SPEC, clear, reset)\n",
             arg);
  }
  return 1;
}
