/*
 * ctl_server.h - ustackd's control socket (--ctl PATH).
 *
 * A client connects to the UNIX stream socket, writes one command line and
 * reads the answer until the server closes. Commands:
 *   ss            every TCB, like `ss -tani` (ustack-ss)
 *   stats         non-zero counters, nstat style (ustack-ss -s)
 *   stats -a      every counter
 *   pools         pool occupancy
 *   anything else is offered to the extension hook (e.g. "fault set ...").
 * Requests are tiny and local, so each is served to completion when it
 * arrives, with a short receive timeout against a client that says nothing.
 */
#ifndef USTACKD_CTL_SERVER_H
#define USTACKD_CTL_SERVER_H

#include <stddef.h>
#include <stdio.h>

#include "ustack/ustack.h"

/* Extra commands: return 1 if handled (answer written to `out`), 0 if not. */
typedef int (*ctl_ext_fn)(void *ctx, const char *cmd, FILE *out, us_time_t now);

/* Create the listening socket (removing a stale one). -1 with `err` set. */
int ctl_open(const char *path, char *err, size_t errlen);
/* Accept and serve every pending client. */
void ctl_serve(int fd, us_stack *s, us_time_t now, ctl_ext_fn ext, void *ext_ctx);
void ctl_close(int fd, const char *path);

/* Formatting shared with tests and the HTTPS status page. */
void ctl_write_ss(us_stack *s, FILE *out, us_time_t now);
void ctl_write_stats(us_stack *s, FILE *out, int all);

#endif
