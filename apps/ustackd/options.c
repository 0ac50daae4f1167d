/*
 * options.c - ustackd's command line: the option table (one row per
 * option: name, value, help line, setter), --help, the parse loop that
 * hands service options to their svc_desc rows (svc_set.c), the checks
 * across options (link_check.c for the link), and the defaults.
 *
 * A wrong value is ONE line in err and exit 2 (main.c), before anything
 * is set up.
 */
#include "options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_wrap.h" /* us_fault_check (the fault layer, through the platform) */
#include "logsink.h"
#include "svc.h"
#include "tcp_services.h"
#include "tun.h"
#if USTACK_HAVE_HTTP
#include "http_plain.h"
#include "httpd.h"
#include "https.h"
#include "https_client.h"
#else
#include "no_http.h" /* built without libhttp-parser: option rows only */
#endif

/* ---- Services compiled into the daemon: add a row to enable yours. ---- */
static const struct svc_desc *const services[] = {
  &svc_udp_echo,
  &svc_tcp_echo,
  &svc_tcp_discard,
  &svc_tcp_chargen,
  &svc_tcp_source,
  &svc_source_bytes,
  &svc_tcp_sink,
  &svc_seed,
  &svc_connect,
  &svc_client_send,
  &svc_client_delay,
  &svc_client_exit,
  &svc_http,
  &svc_https,
  &svc_https_cert,
  &svc_https_key,
  &svc_http_root,
  &svc_http_max_conns,
  &svc_http_per_source,
  &svc_http_header_timeout,
  &svc_http_request_timeout,
  &svc_http_idle_timeout,
  &svc_http_status_clients,
  &svc_https_get,
  &svc_https_ca,
  &svc_https_name,
};
#define NSERVICES (sizeof services / sizeof services[0])

/* ---- Option table ---------------------------------------------------- */

struct opt {
  const char *name;
  const char *metavar; /* NULL: a flag without a value */
  const char *help;
  int (*set)(struct ustackd_opts *d, const char *arg, char *err, size_t errlen);
};

static int parse_ip4(const char *arg, us_ip4_t *out) {
  struct in_addr a;
  if (inet_pton(AF_INET, arg, &a) != 1)
    return -1;
  *out = ntohl(a.s_addr);
  return 0;
}

static int parse_uint(const char *arg, unsigned lo, unsigned hi, unsigned *out) {
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(arg, &end, 10);
  if (*arg == '\0' || *arg == '-' || *end != '\0' || errno != 0 || v < lo || v > hi)
    return -1;
  *out = (unsigned)v;
  return 0;
}

static int opt_dev(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  if (strlen(arg) == 0 || strlen(arg) >= US_TUN_NAME_MAX) {
    snprintf(err, n, "--dev: bad interface name '%s' (1..%d characters)", arg, US_TUN_NAME_MAX - 1);
    return -1;
  }
  d->dev = arg;
  return 0;
}

static int opt_host(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  if (parse_ip4(arg, &d->host) != 0) {
    snprintf(err, n, "--host: '%s' is not an IPv4 address", arg);
    return -1;
  }
  d->have_host = true;
  return 0;
}

static int opt_addr(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  if (parse_ip4(arg, &d->addr) != 0) {
    snprintf(err, n, "--addr: '%s' is not an IPv4 address", arg);
    return -1;
  }
  d->have_addr = true;
  return 0;
}

static int opt_prefix(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  if (parse_uint(arg, 1, 32, &d->prefix) != 0) {
    snprintf(err, n, "--prefix: '%s' is not a prefix length (1..32)", arg);
    return -1;
  }
  return 0;
}

static int opt_ip6(const char *name, const char *arg, uint8_t out[16], bool *have, char *err,
                   size_t n) {
  if (inet_pton(AF_INET6, arg, out) != 1) {
    snprintf(err, n, "%s: '%s' is not an IPv6 address", name, arg);
    return -1;
  }
  *have = true;
  return 0;
}
static int opt_host6(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  return opt_ip6("--host6", arg, d->host6, &d->have_host6, err, n);
}
static int opt_addr6(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  return opt_ip6("--addr6", arg, d->addr6, &d->have_addr6, err, n);
}

static int opt_prefix6(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  if (parse_uint(arg, 1, 128, &d->prefix6) != 0) {
    snprintf(err, n, "--prefix6: '%s' is not a prefix length (1..128)", arg);
    return -1;
  }
  return 0;
}

