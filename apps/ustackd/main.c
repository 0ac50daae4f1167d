/*
 * ustackd - the ustack daemon: a TUN device, the stack, the services.
 *
 *   ustackd --dev tun0 --host 10.0.0.1 --addr 10.0.0.2 --prefix 24
 *           [--mtu 1500] [--pcap FILE] [--udp-echo PORT] [--log-level LEVEL]
 *
 * The command line is a contract that scripts and tests build on: a wrong
 * flag, a missing value, no permission on /dev/net/tun, an interface or an
 * address already in use each give ONE line on stderr and a non-zero exit
 * (2 for usage, 1 for everything else). On SIGINT/SIGTERM the daemon stops
 * cleanly and prints the non-zero counters; SIGUSR1 prints them while it
 * runs.
 *
 * Options are rows of a table; services are svc_desc rows (svc.h), each
 * enabled by its own option.
 */
#include "clock.h"
#include "ctl_server.h"
#include "fault_wrap.h"
#if USTACK_HAVE_HTTP
#include "http_plain.h"
#include "httpd.h"
#include "https.h"
#include "https_client.h"
#else
#include "no_http.h" /* built without libhttp-parser: option rows only */
#endif
#include "logsink.h"
#include "loop.h"
#include "pcap.h"
#include "services_tcp.h"
#include "svc.h"
#include "sysrand.h"
#include "tun.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <string.h>

#define PROG "ustackd"

