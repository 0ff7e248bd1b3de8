#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Checks the D-Bus files of units/dbus/ (org.gaffer1(5)) with a real dbus-daemon:
#   * the introspection XML: each file holds its one interface, every method and signal
#     argument is named in lower_snake_case and typed with a single complete type, method
#     arguments have a direction, and every property says whether it emits changes;
#     org.gaffer1(5) names every method, property and signal of it;
#   * the system bus policy org.gaffer1.conf, loaded by a private dbus-daemon whose own
#     policy denies owning any name (as the system bus does): root may own org.gaffer1,
#     another uid may not;
#   * the activation file org.gaffer1.service: that dbus-daemon lists org.gaffer1 as
#     activatable, and the file names gafferd.service, whose BusName= is the same name.
# The daemon is started on a socket in a temporary directory and ended by its pid.
#
# Usage: dbus_files.py SOURCE_ROOT. Exit status 0 ok, 1 findings, 77 when dbus-daemon or
# busctl is missing, or when not run as root (the policy check needs two uids).
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import lintlib

NAME = "org.gaffer1"
INTERFACES = ("org.gaffer1.Manager", "org.gaffer1.Job", "org.gaffer1.Process")
EMITS = "org.freedesktop.DBus.Property.EmitsChangedSignal"
NOBODY = 65534


def single_complete_type(sig):
    # One complete D-Bus type, checked by a small recursive parser.
    basic = "ybnqiuxtdsogh"

    def parse(i):
        if i >= len(sig):
            return -1
        c = sig[i]
        if c in basic or c == "v":
            return i + 1
        if c == "a":
            if i + 1 < len(sig) and sig[i + 1] == "{":
                if i + 2 >= len(sig) or sig[i + 2] not in basic:
                    return -1
                j = parse(i + 3)
                return j + 1 if 0 <= j < len(sig) and sig[j] == "}" else -1
            return parse(i + 1)
        if c == "(":
            j = i + 1
            while j < len(sig) and sig[j] != ")":
                j = parse(j)
                if j < 0:
                    return -1
            return j + 1 if j < len(sig) and j > i + 1 else -1
        return -1

    return parse(0) == len(sig)


def check_xml(root):
    errors = []
    with open(os.path.join(root, "man", "org.gaffer1.5"), encoding="utf-8") as f:
        manual = set(re.findall(r"[A-Za-z]+", f.read()))
    for iface in INTERFACES:
        path = os.path.join(root, "units", "dbus", iface + ".xml")
        rel = os.path.relpath(path, root)
        try:
            node = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as e:
            errors.append(f"{rel}: {e}")
            continue
        found = [i.get("name") for i in node.findall("interface")]
        if found != [iface]:
            errors.append(f"{rel}: holds interfaces {found}, expected [{iface}]")
            continue
        el = node.find("interface")
        for kind in ("method", "property", "signal"):
            for m in el.findall(kind):
                if m.get("name") not in manual:
                    errors.append(f"{rel}: {kind} {m.get('name')} is not in man/org.gaffer1.5")
        for kind in ("method", "signal"):
            for m in el.findall(kind):
                for a in m.findall("arg"):
                    where = f"{rel}: {kind} {m.get('name')} arg {a.get('name')}"
                    if not re.fullmatch(r"[a-z][a-z0-9_]*", a.get("name") or ""):
                        errors.append(f"{where}: name is not lower_snake_case")
                    if not single_complete_type(a.get("type") or ""):
                        errors.append(f"{where}: type {a.get('type')!r} is not one complete type")
                    if kind == "method" and a.get("direction") not in ("in", "out"):
                        errors.append(f"{where}: no direction")
                    if kind == "signal" and a.get("direction") is not None:
                        errors.append(f"{where}: a signal argument has no direction")
        for p in el.findall("property"):
            where = f"{rel}: property {p.get('name')}"
            if p.get("access") != "read" or not single_complete_type(p.get("type") or ""):
                errors.append(f"{where}: must be read-only with one complete type")
            values = [a.get("value") for a in p.findall("annotation") if a.get("name") == EMITS]
            if values not in (["const"], ["true"]):
                errors.append(f"{where}: {EMITS} must be \"const\" or \"true\", is {values}")
    return errors


