#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Checks every `#include "lib/<module>/..."` in lib/, daemon/ and ctl/ against the module
# DAG of architecture.md §2: a module may include only itself and the modules listed for
# it. Front ends (http) never include proc/, cgroup/ or stats/: only the manager owns
# processes; daemon/ is wiring and reaches processes only through the manager too. The
# pure state machines (lib/job) include no syscall header (<unistd.h>, <fcntl.h>,
# <sys/...>). Exit 1 with one line per violation.
import os
import re
import sys

import lintlib

ALLOWED = {
    "base": set(),
    "loop": {"base"},
    "model": {"base"},
    "json": {"base", "model"},
    "config": {"base", "model", "json"},
    "proc": {"base"},
    "cgroup": {"base"},
    "stats": {"base", "model", "cgroup"},
    "io": {"base"},
    "job": {"base", "model"},
    "events": {"base", "model", "json", "loop"},
    "webhook": {"base", "model", "json", "loop", "events"},
    "auth": {"base", "json"},
    "ws": {"base", "json"},
    "lookup": {"base", "model", "json"},
    "manager": {"base", "model", "json", "config", "loop", "events", "job", "proc", "cgroup", "stats", "io"},
    "ops": {"base", "model", "json", "config", "manager", "auth", "io"},
    "http": {"base", "model", "json", "config", "loop", "events", "manager", "auth", "io", "ws", "ops"},
    "dbus": {"base", "model", "json", "loop", "events", "manager", "ops", "auth"},
    "console": {"base", "model", "json", "loop", "events", "manager"},
    "announce": {"base", "model", "json", "loop", "events", "manager", "ws", "webhook"},
    "lookupd": {"base", "json", "loop", "auth", "ws", "http", "lookup", "io"},
    "etcd": {"base", "model", "json", "loop", "events", "manager", "webhook", "lookup"},
}
# Top-level directories outside lib/ and the modules they may include.
FRONT = {
    "ctl": {"base", "model", "json", "config"},
    "daemon": {"base", "loop", "model", "json", "config", "cgroup", "events", "webhook", "auth", "manager", "ops", "http", "dbus", "console", "lookupd", "lookup", "etcd", "announce"},
    # gaffer's local mode runs the engine in-process (issue 14): wiring like daemon/.
    "ctl/gaffer": {"base", "loop", "model", "json", "config", "events", "manager", "http", "console"},
}
# Modules that must stay free of system calls: <angle> includes they may not use.
NO_SYSCALLS = {"job": re.compile(r"^(unistd\.h|fcntl\.h|sys/.*)$")}
INCLUDE = re.compile(r'^\s*#\s*include\s+"lib/([a-z_]+)/')
SYSTEM_INCLUDE = re.compile(r"^\s*#\s*include\s+<([^>]+)>")


def check(root):
    errors = []
    for top in ("lib", *{f.split("/")[0] for f in FRONT}):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in files:
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                parts = rel.split(os.sep)
                no_syscalls = None
                if top == "lib":
                    who = parts[1]
                    allowed = ALLOWED.get(who)
                    if allowed is None:
                        errors.append(f"{rel}: module '{who}' is not in the layering table")
                        continue
                    allowed = allowed | {who}
                    no_syscalls = NO_SYSCALLS.get(who)
                else:
                    sub = "/".join(parts[:2])
                    who = sub if sub in FRONT else top
                    allowed = FRONT[who]
                with open(path, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m and m.group(1) not in allowed:
                            errors.append(f"{rel}:{lineno}: includes lib/{m.group(1)}/ (not allowed for {who})")
                        m = SYSTEM_INCLUDE.match(line)
                        if m and no_syscalls and no_syscalls.match(m.group(1)):
                            errors.append(f"{rel}:{lineno}: includes <{m.group(1)}> (lib/{who} makes no system calls)")
    return errors


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    return lintlib.report("layering", check(root), "violation(s)")


if __name__ == "__main__":
    sys.exit(main())