static int opt_no_ipv6(struct ustackd_opts *d, const char *a, char *e, size_t n) {
  d->no_ipv6 = true;
  return 0;
}

static int opt_mtu(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  /* The stack's own bounds (us_config.h): 576 is the IPv4 minimum every
   * host must accept (RFC 791), 9000 a jumbo frame. */
  if (parse_uint(arg, 576, 9000, &d->mtu) != 0) {
    snprintf(err, n, "--mtu: '%s' is not an MTU (576..9000)", arg);
    return -1;
  }
  return 0;
}

static int opt_pcap(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  if (*arg == '\0') {
    snprintf(err, n, "--pcap: empty file name");
    return -1;
  }
  d->pcap_path = arg;
  return 0;
}

static int opt_log_level(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  if (us_log_level_parse(arg, &d->log_level) != 0) {
    snprintf(err, n, "--log-level: '%s' is not one of error, warn, info, debug, trace", arg);
    return -1;
  }
  return 0;
}

static int opt_no_offload(struct ustackd_opts *d, const char *a, char *e, size_t n) {
  (void)a, (void)e, (void)n;
  d->no_offload = true;
  return 0;
}

static int opt_ctl(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  if (*arg == '\0') {
    snprintf(err, n, "--ctl: empty path");
    return -1;
  }
  d->ctl_path = arg;
  return 0;
}

static int opt_synack_retries(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 0, 20, &v) != 0) {
    snprintf(err, n, "--synack-retries: '%s' is not 0..20", arg);
    return -1;
  }
  d->synack_retries = (long)v;
  return 0;
}

static int opt_msl(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 0, 3600, &v) != 0) {
    snprintf(err, n, "--msl: '%s' is not 0..3600 seconds", arg);
    return -1;
  }
  d->msl_sec = (long)v;
  return 0;
}

static int opt_fin_timeout(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 1, 3600, &v) != 0) {
    snprintf(err, n, "--fin-timeout: '%s' is not 1..3600 seconds", arg);
    return -1;
  }
  d->fin_timeout_sec = (long)v;
  return 0;
}

static int opt_max_time_wait(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 1, US_TCP_MAX_CONNS, &v) != 0) {
    snprintf(err, n, "--max-time-wait: '%s' is not 1..%u", arg, US_TCP_MAX_CONNS);
    return -1;
  }
  d->max_time_wait = v;
  return 0;
}

static int opt_no_timestamps(struct ustackd_opts *d, const char *a, char *e, size_t n) {
  d->no_timestamps = true;
  return 0;
}

static int opt_ecn(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  if (strcmp(arg, "off") == 0)
    d->ecn = US_TCP_ECN_OFF;
  else if (strcmp(arg, "on") == 0)
    d->ecn = US_TCP_ECN_ON;
  else if (strcmp(arg, "accept") == 0)
    d->ecn = US_TCP_ECN_ACCEPT;
  else {
    snprintf(err, n, "--ecn: '%s' is not off, on or accept", arg);
    return -1;
  }
  return 0;
}

static int opt_pmtu_blackhole(struct ustackd_opts *d, const char *a, char *e, size_t n) {
  d->pmtu_blackhole = true;
  return 0;
}

static int opt_no_pmtud(struct ustackd_opts *d, const char *a, char *e, size_t n) {
  d->no_pmtud = true;
  return 0;
}

static int opt_tcp_r2(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 1, 100, &v) != 0) {
    snprintf(err, n, "--tcp-r2: '%s' is not 1..100 retransmissions", arg);
    return -1;
  }
  d->tcp_r2 = (long)v;
  return 0;
}

static int opt_rto_max(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  unsigned v;
  /* RFC 6298 2.5 asks for a cap of at least 60 s; shorter caps are for
   * fault scenarios that must finish in seconds. */
  if (parse_uint(arg, 200, 600000, &v) != 0) {
    snprintf(err, n, "--rto-max: '%s' is not 200..600000 milliseconds", arg);
    return -1;
  }
  d->rto_max_ms = (long)v;
  return 0;
}

static int opt_max_conns(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 1, US_TCP_MAX_CONNS, &v) != 0) {
    snprintf(err, n, "--max-conns: '%s' is not 1..%u", arg, US_TCP_MAX_CONNS);
    return -1;
  }
  d->max_conns = v;
  return 0;
}

