/*
 * httpd_status.c - /status (HTML) and /status.json: the stack's TCP
 * connections and counters, and this service's counters (see httpd.h).
 *
 * Client addresses are personal data: the connection tables show the
 * remote address and port only when the daemon runs with
 * --status-clients. Without it the column says "hidden" (HTML) or the
 * field is absent (JSON).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "httpd.h"

static const char *conn_column(struct httpd *svc, us_sock_t sock) {
  for (uint32_t i = 0; i < svc->nconns; i++) {
    struct hconn *c = &svc->conns[i];
    if (c->st != HC_FREE && us_sock_eq(c->sock, sock))
      return c->st == HC_HANDSHAKE ? "handshake" : svc->tr.describe(c);
  }
  return "";
}

static void counters_json(struct httpd *svc, struct sbuf *b) {
  for (int i = 0; i < HTTPD_NCTR; i++)
    sb_printf(b, "%s\"%s\":%" PRIu64, i ? "," : "", httpd_ctr_name((enum httpd_ctr)i), svc->ctr[i]);
}

/* The stack's own addresses: IPv4, and IPv6 ("" when it has none). */
static void own_addrs(us_stack *s, char a4[US_ADDR_STRLEN], char a6[US_ADDR_STRLEN]) {
  const struct us_config *cfg = us_stack_config(s);
  us_addr_format(us_addr_v4(cfg->addr), a4, US_ADDR_STRLEN);
  us_addr_t v6 = us_addr_v6(cfg->addr6);
  if (us_addr_is_any(v6))
    a6[0] = '\0';
  else
    us_addr_format(v6, a6, US_ADDR_STRLEN);
}

static void status_json(struct httpd *svc, us_stack *s, double up, uint64_t in, uint64_t out,
                        const struct us_tcp_info *ti, size_t n, struct sbuf *b) {
  char a4[US_ADDR_STRLEN], a6[US_ADDR_STRLEN];
  char a[US_ENDPOINT_STRLEN], r[US_ENDPOINT_STRLEN];
  own_addrs(s, a4, a6);
  sb_printf(b,
            "{\"uptime_s\":%.3f,\"addr\":\"%s\",\"addr6\":\"%s\",\"tcp_bytes_in\":%" PRIu64
            ",\"tcp_bytes_out\":%" PRIu64 ",\n\"%s\":{\"port\":%u,\"active\":%u,\"slots\":%u,",
            up, a4, a6, in, out, svc->tr.name, (unsigned)svc->o.port, svc->active, svc->nconns);
  counters_json(svc, b);
  sb_add(b, "},\n\"connections\":[", 18);
  for (size_t i = 0; i < n; i++) {
    sb_printf(b, "%s\n{\"state\":\"%s\",\"local\":\"%s\",", i ? "," : "",
              us_tcp_state_name(ti[i].state), endpoint_str(ti[i].laddr, ti[i].lport, a));
    if (svc->o.status_clients)
      sb_printf(b, "\"remote\":\"%s\",", endpoint_str(ti[i].raddr, ti[i].rport, r));
    sb_printf(b,
              "\"recv_q\":%u,\"send_q\":%u,\"bytes_in\":%" PRIu64 ",\"bytes_out\":%" PRIu64
              ",\"srtt_us\":%lld,\"rto_us\":%lld,\"cwnd\":%u,\"retransmits\":%u,\"service\":\"",
              ti[i].rcv_queued, ti[i].snd_queued, ti[i].bytes_in, ti[i].bytes_out,
              (long long)ti[i].srtt, (long long)ti[i].rto, ti[i].cwnd, ti[i].retransmits);
    sb_json(b, conn_column(svc, ti[i].sock));
    sb_add(b, "\"}", 2);
  }
  sb_add(b, "],\n\"counters\":{", 15);
  bool first = true;
  for (int id = 0; id < US_STAT_COUNT; id++) {
    const char *name = us_stat_name((enum us_stat)id);
    if (!name)
      continue;
    sb_printf(b, "%s\"%s\":%" PRIu64, first ? "" : ",", name, us_stack_stat(s, (enum us_stat)id));
    first = false;
  }
  sb_add(b, "}}\n", 3);
}