/* ---- Services compiled into the daemon: add a row to enable yours. ---- */
static const struct svc_desc *const services[] = {
  &svc_udp_echo,
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

#define MAX_SVC_INSTANCES 32
#define ERRLEN            256

struct svc_instance {
  const struct svc_desc *desc;
  void *state;
  bool started, stopped;
};

struct ustackd {
  /* From the command line. */
  const char *dev;
  us_ip4_t host, addr;
  bool have_host, have_addr;
  unsigned prefix;
  unsigned mtu;
  const char *pcap_path;
  bool no_offload; /* --no-offload */
  enum us_log_level log_level;
  struct svc_instance svcs[MAX_SVC_INSTANCES];
  unsigned nsvcs;
  struct svc_tcp_opts tcp; /* TCP services (services_tcp.h) */
  bool tcp_on, tcp_started;
  const char *ctl_path;
  long synack_retries, msl_sec, fin_timeout_sec;     /* -1: stack default */
  long tcp_r2, rto_max_ms;                           /* -1: stack default */
  int cc;                                            /* enum us_tcp_cc, or -1: stack default */
  uint32_t max_conns, sndbuf, rcvbuf, max_time_wait; /* 0: stack default */
  uint64_t buf_mem;                                  /* 0: stack default */
  bool no_timestamps, no_pmtud;                      /* RFC 7323 / RFC 1191 switched off */
  bool pmtu_blackhole;                               /* RFC 4821 7.7 black-hole detection on */
  long conn_limit, source_limit;                     /* -1: derived from the TCB pool */
  long rst_rate, rst_burst;                          /* -1: stack default */
  int ecn;                                           /* -1: stack default; else US_TCP_ECN_* */
  const char *fault_spec;                            /* --fault */
  uint64_t fault_seed;
  bool fault_seed_given;

  /* Running. */
  struct us_log_sink log;
  struct us_tun tun;
  struct us_pcap *pcap;
  struct us_pcap_tee tee;
  us_stack *stack;
  struct us_loop *loop;
  struct us_fault *fault;
  struct us_fault_wrap fault_wrap; /* the injector on the TUN link */
  int ctl_fd;
  int exit_status; /* set by the client with --client-exit */
};

/* ---- Option table ---------------------------------------------------- */

struct opt {
  const char *name;
  const char *metavar; /* NULL: a flag without a value */
  const char *help;
  int (*set)(struct ustackd *d, const char *arg, char *err, size_t errlen);
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

static int opt_dev(struct ustackd *d, const char *arg, char *err, size_t n) {
  if (strlen(arg) == 0 || strlen(arg) >= US_TUN_NAME_MAX) {
    snprintf(err, n, "--dev: bad interface name '%s' (1..%d characters)", arg, US_TUN_NAME_MAX - 1);
    return -1;
  }
  d->dev = arg;
  return 0;
}

static int opt_host(struct ustackd *d, const char *arg, char *err, size_t n) {
  if (parse_ip4(arg, &d->host) != 0) {
    snprintf(err, n, "--host: '%s' is not an IPv4 address", arg);
    return -1;
  }
  d->have_host = true;
  return 0;
}

static int opt_addr(struct ustackd *d, const char *arg, char *err, size_t n) {
  if (parse_ip4(arg, &d->addr) != 0) {
    snprintf(err, n, "--addr: '%s' is not an IPv4 address", arg);
    return -1;
  }
  d->have_addr = true;
  return 0;
}

static int opt_prefix(struct ustackd *d, const char *arg, char *err, size_t n) {
  if (parse_uint(arg, 1, 32, &d->prefix) != 0) {
    snprintf(err, n, "--prefix: '%s' is not a prefix length (1..32)", arg);
    return -1;
  }
  return 0;
}

static int opt_mtu(struct ustackd *d, const char *arg, char *err, size_t n) {
  /* The stack's own bounds (us_config.h): 576 is the IPv4 minimum every
   * host must accept (RFC 791), 9000 a jumbo frame. */
  if (parse_uint(arg, 576, 9000, &d->mtu) != 0) {
    snprintf(err, n, "--mtu: '%s' is not an MTU (576..9000)", arg);
    return -1;
  }
  return 0;
}

static int opt_pcap(struct ustackd *d, const char *arg, char *err, size_t n) {
  if (*arg == '\0') {
    snprintf(err, n, "--pcap: empty file name");
    return -1;
  }
  d->pcap_path = arg;
  return 0;
}

static int opt_log_level(struct ustackd *d, const char *arg, char *err, size_t n) {
  if (us_log_level_parse(arg, &d->log_level) != 0) {
    snprintf(err, n, "--log-level: '%s' is not one of error, warn, info, debug, trace", arg);
    return -1;
  }
  return 0;
}

static int parse_u64(const char *arg, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(arg, &end, 10);
  if (*arg == '\0' || *arg == '-' || *end != '\0' || errno != 0)
    return -1;
  *out = v;
  return 0;
}

/* --tcp-echo and friends: a port for one of the TCP services. */
static int tcp_port(struct ustackd *d, const char *name, const char *arg, uint16_t *port, char *err,
                    size_t n) {
  char perr[64];
  if (svc_parse_port(arg, port, perr, sizeof perr) != 0) {
    snprintf(err, n, "%s: %s", name, perr);
    return -1;
  }
  d->tcp_on = true;
  return 0;
}
static int opt_tcp_echo(struct ustackd *d, const char *a, char *e, size_t n) {
  return tcp_port(d, "--tcp-echo", a, &d->tcp.echo, e, n);
}
static int opt_tcp_discard(struct ustackd *d, const char *a, char *e, size_t n) {
  return tcp_port(d, "--tcp-discard", a, &d->tcp.discard, e, n);
}
static int opt_tcp_chargen(struct ustackd *d, const char *a, char *e, size_t n) {
  return tcp_port(d, "--tcp-chargen", a, &d->tcp.chargen, e, n);
}
static int opt_tcp_source(struct ustackd *d, const char *a, char *e, size_t n) {
  return tcp_port(d, "--tcp-source", a, &d->tcp.source, e, n);
}
static int opt_tcp_sink(struct ustackd *d, const char *a, char *e, size_t n) {
  return tcp_port(d, "--tcp-sink", a, &d->tcp.sink, e, n);
}

static int opt_u64(const char *name, const char *arg, uint64_t *out, char *err, size_t n) {
  if (parse_u64(arg, out) != 0) {
    snprintf(err, n, "%s: '%s' is not a non-negative integer", name, arg);
    return -1;
  }
  return 0;
}
static int opt_source_bytes(struct ustackd *d, const char *a, char *e, size_t n) {
  return opt_u64("--source-bytes", a, &d->tcp.source_bytes, e, n);
}
static int opt_seed(struct ustackd *d, const char *a, char *e, size_t n) {
  return opt_u64("--seed", a, &d->tcp.seed, e, n);
}
static int opt_client_send(struct ustackd *d, const char *a, char *e, size_t n) {
  return opt_u64("--client-send", a, &d->tcp.client_send, e, n);
}
static int opt_client_delay(struct ustackd *d, const char *a, char *e, size_t n) {
  uint64_t ms;
  if (opt_u64("--client-delay", a, &ms, e, n) != 0)
    return -1;
  if (ms > 3600u * 1000u) {
    snprintf(e, n, "--client-delay: at most 3600000 ms");
    return -1;
  }
  d->tcp.client_delay = US_MSEC(ms);
  return 0;
}
static int opt_client_exit(struct ustackd *d, const char *a, char *e, size_t n) {
  d->tcp.client_exit = true;
  return 0;
}
static int opt_no_offload(struct ustackd *d, const char *a, char *e, size_t n) {
  (void)a, (void)e, (void)n;
  d->no_offload = true;
  return 0;
}

static int opt_connect(struct ustackd *d, const char *arg, char *err, size_t n) {
  char host[64];
  const char *colon = strrchr(arg, ':');
  size_t hl = colon ? (size_t)(colon - arg) : 0;
  char perr[64];
  if (!colon || hl == 0 || hl >= sizeof host) {
    snprintf(err, n, "--connect: '%s' is not ADDR:PORT", arg);
    return -1;
  }
  memcpy(host, arg, hl);
  host[hl] = '\0';
  if (parse_ip4(host, &d->tcp.connect_addr) != 0 ||
      svc_parse_port(colon + 1, &d->tcp.connect_port, perr, sizeof perr) != 0) {
    snprintf(err, n, "--connect: '%s' is not ADDR:PORT", arg);
    return -1;
  }
  d->tcp_on = true;
  return 0;
}

static int opt_ctl(struct ustackd *d, const char *arg, char *err, size_t n) {
  if (*arg == '\0') {
    snprintf(err, n, "--ctl: empty path");
    return -1;
  }
  d->ctl_path = arg;
  return 0;
}

static int opt_synack_retries(struct ustackd *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 0, 20, &v) != 0) {
    snprintf(err, n, "--synack-retries: '%s' is not 0..20", arg);
    return -1;
  }
  d->synack_retries = (long)v;
  return 0;
}