/* A byte count: digits with an optional K, M or G (powers of 1024). */
static int parse_bytes(const char *arg, uint64_t lo, uint64_t hi, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(arg, &end, 10);
  if (*arg == '\0' || *arg == '-' || end == arg || errno != 0)
    return -1;
  unsigned shift = 0;
  if (*end == 'k' || *end == 'K')
    shift = 10;
  else if (*end == 'm' || *end == 'M')
    shift = 20;
  else if (*end == 'g' || *end == 'G')
    shift = 30;
  if (shift)
    end++;
  if (*end != '\0' || v > (hi >> shift))
    return -1;
  v <<= shift;
  if (v < lo)
    return -1;
  *out = v;
  return 0;
}

static int opt_tcpbuf(const char *name, const char *arg, uint32_t *out, char *err, size_t n) {
  uint64_t v;
  if (parse_bytes(arg, US_TCP_BUF_MIN, US_TCP_BUF_MAX, &v) != 0) {
    snprintf(err, n, "%s: '%s' is not 4096..16777216 bytes (K and M suffixes allowed)", name, arg);
    return -1;
  }
  *out = (uint32_t)v;
  return 0;
}

static int opt_sndbuf(struct ustackd_opts *d, const char *a, char *e, size_t n) {
  return opt_tcpbuf("--sndbuf", a, &d->sndbuf, e, n);
}

static int opt_rcvbuf(struct ustackd_opts *d, const char *a, char *e, size_t n) {
  return opt_tcpbuf("--rcvbuf", a, &d->rcvbuf, e, n);
}

static int opt_buf_mem(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  if (parse_bytes(arg, 2u * US_TCP_BUF_MIN, 1ull << 40, &d->buf_mem) != 0) {
    snprintf(err, n, "--buf-mem: '%s' is not 8192 bytes..1T (K, M and G suffixes allowed)", arg);
    return -1;
  }
  return 0;
}

/* Connection limits and the RST rate (docs/LIMITS.md): 0 means none. */
static int opt_count(const char *name, const char *arg, long *out, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 0, 100000000, &v) != 0) {
    snprintf(err, n, "%s: '%s' is not a number 0..100000000 (0 = no limit)", name, arg);
    return -1;
  }
  *out = (long)v;
  return 0;
}
static int opt_conn_limit(struct ustackd_opts *d, const char *a, char *e, size_t n) {
  return opt_count("--conn-limit", a, &d->conn_limit, e, n);
}
static int opt_per_source_limit(struct ustackd_opts *d, const char *a, char *e, size_t n) {
  return opt_count("--per-source-limit", a, &d->source_limit, e, n);
}
static int opt_rst_rate(struct ustackd_opts *d, const char *a, char *e, size_t n) {
  return opt_count("--rst-rate", a, &d->rst_rate, e, n);
}
static int opt_rst_burst(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 1, 100000000, &v) != 0) {
    snprintf(err, n, "--rst-burst: '%s' is not a number 1..100000000", arg);
    return -1;
  }
  d->rst_burst = (long)v;
  return 0;
}

static int opt_cc(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  if (strcmp(arg, "cubic") == 0) {
    d->cc = US_TCP_CC_CUBIC;
  } else if (strcmp(arg, "newreno") == 0) {
    d->cc = US_TCP_CC_NEWRENO;
  } else {
    snprintf(err, n, "--cc: '%s' is not cubic or newreno", arg);
    return -1;
  }
  return 0;
}

static int opt_fault(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  char ferr[200];
  if (us_fault_check(arg, ferr, sizeof ferr) != 0) {
    snprintf(err, n, "--fault: %s", ferr);
    return -1;
  }
  d->fault_spec = arg;
  return 0;
}

