#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every meson test suite in the given build directory and ends with the one line
# "N passed, N failed" (skipped tests are counted apart); exits non-zero on any failure.
set -uo pipefail
BUILD="${1:-build}"
cd "$(dirname "$0")/.."
# Integration tests start daemons, private buses and HTTP peers; 2 cores: 2 at a time.
meson test -C "$BUILD" --print-errorlogs --num-processes "${TEST_JOBS:-2}" --timeout-multiplier "${TIMEOUT_MULTIPLIER:-1}"
status=$?
python3 - "$BUILD/meson-logs/testlog.json" "$status" <<'PY'
import json, sys
path, status = sys.argv[1], int(sys.argv[2])
passed = failed = skipped = 0
try:
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line).get("result", "")
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
except OSError as e:
    print(f"run-tests: cannot read {path}: {e}", file=sys.stderr)
    failed += 1
if status != 0 and failed == 0:
    failed = 1  # meson itself failed (build error, no tests)
if passed == 0 and failed == 0:
    failed = 1  # ran no test: that is a failure too
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
PY
