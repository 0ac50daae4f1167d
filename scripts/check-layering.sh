#!/usr/bin/env bash
# check-layering.sh - the protocol core is sans-IO (DESIGN.md sections 1-2).
#
# Fails when a C file outside stack/platform/, apps/ and tests/ includes an
# operating-system header or calls a system interface (I/O, clocks, kernel
# randomness, event loops, signals, threads). Comments and string literals
# are ignored, and calls through a struct member (dev->write(...)) are not
# system calls.
#
# Usage: scripts/check-layering.sh [REPO_ROOT]     exit 0 clean, 1 violations
set -euo pipefail

root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$root"

# Every C source and header that is not allowed to talk to the OS.
mapfile -t files < <(find stack include -type f \( -name '*.c' -o -name '*.h' \) \
  -not -path 'stack/platform/*' | LC_ALL=C sort)
if [[ ${#files[@]} -eq 0 ]]; then
  echo "check-layering: no files found under $root/stack and $root/include" >&2
  exit 1
fi

# Perl does the matching so that comments and strings can be blanked first
# while keeping line numbers. It prints "file:line: what" per violation.
violations=$(perl -e '
  my $hdr = qr{unistd\.h|sys/[^>]+|time\.h|fcntl\.h|pthread\.h|threads\.h|poll\.h|
               signal\.h|sched\.h|termios\.h|dirent\.h|dlfcn\.h|semaphore\.h|netdb\.h|
               ifaddrs\.h|netinet/[^>]+|arpa/[^>]+|net/[^>]+|linux/[^>]+|asm/[^>]+|
               syslog\.h|spawn\.h|mqueue\.h|aio\.h}x;
  my $call = qr{read|write|pread|pwrite|readv|writev|recv|recvfrom|recvmsg|send|sendto|
                sendmsg|open|openat|close|creat|fopen|fdopen|freopen|ioctl|fcntl|socket|
                bind|listen|accept|accept4|connect|select|pselect|poll|ppoll|
                epoll_[a-z_]+|timerfd_[a-z_]+|signalfd|eventfd|
                clock_gettime|clock_getres|gettimeofday|time|clock|nanosleep|usleep|sleep|
                getrandom|getentropy|rand|srand|random|srandom|rand_r|drand48|arc4random|
                fork|vfork|execv|execve|execvp|execl|execlp|execle|system|popen|
                signal|sigaction|raise|kill|mmap|munmap|pthread_[a-z_]+|getenv|syscall}x;
  my $bad = 0;
  for my $f (@ARGV) {
    open(my $fh, "<", $f) or die "cannot read $f: $!\n";
    local $/; my $src = <$fh>; close $fh;
    # Blank comments and literals, keeping newlines so line numbers hold.
    $src =~ s{(/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\x27(?:\\.|[^\x27\\\n])*\x27)}
             { (my $k = $1) =~ s/[^\n]/ /g; $k }gse;
    my $n = 0;
    for my $line (split /\n/, $src, -1) {
      $n++;
      if ($line =~ m{^\s*#\s*include\s*<($hdr)>}) {
        print "$f:$n: includes <$1>, an OS header\n"; $bad++;
      }
      if ($line =~ m{^\s*#\s*define\s+(_GNU_SOURCE|_POSIX_C_SOURCE|_XOPEN_SOURCE|_DEFAULT_SOURCE)\b}) {
        print "$f:$n: defines $1 (only stack/platform and apps talk to the OS)\n"; $bad++;
      }
      while ($line =~ m{(?<![\w.>])($call)\s*\(}g) {
        print "$f:$n: calls $1(), a system interface\n"; $bad++;
      }
    }
  }
  exit($bad ? 1 : 0);
' "${files[@]}")  && status=0 || status=$?

if [[ $status -ne 0 ]]; then
  if [[ -z $violations ]]; then
    echo "check-layering: the checker itself failed (status $status)" >&2
    exit 1
  fi
  printf '%s\n' "$violations" >&2
  count=$(printf '%s\n' "$violations" | wc -l)
  cat >&2 <<MSG
check-layering: FAILED, $count violation(s).
  The protocol core (stack/wire, core, ip, tcp, sock, tls and include/) is
  sans-IO: it must not include OS headers or make system calls. Time comes
  in as 'now', randomness from cfg.rand, output goes through us_device.
  Move OS code to stack/platform/ or apps/.
MSG
  exit 1
fi
echo "check-layering: OK (${#files[@]} files in the core are free of OS headers and system calls)"