static int opt_fault_seed(struct ustackd_opts *d, const char *arg, char *err, size_t n) {
  char perr[128];
  if (svc_parse_u64(arg, &d->fault_seed, perr, sizeof perr) != 0) {
    snprintf(err, n, "--fault-seed: %s", perr);
    return -1;
  }
  d->fault_seed_given = true;
  return 0;
}
static const struct opt options[] = {
  { "--dev", "NAME", "TUN interface to create, or attach to if it exists (required)", opt_dev },
  { "--host", "ADDR", "the host's (kernel's) address on the link (required)", opt_host },
  { "--addr", "ADDR", "the stack's address (required)", opt_addr },
  { "--prefix", "LEN", "on-link prefix length (default 24)", opt_prefix },
  { "--host6", "ADDR", "the host's (kernel's) IPv6 address on the link (default fd00::1)",
    opt_host6 },
  { "--addr6", "ADDR", "the stack's IPv6 address (default fd00::2)", opt_addr6 },
  { "--prefix6", "LEN", "on-link IPv6 prefix length (default 64)", opt_prefix6 },
  { "--no-ipv6", NULL, "IPv4 only: no IPv6 address on the link or in the stack", opt_no_ipv6 },
  { "--mtu", "BYTES", "link MTU, 576..9000 (default 1500)", opt_mtu },
  { "--no-offload", NULL, "plain TUN: no TSO, GSO or checksum offload (docs/OFFLOAD.md)",
    opt_no_offload },
  { "--pcap", "FILE", "write every packet in and out to FILE (pcap, LINKTYPE_RAW)", opt_pcap },
  { "--log-level", "LEVEL", "error, warn, info (default), debug or trace", opt_log_level },
  { "--ctl", "PATH", "control socket for ustack-ss (UNIX stream socket)", opt_ctl },
  { "--synack-retries", "N", "SYN-ACK retransmissions before giving up (0..20)",
    opt_synack_retries },
  { "--msl", "SECONDS", "maximum segment lifetime; TIME-WAIT lasts 2*MSL", opt_msl },
  { "--max-time-wait", "N",
    "TIME-WAIT connections kept at most; beyond, or when the TCB "
    "pool is full, the oldest ends early (default 1/2 of --max-conns)",
    opt_max_time_wait },
  { "--fin-timeout", "SECONDS",
    "FIN-WAIT-2 after the application closed, 1..3600 "
    "(default 60, as Linux tcp_fin_timeout)",
    opt_fin_timeout },
  { "--tcp-r2", "N", "retransmissions before a connection is aborted (R2, default 15)",
    opt_tcp_r2 },
  { "--rto-max", "MS", "cap on the retransmission timeout (default 120000)", opt_rto_max },
  { "--cc", "NAME", "congestion control: cubic (RFC 9438, default) or newreno", opt_cc },
  { "--max-conns", "N", "TCP sockets in all: listeners, connections, TIME-WAIT (default 1024)",
    opt_max_conns },
  { "--sndbuf", "BYTES", "send buffer per connection, 4K..16M (default 1M)", opt_sndbuf },
  { "--rcvbuf", "BYTES", "receive buffer per connection, 4K..16M (default 256K)", opt_rcvbuf },
  { "--buf-mem", "BYTES",
    "memory for all TCP buffers; a connection holds one only while data "
    "is queued (default 160M)",
    opt_buf_mem },
  { "--conn-limit", "N", "connections per TCP service (default 3/4 of the TCB pool; 0 = none)",
    opt_conn_limit },
  { "--per-source-limit", "N", "... per service from one address (default 1/2 of the pool)",
    opt_per_source_limit },
  { "--rst-rate", "N", "RSTs/s to segments with no connection (default 1000; 0 = no limit)",
    opt_rst_rate },
  { "--rst-burst", "N", "burst of those RSTs (default 500)", opt_rst_burst },
  { "--no-timestamps", NULL, "neither offer nor accept TCP timestamps (RFC 7323, PAWS)",
    opt_no_timestamps },
  { "--no-pmtud", NULL, "no path MTU discovery: TCP without DF, frag-needed ignored",
    opt_no_pmtud },
  { "--pmtu-blackhole", NULL, "halve the MSS after timeouts of full-sized segments (no ICMP)",
    opt_pmtu_blackhole },
  { "--ecn", "MODE", "TCP ECN (RFC 3168): off, on (ask and accept) or accept (default)", opt_ecn },
  { "--fault", "SPEC",
    "impair the link: loss, dup, reorder, corrupt, delay... (scripts/fault/README.md)", opt_fault },
  { "--fault-seed", "N", "seed of --fault (default: random, printed at start)", opt_fault_seed },
  { "--help", NULL, "print this help and exit", NULL },
};
#define NOPTIONS (sizeof options / sizeof options[0])
static void usage(FILE *f) {
  fprintf(f, "usage: " PROG
             " --dev NAME --host ADDR --addr ADDR [--prefix LEN] [options]\n\n"
             "ustack, a userspace TCP/IP stack, answering on a TUN device.\n\noptions:\n");
  for (size_t i = 0; i < NOPTIONS; i++) {
    char lhs[48];
    snprintf(lhs, sizeof lhs, "%s%s%s", options[i].name, options[i].metavar ? " " : "",
             options[i].metavar ? options[i].metavar : "");
    fprintf(f, "  %-22s %s\n", lhs, options[i].help);
  }
  fprintf(f, "\nservices:\n");
  for (size_t i = 0; i < NSERVICES; i++) {
    char lhs[48];
    snprintf(lhs, sizeof lhs, "%s%s%s", services[i]->option, services[i]->metavar ? " " : "",
             services[i]->metavar ? services[i]->metavar : "");
    fprintf(f, "  %-22s %s\n", lhs, services[i]->help);
  }
  fprintf(f, "\nexample (as root):\n  " PROG
             " --dev tun0 --host 10.0.0.1 --addr 10.0.0.2 --prefix 24 --udp-echo 7\n"
             "  ping 10.0.0.2; ping -6 fd00::2   (IPv6: fd00::1 and fd00::2 by default)\n\n"
             "signals: SIGINT/SIGTERM stop (counters are printed), SIGUSR1 prints counters.\n");
}