static int opt_msl(struct ustackd *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 0, 3600, &v) != 0) {
    snprintf(err, n, "--msl: '%s' is not 0..3600 seconds", arg);
    return -1;
  }
  d->msl_sec = (long)v;
  return 0;
}

static int opt_fin_timeout(struct ustackd *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 1, 3600, &v) != 0) {
    snprintf(err, n, "--fin-timeout: '%s' is not 1..3600 seconds", arg);
    return -1;
  }
  d->fin_timeout_sec = (long)v;
  return 0;
}

static int opt_max_time_wait(struct ustackd *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 1, US_TCP_MAX_CONNS, &v) != 0) {
    snprintf(err, n, "--max-time-wait: '%s' is not 1..%u", arg, US_TCP_MAX_CONNS);
    return -1;
  }
  d->max_time_wait = v;
  return 0;
}

static int opt_no_timestamps(struct ustackd *d, const char *a, char *e, size_t n) {
  d->no_timestamps = true;
  return 0;
}

static int opt_ecn(struct ustackd *d, const char *arg, char *err, size_t n) {
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

static int opt_pmtu_blackhole(struct ustackd *d, const char *a, char *e, size_t n) {
  d->pmtu_blackhole = true;
  return 0;
}

static int opt_no_pmtud(struct ustackd *d, const char *a, char *e, size_t n) {
  d->no_pmtud = true;
  return 0;
}

static int opt_tcp_r2(struct ustackd *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 1, 100, &v) != 0) {
    snprintf(err, n, "--tcp-r2: '%s' is not 1..100 retransmissions", arg);
    return -1;
  }
  d->tcp_r2 = (long)v;
  return 0;
}

