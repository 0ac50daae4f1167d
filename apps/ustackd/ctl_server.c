/*
 * ctl_server.c - see ctl_server.h.
 */
#include "ctl_server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int ctl_open(const char *path, char *err, size_t errlen) {
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen(path) >= sizeof sa.sun_path) {
    snprintf(err, errlen, "control socket path too long: %s", path);
    return -1;
  }
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "control socket: %s", strerror(errno));
    return -1;
  }
  /* A socket file left by a daemon that died is stale only if nobody
   * answers on it; refuse to steal a live one. */
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    if (connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
      close(probe);
      close(fd);
      snprintf(err, errlen, "control socket %s is in use by a running ustackd", path);
      return -1;
    }
    close(probe);
  }
  unlink(path);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) {
    snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  chmod(path, 0600);
  return fd;
}

void ctl_close(int fd, const char *path) {
  if (fd >= 0)
    close(fd);
  if (path)
    unlink(path);
}

static void fmt_addr(char *buf, size_t n, us_addr_t a, uint16_t p) {
  us_endpoint_format(us_endpoint(a, p), buf, n);
}

/* Microseconds as "1.234ms" / "3.5s", like ss. */
static void fmt_us(char *buf, size_t n, us_time_t t) {
  if (t >= US_SEC(10))
    snprintf(buf, n, "%.1fs", (double)t / 1e6);
  else
    snprintf(buf, n, "%.3fms", (double)t / 1e3);
}

void ctl_write_ss(us_stack *s, FILE *out, us_time_t now) {
  size_t cap = us_stack_config(s)->max_tcp_sockets;
  struct us_tcp_info *v = calloc(cap ? cap : 1, sizeof *v);
  if (!v)
    return;
  size_t n = us_tcp_list(s, v, cap);
  /* The address columns are as wide as the longest endpoint, as in ss:
   * "[fd00:1:2:3:4:5:6:7]:65535" does not fit the 21 of IPv4. */
  int w = 21;
  for (size_t i = 0; i < n; i++) {
    char e[US_ENDPOINT_STRLEN];
    fmt_addr(e, sizeof e, v[i].laddr, v[i].lport);
    w = (int)strlen(e) > w ? (int)strlen(e) : w;
    fmt_addr(e, sizeof e, v[i].raddr, v[i].rport);
    w = (int)strlen(e) > w ? (int)strlen(e) : w;
  }
  fprintf(out, "%-12s %8s %8s %-*s %-*s\n", "State", "Recv-Q", "Send-Q", w, "Local Address:Port", w,
          "Peer Address:Port");
  for (size_t i = 0; i < n; i++) {
    const struct us_tcp_info *t = &v[i];
    char la[US_ENDPOINT_STRLEN], ra[US_ENDPOINT_STRLEN], srtt[16], rttvar[16], rto[16],
        when[16] = "";
    fmt_addr(la, sizeof la, t->laddr, t->lport);
    if (t->state == US_TCP_LISTEN)
      snprintf(ra, sizeof ra, "*:*");
    else
      fmt_addr(ra, sizeof ra, t->raddr, t->rport);
    fmt_us(srtt, sizeof srtt, t->srtt);
    fmt_us(rttvar, sizeof rttvar, t->rttvar);
    fmt_us(rto, sizeof rto, t->rto);
    if (t->state == US_TCP_LISTEN) {
      /* As ss does for listeners: Recv-Q is the accept queue, Send-Q the
       * backlog; then the SYN queue and the connection limits. */
      const struct us_config *c = us_stack_config(s);
      fprintf(out, "%-12s %8" PRIu32 " %8" PRIu32 " %-*s %-*s\n", "LISTEN", t->acceptq_len,
              t->backlog, w, la, w, ra);
      fprintf(out,
              "\t synq:%" PRIu32 "/%" PRIu32 " acceptq:%" PRIu32 "/%" PRIu32 " conns:%" PRIu32
              " conn_limit:%" PRIu32 " per_source_limit:%" PRIu32 "\n",
              t->synq_len, t->backlog, t->acceptq_len, t->backlog, t->conns,
              c->tcp_listener_conn_max, c->tcp_source_conn_max);
      continue;
    }
    fprintf(out, "%-12s %8" PRIu32 " %8" PRIu32 " %-*s %-*s\n", us_tcp_state_name(t->state),
            t->rcv_queued, t->snd_queued, w, la, w, ra);
    if (t->timer && t->timer[0] && t->timer_at != US_TIME_NEVER)
      fmt_us(when, sizeof when, t->timer_at > now ? t->timer_at - now : 0);
    char ws[24] = ""; /* as ss(8): the peer's shift, then ours */
    if (t->ws_ok)
      snprintf(ws, sizeof ws, " wscale:%u,%u", (unsigned)t->snd_wscale, (unsigned)t->rcv_wscale);
    fprintf(out,
            "\t %s%s%s%s%s mss:%" PRIu32 " pmtu:%" PRIu32 " rto:%s srtt:%s rttvar:%s cwnd:%" PRIu32
            " ssthresh:%" PRIu32 "%s%s sacked:%" PRIu32 " snd_wnd:%" PRIu32 " rcv_wnd:%" PRIu32
            " retrans:%" PRIu32 " backoff:%" PRIu32 " bytes_in:%" PRIu64 " bytes_out:%" PRIu64
            " timer:(%s,%s)%s\n",
            t->cc ? t->cc : "-", t->ts_ok ? " ts" : "", t->sack_ok ? " sack" : "",
            t->ecn_ok ? " ecn" : "", ws, t->mss, t->pmtu, rto, srtt, rttvar, t->cwnd, t->ssthresh,
            t->recovery && t->recovery[0] ? " recovery:" : "",
            t->recovery && t->recovery[0] ? t->recovery : "", t->sacked, t->snd_wnd, t->rcv_wnd,
            t->retransmits, t->backoff, t->bytes_in, t->bytes_out,
            t->timer && t->timer[0] ? t->timer : "off", when[0] ? when : "-",
            us_sock_valid(t->sock) ? "" : " orphan");
  }
  free(v);
}