/* Split "--name=value" or take the value from the next argument. */
static int take_value(int argc, char **argv, int *i, const char *eq, const char **val) {
  if (eq) {
    *val = eq + 1;
    return 0;
  }
  if (*i + 1 >= argc)
    return -1;
  *val = argv[++*i];
  return 0;
}

int ustackd_opts_parse(struct ustackd_opts *d, struct svc_set *svcs, int argc, char **argv,
                       char *err, size_t n) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *eq = strchr(a, '=');
    size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
    bool found = false;
    for (size_t k = 0; k < NOPTIONS && !found; k++) {
      const struct opt *o = &options[k];
      if (strlen(o->name) != name_len || strncmp(o->name, a, name_len) != 0)
        continue;
      found = true;
      if (!o->set) { /* --help */
        usage(stdout);
        return 1;
      }
      const char *val = NULL;
      if (!o->metavar) {
        if (eq) {
          snprintf(err, n, "%s takes no value", o->name);
          return -1;
        }
      } else if (take_value(argc, argv, &i, eq, &val) != 0) {
        snprintf(err, n, "%s needs a value (%s)", o->name, o->metavar);
        return -1;
      }
      if (o->set(d, val, err, n) != 0)
        return -1;
    }
    for (size_t k = 0; k < NSERVICES && !found; k++) {
      const struct svc_desc *sd = services[k];
      if (strlen(sd->option) != name_len || strncmp(sd->option, a, name_len) != 0)
        continue;
      found = true;
      const char *val = NULL;
      if (sd->metavar && take_value(argc, argv, &i, eq, &val) != 0) {
        snprintf(err, n, "%s needs a value (%s)", sd->option, sd->metavar);
        return -1;
      }
      if (!sd->metavar && eq) {
        snprintf(err, n, "%s takes no value", sd->option);
        return -1;
      }
      if (svc_set_parse(svcs, sd, val, err, n) != 0)
        return -1;
    }
    if (!found) {
      snprintf(err, n, "unknown option '%s' (try --help)", a);
      return -1;
    }
  }
  struct us_config def;
  us_config_default(&def);
  uint64_t sb = d->sndbuf ? d->sndbuf : def.tcp_sndbuf, rb = d->rcvbuf ? d->rcvbuf : def.tcp_rcvbuf;
  uint64_t mem = d->buf_mem ? d->buf_mem : def.tcp_buf_mem;
  if (mem < sb + rb) {
    snprintf(err, n, "--buf-mem: %llu bytes cannot hold one send and one receive buffer (%llu)",
             (unsigned long long)mem, (unsigned long long)(sb + rb));
    return -1;
  }
  if (svc_set_check(svcs, err, n) != 0)
    return -1;
  return ustackd_check_link(d, err, n);
}

void ustackd_opts_init(struct ustackd_opts *o) {
  *o = (struct ustackd_opts){ .prefix = 24,
                              .mtu = 1500,
                              .log_level = US_LOG_INFO,
                              .synack_retries = -1,
                              .msl_sec = -1,
                              .fin_timeout_sec = -1,
                              .tcp_r2 = -1,
                              .ecn = -1,
                              .rto_max_ms = -1,
                              .cc = -1,
                              .conn_limit = -1,
                              .source_limit = -1,
                              .rst_rate = -1,
                              .rst_burst = -1 };
}