def busctl(address, *args, uid=None):
    cmd = ["busctl", f"--address={address}", *args]
    if uid is not None:
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


def check_bus(root, tmp):
    errors = []
    dbus_dir = os.path.join(root, "units", "dbus")
    services = os.path.join(tmp, "services")
    os.mkdir(services)
    shutil.copy(os.path.join(dbus_dir, NAME + ".service"), services)
    sock = os.path.join(tmp, "bus")
    os.chmod(tmp, 0o755)
    # Deny-by-default like the system bus's own system.conf; org.gaffer1.conf is the only
    # policy that lets anyone own a name.
    conf = os.path.join(tmp, "bus.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "https://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
 <listen>unix:path={sock}</listen>
 <auth>EXTERNAL</auth>
 <servicedir>{services}</servicedir>
 <policy context="default">
  <allow user="*"/>
  <deny own="*"/>
  <deny send_type="method_call"/>
  <allow send_destination="org.freedesktop.DBus"/>
  <allow receive_type="signal"/>
  <allow receive_type="method_return"/>
  <allow receive_type="error"/>
 </policy>
 <include>{os.path.join(dbus_dir, NAME + ".conf")}</include>
</busconfig>
""")
    daemon = subprocess.Popen(["dbus-daemon", f"--config-file={conf}", "--nofork", "--nopidfile",
                               "--print-address=1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = daemon.stdout.readline().strip()
        if not line:
            return [f"dbus-daemon did not start with {NAME}.conf: {daemon.stderr.read().strip()}"]
        address = f"unix:path={sock}"
        r = busctl(address, "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                   "ListActivatableNames")
        if r.returncode != 0 or f'"{NAME}"' not in r.stdout:
            errors.append(f"{NAME}.service: {NAME} is not activatable: {r.stdout.strip()} {r.stderr.strip()}")
        request = ("call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                   "RequestName", "su", NAME, "0")
        r = busctl(address, *request)
        if r.returncode != 0 or r.stdout.strip() != "u 1":
            errors.append(f"{NAME}.conf: root cannot own {NAME}: {r.stdout.strip()} {r.stderr.strip()}")
        r = busctl(address, *request, uid=NOBODY)
        if r.returncode == 0 or "access denied" not in r.stderr.lower():
            errors.append(f"{NAME}.conf: uid {NOBODY} may own {NAME}: {r.stdout.strip()} {r.stderr.strip()}")
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    return errors


def check_unit(root):
    errors = []
    with open(os.path.join(root, "units", "dbus", NAME + ".service"), encoding="utf-8") as f:
        activation = f.read()
    for line in ("[D-BUS Service]", f"Name={NAME}", "Exec=/bin/false", "User=root", "SystemdService=gafferd.service"):
        if line not in activation.splitlines():
            errors.append(f"{NAME}.service: no line {line!r}")
    with open(os.path.join(root, "units", "gafferd.service.in"), encoding="utf-8") as f:
        unit = f.read().splitlines()
    for line in (f"BusName={NAME}", "Type=notify"):
        if line not in unit:
            errors.append(f"gafferd.service.in: no line {line!r}")
    return errors


def main():
    if len(sys.argv) != 2:
        print("usage: dbus_files.py SOURCE_ROOT", file=sys.stderr)
        return 2
    root = os.path.abspath(sys.argv[1])
    errors = check_xml(root) + check_unit(root)
    if not all(shutil.which(p) for p in ("dbus-daemon", "busctl", "setpriv")) or os.geteuid() != 0:
        lintlib.report("dbus_files", errors, "findings")
        print("dbus_files: dbus-daemon, busctl, setpriv or root missing: bus policy not checked")
        return 1 if errors else 77
    with tempfile.TemporaryDirectory() as tmp:
        errors += check_bus(root, tmp)
    return lintlib.report("dbus_files", errors, "findings")


if __name__ == "__main__":
    sys.exit(main())
