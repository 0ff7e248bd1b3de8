#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer binaries of tests/fuzz with clang (-fsanitize=fuzzer,address,undefined)
# from the same sources as the meson build, for `make fuzz`, and with FUZZ_SECONDS > 0 fuzzes
# each for that long. The meson build itself only replays the corpora (replay_main.cc,
# suite 'fuzz').
#
# The targets are those of tests/fuzz/meson.build (the one list): each entry's name, source,
# gaffer_<module>_lib libraries (compiled here from lib/<module>/*.cc) and <x>_dep
# dependencies (mapped to pkg-config names through the top meson.build's
# `<x>_dep = dependency('<pkg>')`).
#
#   tests/fuzz/build_fuzzers.sh [OUTDIR]        (default: build-fuzz in the source root)
#   tests/fuzz/build_fuzzers.sh --list          (the targets it would build; lint_registered)
#   FUZZ_SECONDS=60 tests/fuzz/build_fuzzers.sh build-fuzz
#   OUTDIR/fuzz_<name> OUTDIR/corpus/<name> tests/fuzz/corpus/<name> -max_total_time=60
#
# Fuzzing writes new inputs to OUTDIR/corpus/<name> and crashes to OUTDIR/crash-<name>-*,
# never into the source tree. Environment: CXX (default clang++), EXTRA_CXXFLAGS,
# FUZZ_SECONDS (default 0: build only). New crashes go into the corpus and become unit
# tests (style.md rule 26).
set -eu

root=$(CDPATH= cd -- "$(dirname -- "$0")/../.." && pwd)
out=${1:-"$root/build-fuzz"}
cxx=${CXX:-clang++}
seconds=${FUZZ_SECONDS:-0}
list="$root/tests/fuzz/meson.build"

# One line per target: "<name> <source> <word>..." where the words are the entry's
# gaffer_*_lib and *_dep names. An entry runs from its "  ['<name>', 'fuzz_<x>.cc'," line
# to the line closing it ("]],").
targets=$(awk '
    /^  \[\x27[a-z0-9_]+\x27, \x27fuzz_[a-z0-9_]+\.cc\x27,/ { entry = ""; inside = 1 }
    inside { entry = entry " " $0 }
    inside && /\]\],?[[:space:]]*$/ {
        gsub(/[][,\x27]/, " ", entry); gsub(/[[:space:]]+/, " ", entry); sub(/^ /, "", entry)
        print entry; inside = 0
    }' "$list")
[ -n "$targets" ] || { echo "build_fuzzers.sh: no targets found in $list" >&2; exit 1; }
if [ "$out" = --list ]; then
    echo "$targets"
    exit 0
fi

words=$(echo "$targets" | cut -d' ' -f3- | tr ' ' '\n' | sort -u)
modules=$(echo "$words" | sed -n 's/^gaffer_\([a-z0-9_]*\)_lib$/\1/p')
pkgs=""
for dep in $(echo "$words" | sed -n 's/^\([a-z0-9_]*\)_dep$/\1/p'); do
    pkg=$(sed -n "s/^${dep}_dep = dependency('\([^']*\)').*/\1/p" "$root/meson.build")
    [ -n "$pkg" ] || { echo "build_fuzzers.sh: ${dep}_dep is not a dependency() of meson.build" >&2; exit 1; }
    pkgs="$pkgs $pkg"
done

command -v "$cxx" >/dev/null 2>&1 || { echo "build_fuzzers.sh: $cxx not found" >&2; exit 1; }
# shellcheck disable=SC2086
pkg-config --exists $pkgs || { echo "build_fuzzers.sh: pkg-config cannot find:$pkgs" >&2; exit 1; }

# Only the source root on the include path: lib/config/ini.h must not hide libinih's <ini.h>.
# shellcheck disable=SC2086
cxxflags="-std=c++20 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -Wall -Wextra
  -fsanitize=address,undefined -fno-sanitize-recover=undefined -I$root $(pkg-config --cflags $pkgs)
  ${EXTRA_CXXFLAGS:-}"
# shellcheck disable=SC2086
libs=$(pkg-config --libs $pkgs)

# Every module's objects in one archive: each target links only what it uses.
mkdir -p "$out/obj"
objs=""
for module in $modules; do
    [ -d "$root/lib/$module" ] || { echo "build_fuzzers.sh: gaffer_${module}_lib: no lib/$module" >&2; exit 1; }
    for src in "$root/lib/$module"/*.cc; do
        obj="$out/obj/$(echo "${src#"$root"/}" | tr / _).o"
        # shellcheck disable=SC2086
        "$cxx" $cxxflags -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
        objs="$objs $obj"
    done
done
rm -f "$out/libgaffer-fuzz.a"
# shellcheck disable=SC2086
ar rcs "$out/libgaffer-fuzz.a" $objs

echo "$targets" | while read -r name src _; do
    # shellcheck disable=SC2086
    "$cxx" $cxxflags -fsanitize=fuzzer "$root/tests/fuzz/$src" "$out/libgaffer-fuzz.a" $libs -o "$out/fuzz_$name"
    echo "built $out/fuzz_$name"
done

[ "$seconds" -gt 0 ] || exit 0
echo "$targets" | while read -r name _; do
    mkdir -p "$out/corpus/$name"
    echo "fuzzing fuzz_$name for ${seconds}s"
    "$out/fuzz_$name" "$out/corpus/$name" "$root/tests/fuzz/corpus/$name" -max_total_time="$seconds" \
        -artifact_prefix="$out/crash-$name-" -print_final_stats=1
done
