#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The D-Bus interface org.gaffer1 (issue 13) against the real gafferd on a private
dbus-daemon, driven with the real busctl (--json=short output parsed) and, where busctl
cannot help (a file descriptor received, a client that stays subscribed), with
tests/helpers/gaffer_dbus_client.cc ($GAFFER_DBUS_CLIENT).

Covered: the fixture itself; busctl tree as jobs and processes come and go; the live
introspection against units/dbus/*.xml and against the issue's signatures; every method
in success and error cases with the exact error names; properties and PropertiesChanged;
JobNew/JobRemoved/ProcessNew/ProcessRemoved and Event (after Subscribe) when a process is
killed and restarted; OpenOutput reading a line a process printed; rights (a call as
another uid is AccessDenied); mirror tests (a scale on one API is seen on the other; the
same bad input gets the same outcome on both); chaos (500 kills while busctl monitor
listens). gafferd is started with --dbus-address=<the private bus>. Run by `make test`
through meson ($GAFFERD).
"""
import glob
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402
from gafferlib import NOBODY, Busctl, DBusDaemon, wait_for  # noqa: E402

SERVICE = "org.gaffer1"
ROOT = "/org/gaffer1"
MANAGER = "org.gaffer1.Manager"
JOB = "org.gaffer1.Job"
PROCESS = "org.gaffer1.Process"
PROPS = "org.freedesktop.DBus.Properties"
ERR = "org.gaffer1.Error."
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
DBUS_CLIENT = os.environ.get("GAFFER_DBUS_CLIENT")
SOURCE_ROOT = os.environ.get("GAFFER_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")

# The contract of issue 13: name → (in signature, out signature).
MANAGER_METHODS = {
    "ListSessions": ("", "as"), "ListJobs": ("", "a(ssbuuo)"), "ListProcesses": ("", "a(uusstbo)"),
    "GetJob": ("s", "o"), "GetProcess": ("u", "o"), "LoadJob": ("ss", "o"),
    "StartJob": ("s", ""), "StopJob": ("s", ""), "ReloadJob": ("s", ""), "ScaleJob": ("ss", "u"),
    "SignalJob": ("ss", ""), "CommitJob": ("sa{sv}", "u"), "UpdateJob": ("ss", ""), "UnloadJob": ("s", ""),
    "GetJobStats": ("s", "s"), "StopProcess": ("u", ""), "SignalProcess": ("us", ""), "WriteProcess": ("uay", ""),
    "GetProcessStats": ("u", "s"), "OpenProcessOutput": ("us", "h"), "Reload": ("", ""), "Subscribe": ("", ""),
    "Unsubscribe": ("", ""),
}
JOB_METHODS = {"Start": ("", ""), "Stop": ("", ""), "Reload": ("", ""), "Scale": ("s", "u"), "Signal": ("s", ""),
               "Commit": ("a{sv}", "u"), "Update": ("s", ""), "Unload": ("", ""), "GetStats": ("", "s")}
PROCESS_METHODS = {"Stop": ("", ""), "Signal": ("s", ""), "Write": ("ay", ""), "GetStats": ("", "s"),
                   "OpenOutput": ("s", "h")}
# name → (type, const)
MANAGER_PROPERTIES = {"Version": ("s", True), "LoopBackend": ("s", True), "CgroupMode": ("s", True),
                      "NJobs": ("u", False), "NProcesses": ("u", False)}
JOB_PROPERTIES = {"Name": ("s", True), "Session": ("s", True), "Active": ("b", False), "Running": ("u", False),
                  "NumProcesses": ("u", False), "Pids": ("au", False), "Flapping": ("b", False),
                  "Config": ("s", False)}
PROCESS_PROPERTIES = {"Pid": ("u", True), "OsPid": ("u", True), "Job": ("s", True), "JobPath": ("o", True),
                      "CreateTime": ("t", True), "Committed": ("b", True), "State": ("s", False)}
MANAGER_SIGNALS = {"JobNew": "so", "JobRemoved": "so", "ProcessNew": "uo", "ProcessRemoved": "uoii", "Event": "ss"}

# HTTP status → the D-Bus error name of the same outcome (the operations layer's table).
STATUS_TO_ERROR = {400: ERR + "BadRequest", 403: ERR + "Forbidden", 404: ERR + "NotFound", 409: ERR + "Conflict",
                   500: ERR + "SpawnFailed"}

NO_FLAP = {"attempts": 1000000, "window": 0.001}


def path_encode(prefix, name):
    """sd_bus_path_encode(): every byte outside [A-Za-z0-9] (and a leading digit) as _xx."""
    if not name:
        return prefix + "/_"
    out = []
    for i, b in enumerate(name.encode()):
        c = chr(b)
        if (c.isascii() and c.isalpha()) or (c.isdigit() and i > 0):
            out.append(c)
        else:
            out.append(f"_{b:02x}")
    return prefix + "/" + "".join(out)


def job_path(name):
    return path_encode(ROOT + "/job", name if "." in name else "default." + name)


def process_path(pid):
    return f"{ROOT}/process/{pid}"


class DBusFixtureTest(unittest.TestCase):
    """The fixture alone (no gafferd): a private bus starts, answers busctl, and stops by pid."""

    def test_bus_starts_answers_busctl_and_stops(self):
        bus = DBusDaemon().start()
        tmp, proc = bus.tmp, bus.proc
        try:
            self.assertTrue(bus.address.startswith("unix:path=" + tmp + "/bus,guid="), bus.address)
            names = [n["name"] for n in Busctl(bus.address).list_names()]
            self.assertIn("org.freedesktop.DBus", names)
        finally:
            bus.stop()
        self.assertIsNotNone(proc.returncode, "dbus-daemon still running after stop()")
        self.assertFalse(os.path.exists(tmp))

    def test_restart_on_the_same_path(self):
        with DBusDaemon() as bus:
            first = bus.address
            bus.end_process()
            self.assertFalse(os.path.exists(bus.socket))
            self.assertFalse(Busctl(bus.path_address).run("list").ok)
            bus.start()
            self.assertNotEqual(bus.address, first)  # a new guid, the same socket
            self.assertTrue(bus.address.startswith(bus.path_address + ","), bus.address)
            self.assertIn("org.freedesktop.DBus", [n["name"] for n in Busctl(bus.path_address).list_names()])

    def test_error_names_calls_and_monitor(self):
        with DBusDaemon() as bus:
            bc = Busctl(bus.address)
            r = bc.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner", "s",
                        "org.nope")
            self.assertFalse(r.ok)
            self.assertEqual(r.error_name, "org.freedesktop.DBus.Error.NameHasNoOwner", r)
            mon = bc.monitor()
            try:
                r = bc.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetId")
                self.assertTrue(r.ok, r)
                self.assertEqual(len(r.data[0]), 32)
                wait_for(lambda: any(m.get("member") == "GetId" for m in mon.snapshot()), timeout=5,
                         what="the monitor to see the GetId call")
            finally:
                mon.stop()
            tree = bc.tree("org.freedesktop.DBus")
            self.assertIn("/org/freedesktop/DBus", tree)
            node = bc.introspect("org.freedesktop.DBus", "/org/freedesktop/DBus")
            self.assertIn("org.freedesktop.DBus", [i.get("name") for i in node.findall("interface")])

    def test_another_uid_can_connect(self):
        with DBusDaemon() as bus:
            self.assertTrue(Busctl(bus.address, uid=NOBODY).name_has_owner("org.freedesktop.DBus"))


class GafferBusCase(unittest.TestCase):
    """One private bus per class, one gafferd per test with --dbus-address on it."""

    # Why the first daemon never showed up on the bus: the later tests then fail at once
    # (a gafferd without D-Bus fails the suite in seconds, not in a timeout per test).
    # Once one daemon has, each test waits for its own.
    no_dbus = None
    seen_dbus = False

    @classmethod
    def setUpClass(cls):
        cls.bus = DBusDaemon().start()
        cls.bc = Busctl(cls.bus.address)
        cls.nobody = Busctl(cls.bus.address, uid=NOBODY)

    @classmethod
    def tearDownClass(cls):
        cls.bus.stop()

    def setUp(self):
        if GafferBusCase.no_dbus:
            self.fail(GafferBusCase.no_dbus)
        self.d = gafferlib.Daemon("", extra_args=["--dbus-address=" + self.bus.address])
        self.addCleanup(self.d.cleanup)
        try:
            self.d.start()
        except AssertionError as e:
            why = f"gafferd does not start with --dbus-address (issue 13): {str(e)[:500]}"
            if not GafferBusCase.seen_dbus:
                GafferBusCase.no_dbus = why
            raise AssertionError(why) from None
        try:
            # This gafferd's pid: the previous test's daemon may not have left the bus yet.
            wait_for(lambda: self.bc.name_owner_pid(SERVICE) == self.d.proc.pid, timeout=10, interval=0.02,
                     what=f"gafferd to own {SERVICE} on the private bus")
        except AssertionError:
            why = (f"gafferd runs but never took the name {SERVICE} on {self.bus.address} within 10 s (no D-Bus "
                   f"interface?):\n{self.d.output()[-2000:]}")
            if not GafferBusCase.seen_dbus:
                GafferBusCase.no_dbus = why
            raise AssertionError(why) from None
        GafferBusCase.seen_dbus = True

    # --- helpers
    def mcall(self, method, sig="", *args, bc=None):
        return (bc or self.bc).call(SERVICE, ROOT, MANAGER, method, sig, *args)

    def jcall(self, job, method, sig="", *args, bc=None):
        return (bc or self.bc).call(SERVICE, job_path(job), JOB, method, sig, *args)

    def pcall(self, pid, method, sig="", *args, bc=None):
        return (bc or self.bc).call(SERVICE, process_path(pid), PROCESS, method, sig, *args)

    def prop(self, path, iface, name, bc=None):
        r = (bc or self.bc).get_property(SERVICE, path, iface, name)
        self.assertTrue(r.ok, r)
        return r.json

    def ok(self, r):
        self.assertTrue(r.ok, r)
        self.assertIsNone(r.error_name, r)
        return r.json["data"] if isinstance(r.json, dict) else None

    def err(self, r, name):
        self.assertFalse(r.ok, f"expected {name}, the call succeeded: {r!r}")
        self.assertEqual(r.error_name, name, r)
        return r

    def load(self, name, cmd="sleep", args=("1000",), n=1, **extra):
        cfg = {"name": name, "cmd": cmd, "args": list(args), "numprocesses": n, "flapping": NO_FLAP}
        cfg.update(extra)
        r = self.d.request("POST", "/jobs/default", cfg)
        self.assertEqual(r.status, 200, r)
        if n and extra.get("start", True):
            self.running(name, n)
        return cfg

    def procs(self, name):
        return self.d.get_json(f"/jobs/default/{name}/processes")["processes"]

    def running(self, name, n, timeout=10):
        def check():
            ps = [p for p in self.procs(name) if p["state"] == "running"]
            return ps if len(ps) == n and len(self.procs(name)) == n else None
        return wait_for(check, timeout=timeout, what=f"{n} running processes of {name}")

    def pids(self, name):
        return sorted(p["pid"] for p in self.running(name, len(self.procs(name))))

    def alive(self):
        """Both APIs answer, HTTP within 2 s."""
        self.assertEqual(self.d.request("GET", "/ping", timeout=2).status, 200, "gafferd stopped answering HTTP")
        self.ok(self.mcall("ListSessions"))

    def subscriber(self):
        """A client that stays on the bus subscribed (busctl would leave at once)."""
        self.assertTrue(DBUS_CLIENT and os.access(DBUS_CLIENT, os.X_OK), "GAFFER_DBUS_CLIENT is not built")
        p = subprocess.Popen([DBUS_CLIENT, "subscribe", self.bus.address, "30000"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def end():
            p.stdin.close()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()
        self.addCleanup(end)
        line = p.stdout.readline().decode().split()
        self.assertEqual(line[:1], ["subscribed"], line or p.stderr.read(2000).decode())
        return end, line[1]


class TreeAndIntrospectionTest(GafferBusCase):
    def test_tree_shows_jobs_and_processes_as_they_come_and_go(self):
        self.load("web", n=2)
        pids = self.pids("web")
        tree = self.bc.tree(SERVICE)
        self.assertIn(ROOT, tree)
        self.assertIn(job_path("web"), tree)
        for pid in pids:
            self.assertIn(process_path(pid), tree)
        self.ok(self.mcall("ScaleJob", "ss", "web", "+1"))
        new = wait_for(lambda: [p for p in self.bc.tree(SERVICE) if p.startswith(ROOT + "/process/")
                                and int(p.rsplit("/", 1)[1]) not in pids], what="the new process in busctl tree")
        self.assertEqual(len(new), 1, new)
        r = self.d.request("DELETE", "/jobs/default/web")
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: not [p for p in self.bc.tree(SERVICE) if p.startswith(ROOT + "/job/")
                              or p.startswith(ROOT + "/process/")], what="job and process objects to go")
        self.assertIn(ROOT, self.bc.tree(SERVICE))

    def test_object_manager_lists_managed_objects(self):
        self.load("web", n=1)
        pid = self.pids("web")[0]
        r = self.bc.call(SERVICE, ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects")
        objects = self.ok(r)[0]
        self.assertIn(job_path("web"), objects)
        self.assertIn(JOB, objects[job_path("web")])
        self.assertIn(process_path(pid), objects)
        self.assertIn(PROCESS, objects[process_path(pid)])

    def test_interfaces_have_the_issues_signatures(self):
        self.load("web", n=1)
        pid = self.pids("web")[0]
        for path, iface, methods, props, signals in (
                (ROOT, MANAGER, MANAGER_METHODS, MANAGER_PROPERTIES, MANAGER_SIGNALS),
                (job_path("web"), JOB, JOB_METHODS, JOB_PROPERTIES, {}),
                (process_path(pid), PROCESS, PROCESS_METHODS, PROCESS_PROPERTIES, {})):
            with self.subTest(iface=iface):
                node = self.bc.introspect(SERVICE, path)
                el = next((i for i in node.findall("interface") if i.get("name") == iface), None)
                self.assertIsNotNone(el, f"{path} has no interface {iface}")
                live = {m.get("name"): ("".join(a.get("type") for a in m.findall("arg")
                                                if a.get("direction", "in") == "in"),
                                        "".join(a.get("type") for a in m.findall("arg")
                                                if a.get("direction") == "out")) for m in el.findall("method")}
                self.assertEqual(live, methods)
                live = {p.get("name"): (p.get("type"), p.get("access"), emits_changed(p))
                        for p in el.findall("property")}
                want = {n: (t, "read", "const" if const else "true") for n, (t, const) in props.items()}
                self.assertEqual(live, want)
                live = {s.get("name"): "".join(a.get("type") for a in s.findall("arg")) for s in el.findall("signal")}
                self.assertEqual(live, signals)

    def test_live_introspection_matches_the_xml_in_units_dbus(self):
        files = sorted(glob.glob(os.path.join(SOURCE_ROOT, "units", "dbus", "*.xml")))
        self.assertTrue(files, f"no introspection XML in {SOURCE_ROOT}/units/dbus (issue 13: Files)")
        documented = {}
        for f in files:
            for el in ET.parse(f).getroot().iter("interface"):
                if el.get("name", "").startswith("org.gaffer1."):
                    documented[el.get("name")] = normalized(el)
        self.assertEqual(set(documented), {MANAGER, JOB, PROCESS}, files)
        self.load("web", n=1)
        pid = self.pids("web")[0]
        for path, iface in ((ROOT, MANAGER), (job_path("web"), JOB), (process_path(pid), PROCESS)):
            with self.subTest(iface=iface):
                node = self.bc.introspect(SERVICE, path)
                el = next(i for i in node.findall("interface") if i.get("name") == iface)
                self.assertEqual(normalized(el), documented[iface],
                                 f"the live {iface} differs from units/dbus: update the XML or the vtable")


def emits_changed(prop):
    for a in prop.findall("annotation"):
        if a.get("name") == "org.freedesktop.DBus.Property.EmitsChangedSignal":
            return a.get("value")
    return "true"


def normalized(iface):
    """An interface element as comparable data: members with their args (name, type,
    direction) and annotations, in document order independent form."""
    def ann(el):
        return tuple(sorted((a.get("name"), a.get("value")) for a in el.findall("annotation")))
    out = {}
    for kind in ("method", "signal"):
        for m in iface.findall(kind):
            args = tuple((a.get("name"), a.get("type"), a.get("direction", "in" if kind == "method" else "out"))
                         for a in m.findall("arg"))
            out[(kind, m.get("name"))] = (args, ann(m))
    for p in iface.findall("property"):
        out[("property", p.get("name"))] = (p.get("type"), p.get("access"), emits_changed(p))
    out["annotations"] = ann(iface)
    return out


class ManagerMethodsTest(GafferBusCase):
    def test_lists(self):
        self.load("web", n=2)
        self.assertIn("default", self.ok(self.mcall("ListSessions"))[0])
        jobs = self.ok(self.mcall("ListJobs"))[0]
        self.assertEqual(jobs, [["default.web", "default", True, 2, 2, job_path("web")]])
        http = {p["pid"]: p for p in self.procs("web")}
        procs = self.ok(self.mcall("ListProcesses"))[0]
        self.assertEqual(sorted(p[0] for p in procs), sorted(http))
        for pid, os_pid, job, state, create_time, committed, path in procs:
            self.assertEqual(os_pid, http[pid]["os_pid"])
            self.assertEqual((job, state, committed, path), ("default.web", "running", False, process_path(pid)))
            self.assertLess(abs(create_time / 1e6 - http[pid]["create_time"]), 1.0, (create_time, http[pid]))

    def test_get_job_and_process(self):
        self.load("web", n=1)
        pid = self.pids("web")[0]
        self.assertEqual(self.ok(self.mcall("GetJob", "s", "web")), [job_path("web")])
        self.assertEqual(self.ok(self.mcall("GetJob", "s", "default.web")), [job_path("web")])
        self.assertEqual(self.ok(self.mcall("GetProcess", "u", pid)), [process_path(pid)])
        self.err(self.mcall("GetJob", "s", "nope"), ERR + "NotFound")
        self.err(self.mcall("GetJob", "s", "other.web"), ERR + "NotFound")
        self.err(self.mcall("GetProcess", "u", 999999), ERR + "NotFound")

    def test_load_job(self):
        cfg = json.dumps({"name": "api", "cmd": "sleep", "args": ["1000"], "numprocesses": 2})
        self.assertEqual(self.ok(self.mcall("LoadJob", "ss", "default", cfg)), [job_path("api")])
        self.running("api", 2)
        cfg = json.dumps({"name": "idle", "cmd": "sleep", "args": ["1000"], "start": False})
        self.assertEqual(self.ok(self.mcall("LoadJob", "ss", "other", cfg)), [path_encode(ROOT + "/job",
                                                                                             "other.idle")])
        self.assertEqual(self.d.request("GET", "/jobs/other/idle/state").body.strip(), b"0")
        self.err(self.mcall("LoadJob", "ss", "default", cfg.replace("idle", "api")), ERR + "Conflict")
        for bad in ("{", "[]", "5", json.dumps({"name": "x"}), json.dumps({"cmd": "true"}),
                    json.dumps({"name": "x", "cmd": "true", "numprocesses": "many"})):
            with self.subTest(config=bad):
                self.err(self.mcall("LoadJob", "ss", "default", bad), ERR + "BadRequest")
        self.assertEqual(sorted(self.d.get_json("/jobs")["jobs"]), ["default.api", "other.idle"])

    def test_start_stop_reload(self):
        self.load("web", n=2)
        before = self.pids("web")
        self.ok(self.mcall("StopJob", "s", "web"))
        wait_for(lambda: not self.procs("web"), what="the job to stop")
        self.assertEqual(self.d.request("GET", "/jobs/default/web/state").body.strip(), b"0")
        self.assertEqual(self.prop(job_path("web"), JOB, "Active")["data"], False)
        self.ok(self.mcall("StartJob", "s", "web"))
        self.running("web", 2)
        self.assertEqual(self.prop(job_path("web"), JOB, "Active")["data"], True)
        mid = self.pids("web")
        self.assertFalse(set(mid) & set(before))
        self.ok(self.mcall("ReloadJob", "s", "web"))
        wait_for(lambda: len(self.procs("web")) == 2 and not set(p["pid"] for p in self.procs("web")) & set(mid)
                 and all(p["state"] == "running" for p in self.procs("web")), what="reloaded processes")
        for m in ("StartJob", "StopJob", "ReloadJob", "UnloadJob", "GetJobStats"):
            self.err(self.mcall(m, "s", "nope"), ERR + "NotFound")

    def test_scale(self):
        self.load("web", n=1)
        self.assertEqual(self.ok(self.mcall("ScaleJob", "ss", "web", "+2")), [3])
        self.running("web", 3)
        # busctl needs "--" before a negative argument; Busctl.call always passes it.
        self.assertEqual(self.ok(self.mcall("ScaleJob", "ss", "web", "-1")), [2])
        self.assertEqual(self.ok(self.mcall("ScaleJob", "ss", "web", "=4")), [4])
        # Digits alone add (reference §3.6: "n" is NOT "set").
        self.assertEqual(self.ok(self.mcall("ScaleJob", "ss", "web", "1")), [5])
        self.assertEqual(self.ok(self.mcall("ScaleJob", "ss", "web", "-9")), [0])
        for bad in ("x", "++1", "+", "=-1", "1.5", ""):
            with self.subTest(spec=bad):
                self.err(self.mcall("ScaleJob", "ss", "web", bad), ERR + "BadRequest")
        self.assertEqual(self.d.get_json("/jobs/default/web/numprocesses")["numprocesses"], 0)
        self.err(self.mcall("ScaleJob", "ss", "nope", "+1"), ERR + "NotFound")

    def test_signal_job_and_process(self):
        self.load("web", n=2)
        before = self.pids("web")
        self.ok(self.mcall("SignalJob", "ss", "web", "KILL"))
        wait_for(lambda: len(self.procs("web")) == 2 and not {p["pid"] for p in self.procs("web")} & set(before),
                 what="the killed processes to be replaced")
        pid = self.pids("web")[0]
        self.ok(self.mcall("SignalProcess", "us", pid, "TERM"))
        wait_for(lambda: pid not in [p["pid"] for p in self.procs("web")], what="the signalled process to go")
        for bad in ("SIGFOO", "999", "-1", "", "1.5"):
            with self.subTest(signal=bad):
                self.err(self.mcall("SignalJob", "ss", "web", bad), ERR + "BadRequest")
                self.err(self.mcall("SignalProcess", "us", self.pids("web")[0], bad), ERR + "BadRequest")
        self.err(self.mcall("SignalJob", "ss", "nope", "TERM"), ERR + "NotFound")
        self.err(self.mcall("SignalProcess", "us", 999999, "TERM"), ERR + "NotFound")

    def test_stop_process(self):
        self.load("web", n=1)
        pid = self.pids("web")[0]
        self.ok(self.mcall("StopProcess", "u", pid))
        wait_for(lambda: [p["pid"] for p in self.procs("web") if p["state"] == "running"] not in ([], [pid]),
                 what="the stopped process to be replaced")
        self.err(self.mcall("StopProcess", "u", 999999), ERR + "NotFound")

    def test_commit(self):
        self.load("web", n=0)
        r = self.mcall("CommitJob", "sa{sv}", "web", 2, "graceful_timeout", "d", 5, "env", "a{ss}", 1, "FOO", "bar")
        pid = self.ok(r)[0]
        self.assertIn(pid, self.d.get_json("/pids")["pids"])
        self.assertEqual(self.prop(process_path(pid), PROCESS, "Committed")["data"], True)
        pid2 = self.ok(self.mcall("CommitJob", "sa{sv}", "web", 0))[0]
        self.assertNotEqual(pid, pid2)
        pid3 = self.ok(self.jcall("web", "Commit", "a{sv}", 0))[0]
        self.assertNotIn(pid3, (pid, pid2))
        count = len(self.d.get_json("/pids")["pids"])
        for args in ((1, "graceful_timeout", "d", -1), (1, "graceful_timeout", "d", 1e10),
                     (1, "graceful_timeout", "s", "soon"), (1, "nope", "s", "x"),
                     (1, "env", "a{ss}", 1, "", "x"), (1, "env", "a{ss}", 1, "A=B", "x"),
                     (1, "env", "s", "A=1")):
            with self.subTest(options=args):
                self.err(self.mcall("CommitJob", "sa{sv}", "web", *args), ERR + "BadRequest")
        self.assertEqual(len(self.d.get_json("/pids")["pids"]), count, "a refused commit spawned something")
        self.err(self.mcall("CommitJob", "sa{sv}", "nope", 0), ERR + "NotFound")
        self.load("missing", cmd="/nonexistent/gaffer-test-binary", args=(), n=0)
        self.err(self.mcall("CommitJob", "sa{sv}", "missing", 0), ERR + "SpawnFailed")

    def test_update_and_unload(self):
        self.load("web", n=1)
        cfg = json.dumps({"name": "web", "cmd": "sleep", "args": ["999"], "numprocesses": 2})
        self.ok(self.mcall("UpdateJob", "ss", "web", cfg))
        self.running("web", 2)
        self.assertEqual(self.d.get_json("/jobs/default/web")["config"]["args"], ["999"])
        self.err(self.mcall("UpdateJob", "ss", "web", "{"), ERR + "BadRequest")
        self.err(self.mcall("UpdateJob", "ss", "nope", cfg.replace("web", "nope")), ERR + "NotFound")
        self.assertEqual(self.d.get_json("/jobs/default/web")["config"]["args"], ["999"])
        self.ok(self.mcall("UnloadJob", "s", "web"))
        self.assertEqual(self.d.request("GET", "/jobs/default/web").status, 404)
        self.err(self.mcall("UnloadJob", "s", "web"), ERR + "NotFound")

    def test_stats(self):
        self.load("web", n=1)
        pid = self.pids("web")[0]
        body = json.loads(self.ok(self.mcall("GetJobStats", "s", "web"))[0])
        self.assertEqual(set(body), set(self.d.get_json("/jobs/default/web/stats")))
        body = json.loads(self.ok(self.mcall("GetProcessStats", "u", pid))[0])
        http = self.d.get_json(f"/{pid}/stats")
        self.assertEqual(set(body), set(http))
        self.assertEqual(body["stats"]["os_pid"], http["stats"]["os_pid"])
        self.assertEqual(set(json.loads(self.ok(self.jcall("web", "GetStats"))[0])),
                         set(self.d.get_json("/jobs/default/web/stats")))
        self.assertEqual(set(json.loads(self.ok(self.pcall(pid, "GetStats"))[0])), set(http))
        self.err(self.mcall("GetProcessStats", "u", 999999), ERR + "NotFound")

    def test_reload_subscribe_unsubscribe(self):
        self.ok(self.mcall("Reload"))
        self.alive()
        for m in ("Subscribe", "Subscribe", "Unsubscribe", "Unsubscribe"):
            self.ok(self.mcall(m))

    def test_sdbus_errors_and_bad_paths(self):
        self.load("web", n=1)
        self.err(self.mcall("GetJob", "u", 5), INVALID_ARGS)
        self.err(self.mcall("ScaleJob", "s", "web"), INVALID_ARGS)
        self.err(self.mcall("GetProcess", "s", "1"), INVALID_ARGS)
        for path in (ROOT + "/job/nope", ROOT + "/job/default_2enope", ROOT + "/job/default_2zweb",
                     ROOT + "/job/_", ROOT + "/job/default_2eweb/x", ROOT + "/process/999999",
                     ROOT + "/process/abc", ROOT + "/process/1_2", ROOT + "/process/0", ROOT + "/process/_31"):
            with self.subTest(path=path):
                iface = JOB if "/job/" in path else PROCESS
                self.err(self.bc.get_property(SERVICE, path, iface, "Name" if iface == JOB else "Pid"), UNKNOWN_OBJECT)
        # Overlong strings and bad JSON: an error reply, never a crash.
        r = self.mcall("GetJob", "s", "w" * 100000)
        self.assertIn(r.error_name, (ERR + "NotFound", ERR + "BadRequest"), r)
        r = self.mcall("ScaleJob", "ss", "web", "+" + "9" * 100000)
        self.assertEqual(r.error_name, ERR + "BadRequest", r)
        self.err(self.mcall("LoadJob", "ss", "default", "[" * 100000), ERR + "BadRequest")
        self.alive()


class ObjectMethodsTest(GafferBusCase):
    """The job's and the process's own methods: the by-name/by-pid ones without the name."""

    def test_job_object_methods(self):
        self.load("web", n=2)
        self.ok(self.jcall("web", "Stop"))
        wait_for(lambda: not self.procs("web"), what="the job to stop")
        self.assertEqual(self.prop(job_path("web"), JOB, "Active")["data"], False)
        self.ok(self.jcall("web", "Start"))
        before = self.pids("web")
        self.ok(self.jcall("web", "Reload"))
        wait_for(lambda: len(self.procs("web")) == 2 and not {p["pid"] for p in self.procs("web")} & set(before)
                 and all(p["state"] == "running" for p in self.procs("web")), what="reloaded processes")
        before = self.pids("web")
        self.ok(self.jcall("web", "Signal", "s", "KILL"))
        wait_for(lambda: len(self.procs("web")) == 2 and not {p["pid"] for p in self.procs("web")} & set(before),
                 what="the killed processes to be replaced")
        self.err(self.jcall("web", "Signal", "s", "SIGFOO"), ERR + "BadRequest")
        self.err(self.jcall("web", "Scale", "s", "x"), ERR + "BadRequest")
        self.err(self.jcall("web", "Commit", "a{sv}", 1, "nope", "s", "x"), ERR + "BadRequest")
        self.err(self.jcall("web", "Update", "s", "{"), ERR + "BadRequest")
        cfg = json.dumps({"name": "web", "cmd": "sleep", "args": ["998"], "numprocesses": 1})
        self.ok(self.jcall("web", "Update", "s", cfg))
        # PUT semantics (§3.3): the target is max(new, current) = 2, all replaced.
        self.running("web", 2)
        self.assertEqual(self.d.get_json("/jobs/default/web")["config"]["args"], ["998"])
        self.ok(self.jcall("web", "Unload"))
        self.assertEqual(self.d.request("GET", "/jobs/default/web").status, 404)
        # The object went with the job.
        self.err(self.jcall("web", "Start"), UNKNOWN_OBJECT)

    def test_process_object_methods(self):
        self.load("web", n=2)
        a, b = self.pids("web")
        self.ok(self.pcall(a, "Stop"))
        wait_for(lambda: a not in [p["pid"] for p in self.procs("web")], what="the stopped process to go")
        self.ok(self.pcall(b, "Signal", "s", "KILL"))
        wait_for(lambda: b not in [p["pid"] for p in self.procs("web")], what="the killed process to go")
        c = self.pids("web")[0]
        self.err(self.pcall(c, "Signal", "s", "SIGFOO"), ERR + "BadRequest")
        self.err(self.pcall(c, "OpenOutput", "s", "out"), ERR + "NotRedirected")
        # A process object that went with its process.
        self.err(self.pcall(a, "Stop"), UNKNOWN_OBJECT)
        self.assertIn(c, self.pids("web"))


class StdinTest(GafferBusCase):
    """WriteProcess's errors, each with the HTTP outcome of POST /streams/<pid>/stdin."""

    def write(self, pid, chunk, total):
        self.assertTrue(DBUS_CLIENT and os.access(DBUS_CLIENT, os.X_OK), "GAFFER_DBUS_CLIENT is not built")
        r = subprocess.run([DBUS_CLIENT, "write", self.bus.address, str(pid), str(chunk), str(total)],
                           capture_output=True, timeout=60)
        return r.returncode, r.stdout.decode()

    def http_write(self, pid, data=b"x"):
        return self.d.request("POST", f"/streams/{pid}/stdin", data).status

    def test_write_errors_mirror_http(self):
        self.load("plain", n=1)
        self.load("sink", n=1, redirect_input=True)  # sleep never reads its stdin
        self.load("closer", cmd="sh", args=("-c", "exec 0<&-; exec sleep 1000"), n=1, redirect_input=True)
        plain, sink, closer = self.pids("plain")[0], self.pids("sink")[0], self.pids("closer")[0]
        # stdin not redirected: 403 over HTTP, Forbidden here.
        self.assertEqual(self.http_write(plain), 403)
        self.err(self.mcall("WriteProcess", "uay", plain, 1, 65), ERR + "Forbidden")
        self.err(self.pcall(plain, "Write", "ay", 1, 65), ERR + "Forbidden")
        self.assertEqual(self.http_write(999999), 404)
        self.err(self.mcall("WriteProcess", "uay", 999999, 1, 65), ERR + "NotFound")
        # A reader that closed its stdin: StreamClosed (HTTP 410), at once or after the
        # first write shows it.
        rc, out = self.write(closer, 4096, 1 << 20)
        self.assertEqual(rc, 3, out)
        self.assertTrue(out.startswith(f"error {ERR}StreamClosed:"), out)
        self.assertEqual(self.http_write(closer), 410)
        # A process that never reads: past the 4 MiB queue, StreamFull (HTTP 503); the
        # daemon never grows beyond that.
        rss0 = gafferlib.rss_kib(self.d.proc.pid)
        rc, out = self.write(sink, 65536, 64 << 20)
        self.assertEqual(rc, 3, out)
        self.assertTrue(out.startswith(f"error {ERR}StreamFull:"), out)
        written = int(out.rsplit("wrote ", 1)[1])
        self.assertGreaterEqual(written, 4 << 20, out)
        self.assertLess(written, 8 << 20, out)
        self.assertEqual(self.http_write(sink, b"x" * 65536), 503)
        if not gafferlib.SANITIZED:  # ASan's quarantine keeps freed memory resident
            self.assertLess(gafferlib.rss_kib(self.d.proc.pid) - rss0, 16 * 1024)
        self.alive()


class PropertiesTest(GafferBusCase):
    def test_manager_properties(self):
        v = self.d.get_json("/version")
        self.assertEqual(self.prop(ROOT, MANAGER, "Version"), {"type": "s", "data": v["version"]})
        self.assertEqual(self.prop(ROOT, MANAGER, "LoopBackend"), {"type": "s", "data": v["loop"]})
        self.assertEqual(self.prop(ROOT, MANAGER, "CgroupMode"), {"type": "s", "data": v["cgroup"]})
        self.assertEqual(self.prop(ROOT, MANAGER, "NJobs"), {"type": "u", "data": 0})
        self.load("web", n=2)
        self.load("api", n=1)
        self.assertEqual(self.prop(ROOT, MANAGER, "NJobs")["data"], 2)
        self.assertEqual(self.prop(ROOT, MANAGER, "NProcesses")["data"], 3)

    def test_job_properties(self):
        self.load("web", n=2)
        pids = self.pids("web")
        p = job_path("web")
        self.assertEqual(self.prop(p, JOB, "Name"), {"type": "s", "data": "default.web"})
        self.assertEqual(self.prop(p, JOB, "Session"), {"type": "s", "data": "default"})
        self.assertEqual(self.prop(p, JOB, "Active"), {"type": "b", "data": True})
        self.assertEqual(self.prop(p, JOB, "Running"), {"type": "u", "data": 2})
        self.assertEqual(self.prop(p, JOB, "NumProcesses"), {"type": "u", "data": 2})
        self.assertEqual(self.prop(p, JOB, "Flapping"), {"type": "b", "data": False})
        pr = self.prop(p, JOB, "Pids")
        self.assertEqual(pr["type"], "au")
        self.assertEqual(sorted(pr["data"]), sorted(self.d.get_json("/jobs/default/web/pids")["pids"]))
        self.assertEqual(sorted(pr["data"]), pids)
        cfg = json.loads(self.prop(p, JOB, "Config")["data"])
        self.assertEqual(cfg, self.d.get_json("/jobs/default/web")["config"])

    def test_process_properties(self):
        self.load("web", n=1)
        http = self.procs("web")[0]
        p = process_path(http["pid"])
        self.assertEqual(self.prop(p, PROCESS, "Pid"), {"type": "u", "data": http["pid"]})
        self.assertEqual(self.prop(p, PROCESS, "OsPid"), {"type": "u", "data": http["os_pid"]})
        self.assertEqual(self.prop(p, PROCESS, "Job"), {"type": "s", "data": "default.web"})
        self.assertEqual(self.prop(p, PROCESS, "JobPath"), {"type": "o", "data": job_path("web")})
        self.assertEqual(self.prop(p, PROCESS, "Committed"), {"type": "b", "data": False})
        self.assertEqual(self.prop(p, PROCESS, "State"), {"type": "s", "data": "running"})
        ct = self.prop(p, PROCESS, "CreateTime")
        self.assertEqual(ct["type"], "t")
        self.assertLess(abs(ct["data"] / 1e6 - http["create_time"]), 1.0)

    def test_properties_changed(self):
        self.load("web", n=1)
        mon = self.bc.monitor(SERVICE)
        self.addCleanup(mon.stop)
        r = self.d.request("POST", "/jobs/default/web/numprocesses", {"scale": "+2"})
        self.assertEqual(r.status, 200, r)
        self.running("web", 3)

        def changed(path, iface, prop, value):
            def pred(m):
                if m.get("member") != "PropertiesChanged" or m.get("path") != path:
                    return False
                name, props, _ = m["payload"]["data"]
                return name == iface and props.get(prop, {}).get("data") == value
            return pred
        mon.wait_signal(changed(job_path("web"), JOB, "NumProcesses", 3), what="PropertiesChanged NumProcesses=3")
        mon.wait_signal(changed(job_path("web"), JOB, "Running", 3), what="PropertiesChanged Running=3")
        mon.wait_signal(changed(ROOT, MANAGER, "NProcesses", 3), what="PropertiesChanged NProcesses=3")
        pids = self.pids("web")
        mon.wait_signal(lambda m: m.get("member") == "PropertiesChanged" and m.get("path") == job_path("web")
                        and sorted(m["payload"]["data"][1].get("Pids", {}).get("data", [])) == pids,
                        what="PropertiesChanged with the new Pids")
        r = self.d.request("POST", "/jobs/default/web/state", "0")
        self.assertEqual(r.status, 202, r)
        mon.wait_signal(changed(job_path("web"), JOB, "Active", False), what="PropertiesChanged Active=false")
        for m in mon.signals("PropertiesChanged"):
            name, props, invalidated = m["payload"]["data"]
            self.assertTrue(props or invalidated, m)
            const = {MANAGER: MANAGER_PROPERTIES, JOB: JOB_PROPERTIES, PROCESS: PROCESS_PROPERTIES}[name]
            for p in list(props) + invalidated:
                self.assertFalse(const[p][1], f"const property {p} in PropertiesChanged: {m}")


class SignalsTest(GafferBusCase):
    def test_job_and_process_signals_on_kill_and_restart(self):
        mon = self.bc.monitor(SERVICE)
        self.addCleanup(mon.stop)
        self.load("web", n=1)
        mon.wait_signal(lambda m: m.get("member") == "JobNew" and m["payload"]["data"] == ["default.web",
                                                                                           job_path("web")],
                        what="JobNew")
        proc = self.procs("web")[0]
        mon.wait_signal(lambda m: m.get("member") == "ProcessNew" and m["payload"]["data"] ==
                        [proc["pid"], process_path(proc["pid"])], what="ProcessNew")
        os.kill(proc["os_pid"], signal.SIGKILL)
        gone = mon.wait_signal(lambda m: m.get("member") == "ProcessRemoved" and m["payload"]["data"][0] ==
                               proc["pid"], what="ProcessRemoved")
        self.assertEqual(gone["payload"], {"type": "uoii", "data": [proc["pid"], process_path(proc["pid"]), -1, 9]})
        new = mon.wait_signal(lambda m: m.get("member") == "ProcessNew" and m["payload"]["data"][0] != proc["pid"],
                              what="ProcessNew of the replacement")
        self.assertEqual(new["path"], ROOT)
        self.assertEqual(new["interface"], MANAGER)
        # Nobody subscribed: no Event signals.
        self.assertEqual(mon.signals("Event"), [])
        r = self.d.request("DELETE", "/jobs/default/web")
        self.assertEqual(r.status, 200, r)
        mon.wait_signal(lambda m: m.get("member") == "JobRemoved" and m["payload"]["data"] == ["default.web",
                                                                                               job_path("web")],
                        what="JobRemoved")
        wait_for(lambda: len(mon.signals("ProcessRemoved")) == 2, what="the second ProcessRemoved")
        # A process that exits by itself: exit_status set, term_signal 0.
        self.load("short", cmd="sh", args=("-c", "sleep 0.2; exit 3"), n=1)
        m = mon.wait_signal(lambda m: m.get("member") == "ProcessRemoved" and m["payload"]["data"][2] == 3,
                            what="ProcessRemoved of a process that exited 3")
        self.assertEqual(m["payload"]["data"][3], 0)

    def test_events_only_while_subscribed(self):
        mon = self.bc.monitor(SERVICE)
        self.addCleanup(mon.stop)
        self.load("web", n=1)
        end, unique = self.subscriber()
        # /watch's view of the same events: an event stream read by a thread. When its
        # subscription starts is not observable, so processes are killed until /watch has
        # seen one of the exits (bounded).
        watched = []
        conn = self.d.connection(timeout=30)
        self.addCleanup(conn.close)
        conn.request("GET", "/watch/exit?feed=eventsource")

        def read_watch():
            try:
                body = conn.getresponse()
                for line in body:
                    if line.startswith(b"data:"):
                        watched.append(json.loads(line[5:]))
            except (OSError, ValueError, http.client.HTTPException):
                pass
        threading.Thread(target=read_watch, daemon=True).start()
        killed = []
        for _ in range(10):
            proc = self.running("web", 1)[0]
            os.kill(proc["os_pid"], signal.SIGKILL)
            killed.append(proc["pid"])
            mon.wait_signal(lambda m: m.get("member") == "Event" and m["payload"]["data"][0] == "spawn"
                            and json.loads(m["payload"]["data"][1]).get("pid") not in killed,
                            what="Event spawn of the replacement")
            if watched:
                break
        wait_for(lambda: watched, what="an exit event on /watch")
        events = {}
        for m in mon.signals("Event"):
            self.assertEqual(m["payload"]["type"], "ss")
            kind, body = m["payload"]["data"]
            self.assertFalse(kind.startswith(("job.", "proc.")), f"a copy of an event was sent: {m}")
            events.setdefault(kind, []).append(json.loads(body))
        # Once per event: one exit per killed process, and each is the JSON /watch gives.
        self.assertEqual(sorted(e.get("pid") for e in events["exit"]), sorted(killed))
        for w in watched:
            self.assertIn(w, events["exit"])
        self.assertEqual(len(events["spawn"]), len(killed))
        # The subscriber leaves the bus: its subscription ends with it. Once the bus says
        # its name is gone, it has queued NameOwnerChanged to gafferd; a round trip to
        # gafferd after that is answered after gafferd has read it.
        end()
        wait_for(lambda: not self.bc.name_has_owner(unique), what="the subscriber to leave the bus")
        self.ok(self.mcall("ListSessions"))
        before = len(mon.signals("Event"))
        proc = self.running("web", 1)[0]
        os.kill(proc["os_pid"], signal.SIGKILL)
        mon.wait_signal(lambda m: m.get("member") == "ProcessNew" and m["payload"]["data"][0] > proc["pid"],
                        what="ProcessNew after the subscriber left")
        self.assertEqual(len(mon.signals("Event")), before, "Event signals after the only subscriber left")


class OpenOutputTest(GafferBusCase):
    def client(self, *args, timeout=15):
        self.assertTrue(DBUS_CLIENT and os.access(DBUS_CLIENT, os.X_OK), "GAFFER_DBUS_CLIENT is not built")
        return subprocess.run([DBUS_CLIENT, *[str(a) for a in args]], capture_output=True, timeout=timeout)

    def test_reads_a_line_a_process_printed(self):
        self.load("talk", cmd="sh", args=("-c", "while :; do echo tick-line; sleep 0.05; done"), n=1,
                  redirect_output=["out"])
        pid = self.pids("talk")[0]
        for via in ("manager", "process"):
            with self.subTest(via=via):
                r = self.client("open-output", self.bus.address, pid, "out", "tick-line\n", 5000, via)
                self.assertEqual(r.returncode, 0, r)
                self.assertTrue(r.stdout.startswith(b"open\n"), r)

    def test_write_reaches_stdin(self):
        self.load("echo", cmd="cat", args=(), n=1, redirect_output=["out"], redirect_input=True)
        pid = self.pids("echo")[0]
        self.assertTrue(DBUS_CLIENT and os.access(DBUS_CLIENT, os.X_OK), "GAFFER_DBUS_CLIENT is not built")
        p = subprocess.Popen([DBUS_CLIENT, "open-output", self.bus.address, str(pid), "out", "hello-dbus", "8000"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertEqual(p.stdout.readline(), b"open\n")
            self.ok(self.mcall("WriteProcess", "uay", pid, 6, *b"hello-"))
            self.ok(self.pcall(pid, "Write", "ay", 5, *b"dbus\n"))
            self.assertEqual(p.wait(10), 0, p.stdout.read())
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()

    def test_a_reader_that_does_not_read_never_stalls_the_daemon(self):
        # `yes` fills any pipe at once. The reader holds its descriptor without reading
        # for 2 s: gafferd must drop for it (bounded), never block its loop on the full
        # pipe, never make the process wait, and never grow without bound.
        self.load("flood", cmd="yes", args=("flood-line",), n=1, redirect_output=["out"])
        pid = self.pids("flood")[0]
        rss0 = gafferlib.rss_kib(self.d.proc.pid)
        p = subprocess.Popen([DBUS_CLIENT, "hold-output", self.bus.address, str(pid), "out", "2000"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            self.assertEqual(p.stdout.readline(), b"open\n", p.stderr.read(1000) if p.poll() is not None else "")
            # Meanwhile, another subscriber (HTTP) keeps getting the output, and both
            # APIs answer within a second.
            conn = self.d.connection(timeout=5)
            conn.request("GET", f"/streams/{pid}/out?feed=continuous")
            body = conn.getresponse()
            t_end = time.monotonic() + 1.5
            got = 0
            while time.monotonic() < t_end:
                got += len(body.read1(65536))
                self.assertTrue(self.d.request("GET", "/ping", timeout=1).status == 200)
            conn.close()
            # Flowing, not fast: a sanitized gafferd moves a fraction of the bytes.
            self.assertGreater(got, (1 << 16) if gafferlib.SANITIZED else (1 << 20),
                               "the process's output stopped flowing while a D-Bus reader held back")
            self.alive()
            out, err = p.communicate(timeout=10)
            self.assertEqual(p.returncode, 0, err)
            self.assertTrue(out.startswith(b"read "), out)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        if not gafferlib.SANITIZED:  # ASan's quarantine keeps freed memory resident
            self.assertLess(gafferlib.rss_kib(self.d.proc.pid) - rss0, 32 * 1024,
                            "gafferd grew while a reader held back")

    def test_a_closed_descriptor_is_an_unsubscription(self):
        # The client takes a line and exits: the read end is closed while the process
        # keeps writing. gafferd notices (EPIPE, never SIGPIPE) and goes on.
        self.load("talk", cmd="sh", args=("-c", "while :; do echo tick-line; sleep 0.01; done"), n=1,
                  redirect_output=["out"])
        pid = self.pids("talk")[0]
        for _ in range(3):
            r = self.client("open-output", self.bus.address, pid, "out", "tick-line\n", 5000)
            self.assertEqual(r.returncode, 0, r)
        conn = self.d.connection(timeout=5)
        conn.request("GET", f"/streams/{pid}/out?feed=continuous")
        body = conn.getresponse()
        seen = b""
        while seen.count(b"tick-line") < 20:
            seen += body.read1(4096)
        conn.close()
        self.alive()
        self.assertEqual(self.procs("talk")[0]["pid"], pid)

    def test_errors(self):
        self.load("talk", cmd="sh", args=("-c", "while :; do echo x; sleep 0.1; done"), n=1, redirect_output=["out"])
        self.load("plain", n=1)
        pid = self.pids("talk")[0]
        plain = self.pids("plain")[0]
        r = self.client("open-output", self.bus.address, pid, "nolabel", "x", 2000)
        self.assertEqual((r.returncode, r.stdout.split(b":")[0]), (3, b"error " + (ERR + "NotFound").encode()), r)
        r = self.client("open-output", self.bus.address, plain, "out", "x", 2000)
        self.assertEqual((r.returncode, r.stdout.split(b":")[0]), (3, b"error " + (ERR + "NotRedirected").encode()),
                         r)
        r = self.client("open-output", self.bus.address, 999999, "out", "x", 2000)
        self.assertEqual((r.returncode, r.stdout.split(b":")[0]), (3, b"error " + (ERR + "NotFound").encode()), r)
        self.alive()


class BusComesAndGoesTest(unittest.TestCase):
    """The HTTP API never depends on the bus; a bus that goes away is reconnected."""

    def start(self):
        """A bus and a gafferd on it (given the address without the guid: a restarted bus
        has another one); waits until gafferd owns the name. Returns (bus, busctl, daemon)."""
        bus = DBusDaemon().start()
        self.addCleanup(bus.stop)
        bc = Busctl(bus.path_address)
        d = gafferlib.Daemon("", extra_args=["--dbus-address=" + bus.path_address])
        self.addCleanup(d.cleanup)
        try:
            d.start()
        except AssertionError as e:
            raise AssertionError(f"gafferd does not start with --dbus-address (issue 13): {str(e)[:500]}") from None
        wait_for(lambda: bc.name_owner_pid(SERVICE) == d.proc.pid, timeout=10, what=f"gafferd to own {SERVICE}")
        return bus, bc, d

    def test_a_stalled_bus_never_stalls_http(self):
        bus, bc, d = self.start()
        r = d.request("POST", "/jobs/default", {"name": "web", "cmd": "sleep", "args": ["1000"], "numprocesses": 1})
        self.assertEqual(r.status, 200, r)
        # The bus stops reading: every signal gafferd emits now (JobNew, ProcessNew,
        # PropertiesChanged...) can only queue. HTTP answers as before.
        os.kill(bus.pid, signal.SIGSTOP)
        self.addCleanup(lambda: bus.proc and bus.proc.poll() is None and os.kill(bus.pid, signal.SIGCONT))
        for i in range(30):
            r = d.request("POST", "/jobs/default/web/numprocesses", {"scale": "+1" if i % 2 == 0 else "-1"},
                          timeout=2)
            self.assertEqual(r.status, 200, r)
            r = d.request("POST", "/jobs/default", {"name": f"j{i}", "cmd": "sleep", "args": ["1000"],
                                                    "numprocesses": 0}, timeout=2)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(d.request("GET", "/ping", timeout=2).status, 200)
        os.kill(bus.pid, signal.SIGCONT)
        wait_for(lambda: bc.call(SERVICE, ROOT, MANAGER, "ListJobs").ok, timeout=10,
                 what="gafferd to answer on the bus again")
        jobs = [j[0] for j in bc.call(SERVICE, ROOT, MANAGER, "ListJobs").data[0]]
        self.assertEqual(len(jobs), 31, jobs)

    def test_bus_goes_and_comes_back(self):
        bus, bc, d = self.start()
        bus.end_process()
        # No bus: HTTP goes on as before.
        r = d.request("POST", "/jobs/default", {"name": "web", "cmd": "sleep", "args": ["1000"], "numprocesses": 2})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(d.ping())
        wait_for(lambda: len(d.get_json("/jobs/default/web/pids")["pids"]) == 2, what="2 processes over HTTP")
        bus.start()
        wait_for(lambda: bc.name_owner_pid(SERVICE) == d.proc.pid, timeout=20, interval=0.1,
                 what=f"gafferd to come back on the restarted bus as {SERVICE}")
        r = bc.call(SERVICE, ROOT, MANAGER, "ListJobs")
        self.assertTrue(r.ok, r)
        self.assertEqual([j[0] for j in r.data[0]], ["default.web"])
        self.assertTrue(d.ping())


class RightsTest(GafferBusCase):
    def test_reads_are_open_changes_are_denied(self):
        self.load("web", n=2)
        pid = self.pids("web")[0]
        nb = self.nobody
        self.assertEqual(self.ok(self.mcall("ListJobs", bc=nb))[0][0][0], "default.web")
        self.ok(self.mcall("ListProcesses", bc=nb))
        self.ok(self.mcall("GetJob", "s", "web", bc=nb))
        self.ok(self.mcall("GetJobStats", "s", "web", bc=nb))
        self.assertEqual(self.prop(job_path("web"), JOB, "NumProcesses", bc=nb)["data"], 2)
        self.ok(self.mcall("Subscribe", bc=nb))
        denied = [
            ("ScaleJob", "ss", "web", "+1"), ("ScaleJob", "ss", "nope", "+1"), ("StopJob", "s", "web"),
            ("StartJob", "s", "web"), ("ReloadJob", "s", "web"), ("SignalJob", "ss", "web", "KILL"),
            ("CommitJob", "sa{sv}", "web", 0), ("UpdateJob", "ss", "web", "{}"), ("UnloadJob", "s", "web"),
            ("StopProcess", "u", pid), ("SignalProcess", "us", pid, "KILL"), ("StopProcess", "u", 999999),
            ("WriteProcess", "uay", pid, 1, 65), ("Reload",),
            ("LoadJob", "ss", "default", json.dumps({"name": "x", "cmd": "sleep", "args": ["100"]})),
            ("LoadJob", "ss", "default", "not json"),
        ]
        for call in denied:
            with self.subTest(call=call):
                self.err(self.mcall(*call, bc=nb), ACCESS_DENIED)
        for method, sig, *args in (("Scale", "s", "+1"), ("Stop", ""), ("Signal", "s", "KILL"), ("Unload", ""),
                                   ("Commit", "a{sv}", 0)):
            with self.subTest(job_method=method):
                self.err(self.jcall("web", method, sig, *args, bc=nb), ACCESS_DENIED)
        for method, sig, *args in (("Stop", ""), ("Signal", "s", "KILL"), ("Write", "ay", 1, 65)):
            with self.subTest(process_method=method):
                self.err(self.pcall(pid, method, sig, *args, bc=nb), ACCESS_DENIED)
        # Nothing changed.
        self.assertEqual(self.d.get_json("/jobs")["jobs"], ["default.web"])
        self.assertEqual(sorted(self.d.get_json("/jobs/default/web/pids")["pids"]), self.pids("web"))
        self.assertIn(pid, self.pids("web"))
        self.assertEqual(self.d.get_json("/jobs/default/web/numprocesses")["numprocesses"], 2)


class OutputQuotaTest(GafferBusCase):
    def test_one_user_cannot_take_every_output(self):
        # OpenOutput is a read, open to every local user: 32 at most per uid, so that one
        # user holding descriptors leaves others (root here) theirs.
        self.assertTrue(DBUS_CLIENT and os.access(DBUS_CLIENT, os.X_OK), "GAFFER_DBUS_CLIENT is not built")
        self.load("talk", cmd="sh", args=("-c", "while :; do echo x; sleep 0.2; done"), n=1,
                  redirect_output=["out"])
        pid = self.pids("talk")[0]
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        holders = []
        try:
            for _ in range(32):
                p = subprocess.Popen(as_nobody + [DBUS_CLIENT, "hold-output", self.bus.address, str(pid), "out",
                                                  "20000"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                holders.append(p)
                self.assertEqual(p.stdout.readline().strip(), b"open")
            extra = subprocess.run(as_nobody + [DBUS_CLIENT, "hold-output", self.bus.address, str(pid), "out", "0"],
                                   capture_output=True, timeout=15)
            self.assertIn(b"org.freedesktop.DBus.Error.LimitsExceeded", extra.stdout, extra)
            mine = subprocess.run([DBUS_CLIENT, "hold-output", self.bus.address, str(pid), "out", "0"],
                                  capture_output=True, timeout=15)
            self.assertTrue(mine.stdout.startswith(b"open"), mine)
        finally:
            for p in holders:
                p.stdin.close()
                p.wait(timeout=15)
                p.stdout.close()
        # The descriptors closed, the quota is back.
        again = wait_for(lambda: subprocess.run(as_nobody + [DBUS_CLIENT, "hold-output", self.bus.address, str(pid),
                                                             "out", "0"], capture_output=True, timeout=15)
                         .stdout.startswith(b"open"), what="nobody's outputs to be released")
        self.assertTrue(again)


class MirrorTest(GafferBusCase):
    def test_scale_on_one_api_is_seen_on_the_other(self):
        self.load("web", n=1)
        self.ok(self.mcall("ScaleJob", "ss", "web", "+2"))
        self.assertEqual(self.d.get_json("/jobs/default/web/numprocesses")["numprocesses"], 3)
        self.running("web", 3)
        r = self.d.request("POST", "/jobs/default/web/numprocesses", {"scale": "-1"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.prop(job_path("web"), JOB, "NumProcesses")["data"], 2)
        self.ok(self.jcall("web", "Scale", "s", "=4"))
        self.assertEqual(self.d.get_json("/jobs/default/web/numprocesses")["numprocesses"], 4)
        wait_for(lambda: self.prop(job_path("web"), JOB, "Running")["data"] == 4, what="Running = 4 over D-Bus")

    def test_same_bad_input_same_outcome(self):
        self.load("web", n=1)
        self.load("talk", cmd="sh", args=("-c", "while :; do echo x; sleep 0.2; done"), n=1, redirect_output=["out"])
        talk = self.pids("talk")[0]
        dup = json.dumps({"name": "web", "cmd": "sleep", "args": ["1"]})
        cases = [
            (("ScaleJob", "ss", "web", "x"), ("POST", "/jobs/default/web/numprocesses", {"scale": "x"})),
            (("ScaleJob", "ss", "nope", "+1"), ("POST", "/jobs/default/nope/numprocesses", {"scale": "+1"})),
            (("SignalJob", "ss", "web", "SIGFOO"), ("POST", "/jobs/default/web/signal", {"signal": "SIGFOO"})),
            (("SignalJob", "ss", "nope", "TERM"), ("POST", "/jobs/default/nope/signal", {"signal": "TERM"})),
            (("SignalProcess", "us", 999999, "TERM"), ("POST", "/999999/signal", {"signal": "TERM"})),
            (("StopProcess", "u", 999999), ("DELETE", "/999999", None)),
            (("GetJobStats", "s", "nope"), ("GET", "/jobs/default/nope/stats", None)),
            (("GetProcessStats", "u", 999999), ("GET", "/999999/stats", None)),
            (("LoadJob", "ss", "default", dup), ("POST", "/jobs/default", json.loads(dup))),
            (("LoadJob", "ss", "default", "{"), ("POST", "/jobs/default", "{")),
            (("LoadJob", "ss", "default", json.dumps({"name": "x"})), ("POST", "/jobs/default", {"name": "x"})),
            (("UpdateJob", "ss", "nope", json.dumps({"name": "nope", "cmd": "true"})),
             ("PUT", "/jobs/default/nope", {"name": "nope", "cmd": "true"})),
            (("UpdateJob", "ss", "web", "{"), ("PUT", "/jobs/default/web", "{")),
            (("UnloadJob", "s", "nope"), ("DELETE", "/jobs/default/nope", None)),
            (("StopJob", "s", "nope"), ("POST", "/jobs/default/nope/state", "0")),
            (("CommitJob", "sa{sv}", "web", 1, "graceful_timeout", "d", -1),
             ("POST", "/jobs/default/web/commit", {"graceful_timeout": -1})),
            (("CommitJob", "sa{sv}", "web", 1, "env", "a{ss}", 1, "A=B", "x"),
             ("POST", "/jobs/default/web/commit", {"env": {"A=B": "x"}})),
            (("CommitJob", "sa{sv}", "nope", 0), ("POST", "/jobs/default/nope/commit", {})),
            (("OpenProcessOutput", "us", talk, "nolabel"), ("GET", f"/streams/{talk}/nolabel", None)),
        ]
        state = self.snapshot()
        for dbus, http in cases:
            with self.subTest(dbus=dbus):
                r = self.d.request(*http[:2], body=http[2])
                self.assertIn(r.status, STATUS_TO_ERROR, f"{http}: {r}")
                self.err(self.mcall(*dbus), STATUS_TO_ERROR[r.status])
        self.assertEqual(self.snapshot(), state, "a refused call changed something")

    def snapshot(self):
        return (sorted(self.d.get_json("/jobs")["jobs"]), sorted(self.d.get_json("/pids")["pids"]),
                self.d.get_json("/jobs/default/web/numprocesses"), self.d.get_json("/jobs/default/web")["config"])


class ChaosTest(GafferBusCase):
    KILLS = 500
    N = 20

    def test_500_kills_while_a_monitor_listens(self):
        self.load("web", n=self.N)
        mon = self.bc.monitor(SERVICE)
        self.addCleanup(mon.stop)
        # A slow client too: subscribed to Event, it never reads what it is sent.
        self.subscriber()
        killed = set()
        rounds = 0
        while len(killed) < self.KILLS:
            rounds += 1
            self.assertLess(rounds, 200, f"only {len(killed)} kills after 200 rounds")
            procs = [p for p in self.procs("web") if p["state"] == "running" and p["os_pid"] not in killed]
            for p in procs[:self.KILLS - len(killed)]:
                try:
                    os.kill(p["os_pid"], signal.SIGKILL)
                    killed.add(p["os_pid"])
                except ProcessLookupError:
                    pass
            # Both APIs keep answering in the middle of it.
            if rounds % 5 == 0:
                self.alive()
            if not procs:
                time.sleep(0.01)  # the replacements are being spawned; poll again
        self.running("web", self.N, timeout=30)
        self.alive()
        self.assertEqual(self.prop(ROOT, MANAGER, "NProcesses")["data"], self.N)
        wait_for(lambda: len(mon.signals("ProcessRemoved")) >= self.KILLS, timeout=20,
                 what=f"{self.KILLS} ProcessRemoved signals")
        # Every kill ends one process, and ProcessRemoved is always emitted once for it.
        self.assertEqual(len(mon.signals("ProcessRemoved")), self.KILLS)
        self.assertEqual(len(mon.signals("ProcessNew")), self.KILLS)
        # PropertiesChanged stays bounded by the changes: a kill changes the job twice
        # (the exit, the respawn: Running, Pids) and the manager twice (NProcesses), and the
        # new process's State once (starting → running); coalescing can only lower that.
        changes = mon.signals("PropertiesChanged")
        by_path = {}
        for m in changes:
            by_path.setdefault(m["path"], []).append(m)
        self.assertLessEqual(len(by_path.pop(job_path("web"), [])), 2 * self.KILLS)
        self.assertLessEqual(len(by_path.pop(ROOT, [])), 2 * self.KILLS)
        for path, ms in by_path.items():
            self.assertTrue(path.startswith(ROOT + "/process/"), path)
            self.assertLessEqual(len(ms), 2, f"{path}: {len(ms)} PropertiesChanged for at most 2 State changes")
        self.assertLessEqual(len(changes), 5 * self.KILLS + 2 * self.N)
        # ... and only while the object exists: none for a process after its ProcessRemoved.
        removed_at = {}
        for i, m in enumerate(mon.snapshot()):
            if m.get("type") != "signal":
                continue
            if m.get("member") == "ProcessRemoved":
                removed_at[m["payload"]["data"][1]] = i
            elif m.get("member") == "PropertiesChanged" and m["path"] in removed_at:
                self.fail(f"PropertiesChanged on {m['path']} after its ProcessRemoved: {m}")
        # Event: once per event, for the subscriber (that never read them).
        def exits():
            return [m for m in mon.signals("Event") if m["payload"]["data"][0] == "exit"]
        wait_for(lambda: len(exits()) >= self.KILLS, timeout=10, what=f"{self.KILLS} Event exit signals")
        self.assertEqual(len(exits()), self.KILLS)


if __name__ == "__main__":
    unittest.main()
