#!/usr/bin/env bash
# check-counters.sh - every counter in a *.def list is moved somewhere.
#
# A counter that nothing increments reads 0 forever and tells the operator
# "this never happens" when the truth is "we never looked". For each
# US_STAT_DEF(name, "...") or X(name, "...") line:
#   include/ustack/stats/*.def: some .c/.h under stack/ or apps/ must call
#     US_STAT_INC/ADD/DEC (or a layer's wrapper, e.g. TLS_STAT_INC) on it;
#   apps/ustackd/httpd_counters.def: some .c under apps/ustackd must call
#     HTTPD_INC/HTTPD_ADD on it or name HTTPD_<name> (an index into svc->ctr[]).
# Either increment the counter where its event happens or delete its line.
#
# Usage: scripts/check-counters.sh [REPO_ROOT]     exit 0 clean, 1 otherwise
set -euo pipefail

root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$root"

# X(name, ...) in apps' lists, US_STAT_DEF(name, ...) in the public ones.
names() { sed -n -E 's/^(X|US_STAT_DEF)\(([A-Za-z0-9_]+),.*/\2/p' "$@"; }

mapfile -t stack_ctrs < <(names include/ustack/stats/*.def)
if [[ ${#stack_ctrs[@]} -eq 0 ]]; then
  echo "check-counters: no counters found in include/ustack/stats/*.def" >&2
  exit 1
fi
# Every increment site once, as "name" lines, then look each counter up.
used=$(grep -rhoE '[A-Z_]*STAT_(INC|ADD|DEC)\([^,()]*(\([^()]*\))?[^,()]*, *[a-z0-9_]+' \
  stack apps --include='*.c' --include='*.h' | sed -E 's/.*, *//' | sort -u)
missing=()
for n in "${stack_ctrs[@]}"; do
  grep -qx "$n" <<<"$used" || missing+=("include/ustack/stats: $n")
done

httpd_def=apps/ustackd/httpd_counters.def
n_httpd=0
if [[ -f $httpd_def ]]; then
  mapfile -t httpd_ctrs < <(names "$httpd_def")
  n_httpd=${#httpd_ctrs[@]}
  for n in "${httpd_ctrs[@]}"; do
    grep -rqE "\bHTTPD_$n\b|HTTPD_(INC|ADD)\([^,]*, *$n\b" apps/ustackd --include='*.c' ||
      missing+=("$httpd_def: $n")
  done
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  printf '%s\n' "${missing[@]}" >&2
  echo "check-counters: FAILED, ${#missing[@]} counter(s) never incremented: increment them where the event happens, or delete the line" >&2
  exit 1
fi
echo "check-counters: OK (${#stack_ctrs[@]} stack and $n_httpd httpd counters are all incremented somewhere)"
