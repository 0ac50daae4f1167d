/*
 * ustackd.h - the running daemon: what the command line said (options.h),
 * the services (svc.h), and the TUN, capture, fault injector, stack and
 * loop that main.c sets up for them.
 */
#ifndef USTACKD_USTACKD_H
#define USTACKD_USTACKD_H

#include "fault_wrap.h"
#include "logsink.h"
#include "loop.h"
#include "options.h"
#include "pcap.h"
#include "svc.h"
#include "tun.h"

struct ustackd {
  struct ustackd_opts opt; /* from the command line */
  struct svc_set svcs;     /* the services, in command-line order */

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
  int exit_status; /* set by a one-shot service (a client) */
};

/* counters.c: the non-zero counters of the stack, the loop, the TUN, the
 * capture and the fault injector, and the pool usage, on stderr (SIGUSR1
 * and exit). */
void ustackd_print_counters(const struct ustackd *d, const char *when);

#endif
