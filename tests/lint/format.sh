#!/bin/sh
# SPDX-License-Identifier: MIT
# Every C++ source and header under daemon/, ctl/, lib/ and tests/ is formatted as the
# project's .clang-format says (`make format` fixes a tree; this only reports).
# Usage: format.sh SOURCE_ROOT
set -eu
src="$1"
if ! command -v clang-format >/dev/null 2>&1; then
    echo "clang-format is missing (package clang-format)" >&2
    exit 1
fi
cd "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    files=$(git ls-files -- daemon ctl lib tests bench | grep -E '\.(cc|h)$' || true)
else
    files=$(find daemon ctl lib tests bench -name node_modules -prune -o \( -name '*.cc' -o -name '*.h' \) -print)
fi
n=$(echo "$files" | wc -w)
# One clang-format for all files (fast); on a difference, name each file that differs.
# shellcheck disable=SC2086
if clang-format --dry-run --Werror $files >/dev/null 2>&1; then
    echo "format: $n files ok"
    exit 0
fi
bad=0
for f in $files; do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (run: clang-format -i $f, or make format)"
        bad=$((bad + 1))
    fi
done
echo "format: $bad of $n files differ from .clang-format"
exit 1
