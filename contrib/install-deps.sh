#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages (and the npm packages of the tests, into a local
# folder) that building and testing gafferd need, and only those missing. Runs
# `apt-get update` once, before the first install, when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
  build-essential g++ meson ninja-build pkg-config
  liburing-dev libmicrohttpd-dev libjansson-dev libsystemd-dev libcap-dev libinih-dev
  libcurl4-gnutls-dev nettle-dev libgnutls28-dev
  googletest libgtest-dev libgmock-dev
  clang clang-format python3 curl openssl groff-base man-db dbus procps util-linux
  etcd-server
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages for the websocket/SockJS tests go into tests/node_modules (never global).
if [ -f tests/package.json ] && command -v npm >/dev/null 2>&1; then
  if [ ! -d tests/node_modules ] || [ tests/package.json -nt tests/node_modules ]; then
    (cd tests && npm install --no-audit --no-fund --loglevel=error) && touch tests/node_modules
  fi
fi
