#!/bin/sh
# SPDX-License-Identifier: MIT
# `systemd-analyze verify` on the systemd units, with ExecStart pointing at the built
# gafferd (verify checks that the binary exists). Usage: units.sh SOURCE_ROOT GAFFERD
set -eu
src="$1"
gafferd="$2"
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze is missing (package systemd)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s|@sbindir@/gafferd|$gafferd|" -e "s|@sysconfdir@|/etc|" "$src/units/gafferd.service.in" > "$tmp/gafferd.service"
cp "$src/units/gafferd.socket" "$tmp/gafferd.socket"
out=$(cd "$tmp" && systemd-analyze verify --man=no ./gafferd.service ./gafferd.socket 2>&1) || {
    echo "$out"
    exit 1
}
if [ -n "$out" ]; then
    echo "$out"
    exit 1
fi
echo "units: ok"
