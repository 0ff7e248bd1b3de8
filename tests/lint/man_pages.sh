#!/bin/sh
# SPDX-License-Identifier: MIT
# Lints every man page man/*.[1-8] with `groff -man -ww -z`: all warnings on, output
# discarded. A page passes only if groff exits 0 and prints nothing at all.
#
# Usage: tests/lint/man_pages.sh [SOURCE_ROOT]   (default: two levels above this script)
# Exit status: 0 all pages clean, 1 a page has warnings or errors (or there is no page),
# 77 groff is not installed (meson reports the test as skipped).
set -u

root=${1:-$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)}
mandir=$root/man

if ! command -v groff >/dev/null 2>&1; then
    echo "man_pages: groff not found; skipping" >&2
    exit 77
fi

status=0
count=0
for page in "$mandir"/*.[1-8]; do
    [ -e "$page" ] || continue
    count=$((count + 1))
    # -ww: every warning; -z: no output; -man: the man macros. stderr and stdout both
    # count: groff prints warnings as "troff: <file>:<line>: warning: ...".
    out=$(groff -man -ww -z "$page" 2>&1)
    rc=$?
    if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
        echo "man_pages: ${page#"$root"/}: groff exit status $rc" >&2
        [ -n "$out" ] && printf '%s\n' "$out" >&2
        status=1
    else
        echo "man_pages: ${page#"$root"/}: ok"
    fi
done

if [ "$count" -eq 0 ]; then
    echo "man_pages: no man page found in $mandir" >&2
    exit 1
fi
exit $status
