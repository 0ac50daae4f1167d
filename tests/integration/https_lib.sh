# shellcheck shell=bash
# https_lib.sh - helpers shared by the HTTPS/TLS integration tests (on top of
# lib.sh and tcp_lib.sh): a demo CA and server certificate made fresh for the
# test, a document root, ustackd started with --https, and curl in the
# namespace with the CA file.
#
#   https_certs                 $IT_CERTS/{ca,ca-key,server,server-key}.pem
#   https_root                  $IT_ROOT with index.html ($HTTPS_INDEX_MARK)
#   https_start [ARGS...]       it_start --https 443 ... --ctl ... ARGS
#   it_curl ARGS...             curl --cacert ca.pem in the namespace (bounded)
#   https_wait_only_listener S  wait (bounded) until ustack-ss lists nothing
#                               but the listener on port 443

HTTPS_PORT=443
IT_CERTS=$IT_WORK/certs
IT_ROOT=$IT_WORK/www
HTTPS_INDEX_MARK="hello from ustack over TLS $$"

https_certs() {
  "$US_ROOT/scripts/gen-certs.sh" "$IT_CERTS" >/dev/null || it_fail "gen-certs.sh failed"
  [[ -s $IT_CERTS/ca.pem && -s $IT_CERTS/server.pem && -s $IT_CERTS/server-key.pem ]] ||
    it_fail "gen-certs.sh made no certificates in $IT_CERTS"
}

https_root() {
  mkdir -p "$IT_ROOT"
  printf '<!doctype html>\n<html><body><h1>%s</h1></body></html>\n' "$HTTPS_INDEX_MARK" \
    >"$IT_ROOT/index.html"
}

https_start() {
  https_certs
  https_root
  it_start --https "$HTTPS_PORT" --cert "$IT_CERTS/server.pem" --key "$IT_CERTS/server-key.pem" \
    --root "$IT_ROOT" --ctl "$IT_WORK/ctl.sock" "$@"
}

# curl with the demo CA, inside the namespace; every call bounded in time.
it_curl() {
  ns_exec timeout "${IT_CURL_TIMEOUT:-60}" curl -sS --cacert "$IT_CERTS/ca.pem" "$@"
}

# ustack-ss lines for TCP connections other than the HTTPS listener (the
# header line, if any, is not a connection: it has no address:port).
# Fails when ustack-ss fails or does not list the listener: an empty answer
# must not pass for "nothing left".
https_other_conns() {
  local out
  out=$(it_ss) || { echo "(ustack-ss failed)"; return 1; }
  grep -qE "^LISTEN .*\\*:$HTTPS_PORT " <<<"$out" || { echo "(no listener in: $out)"; return 1; }
  grep -E '[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+' <<<"$out" |
    grep -vE "^LISTEN .*\\*:$HTTPS_PORT " || true
}

# Wait up to SECS seconds until no connection but the listener is left.
https_wait_only_listener() {
  local secs=${1:-10} i left
  for ((i = 0; i < secs * 10; i++)); do
    left=$(https_other_conns) && [[ -z $left ]] && return 0
    sleep 0.1
  done
  return 1
}
