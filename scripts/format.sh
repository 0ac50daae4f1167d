#!/usr/bin/env bash
# format.sh - apply the project's .clang-format to every C file in the tree.
#
#   scripts/format.sh            reformat in place
#   scripts/format.sh --check    change nothing; list files that differ, exit 1 if any
#   scripts/format.sh FILE...    reformat only these files
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "format.sh: clang-format not installed (scripts/setup.sh installs it)" >&2; exit 2; }
check=0
if [[ ${1:-} == --check ]]; then check=1; shift; fi
if (($#)); then files=("$@"); else
  mapfile -t files < <(git ls-files '*.c' '*.h')
fi
if ((check)); then
  bad=0
  for f in "${files[@]}"; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then echo "format.sh: $f differs from .clang-format" >&2; bad=1; fi
  done
  exit $bad
fi
clang-format -i "${files[@]}"
