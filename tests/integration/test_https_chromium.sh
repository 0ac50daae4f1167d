#!/usr/bin/env bash
# A real browser on the stack: headless Chromium (Debian's chromium), run
# inside the namespace with its background networking off, trusts the demo
# CA through a fresh NSS database (certutil, libnss3-tools) in a temporary
# HOME, loads https://10.0.0.2/status, and
#  - its DOM is the status page (a certificate error would show Chromium's
#    interstitial instead; a run without the CA proves that it would),
#  - its screenshot is a PNG of the expected size that is not blank.
IT_DIR0=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CHROMIUM=${CHROMIUM:-chromium}
# Before lib.sh's namespace: without the browser the test cannot run.
missing=""
command -v "$CHROMIUM" >/dev/null || missing="$CHROMIUM (apt-get install chromium)"
command -v certutil >/dev/null || missing="${missing:+$missing, }certutil (apt-get install libnss3-tools)"
if [[ -n $missing ]]; then
  if [[ ${CI:-} == true ]]; then
    echo "FAIL https_chromium: cannot run: not installed: $missing (CI=true: a test that cannot run fails)" >&2
    exit 1
  fi
  echo "SKIP https_chromium: not installed: $missing" >&2
  exit 77
fi

source "$IT_DIR0/lib.sh"
it_begin https_chromium
source "$IT_DIR/tcp_lib.sh"
source "$IT_DIR/https_lib.sh"
# shellcheck disable=SC2119 # https_start takes extra ustackd options, none here
https_start
STATUS_URL="https://$US_ADDR/status"

# A fresh HOME holding only the NSS database, with the demo CA trusted for
# TLS servers ("C,,": a CA trusted to issue server certificates).
nss_home() { # nss_home DIR [CA]
  mkdir -p "$1/.pki/nssdb" "$1/.config" "$1/.cache"
  certutil -d "sql:$1/.pki/nssdb" -N --empty-password || it_fail "certutil -N in $1"
  if [[ -n ${2:-} ]]; then
    certutil -d "sql:$1/.pki/nssdb" -A -n "ustack demo CA" -t "C,," -i "$2" ||
      it_fail "certutil -A $2"
  fi
}
nss_home "$IT_WORK/home" "$IT_CERTS/ca.pem"
certutil -d "sql:$IT_WORK/home/.pki/nssdb" -L | grep -q 'ustack demo CA' ||
  it_fail "the demo CA is not in the NSS database"
nss_home "$IT_WORK/home-noca"

# chromium_run NAME HOME ARGS...: one headless Chromium in the namespace,
# fresh profile, bounded in time; stdout to NAME.out, stderr to NAME.err.
chromium_run() {
  local name=$1 home=$2
  shift 2
  local rc=0
  ns_exec env HOME="$home" XDG_CONFIG_HOME="$home/.config" XDG_CACHE_HOME="$home/.cache" \
    timeout -k 5 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --disable-sync \
    --no-first-run --disable-quic --disable-dev-shm-usage --no-default-browser-check \
    --user-data-dir="$IT_WORK/profile-$name" "$@" \
    >"$IT_WORK/$name.out" 2>"$IT_WORK/$name.err" || rc=$?
  [[ $rc -ne 124 && $rc -ne 137 ]] || it_fail "chromium ($name) did not finish within 90 s"
  return $rc
}

# 1. The DOM: the status page itself, served over TLS by the stack.
chromium_run dom "$IT_WORK/home" --dump-dom "$STATUS_URL" ||
  it_fail "chromium --dump-dom failed: $(tail -n 5 "$IT_WORK/dom.err")"
grep -qF '<title>ustack status</title>' "$IT_WORK/dom.out" ||
  it_fail "the DOM is not the status page (certificate error?): $(head -c 600 "$IT_WORK/dom.out")"
grep -qF "ustack on $US_ADDR" "$IT_WORK/dom.out" || it_fail "the status page has no 'ustack on $US_ADDR'"
grep -qE '<td class="l">ESTABLISHED</td>' "$IT_WORK/dom.out" ||
  it_fail "the status page lists no ESTABLISHED connection (Chromium's own)"
it_ok "chromium --dump-dom: the status page, with Chromium's own connection ESTABLISHED"

# 2. Control: without the CA, Chromium must refuse the certificate, so
# that the check above really shows the chain was verified.
chromium_run noca "$IT_WORK/home-noca" --dump-dom "$STATUS_URL" || true
if grep -qF "ustack on $US_ADDR" "$IT_WORK/noca.out"; then
  it_fail "Chromium showed the page without the demo CA: the certificate was not checked"
fi
why=$(grep -ohiE 'ERR_CERT_[A-Z_]+|not private|privacy error' "$IT_WORK/noca.out" "$IT_WORK/noca.err" |
  head -n 1 || true)
[[ -n $why ]] || it_fail "without the CA, no certificate error shown: $(head -c 400 "$IT_WORK/noca.out")"
it_ok "control: without the demo CA in NSS, Chromium refuses the page ($why)"

# 3. The screenshot: a PNG of the window's size, not blank.
shot=$IT_WORK/status.png
chromium_run shot "$IT_WORK/home" --window-size=1024,768 --hide-scrollbars \
  --screenshot="$shot" "$STATUS_URL" || it_fail "chromium --screenshot failed: $(tail -n 5 "$IT_WORK/shot.err")"
[[ -s $shot ]] || it_fail "no screenshot written ($(tail -n 3 "$IT_WORK/shot.err"))"
png=$(python3 "$IT_DIR/chromium_png.py" "$shot" 1024 768) || it_fail "screenshot: $png"
it_ok "screenshot $(stat -c %s "$shot") bytes: ${png#chromium_png: }"
if [[ -n ${IT_KEEP_SCREENSHOT:-} ]]; then cp "$shot" "$IT_KEEP_SCREENSHOT"; fi

it_stop
hs=$(it_counter tls_handshakes)
[[ $hs -ge 2 ]] || it_fail "tls_handshakes = $hs: Chromium did not complete TLS handshakes with the stack"
it_ok "counters: tls_handshakes = $hs"
it_end
