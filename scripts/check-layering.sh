#!/usr/bin/env bash
# check-layering.sh - the protocol core is sans-IO and the arrows between
# layers point down (docs/ARCHITECTURE.md, "Layers").
#
# 1. Fails when a C file outside stack/platform/, apps/ and tests/ includes
#    an operating-system header or calls a system interface (I/O, clocks,
#    kernel randomness, event loops, signals, threads). Comments and string
#    literals are ignored, and calls through a struct member
#    (dev->write(...)) are not system calls.
# 2. Fails when a file includes a header of a layer it may not use. Every
#    layer may use the public API (include/ustack) and its own folder; the
#    rest is this table (tests/ may use anything):
#       wire      -> nothing of ours
#       core      -> wire
#       ip        -> core, wire
#       udp       -> ip, core, wire
#       tcp       -> ip, core, wire
#       assembly  -> tcp, udp, ip, core, wire
#       tls       -> core, wire (TCP only through the public API: us_tls_transport)
#       fault     -> core, wire (the fault injector, beside the protocol layers)
#       platform  -> assembly, tcp, udp, ip, fault, core, wire (anything below tls; no apps)
#       apps      -> platform (and other apps/ folders, e.g. apps/common)
#       include/  -> include/ only
#    A layer's private headers (*_int.h, *_internal.h) are for its own
#    folder only, whatever the table allows.
#    A folder under stack/ that has no row here fails, so a new layer comes
#    with its row (its arrows) from its first file.
#    An include is resolved as the compiler would: the including file's own
#    folder, then stack/, include/, stack/platform/ (apps' path) and apps/*.
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
  The protocol core (stack/wire, core, ip, udp, tcp, assembly, tls and include/) is
  sans-IO: it must not include OS headers or make system calls. Time comes
  in as 'now', randomness from cfg.rand, output goes through us_device.
  Move OS code to stack/platform/ or apps/.
MSG
  exit 1
fi
echo "check-layering: OK (${#files[@]} files in the core are free of OS headers and system calls)"

# ---- 2. The arrows -------------------------------------------------------
# Known exceptions, "file:included-header  why". None today: add one only
# with the reason and the issue that will remove it.
arrow_exceptions=()

mapfile -t all_files < <(find stack include apps -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)
arrows=$(ARROW_EXC="$(printf "%s\n" "${arrow_exceptions[@]+"${arrow_exceptions[@]}"}")" perl -e '
  my %allow = (
    wire => [], core => [qw(wire)], ip => [qw(core wire)], udp => [qw(ip core wire)],
    tcp => [qw(ip core wire)], assembly => [qw(tcp udp ip core wire)],
    tls => [qw(core wire)], fault => [qw(core wire)],
    platform => [qw(assembly tcp udp ip fault core wire)], apps => [qw(platform)], include => [],
  );
  my %exc = map { (split /\s+/, $_, 2)[0] => 1 } grep { length } split /\n/, $ENV{ARROW_EXC} // "";
  my @appdirs = grep { -d } glob("apps/*");
  my $bad = 0;
  for my $f (@ARGV) {
    my $layer = $f =~ m{^stack/(\w+)/} ? $1 : $f =~ m{^apps/} ? "apps" : "include";
    unless (exists $allow{$layer}) {
      # A new folder is a new layer: it needs its row before it may build.
      print "$f: stack/$layer is not in the layer table (add its row)\n";
      $bad++;
      next;
    }
    (my $dir = $f) =~ s{/[^/]+$}{};
    open(my $fh, "<", $f) or die "cannot read $f: $!\n";
    my $n = 0;
    while (my $l = <$fh>) {
      $n++;
      next unless $l =~ m{^\s*#\s*include\s*([<"])([^>"]+)[>"]};
      my ($q, $x) = ($1, $2);
      my $to;
      if ($q eq "\"" && -e "$dir/$x") {
        my $p = "$dir/$x";
        $to = $p =~ m{^stack/(\w+)/} ? $1 : $p =~ m{^apps/} ? "apps" : "include";
      } elsif ($x =~ m{^(\w+)/} && -d "stack/$1" && -e "stack/$x") { $to = $1; }
      elsif (-e "include/$x") { $to = "include"; }
      elsif ($q eq "\"" && -e "stack/platform/$x") { $to = "platform"; }
      elsif ($q eq "\"" && grep { -e "$_/$x" } @appdirs) { $to = "apps"; }
      else { next; }  # a system or third-party header: part 1 judges those
      if ($to ne $layer && $x =~ m{(?:^|/)\w+_(?:int|internal)\.h$}) {
        print "$f:$n: $layer includes \"$x\", a header private to stack/$to\n";
        $bad++;
        next;
      }
      next if $to eq "include" || $to eq $layer;
      next if grep { $_ eq $to } @{$allow{$layer}};
      next if $exc{"$f:$x"};
      print "$f:$n: $layer includes \"$x\" ($to): not an arrow of the table\n";
      $bad++;
    }
  }
  exit($bad ? 1 : 0);
' "${all_files[@]}")  && status=0 || status=$?
if [[ $status -ne 0 ]]; then
  if [[ -z $arrows ]]; then
    echo "check-layering: the arrow checker itself failed (status $status)" >&2
    exit 1
  fi
  printf '%s\n' "$arrows" >&2
  echo "check-layering: FAILED, $(printf "%s\n" "$arrows" | wc -l) violation(s) of the layer table (see the top of $0)" >&2
  exit 1
fi
echo "check-layering: OK (${#all_files[@]} files in stack/, include/ and apps/ include only the layers below them)"
