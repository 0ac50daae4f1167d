/*
 * svc.h - how services plug into ustackd's event loop.
 *
 * Every socket a service opens carries, as its user pointer
 * (us_sock_set_user), an object whose FIRST member is a struct svc_handler.
 * After each batch of input and each poll, the loop drains us_stack_events()
 * and calls that handler's on_event for each socket that changed. Services
 * with timers of their own (idle timeouts, a client that starts later)
 * register a poll function that returns their next deadline.
 *
 * A service is described by one struct svc_desc: the command-line option
 * that enables it, a parse step run before anything is set up (so a bad
 * argument is one line on stderr and exit 2, before the TUN exists), and
 * start/stop run with the stack. To add a service: write its svc_desc and
 * add one line to the `services` table in options.c.
 */
#ifndef USTACKD_SVC_H
#define USTACKD_SVC_H

#include "ustack/ustack.h"

struct svc_handler {
  void (*on_event)(struct svc_handler *self, us_stack *s, us_sock_t sock, uint32_t events,
                   us_time_t now);
};

/* A service-wide periodic hook; returns its next deadline or US_TIME_NEVER. */
typedef us_time_t (*svc_poll_fn)(void *ctx, us_stack *s, us_time_t now);

/* Dispatch drained events to their handlers (called by the loop). */
void svc_dispatch_events(us_stack *s, us_time_t now);

/* The same; returns how many events were dispatched (0: nothing changed). */
size_t svc_dispatch(us_stack *s, us_time_t now);

/*
 * Register a poll hook (at most SVC_MAX_POLL). The loop calls every hook on
 * each wake-up, before the stack's own poll, and sleeps no later than the
 * earliest deadline returned. Returns 0, or -1 when the table is full.
 */
#define SVC_MAX_POLL 16
int svc_add_poll(svc_poll_fn fn, void *ctx);
/* Remove a hook registered with the same fn and ctx (no-op if absent). */
void svc_remove_poll(svc_poll_fn fn, void *ctx);
/* Run every registered hook; returns the earliest deadline. */
us_time_t svc_poll_all(us_stack *s, us_time_t now);

/*
 * Settings that several options share: the HTTP options and every --http
 * and --https port; the TCP services' seed and the client's options. The
 * daemon allocates one zeroed block of `size` bytes per group for the run
 * (struct svc_set) and hands it to every member's parse, start, stop and
 * finished as `shared`, so no service keeps its settings in a global.
 *
 * check: called once the whole command line is read, before anything is
 *   set up (a wrong combination is one line and exit 2). May be NULL.
 */
struct svc_group {
  const char *name;
  size_t size;
  int (*check)(void *shared, char *err, size_t errlen);
};

/*
 * One service of the daemon, enabled by one command-line option.
 *
 * group: the settings block this option reads or writes, or NULL.
 * parse: called while the command line is read, before the TUN or the
 *   stack exist. `arg` is the option's value (NULL when metavar is NULL).
 *   May allocate its state into *state. On error, writes one line (no
 *   newline, no program name) into err and returns -1.
 * start: called once the stack exists, in command-line order. Returns 0 or
 *   -1 with a line in err (the daemon then exits non-zero). May be NULL.
 * stop: called at shutdown (may be NULL); closes sockets, frees state.
 *   `s` is NULL when the service never started: it only frees its state.
 * finished: a one-shot service (a client) returns true once the daemon
 *   should exit, with the exit status in *status. NULL: runs until stopped.
 * An option given twice starts the service twice (e.g. two UDP echo ports),
 * each with its own state and the group's one shared block.
 */
struct svc_desc {
  const char *option;  /* "--udp-echo" */
  const char *metavar; /* "PORT", or NULL for a flag without value */
  const char *help;    /* one line for --help */
  const struct svc_group *group;
  int (*parse)(const char *arg, void *shared, void **state, char *err, size_t errlen);
  int (*start)(void *state, void *shared, us_stack *s, us_time_t now, char *err, size_t errlen);
  void (*stop)(void *state, void *shared, us_stack *s, us_time_t now);
  bool (*finished)(void *state, void *shared, int *status);
};

/*
 * The services of one run, in command-line order, and their groups'
 * shared blocks (svc_set.c). Zero-initialised is empty.
 */
#define SVC_MAX_INSTANCES 32
#define SVC_MAX_GROUPS    8

struct svc_instance {
  const struct svc_desc *desc;
  void *state;
  void *shared; /* the group's block, or NULL */
  bool started, stopped;
};

struct svc_set {
  struct svc_instance inst[SVC_MAX_INSTANCES];
  unsigned n;
  struct {
    const struct svc_group *group;
    void *shared;
  } groups[SVC_MAX_GROUPS];
  unsigned ngroups;
};

/* Parse one occurrence of `sd` with its value. 0, or -1 with a line in
 * err that starts with the option's name. */
int svc_set_parse(struct svc_set *set, const struct svc_desc *sd, const char *arg, char *err,
                  size_t errlen);
/* Every group's check. 0, or -1 with a line in err. */
int svc_set_check(struct svc_set *set, char *err, size_t errlen);
/* Start every service in command-line order. 0, or -1 with a line in err
 * ("--option: why"). */
int svc_set_start(struct svc_set *set, us_stack *s, us_time_t now, char *err, size_t errlen);
/* True when a one-shot service asks the daemon to exit (*status set). */
bool svc_set_finished(struct svc_set *set, int *status);
/* Stop services in reverse order, each exactly once. */
void svc_set_stop(struct svc_set *set, us_stack *s, us_time_t now);
/* Free the groups' blocks (after svc_set_stop). */
void svc_set_free(struct svc_set *set);

/* Parse a port number 1..65535 (helper for services). 0 or -1 with err. */
int svc_parse_port(const char *arg, uint16_t *port, char *err, size_t errlen);
/* Parse a non-negative decimal integer. 0 or -1 with err. */
int svc_parse_u64(const char *arg, uint64_t *out, char *err, size_t errlen);

/* The UDP echo service (RFC 862 over UDP), udp_echo.c. */
extern const struct svc_desc svc_udp_echo;

#endif
