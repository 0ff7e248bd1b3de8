#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer binaries of tests/fuzz with clang (-fsanitize=fuzzer,address,undefined)
# from the same sources as the meson build, for `make fuzz`. The meson build itself only
# replays the corpora (replay_main.cc, suite 'fuzz').
#
#   tests/fuzz/build_fuzzers.sh [OUTDIR]        (default: build-fuzz in the source root)
#   OUTDIR/fuzz_ini tests/fuzz/corpus/ini -max_total_time=60
#   OUTDIR/fuzz_job_json tests/fuzz/corpus/job_json -max_total_time=60
#
# Environment: CXX (default clang++), EXTRA_CXXFLAGS. New crashes go into the corpus and
# become unit tests (style.md rule 26).
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
out=${1:-"$root/build-fuzz"}
cxx=${CXX:-clang++}
pkgs="jansson inih libcap"

command -v "$cxx" >/dev/null 2>&1 || { echo "build_fuzzers.sh: $cxx not found" >&2; exit 1; }
pkg-config --exists $pkgs || { echo "build_fuzzers.sh: pkg-config cannot find: $pkgs" >&2; exit 1; }

# Only the source root on the include path: lib/config/ini.h must not hide libinih's <ini.h>.
cxxflags="-std=c++20 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -Wall -Wextra
  -fsanitize=address,undefined -fno-sanitize-recover=undefined -I$root $(pkg-config --cflags $pkgs)
  ${EXTRA_CXXFLAGS:-}"
libs=$(pkg-config --libs $pkgs)

mkdir -p "$out/obj"
objs=""
for src in "$root"/lib/base/*.cc "$root"/lib/model/*.cc "$root"/lib/json/*.cc "$root"/lib/config/*.cc; do
    obj="$out/obj/$(echo "${src#"$root"/}" | tr / _).o"
    # shellcheck disable=SC2086
    "$cxx" $cxxflags -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    objs="$objs $obj"
done

for target in fuzz_ini fuzz_job_json; do
    # shellcheck disable=SC2086
    "$cxx" $cxxflags -fsanitize=fuzzer "$root/tests/fuzz/$target.cc" $objs $libs -o "$out/$target"
    echo "built $out/$target"
done
