#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Checks that no test file silently drops out of the build: every
# tests/integration/test_*.py is run by a registered test, and every
# tests/{unit,system}/**/*_test.cc and tests/fuzz/fuzz_*.cc is a source of an executable
# that a registered test runs. Reads meson's introspection of the build directory
# (meson-info/intro-targets.json, intro-tests.json), so it sees exactly what `meson test`
# runs. Every fuzz target is also built by `make fuzz` (tests/fuzz/build_fuzzers.sh --list
# reads tests/fuzz/meson.build). The other direction (a listed file that is missing) is a
# meson error() in tests/meson.build. Exit 1 with one line per file left out.
#
#   registered.py SOURCE_ROOT BUILD_ROOT
import glob
import json
import os
import subprocess
import sys

import lintlib


def check(root, build):
    info = os.path.join(build, "meson-info")
    with open(os.path.join(info, "intro-tests.json"), encoding="utf-8") as f:
        tests = json.load(f)
    with open(os.path.join(info, "intro-targets.json"), encoding="utf-8") as f:
        targets = json.load(f)
    run_args = {os.path.realpath(a) for t in tests for a in t["cmd"]}
    run_sources = set()
    for target in targets:
        if not any(os.path.realpath(fn) in run_args for fn in target["filename"]):
            continue
        for ts in target["target_sources"]:
            run_sources.update(os.path.realpath(s) for s in ts.get("sources", []))

    def files(*patterns):
        for pattern in patterns:
            yield from sorted(glob.glob(os.path.join(root, "tests", pattern), recursive=True))

    errors = []
    for path in files("integration/test_*.py"):
        if os.path.realpath(path) not in run_args:
            errors.append(f"{os.path.relpath(path, root)}: no test runs it (add it to integration_tests in tests/meson.build)")
    for path in files("unit/**/*_test.cc", "system/**/*_test.cc", "fuzz/fuzz_*.cc"):
        if os.path.realpath(path) not in run_sources:
            errors.append(f"{os.path.relpath(path, root)}: not built into any test (register it in its meson.build)")
    script = os.path.join(root, "tests", "fuzz", "build_fuzzers.sh")
    listed = subprocess.run(["sh", script, "--list"], capture_output=True, text=True, check=False)
    fuzzed = {line.split()[1] for line in listed.stdout.splitlines() if len(line.split()) > 1}
    for path in files("fuzz/fuzz_*.cc"):
        if os.path.basename(path) not in fuzzed:
            errors.append(f"{os.path.relpath(path, root)}: build_fuzzers.sh does not build it "
                          f"(its entry in tests/fuzz/meson.build is not in the expected form) {listed.stderr.strip()}")
    return errors


def main():
    if len(sys.argv) != 3:
        print("usage: registered.py SOURCE_ROOT BUILD_ROOT", file=sys.stderr)
        return 2
    return lintlib.report("registered", check(sys.argv[1], sys.argv[2]), "test file(s) not registered")


if __name__ == "__main__":
    sys.exit(main())
