#!/usr/bin/env bash
# setup.sh - everything a fresh Debian machine needs, then a build.
#
#   sudo scripts/setup.sh              install packages (apt-get), build into build/
#   scripts/setup.sh --no-install      build only (no root needed)
#   sudo scripts/setup.sh --no-build   install only
#
# Dependencies are Debian packages only (issue 2): the toolchain and cmocka
# to build and unit-test, BearSSL and http-parser for TLS/HTTPS, and the
# peer-side tools the integration tests drive from the namespace.
set -euo pipefail

usage_text() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}

PACKAGES=(
  build-essential cmake pkg-config clang          # toolchain (clang: fuzzing)
  clang-format                                    # scripts/format.sh (.clang-format)
  libcmocka-dev                                   # unit tests
  libbearssl-dev libhttp-parser-dev               # TLS, HTTPS demo
  iproute2 iputils-ping netcat-openbsd curl openssl # peers in the namespace
  tcpdump tshark nftables hping3 python3          # capture, faults, raw packets
  procps util-linux                               # sysctl, setpriv
  chromium libnss3-tools fonts-liberation         # the status page in a real browser
  libclang-rt-14-dev                              # libFuzzer runtime for clang
  wrk apache2-utils slowhttptest testssl.sh nmap  # the load and attack tools users run
  valgrind liblwip-dev                            # profiling; lwIP for the benchmark
)

install=1
build=1
for a in "$@"; do
  case $a in
  --no-install) install=0 ;;
  --no-build) build=0 ;;
  -h | --help)
    usage_text
    exit 0
    ;;
  *)
    echo "setup.sh: unknown option '$a' (try --help)" >&2
    exit 2
    ;;
  esac
done

if [[ $install -eq 1 ]]; then
  if [[ $EUID -ne 0 ]]; then
    echo "setup.sh: installing packages needs root: run 'sudo scripts/setup.sh' (or --no-install)" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null; then
    echo "setup.sh: apt-get not found: this script supports Debian and derivatives" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  echo "==> apt-get update"
  apt-get update -q
  echo "==> apt-get install ${PACKAGES[*]}"
  # tshark asks whether non-root users may capture: answer no, without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
fi

if [[ $build -eq 1 ]]; then
  echo "==> cmake configure ($BUILD)"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo
  echo "==> cmake build"
  cmake --build "$BUILD" -j"$(nproc)"
  echo "==> built: $BUILD/apps/ustackd/ustackd"
fi
echo "setup.sh: done. Next: sudo scripts/demo.sh   or   sudo scripts/test.sh"
