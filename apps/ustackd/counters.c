/*
 * counters.c - what ustackd prints on SIGUSR1 and at exit: every non-zero
 * counter (the stack's us_stat list, the loop's, the TUN's, the capture's,
 * the fault injector's) with its description, then one line of pool usage.
 */
#include <stdio.h>
#include <string.h>

#include "ustackd.h"

void ustackd_print_counters(const struct ustackd *d, const char *when) {
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
