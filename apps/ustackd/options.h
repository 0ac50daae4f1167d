/*
 * options.h - what ustackd's command line says (options.c): the link, the
 * stack's settings, and the services (a struct svc_set, svc.h).
 */
#ifndef USTACKD_OPTIONS_H
#define USTACKD_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "svc.h"
#include "ustack/ustack.h"

#define PROG "ustackd"

struct ustackd_opts {
  const char *dev;
  us_ip4_t host, addr;
  bool have_host, have_addr;
  unsigned prefix;
  /* IPv6 on the link: on with --host6/--addr6, or by default with
   * fd00::1 / fd00::2 (ip6_default: a kernel without IPv6 then only
   * turns it off); off with --no-ipv6 or, by default, below MTU 1280. */
  bool ip6, ip6_default;
  bool have_host6, have_addr6, no_ipv6;
  uint8_t host6[16], addr6[16]; /* network order */
  unsigned prefix6;
  const char *ip6_note; /* why IPv6 is off although not turned off, or NULL */
  unsigned mtu;
  const char *pcap_path;
  bool no_offload; /* --no-offload */
  enum us_log_level log_level;
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
};

/* The defaults, before the command line. */
void ustackd_opts_init(struct ustackd_opts *o);

/* Read the command line into `o` and the services into `svcs`. Returns 0
 * to run, 1 when --help was printed, -1 with one line in err. */
int ustackd_opts_parse(struct ustackd_opts *o, struct svc_set *svcs, int argc, char **argv,
                       char *err, size_t n);

/* link_check.c: the link options together (both ends given, one prefix,
 * usable addresses; IPv6 resolved to on or off). 0, or -1 with err. */
int ustackd_check_link(struct ustackd_opts *o, char *err, size_t n);

/* The stack's configuration the options ask for (the rest: defaults). */
void ustackd_opts_config(const struct ustackd_opts *o, struct us_config *cfg);

#endif
