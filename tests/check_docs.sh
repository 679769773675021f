#!/usr/bin/env bash
# Every type and function of the public headers is documented: Doxygen (docs/Doxyfile) builds
# the API reference into a temporary folder and must print no warning.
# Usage: tests/check_docs.sh [REPO_ROOT]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
{ cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $out"; echo "WARN_LOGFILE = $out/warnings.log"; } |
  doxygen - > "$out/doxygen.out" 2>&1
if [ -s "$out/warnings.log" ]; then
  echo "undocumented or badly documented in the public headers ($(wc -l < "$out/warnings.log")):"
  cat "$out/warnings.log"
  exit 1
fi
echo "every public type and function is documented"