static void status_html(struct httpd *svc, us_stack *s, double up, uint64_t in, uint64_t out,
                        const struct us_tcp_info *ti, size_t n, struct sbuf *b) {
  char a4[US_ADDR_STRLEN], a6[US_ADDR_STRLEN];
  char a[US_ENDPOINT_STRLEN];
  own_addrs(s, a4, a6);
  sb_printf(b,
            "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"refresh\" content=\"5\">"
            "<title>ustack status</title><style>"
            "body{font-family:sans-serif;margin:1em;color:#222;font-size:13px}"
            "table{border-collapse:collapse;margin-bottom:1.5em}"
            "td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}"
            "th{background:#eee}td.l,th.l{text-align:left}"
            "</style></head><body>\n<h1>ustack on %s%s%s</h1>\n"
            "<p>A userspace TCP/IP stack, serving this page itself. "
            "Up %.0f s. Bytes in %" PRIu64 " and out %" PRIu64
            " on the connections below. "
            "<a href=\"/status.json\">JSON</a>. Refreshes every 5 s.</p>\n",
            a4, a6[0] ? " and " : "", a6, up, in, out);
  sb_printf(b,
            "<h2>%s service (port %u): %u of %u slots in use</h2>\n<table>"
            "<tr><th class=l>counter</th><th>value</th><th class=l>meaning</th></tr>\n",
            svc->tr.name, (unsigned)svc->o.port, svc->active, svc->nconns);
  for (int i = 0; i < HTTPD_NCTR; i++) {
    sb_printf(b, "<tr><td class=l>%s</td><td>%" PRIu64 "</td><td class=l>",
              httpd_ctr_name((enum httpd_ctr)i), svc->ctr[i]);
    sb_html(b, httpd_ctr_desc((enum httpd_ctr)i));
    sb_add(b, "</td></tr>\n", 11);
  }
  sb_printf(b,
            "</table>\n<h2>TCP connections (%zu)</h2>\n<table><tr><th class=l>state</th>"
            "<th class=l>local</th><th class=l>remote</th><th>recv-q</th><th>send-q</th>"
            "<th>bytes in</th><th>bytes out</th><th>srtt ms</th><th>cwnd</th>"
            "<th>retrans</th><th class=l>service</th></tr>\n",
            n);
  for (size_t i = 0; i < n; i++) {
    char remote[US_ENDPOINT_STRLEN] = "hidden";
    if (svc->o.status_clients)
      endpoint_str(ti[i].raddr, ti[i].rport, remote);
    sb_printf(b,
              "<tr><td class=l>%s</td><td class=l>%s</td><td class=l>%s</td><td>%u</td>"
              "<td>%u</td><td>%" PRIu64 "</td><td>%" PRIu64
              "</td><td>%.1f</td><td>%u</td>"
              "<td>%u</td><td class=l>",
              us_tcp_state_name(ti[i].state), endpoint_str(ti[i].laddr, ti[i].lport, a), remote,
              ti[i].rcv_queued, ti[i].snd_queued, ti[i].bytes_in, ti[i].bytes_out,
              (double)ti[i].srtt / 1000.0, ti[i].cwnd, ti[i].retransmits);
    sb_html(b, conn_column(svc, ti[i].sock));
    sb_add(b, "</td></tr>\n", 11);
  }
  static const char counters_head[] =
      "</table>\n<h2>Stack counters (non-zero)</h2>\n<table><tr><th class=l>counter</th>"
      "<th>value</th><th class=l>meaning</th></tr>\n";
  sb_add(b, counters_head, sizeof counters_head - 1);
  for (int id = 0; id < US_STAT_COUNT; id++) {
    uint64_t v = us_stack_stat(s, (enum us_stat)id);
    const char *name = us_stat_name((enum us_stat)id);
    const char *desc = us_stat_desc((enum us_stat)id);
    if (!v || !name)
      continue;
    sb_printf(b, "<tr><td class=l>%s</td><td>%" PRIu64 "</td><td class=l>", name, v);
    sb_html(b, desc ? desc : "");
    sb_add(b, "</td></tr>\n", 11);
  }
  sb_add(b, "</table>\n</body></html>\n", 24);
}

void httpd_status_build(struct httpd *svc, us_time_t now, bool json, struct sbuf *b) {
  us_stack *s = svc->s;
  const struct us_config *cfg = us_stack_config(s);
  size_t max = cfg->max_tcp_sockets ? cfg->max_tcp_sockets : 1024;
  struct us_tcp_info *ti = calloc(max, sizeof *ti);
  size_t n = ti ? us_tcp_list(s, ti, max) : 0;
  uint64_t in = 0, out = 0;
  for (size_t i = 0; i < n; i++) {
    in += ti[i].bytes_in;
    out += ti[i].bytes_out;
  }
  double up = (double)(now - svc->started) / 1e6;
  if (json)
    status_json(svc, s, up, in, out, ti, n, b);
  else
    status_html(svc, s, up, in, out, ti, n, b);
  free(ti);
}
