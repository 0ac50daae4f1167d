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
 * The options are rows of a table (options.c); services are svc_desc rows
 * (svc.h), each enabled by its own option. This file sets up the chain
 * TUN -> [fault] -> [pcap] -> stack, the loop and its hooks, starts the
 * services, runs, and tears everything down.
 */
#include "clock.h"
#include "ctl_server.h"
#include "sysrand.h"
#include "ustackd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define ERRLEN 256

static void on_signal(void *ctx, int signo, us_time_t now) {
  struct ustackd *d = ctx;
  if (signo == SIGUSR1)
    ustackd_print_counters(d, "now");
}

/* ---- Loop hooks -------------------------------------------------------- */

static size_t dispatch_hook(void *ctx, us_stack *s, us_time_t now) { return svc_dispatch(s, now); }

static us_time_t svc_tick(void *ctx, us_time_t now) {
  struct ustackd *d = ctx;
  us_time_t next = svc_poll_all(d->stack, now);
  int status;
  /* A one-shot service (--https-get, --connect with --client-exit): the
   * daemon exits with its result. */
  if (svc_set_finished(&d->svcs, &status)) {
    d->exit_status = status;
    us_loop_stop(d->loop);
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

static void teardown(struct ustackd *d) {
  svc_set_stop(&d->svcs, d->stack, d->loop ? us_loop_now(d->loop) : us_clock_now());
  svc_set_free(&d->svcs);
  if (d->ctl_fd >= 0)
    ctl_close(d->ctl_fd, d->opt.ctl_path);
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

  ustackd_opts_init(&d.opt);
  d.tun.fd = -1;
  d.ctl_fd = -1;
  const struct ustackd_opts *o = &d.opt;
  int pr = ustackd_opts_parse(&d.opt, &d.svcs, argc, argv, err, sizeof err);
  if (pr != 0) {
    if (pr < 0)
      fail_line(err);
    svc_set_stop(&d.svcs, NULL, 0);
    svc_set_free(&d.svcs);
    return pr < 0 ? 2 : 0;
  }
  /* A control socket whose client went away must not kill the daemon. */
  signal(SIGPIPE, SIG_IGN);
  d.log = us_stderr_log_sink(PROG);

  int rc = 1;
  if (o->pcap_path) {
    d.pcap = us_pcap_open(o->pcap_path, err, sizeof err);
    if (!d.pcap)
      goto out;
  }

  struct us_tun_cfg tc = { .name = o->dev,
                           .host = o->host,
                           .peer = o->addr,
                           .prefix = (uint8_t)o->prefix,
                           .mtu = (uint16_t)o->mtu,
                           /* The fault injector models a wire: a packet it corrupts must fail
       * its checksum, which a checksum the kernel completes after it (or
       * one the kernel vouches for before it) would hide; and its rules
       * count MSS-sized packets. So --fault runs without offloads. */
                           .offload = !o->no_offload && !o->fault_spec,
                           .ip6 = o->ip6,
                           .ip6_optional = o->ip6_default,
                           .prefix6 = (uint8_t)o->prefix6 };
  memcpy(tc.host6, o->host6, 16);
  memcpy(tc.peer6, o->addr6, 16);
  if (us_tun_open(&d.tun, &tc, err, sizeof err) != 0)
    goto out;
  if (d.tun.offload_note[0])
    us_logf(&d.log, o->log_level, US_LOG_WARN, "%s", d.tun.offload_note);

  /* Output chain: stack -> [pcap tee] -> [fault TX] -> TUN. Input chain:
   * TUN -> [fault RX] -> [pcap tee] -> stack. The capture shows what the
   * stack really sent and received; tshark on the TUN shows the link. */
  struct us_device dev = us_tun_device(&d.tun);
  struct us_rx_sink rx = { 0 }; /* filled once the stack exists */
  if (o->fault_spec) {
    uint64_t seed = o->fault_seed_given ? o->fault_seed : us_fault_seed_from_os();
    d.fault = us_fault_create(o->fault_spec, seed, err, sizeof err);
    if (!d.fault)
      goto out;
    fprintf(stderr, PROG ": fault injector: '%s' seed=%llu (replay with --fault-seed %llu)\n",
            o->fault_spec, (unsigned long long)seed, (unsigned long long)seed);
    us_fault_wrap_init(&d.fault_wrap, d.fault);
    dev = us_fault_wrap_tx(&d.fault_wrap, &dev, NULL, NULL);
  }
  if (d.pcap) {
    d.tee.pcap = d.pcap;
    d.tee.next_tx = dev;
    dev = us_pcap_tee_device(&d.tee);
  }

  struct us_config cfg;
  ustackd_opts_config(o, &cfg);
  cfg.log = d.log;
  if (!d.tun.ip6) /* the kernel has no IPv6 on the link: neither has the stack */
    memset(cfg.addr6, 0, sizeof cfg.addr6);
  cfg.rand = us_sysrand_source();
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
    .log_level = o->log_level,
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
  if (svc_set_start(&d.svcs, d.stack, now, err, sizeof err) != 0)
    goto out;
  if (o->ctl_path) {
    d.ctl_fd = ctl_open(o->ctl_path, err, sizeof err);
    if (d.ctl_fd < 0)
      goto out;
    int lrc = us_loop_add_fd(d.loop, d.ctl_fd, EPOLLIN, ctl_ready, &d);
    if (lrc != 0) {
      snprintf(err, sizeof err, "--ctl %s: cannot watch the socket: %s", o->ctl_path,
               strerror(-lrc));
      goto out;
    }
  }

  char hs[INET_ADDRSTRLEN], as[INET_ADDRSTRLEN];
  struct in_addr ia = { .s_addr = htonl(o->host) };
  inet_ntop(AF_INET, &ia, hs, sizeof hs);
  ia.s_addr = htonl(o->addr);
  inet_ntop(AF_INET, &ia, as, sizeof as);
  const char *offl = !d.tun.caps        ? "off"
                     : d.tun.rx_offload ? "tso4+tso6+csum out, gso+csum in"
                                        : "tso4+tso6+csum out";
  /* Why a default IPv6 side is off goes on this line, not one of its own:
   * a service that fails to start must still be the only line on stderr. */
  char v6[2 * INET6_ADDRSTRLEN + 200] = "";
  if (d.tun.ip6) {
    char hs6[INET6_ADDRSTRLEN], as6[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, o->host6, hs6, sizeof hs6);
    inet_ntop(AF_INET6, o->addr6, as6, sizeof as6);
    snprintf(v6, sizeof v6, ", stack %s/%u, host side %s", as6, o->prefix6, hs6);
  } else if (!o->no_ipv6) {
    snprintf(v6, sizeof v6, ", IPv6 off: %s", o->ip6_note ? o->ip6_note : d.tun.ip6_note);
  }
  us_logf(&d.log, o->log_level, US_LOG_INFO,
          "up: %s, stack %s/%u, host side %s%s, mtu %u, offloads %s%s%s%s%s", d.tun.name, as,
          o->prefix, hs, v6, o->mtu, offl, d.pcap ? ", pcap " : "", d.pcap ? o->pcap_path : "",
          o->ctl_path ? ", ctl " : "", o->ctl_path ? o->ctl_path : "");

  int r = us_loop_run(d.loop);
  if (r < 0) {
    snprintf(err, sizeof err, "stopped: the TUN device failed (see the log above)");
  } else {
    us_logf(&d.log, o->log_level, US_LOG_INFO, "stopping (%s)", r > 0 ? strsignal(r) : "requested");
    rc = d.exit_status;
  }
  /* Services close their sockets first, so the pool line shows leaks. */
  now = us_loop_now(d.loop);
  svc_set_stop(&d.svcs, d.stack, now);
  us_stack_poll(d.stack, now);
  us_pcap_flush(d.pcap);
  ustackd_print_counters(&d, "at exit");

out:
  if (rc != 0 && err[0])
    fail_line(err);
  teardown(&d);
  return rc;
}