/* "ActiveOpens: ..." descriptions carry the Linux nstat name before the
 * colon; print it beside ours so the numbers line up with `nstat`. */
static void linux_name(const char *desc, char *buf, size_t n) {
  buf[0] = 0;
  const char *colon = strchr(desc, ':');
  if (!colon || colon == desc || (size_t)(colon - desc) >= n)
    return;
  for (const char *p = desc; p < colon; p++)
    if (*p == ' ')
      return;
  memcpy(buf, desc, (size_t)(colon - desc));
  buf[colon - desc] = 0;
}

void ctl_write_stats(us_stack *s, FILE *out, int all) {
  for (int i = 0; i < US_STAT_COUNT; i++) {
    uint64_t v = us_stack_stat(s, (enum us_stat)i);
    if (!v && !all)
      continue;
    char lname[48];
    const char *desc = us_stat_desc((enum us_stat)i);
    linux_name(desc, lname, sizeof lname);
    fprintf(out, "%-28s %12" PRIu64 "  %s%s%s\n", us_stat_name((enum us_stat)i), v,
            lname[0] ? "(" : "", lname, lname[0] ? ")" : "");
  }
}

static void write_pools(us_stack *s, FILE *out) {
  struct us_pool_usage u;
  us_stack_pool_usage(s, &u);
  fprintf(out,
          "pkt %u/%u free\nbig %u/%u free\ntcb %u/%u free\nudp %u/%u free\n"
          "reass_active %u\nooo_bytes %u\ntcp_sndbuf %u/%u free\ntcp_rcvbuf %u/%u free\n"
          "time_wait %u/%u\n",
          u.pkt_free, u.pkt_total, u.big_free, u.big_total, u.tcb_free, u.tcb_total, u.udp_free,
          u.udp_total, u.reass_active, u.ooo_bytes, u.tcp_sndbuf_free, u.tcp_buf_total,
          u.tcp_rcvbuf_free, u.tcp_buf_total, u.tcp_time_wait, u.tcp_time_wait_max);
  /* The caps that decide who gets those pools (docs/LIMITS.md; 0 = none). */
  const struct us_config *c = us_stack_config(s);
  fprintf(out,
          "limit conn_per_listener %u\nlimit conn_per_source %u\nlimit backlog_max %u\n"
          "limit rst_rate %u/s burst %u\nlimit reass_contexts %u per_source %u\n",
          c->tcp_listener_conn_max, c->tcp_source_conn_max, c->tcp_backlog_max, c->tcp_rst_rate,
          c->tcp_rst_burst, c->reass_contexts, c->reass_per_source);
}

static void serve_one(int cfd, us_stack *s, us_time_t now, ctl_ext_fn ext, void *ext_ctx) {
  struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
  setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  char cmd[1024];
  size_t len = 0;
  while (len < sizeof cmd - 1) {
    ssize_t r = read(cfd, cmd + len, sizeof cmd - 1 - len);
    if (r <= 0)
      break;
    len += (size_t)r;
    if (memchr(cmd, '\n', len))
      break;
  }
  cmd[len] = 0;
  char *nl = strpbrk(cmd, "\r\n");
  if (nl)
    *nl = 0;
  char *resp = NULL;
  size_t resp_len = 0;
  FILE *out = open_memstream(&resp, &resp_len);
  if (!out)
    return;
  if (!strcmp(cmd, "ss"))
    ctl_write_ss(s, out, now);
  else if (!strcmp(cmd, "stats"))
    ctl_write_stats(s, out, 0);
  else if (!strcmp(cmd, "stats -a"))
    ctl_write_stats(s, out, 1);
  else if (!strcmp(cmd, "pools"))
    write_pools(s, out);
  else if (!ext || !ext(ext_ctx, cmd, out, now))
    fprintf(out, "error: unknown command '%s' (try: ss, stats, stats -a, pools, fault ...)\n", cmd);
  fclose(out);
  size_t off = 0;
  while (off < resp_len) {
    ssize_t w = write(cfd, resp + off, resp_len - off);
    if (w <= 0)
      break;
    off += (size_t)w;
  }
  free(resp);
}

void ctl_serve(int fd, us_stack *s, us_time_t now, ctl_ext_fn ext, void *ext_ctx) {
  for (int i = 0; i < 16; i++) {
    int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (cfd < 0)
      return;
    serve_one(cfd, s, now, ext, ext_ctx);
    close(cfd);
  }
}
