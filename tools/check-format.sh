#!/usr/bin/env bash
# Checks that the C++ sources (dsp acquisition pipeline report tools tests bench) are formatted as
# .clang-format says: `clang-format --dry-run --Werror`, one message per difference (file:line).
# Exit 0 when clean, 1 when a file would change, 2 when clang-format is missing.
#   tools/check-format.sh          check
#   tools/check-format.sh --fix    reformat those files in place (clang-format -i)
# CLANG_FORMAT picks the binary (default clang-format; Debian's clang-format, tools/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cf="${CLANG_FORMAT:-clang-format}"
if ! command -v "$cf" >/dev/null; then
  echo "check-format: '$cf' not found (Debian package clang-format; tools/install-deps.sh)" >&2
  exit 2
fi
mapfile -d '' files < <(find dsp acquisition pipeline report tools tests bench -type f \
  \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) -not -path '*/node_modules/*' -print0 | sort -z)
if [ "${1:-}" = "--fix" ]; then
  "$cf" -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  "$cf" --dry-run --Werror "$f" 2>&1 | head -n 3 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: ${#bad[@]} of ${#files[@]} files differ from .clang-format" \
       "(first differences above; tools/check-format.sh --fix reformats them)" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted as .clang-format says"