static int opt_rto_max(struct ustackd *d, const char *arg, char *err, size_t n) {
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

static int opt_max_conns(struct ustackd *d, const char *arg, char *err, size_t n) {
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

static int opt_sndbuf(struct ustackd *d, const char *a, char *e, size_t n) {
  return opt_tcpbuf("--sndbuf", a, &d->sndbuf, e, n);
}

static int opt_rcvbuf(struct ustackd *d, const char *a, char *e, size_t n) {
  return opt_tcpbuf("--rcvbuf", a, &d->rcvbuf, e, n);
}

static int opt_buf_mem(struct ustackd *d, const char *arg, char *err, size_t n) {
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
static int opt_conn_limit(struct ustackd *d, const char *a, char *e, size_t n) {
  return opt_count("--conn-limit", a, &d->conn_limit, e, n);
}
static int opt_per_source_limit(struct ustackd *d, const char *a, char *e, size_t n) {
  return opt_count("--per-source-limit", a, &d->source_limit, e, n);
}
static int opt_rst_rate(struct ustackd *d, const char *a, char *e, size_t n) {
  return opt_count("--rst-rate", a, &d->rst_rate, e, n);
}
static int opt_rst_burst(struct ustackd *d, const char *arg, char *err, size_t n) {
  unsigned v;
  if (parse_uint(arg, 1, 100000000, &v) != 0) {
    snprintf(err, n, "--rst-burst: '%s' is not a number 1..100000000", arg);
    return -1;
  }
  d->rst_burst = (long)v;
  return 0;
}

static int opt_cc(struct ustackd *d, const char *arg, char *err, size_t n) {
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

static int opt_fault(struct ustackd *d, const char *arg, char *err, size_t n) {
  char ferr[200];
  if (us_fault_check(arg, ferr, sizeof ferr) != 0) {
    snprintf(err, n, "--fault: %s", ferr);
    return -1;
  }
  d->fault_spec = arg;
  return 0;
}

static int opt_fault_seed(struct ustackd *d, const char *arg, char *err, size_t n) {
  if (opt_u64("--fault-seed", arg, &d->fault_seed, err, n) != 0)
    return -1;
  d->fault_seed_given = true;
  return 0;
}

static const struct opt options[] = {
  { "--dev", "NAME", "TUN interface to create, or attach to if it exists (required)", opt_dev },
  { "--host", "ADDR", "the host's (kernel's) address on the link (required)", opt_host },
  { "--addr", "ADDR", "the stack's address (required)", opt_addr },
  { "--prefix", "LEN", "on-link prefix length (default 24)", opt_prefix },
  { "--mtu", "BYTES", "link MTU, 576..9000 (default 1500)", opt_mtu },
  { "--no-offload", NULL, "plain TUN: no TSO, GSO or checksum offload (docs/OFFLOAD.md)",
    opt_no_offload },
  { "--pcap", "FILE", "write every packet in and out to FILE (pcap, LINKTYPE_RAW)", opt_pcap },
  { "--log-level", "LEVEL", "error, warn, info (default), debug or trace", opt_log_level },
  { "--ctl", "PATH", "control socket for ustack-ss (UNIX stream socket)", opt_ctl },
  { "--tcp-echo", "PORT", "TCP echo service (RFC 862)", opt_tcp_echo },
  { "--tcp-discard", "PORT", "TCP discard service (RFC 863)", opt_tcp_discard },
  { "--tcp-chargen", "PORT", "TCP character generator (RFC 864)", opt_tcp_chargen },
  { "--tcp-source", "PORT", "send --source-bytes of the seeded stream, then close first",
    opt_tcp_source },
  { "--source-bytes", "N", "bytes --tcp-source sends per connection", opt_source_bytes },
  { "--tcp-sink", "PORT", "read everything; log bytes and SHA-256 per connection", opt_tcp_sink },
  { "--seed", "N", "seed of the --tcp-source / client stream (default 0)", opt_seed },
  { "--connect", "ADDR:PORT", "active open: the stack connects to a server", opt_connect },
  { "--client-send", "N", "bytes the --connect client sends before closing", opt_client_send },
  { "--client-delay", "MS", "start the --connect client MS milliseconds after start-up",
    opt_client_delay },
  { "--client-exit", NULL, "exit when the --connect client is done (its status)", opt_client_exit },
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
             "  ping 10.0.0.2\n\n"
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

/* Returns 0 to run, 1 when --help was printed, -1 on error (err filled). */
static int parse_args(struct ustackd *d, int argc, char **argv, char *err, size_t n) {
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
      if (d->nsvcs >= MAX_SVC_INSTANCES) {
        snprintf(err, n, "too many services (at most %d)", MAX_SVC_INSTANCES);
        return -1;
      }
      struct svc_instance *si = &d->svcs[d->nsvcs];
      si->desc = sd;
      char serr[ERRLEN] = "";
      if (sd->parse && sd->parse(val, &si->state, serr, sizeof serr) != 0) {
        snprintf(err, n, "%s: %s", sd->option, serr);
        return -1;
      }
      d->nsvcs++;
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
  if (d->tcp.client_exit && !d->tcp.connect_port) {
    snprintf(err, n, "--client-exit needs --connect ADDR:PORT");
    return -1;
  }
  if (!d->dev || !d->have_host || !d->have_addr) {
    snprintf(err, n, "missing %s (try --help)",
             !d->dev         ? "--dev NAME"
             : !d->have_host ? "--host ADDR"
                             : "--addr ADDR");
    return -1;
  }
  uint32_t mask = d->prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> d->prefix);
  if (d->host == d->addr) {
    snprintf(err, n, "--host and --addr must differ");
    return -1;
  }
  if ((d->host & mask) != (d->addr & mask)) {
    snprintf(err, n, "--host and --addr are not in the same /%u", d->prefix);
    return -1;
  }
  if (d->prefix <= 30 && ((d->addr & ~mask) == 0 || (d->addr & ~mask) == ~mask)) {
    snprintf(err, n, "--addr is the network or broadcast address of its /%u", d->prefix);
    return -1;
  }
  return 0;
}

/* ---- Counters ---------------------------------------------------------- */

static void print_counters(const struct ustackd *d, const char *when) {
  fprintf(stderr, PROG ": counters %s (non-zero only):\n", when);
  for (int i = 0; i < US_STAT_COUNT; i++) {
    uint64_t v = us_stack_stat(d->stack, (enum us_stat)i);
    if (v == 0)
      continue;
    const char *desc = us_stat_desc((enum us_stat)i);
    fprintf(stderr, PROG ": counter %s = %llu (%s)\n", us_stat_name((enum us_stat)i),
            (unsigned long long)v, desc ? desc : "");
  }
  struct us_loop_stats ls = { 0 };
  if (d->loop)
    us_loop_get_stats(d->loop, &ls);
  const struct {
    const char *name;
    uint64_t v;
    const char *desc;
  } dev[] = {
    { "loop_wakeups", ls.wakeups, "event-loop wake-ups" },
    { "loop_rx_batches", ls.rx_batches, "TUN read batches" },
    { "loop_rx_batch_full", ls.rx_batch_full, "batches that stopped at the batch cap" },
    { "loop_rounds_capped", ls.dispatch_rounds_capped,
      "wake-ups that ended with events still pending" },
    { "tun_rx_packets", d->tun.rx_packets, "packets read from the TUN" },
    { "tun_rx_errors", d->tun.rx_errors, "TUN read errors" },
    { "tun_tx_packets", d->tun.tx_packets, "packets written to the TUN" },
    { "tun_tx_eagain", d->tun.tx_eagain, "dropped on output: TUN queue full" },
    { "tun_tx_errors", d->tun.tx_errors, "dropped on output: TUN write failed" },
    { "tun_rx_gso", d->tun.rx_gso, "GSO super-packets read from the TUN" },
    { "tun_rx_csum_partial", d->tun.rx_csum_partial, "packets read with a partial checksum" },
    { "tun_rx_csum_valid", d->tun.rx_csum_valid, "packets read with DATA_VALID" },
    { "tun_rx_vnet_bad", d->tun.rx_vnet_bad, "dropped: a virtio header we cannot honour" },
    { "tun_tx_gso", d->tun.tx_gso, "TSO super-segments written to the TUN" },
    { "tun_tx_csum_partial", d->tun.tx_csum_partial, "packets written with a partial checksum" },
    { "pcap_records", us_pcap_records(d->pcap), "packets written to the pcap file" },
    { "pcap_errors", us_pcap_errors(d->pcap), "pcap write errors (capture stopped)" },
  };
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
    if (dev[i].v)
      fprintf(stderr, PROG ": counter %s = %llu (%s)\n", dev[i].name, (unsigned long long)dev[i].v,
              dev[i].desc);
  if (d->fault) {
    char b[2048];
    us_fault_format(d->fault, b, sizeof b);
    /* Lines "fault seed=N tx: seen=... dropped=..." */
    for (char *line = b, *nl; *line; line = nl + 1) {
      nl = strchr(line, '\n');
      if (!nl) {
        fprintf(stderr, PROG ": %s\n", line);
        break;
      }
      fprintf(stderr, PROG ": %.*s\n", (int)(nl - line), line);
    }
  }
  struct us_pool_usage u;
  us_stack_pool_usage(d->stack, &u);
  /* TIME-WAIT TCBs are held on purpose (2*MSL, also at exit): named, so
   * that "tcb N/M" short of full is not taken for a leak. */
  fprintf(stderr,
          PROG
          ": pools: pkt %u/%u free, big %u/%u, tcb %u/%u (%u in TIME-WAIT), udp %u/%u, "
          "reass %u active, ooo %u bytes, sndbuf %u/%u, rcvbuf %u/%u\n",
          u.pkt_free, u.pkt_total, u.big_free, u.big_total, u.tcb_free, u.tcb_total,
          u.tcp_time_wait, u.udp_free, u.udp_total, u.reass_active, u.ooo_bytes, u.tcp_sndbuf_free,
          u.tcp_buf_total, u.tcp_rcvbuf_free, u.tcp_buf_total);
}

static void on_signal(void *ctx, int signo, us_time_t now) {
  struct ustackd *d = ctx;
  if (signo == SIGUSR1)
    print_counters(d, "now");
}

/* ---- Loop hooks -------------------------------------------------------- */

static size_t dispatch_hook(void *ctx, us_stack *s, us_time_t now) { return svc_dispatch(s, now); }

static bool have_service(const struct ustackd *d, const struct svc_desc *sd) {
  for (unsigned i = 0; i < d->nsvcs; i++)
    if (d->svcs[i].desc == sd)
      return true;
  return false;
}

static us_time_t svc_tick(void *ctx, us_time_t now) {
  struct ustackd *d = ctx;
  us_time_t next = svc_poll_all(d->stack, now);
  int hstatus;
  /* A one-shot HTTPS GET: the daemon exits with its result. */
  if (have_service(d, &svc_https_get) && https_client_finished(&hstatus)) {
    d->exit_status = hstatus;
    us_loop_stop(d->loop);
  }
  if (d->tcp_started) {
    us_time_t t = svc_tcp_poll(d->stack, now);
    if (t < next)
      next = t;
    int status;
    if (d->tcp.client_exit && svc_tcp_client_finished(&status)) {
      d->exit_status = status;
      us_loop_stop(d->loop);
    }
  }
  return next;
}

/* Control-socket commands beyond ss/stats/pools: "fault ...". */
static int ctl_ext(void *ctx, const char *cmd, FILE *out, us_time_t now) {
  struct ustackd *d = ctx;
  char b[4096];
  if (!us_fault_ctl_command(d->fault, cmd, b, sizeof b))
    return 0;
  fputs(b, out);
  return 1;
}

static void ctl_ready(void *ctx, int fd, uint32_t events, us_time_t now) {
  struct ustackd *d = ctx;
  ctl_serve(fd, d->stack, now, ctl_ext, d);
}

static void pcap_idle(void *ctx, us_time_t now) {
  struct ustackd *d = ctx;
  us_pcap_flush(d->pcap);
}

/* ---- Set-up and tear-down --------------------------------------------- */

static void fail_line(const char *msg) { fprintf(stderr, PROG ": %s\n", msg); }

/* Stop services in reverse order; each exactly once. A service that never
 * started gets a NULL stack: it only frees its state. */
static void stop_services(struct ustackd *d, us_time_t now) {
  if (d->tcp_started) {
    d->tcp_started = false;
    svc_tcp_stop(d->stack, now);
  }
  for (unsigned i = d->nsvcs; i-- > 0;) {
    struct svc_instance *si = &d->svcs[i];
    if (si->stopped)
      continue;
    si->stopped = true;
    if (si->desc->stop)
      si->desc->stop(si->state, si->started ? d->stack : NULL, now);
    si->state = NULL;
  }
}

static void teardown(struct ustackd *d) {
  stop_services(d, d->loop ? us_loop_now(d->loop) : us_clock_now());
  if (d->ctl_fd >= 0)
    ctl_close(d->ctl_fd, d->ctl_path);
  d->ctl_fd = -1;
  us_loop_destroy(d->loop);
  d->loop = NULL;
  if (d->stack)
    us_stack_destroy(d->stack);
  d->stack = NULL;
  us_tun_close(&d->tun);
  us_fault_destroy(d->fault);
  d->fault = NULL;
  us_pcap_close(d->pcap);
  d->pcap = NULL;
}

int main(int argc, char **argv) {
  static struct ustackd d;   /* large (service buffers): not on the stack */
  char err[2 * ERRLEN] = ""; /* room for "option: service's message" */

  d.prefix = 24;
  d.mtu = 1500;
  d.log_level = US_LOG_INFO;
  d.tun.fd = -1;
  d.ctl_fd = -1;
  d.synack_retries = -1;
  d.msl_sec = -1;
  d.fin_timeout_sec = -1;
  d.tcp_r2 = -1;
  d.ecn = -1;
  d.rto_max_ms = -1;
  d.cc = -1;
  d.conn_limit = -1;
  d.source_limit = -1;
  d.rst_rate = -1;
  d.rst_burst = -1;
  int pr = parse_args(&d, argc, argv, err, sizeof err);
  if (pr != 0) {
    if (pr < 0)
      fail_line(err);
    stop_services(&d, 0);
    return pr < 0 ? 2 : 0;
  }
  /* A control socket whose client went away must not kill the daemon. */
  signal(SIGPIPE, SIG_IGN);
  d.log = us_stderr_log_sink(PROG);

  int rc = 1;
  if (d.pcap_path) {
    d.pcap = us_pcap_open(d.pcap_path, err, sizeof err);
    if (!d.pcap)
      goto out;
  }

  struct us_tun_cfg tc = { .name = d.dev,
                           .host = d.host,
                           .peer = d.addr,
                           .prefix = (uint8_t)d.prefix,
                           .mtu = (uint16_t)d.mtu,
                           /* The fault injector models a wire: a packet it corrupts must fail
       * its checksum, which a checksum the kernel completes after it (or
       * one the kernel vouches for before it) would hide; and its rules
       * count MSS-sized packets. So --fault runs without offloads. */
                           .offload = !d.no_offload && !d.fault_spec };
  if (us_tun_open(&d.tun, &tc, err, sizeof err) != 0)
    goto out;
  if (d.tun.offload_note[0])
    us_logf(&d.log, d.log_level, US_LOG_WARN, "%s", d.tun.offload_note);

  /* Output chain: stack -> [pcap tee] -> [fault TX] -> TUN. Input chain:
   * TUN -> [fault RX] -> [pcap tee] -> stack. The capture shows what the
   * stack really sent and received; tshark on the TUN shows the link. */
  struct us_device dev = us_tun_device(&d.tun);
  struct us_rx_sink rx = { 0 }; /* filled once the stack exists */
  if (d.fault_spec) {
    uint64_t seed = d.fault_seed_given ? d.fault_seed : us_fault_seed_from_os();
    d.fault = us_fault_create(d.fault_spec, seed, err, sizeof err);
    if (!d.fault)
      goto out;
    fprintf(stderr, PROG ": fault injector: '%s' seed=%llu (replay with --fault-seed %llu)\n",
            d.fault_spec, (unsigned long long)seed, (unsigned long long)seed);
    us_fault_wrap_init(&d.fault_wrap, d.fault);
    dev = us_fault_wrap_tx(&d.fault_wrap, &dev, NULL, NULL);
  }
  if (d.pcap) {
    d.tee.pcap = d.pcap;
    d.tee.next_tx = dev;
    dev = us_pcap_tee_device(&d.tee);
  }

  struct us_config cfg;
  us_config_default(&cfg);
  cfg.addr = d.addr;
  cfg.prefix_len = (uint8_t)d.prefix;
  cfg.mtu = (uint16_t)d.mtu;
  cfg.log = d.log;
  cfg.log_level = d.log_level;
  cfg.rand = us_sysrand_source();
  if (d.synack_retries >= 0)
    cfg.tcp_synack_retries = (uint32_t)d.synack_retries;
  if (d.msl_sec >= 0)
    cfg.tcp_msl = US_SEC(d.msl_sec);
  if (d.fin_timeout_sec >= 0)
    cfg.tcp_fin_timeout = US_SEC(d.fin_timeout_sec);
  if (d.max_time_wait)
    cfg.tcp_max_time_wait = d.max_time_wait;
  if (d.tcp_r2 >= 0)
    cfg.tcp_r2 = (uint32_t)d.tcp_r2;
  if (d.cc >= 0)
    cfg.tcp_cc = (enum us_tcp_cc)d.cc;
  if (d.max_conns)
    cfg.max_tcp_sockets = d.max_conns;
  if (d.sndbuf)
    cfg.tcp_sndbuf = d.sndbuf;
  if (d.rcvbuf)
    cfg.tcp_rcvbuf = d.rcvbuf;
  if (d.buf_mem)
    cfg.tcp_buf_mem = d.buf_mem;
  cfg.tcp_timestamps = !d.no_timestamps;
  cfg.tcp_pmtud = !d.no_pmtud;
  cfg.tcp_pmtu_blackhole = d.pmtu_blackhole;
  if (d.ecn >= 0)
    cfg.tcp_ecn = (uint8_t)d.ecn;
  if (d.rto_max_ms >= 0) {
    cfg.tcp_rto_max = US_MSEC(d.rto_max_ms);
    if (cfg.tcp_rto_initial > cfg.tcp_rto_max)
      cfg.tcp_rto_initial = cfg.tcp_rto_max;
  }
  if (d.rst_rate >= 0)
    cfg.tcp_rst_rate = (uint32_t)d.rst_rate;
  if (d.rst_burst >= 0)
    cfg.tcp_rst_burst = (uint32_t)d.rst_burst;
  /* Connection limits, derived from the TCB pool unless given, so one
   * busy service leaves a quarter of the pool to the others and one
   * client leaves half of a service to everyone else (docs/LIMITS.md).
   * Keep this after everything that sets the pool size. */
  cfg.tcp_listener_conn_max =
      d.conn_limit >= 0 ? (uint32_t)d.conn_limit : cfg.max_tcp_sockets / 4 * 3;
  cfg.tcp_source_conn_max =
      d.source_limit >= 0 ? (uint32_t)d.source_limit : cfg.max_tcp_sockets / 2;
  d.stack = us_stack_create(&cfg, &dev);
  if (!d.stack) {
    snprintf(err, sizeof err, "cannot create the stack (see the log above)");
    goto out;
  }
  rx = (struct us_rx_sink){ .rx = us_rx_stack_input, .ctx = d.stack };
  if (d.pcap) {
    d.tee.next_rx = rx;
    rx = us_pcap_tee_rx_sink(&d.tee);
  }
  if (d.fault)
    rx = us_fault_wrap_rx(&d.fault_wrap, &rx);

  struct us_loop_cfg lc = {
    .stack = d.stack,
    .tun = &d.tun,
    .rx = rx,
    .dispatch = dispatch_hook,
    .dispatch_ctx = &d,
    .on_signal = on_signal,
    .signal_ctx = &d,
    .log = d.log,
    .log_level = d.log_level,
  };
  d.loop = us_loop_create(&lc, err, sizeof err);
  if (!d.loop)
    goto out;
  d.tee.now = us_loop_now_ref(d.loop);
  if (d.fault) {
    us_fault_wrap_set_clock(&d.fault_wrap, us_fault_clock_ref, (void *)us_loop_now_ref(d.loop));
    us_loop_add_tick(d.loop, us_fault_tick, d.fault); /* releases held packets */
  }
  us_loop_add_tick(d.loop, svc_tick, &d);
  if (d.pcap)
    us_loop_add_idle(d.loop, pcap_idle, &d);

  us_time_t now = us_clock_now();
  for (unsigned i = 0; i < d.nsvcs; i++) {
    struct svc_instance *si = &d.svcs[i];
    char serr[ERRLEN] = "";
    if (si->desc->start && si->desc->start(si->state, d.stack, now, serr, sizeof serr) != 0) {
      snprintf(err, sizeof err, "%s: %s", si->desc->option, serr);
      goto out;
    }
    si->started = true;
  }
  if (d.tcp_on) {
    if (svc_tcp_start(d.stack, &d.tcp, now, err, sizeof err) != 0)
      goto out;
    d.tcp_started = true;
  }
  if (d.ctl_path) {
    d.ctl_fd = ctl_open(d.ctl_path, err, sizeof err);
    if (d.ctl_fd < 0)
      goto out;
    int lrc = us_loop_add_fd(d.loop, d.ctl_fd, EPOLLIN, ctl_ready, &d);
    if (lrc != 0) {
      snprintf(err, sizeof err, "--ctl %s: cannot watch the socket: %s", d.ctl_path,
               strerror(-lrc));
      goto out;
    }
  }

  char hs[INET_ADDRSTRLEN], as[INET_ADDRSTRLEN];
  struct in_addr ia = { .s_addr = htonl(d.host) };
  inet_ntop(AF_INET, &ia, hs, sizeof hs);
  ia.s_addr = htonl(d.addr);
  inet_ntop(AF_INET, &ia, as, sizeof as);
  const char *offl = !d.tun.caps        ? "off"
                     : d.tun.rx_offload ? "tso4+csum out, gso+csum in"
                                        : "tso4+csum out";
  us_logf(&d.log, d.log_level, US_LOG_INFO,
          "up: %s, stack %s/%u, host side %s, mtu %u, offloads %s%s%s%s%s", d.tun.name, as,
          d.prefix, hs, d.mtu, offl, d.pcap ? ", pcap " : "", d.pcap ? d.pcap_path : "",
          d.ctl_path ? ", ctl " : "", d.ctl_path ? d.ctl_path : "");

  int r = us_loop_run(d.loop);
  if (r < 0) {
    snprintf(err, sizeof err, "stopped: the TUN device failed (see the log above)");
  } else {
    us_logf(&d.log, d.log_level, US_LOG_INFO, "stopping (%s)", r > 0 ? strsignal(r) : "requested");
    rc = d.exit_status;
  }
  /* Services close their sockets first, so the pool line shows leaks. */
  now = us_loop_now(d.loop);
  stop_services(&d, now);
  us_stack_poll(d.stack, now);
  us_pcap_flush(d.pcap);
  print_counters(&d, "at exit");

out:
  if (rc != 0 && err[0])
    fail_line(err);
  teardown(&d);
  return rc;
}
