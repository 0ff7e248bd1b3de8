#!/bin/sh
# SPDX-License-Identifier: MIT
# `systemd-analyze verify` on the systemd units, with ExecStart pointing at the built
# gafferd and gaffer_lookupd (verify checks that the binary exists).
# Usage: units.sh SOURCE_ROOT GAFFERD GAFFER_LOOKUPD
set -eu
src="$1"
gafferd="$2"
lookupd="$3"
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze is missing (package systemd)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s|@sbindir@/gafferd|$gafferd|" -e "s|@sysconfdir@|/etc|" "$src/units/gafferd.service.in" > "$tmp/gafferd.service"
cp "$src/units/gafferd.socket" "$tmp/gafferd.socket"
sed -e "s|@sbindir@/gaffer_lookupd|$lookupd|" "$src/units/gaffer_lookupd.service.in" > "$tmp/gaffer_lookupd.service"
out=$(cd "$tmp" && systemd-analyze verify --man=no ./gafferd.service ./gafferd.socket ./gaffer_lookupd.service 2>&1) || {
    echo "$out"
    exit 1
}
if [ -n "$out" ]; then
    echo "$out"
    exit 1
fi
echo "units: ok"
