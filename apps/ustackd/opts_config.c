/*
 * opts_config.c - the stack's us_config from ustackd's options: the
 * stack's defaults (us_config_default), then what the command line set,
 * then the connection limits derived from the pool size.
 */
#include <string.h>

#include "options.h"

void ustackd_opts_config(const struct ustackd_opts *d, struct us_config *cfg) {
  us_config_default(cfg);
  cfg->addr = d->addr;
  cfg->prefix_len = (uint8_t)d->prefix;
  if (d->ip6)
    memcpy(cfg->addr6, d->addr6, 16);
  cfg->mtu = (uint16_t)d->mtu;
  cfg->log_level = d->log_level;
  if (d->synack_retries >= 0)
    cfg->tcp_synack_retries = (uint32_t)d->synack_retries;
  if (d->msl_sec >= 0)
    cfg->tcp_msl = US_SEC(d->msl_sec);
  if (d->fin_timeout_sec >= 0)
    cfg->tcp_fin_timeout = US_SEC(d->fin_timeout_sec);
  if (d->max_time_wait)
    cfg->tcp_max_time_wait = d->max_time_wait;
  if (d->tcp_r2 >= 0)
    cfg->tcp_r2 = (uint32_t)d->tcp_r2;
  if (d->cc >= 0)
    cfg->tcp_cc = (enum us_tcp_cc)d->cc;
  if (d->max_conns)
    cfg->max_tcp_sockets = d->max_conns;
  if (d->sndbuf)
    cfg->tcp_sndbuf = d->sndbuf;
  if (d->rcvbuf)
    cfg->tcp_rcvbuf = d->rcvbuf;
  if (d->buf_mem)
    cfg->tcp_buf_mem = d->buf_mem;
  cfg->tcp_timestamps = !d->no_timestamps;
  cfg->tcp_pmtud = !d->no_pmtud;
  cfg->tcp_pmtu_blackhole = d->pmtu_blackhole;
  if (d->ecn >= 0)
    cfg->tcp_ecn = (uint8_t)d->ecn;
  if (d->rto_max_ms >= 0) {
    cfg->tcp_rto_max = US_MSEC(d->rto_max_ms);
    if (cfg->tcp_rto_initial > cfg->tcp_rto_max)
      cfg->tcp_rto_initial = cfg->tcp_rto_max;
  }
  if (d->rst_rate >= 0)
    cfg->tcp_rst_rate = (uint32_t)d->rst_rate;
  if (d->rst_burst >= 0)
    cfg->tcp_rst_burst = (uint32_t)d->rst_burst;
  /* Connection limits, derived from the TCB pool unless given, so one
   * busy service leaves a quarter of the pool to the others and one
   * client leaves half of a service to everyone else (docs/LIMITS.md).
   * Keep this after everything that sets the pool size. */
  cfg->tcp_listener_conn_max =
      d->conn_limit >= 0 ? (uint32_t)d->conn_limit : cfg->max_tcp_sockets / 4 * 3;
  cfg->tcp_source_conn_max =
      d->source_limit >= 0 ? (uint32_t)d->source_limit : cfg->max_tcp_sockets / 2;
}
