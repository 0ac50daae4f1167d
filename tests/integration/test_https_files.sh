#!/usr/bin/env bash
# Certificates and keys are read from PEM files at start-up: a missing,
# unreadable, malformed or mismatched file must give ONE clear line on
# stderr and a non-zero exit, before anything is served. RSA and EC keys
# with a full chain must both start.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
it_begin https_files
a=$IT_WORK/a b=$IT_WORK/b rsa=$IT_WORK/rsa www=$IT_WORK/www
"$US_ROOT/scripts/gen-certs.sh" "$a" >/dev/null
"$US_ROOT/scripts/gen-certs.sh" "$b" >/dev/null
"$US_ROOT/scripts/gen-certs.sh" --rsa "$rsa" >/dev/null
mkdir -p "$www"
printf 'not a pem file\n' >"$IT_WORK/garbage.pem"
head -c 100 "$a/server-key.pem" >"$IT_WORK/truncated-key.pem"

expect_error() { # name cert key regex
  local out rc=0
  out=$(ns_exec timeout 10 "$USTACKD" --dev tun0 --host "$US_HOST" --addr "$US_ADDR" \
    --https 443 --cert "$2" --key "$3" --root "$www" 2>&1) || rc=$?
  [[ $rc -ne 0 ]] || it_fail "$1: ustackd started (exit 0)"
  [[ $(printf '%s\n' "$out" | wc -l) -eq 1 ]] || it_fail "$1: expected one line, got: $out"
  grep -qE "$4" <<<"$out" || it_fail "$1: message '$out' does not match /$4/"
  it_ok "$1: exit $rc, '$out'"
}
expect_error "missing cert" "$IT_WORK/none.pem" "$a/server-key.pem" "No such file"
expect_error "unreadable key (a directory)" "$a/server.pem" "$IT_WORK" "not a regular file"
expect_error "malformed key" "$a/server.pem" "$IT_WORK/garbage.pem" "no PEM object"
expect_error "truncated key" "$a/server.pem" "$IT_WORK/truncated-key.pem" "key|PEM"
expect_error "malformed cert" "$IT_WORK/garbage.pem" "$a/server-key.pem" "no PEM object"
expect_error "mismatched key" "$a/server.pem" "$b/server-key.pem" "does not match"

for kind in a rsa; do
  dir=$IT_WORK/$kind
  it_start --https 443 --cert "$dir/server.pem" --key "$dir/server-key.pem" --root "$www"
  echo hi >"$www/hi.txt"
  got=$(ns_exec timeout 10 curl -sS --cacert "$dir/ca.pem" "https://$US_ADDR/hi.txt") ||
    it_fail "curl with the $kind chain"
  [[ $got == hi ]] || it_fail "$kind: got '$got'"
  it_ok "$( [[ $kind == a ]] && echo EC || echo RSA ) key with its chain serves and verifies"
  it_stop
done
it_end
