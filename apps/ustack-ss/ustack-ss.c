/*
 * ustack-ss - show ustack's TCP connections and counters, like `ss -tani`
 * and `nstat`, by asking a running ustackd over its control socket.
 *
 *   ustack-ss [--ctl PATH]          connections
 *   ustack-ss -s [-a] [--ctl PATH]  counters (-a: zeros too)
 *   ustack-ss --pools               pool occupancy
 *   ustack-ss --cmd 'LINE'          any control command (e.g. "fault show")
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_CTL "/run/ustackd.ctl"

static void usage(FILE *f) {
  fprintf(f,
          "usage: ustack-ss [--ctl PATH] [-s [-a] | --pools | --cmd LINE]\n"
          "  (no option)  TCP connections: state, queues, congestion control, RTT, cwnd,\n"
          "               recovery, SACKed bytes, timers\n"
          "  -s           counters, nstat style (non-zero only; -a for all)\n"
          "  --pools      packet/TCB/socket pool occupancy\n"
          "  --cmd LINE   send a raw control command (e.g. 'fault show')\n"
          "  --ctl PATH   control socket of ustackd (default %s, or $USTACK_CTL)\n",
          DEFAULT_CTL);
}

int main(int argc, char **argv) {
  const char *path = getenv("USTACK_CTL") ? getenv("USTACK_CTL") : DEFAULT_CTL;
  char cmd[1024] = "ss";
  int stats = 0, all = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--ctl") && i + 1 < argc) {
      path = argv[++i];
    } else if (!strcmp(argv[i], "-s")) {
      stats = 1;
    } else if (!strcmp(argv[i], "-a")) {
      all = 1;
    } else if (!strcmp(argv[i], "--pools")) {
      snprintf(cmd, sizeof cmd, "pools");
    } else if (!strcmp(argv[i], "--cmd") && i + 1 < argc) {
      snprintf(cmd, sizeof cmd, "%s", argv[++i]);
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "ustack-ss: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (stats)
    snprintf(cmd, sizeof cmd, "%s", all ? "stats -a" : "stats");

  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  if (strlen(path) >= sizeof sa.sun_path) {
    fprintf(stderr, "ustack-ss: control socket path too long\n");
    return 1;
  }
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    fprintf(stderr, "ustack-ss: cannot reach ustackd at %s: %s (is it running with --ctl?)\n", path,
            strerror(errno));
    return 1;
  }
  size_t len = strlen(cmd);
  cmd[len++] = '\n';
  if (write(fd, cmd, len) != (ssize_t)len) {
    fprintf(stderr, "ustack-ss: write: %s\n", strerror(errno));
    return 1;
  }
  shutdown(fd, SHUT_WR);
  char buf[65536];
  ssize_t r;
  int status = 0;
  int first = 1;
  while ((r = read(fd, buf, sizeof buf)) > 0) {
    if (first && r >= 6 && !memcmp(buf, "error:", 6))
      status = 1;
    first = 0;
    fwrite(buf, 1, (size_t)r, stdout);
  }
  close(fd);
  return status;
}
