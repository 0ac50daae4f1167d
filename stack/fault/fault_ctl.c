/*
 * fault_ctl.c - the injector's control-socket commands ("fault show",
 * "fault set SPEC", "fault clear", "fault reset"; fault.h): text in, text
 * out, so the daemon only forwards lines.
 */
#include <stdio.h>
#include <string.h>

#include "fault.h"

static void ctl_show(struct us_fault *f, char *out, size_t outlen) {
  int n = snprintf(out, outlen, "spec: '%s'\nseed: %llu\nheld: %u\n", us_fault_spec(f),
                   (unsigned long long)us_fault_seed(f), us_fault_held(f));
  if (n >= 0 && (size_t)n < outlen)
    us_fault_format(f, out + n, outlen - (size_t)n);
}

static void ctl_set(struct us_fault *f, const char *spec, char *out, size_t outlen) {
  while (*spec == ' ')
    spec++;
  char err[256] = "";
  if (us_fault_set(f, spec, err, sizeof err) == 0)
    snprintf(out, outlen, "ok: fault spec set: '%s' (seed %llu)\n", us_fault_spec(f),
             (unsigned long long)us_fault_seed(f));
  else
    snprintf(out, outlen, "error: %s\n", err);
}

int us_fault_ctl_command(struct us_fault *f, const char *cmd, char *out, size_t outlen) {
  if (!cmd || strncmp(cmd, "fault", 5) != 0 || (cmd[5] != '\0' && cmd[5] != ' '))
    return 0;
  if (!out || outlen == 0)
    return 1;
  out[0] = '\0';
  const char *arg = cmd + 5;
  while (*arg == ' ')
    arg++;
  if (!f) {
    snprintf(out, outlen, "error: no fault injector (start ustackd with --fault SPEC)\n");
    return 1;
  }
  if (*arg == '\0' || strcmp(arg, "show") == 0) {
    ctl_show(f, out, outlen);
  } else if (strncmp(arg, "set", 3) == 0 && (arg[3] == ' ' || arg[3] == '\0')) {
    ctl_set(f, arg + 3, out, outlen);
  } else if (strcmp(arg, "clear") == 0) {
    us_fault_clear(f);
    snprintf(out, outlen, "ok: fault cleared\n");
  } else if (strcmp(arg, "reset") == 0) {
    us_fault_counters_reset(f);
    snprintf(out, outlen, "ok: fault counters reset\n");
  } else {
    snprintf(out, outlen, "error: unknown fault command '%s' (show, set SPEC, clear, reset)\n",
             arg);
  }
  return 1;
}
