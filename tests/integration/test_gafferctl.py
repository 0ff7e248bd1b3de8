#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Integration test of gafferctl (man/gafferctl.1) against the real gafferd.
#
# Each test starts its own gafferd on a unix socket in a fresh temporary directory
# (`gafferd --bind unix:<tmp>/gafferd.sock --state-dir <tmp>/... <tmp>/gafferd.ini`, the
# config holding one job `web` = `sleep 1000` x 2), waits until the job's two processes
# run, then drives the daemon with the gafferctl binary only and checks output and exit
# status. A cleanup stops the daemon (SIGTERM, SIGKILL after 10 s) and checks that no
# process it started is left behind.
#
# Environment: $GAFFERD = the built gafferd, $GAFFERCTL = the built gafferctl. Missing
# either is a test failure, never a skip. Python 3 standard library only.
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

GAFFERD = os.environ.get("GAFFERD", "")
GAFFERCTL = os.environ.get("GAFFERCTL", "")

CONFIG = "[process:web]\ncmd = sleep 1000\nnumprocesses = 2\n"
STARTUP_TIMEOUT = 20.0
WAIT_TIMEOUT = 15.0


def wait_until(predicate, timeout=WAIT_TIMEOUT, interval=0.05):
    """Polls predicate() until it returns a true value; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def proc_stat(pid):
    """(state, ppid, starttime) of a live pid, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def alive(pid, starttime=None):
    """True if pid runs (zombies do not count) and, if given, started at starttime."""
    st = proc_stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return starttime is None or st[2] == starttime


def descendants(root):
    """Every live descendant of root, as {pid: starttime}, from /proc."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is not None:
            children.setdefault(st[1], []).append((int(name), st[2]))
    out, todo = {}, [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            if pid not in out:
                out[pid] = start
                todo.append(pid)
    return out


class GafferdTestCase(unittest.TestCase):
    """Starts one gafferd per test; subclasses add daemon arguments."""

    extra_args = []

    def setUp(self):
        if not GAFFERD or not os.access(GAFFERD, os.X_OK):
            self.fail("$GAFFERD must name the built gafferd binary (got %r)" % GAFFERD)
        if not GAFFERCTL or not os.access(GAFFERCTL, os.X_OK):
            self.fail("$GAFFERCTL must name the built gafferctl binary (got %r)" % GAFFERCTL)
        self.tmp = tempfile.mkdtemp(prefix="gafferctl-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.sock = os.path.join(self.tmp, "gafferd.sock")
        self.endpoint = "unix:" + self.sock
        ini = os.path.join(self.tmp, "gafferd.ini")
        with open(ini, "w") as f:
            f.write(CONFIG)
        # Keep the daemon away from the real user's runtime, config and state
        # directories (default socket, key store).
        self.env = dict(os.environ)
        for var, sub in (("HOME", "home"), ("XDG_RUNTIME_DIR", "run"), ("XDG_CONFIG_HOME", "config"),
                         ("XDG_STATE_HOME", "state"), ("XDG_DATA_HOME", "data")):
            path = os.path.join(self.tmp, sub)
            os.makedirs(path, mode=0o700, exist_ok=True)
            self.env[var] = path
        for var in ("GAFFERCTL_ENDPOINT", "GAFFER_API_KEY", "GAFFERD_CONFIG"):
            self.env.pop(var, None)
        self.log_path = os.path.join(self.tmp, "gafferd.log")
        self.log = open(self.log_path, "wb")
        self.addCleanup(self.log.close)
        self.tracked = {}  # os pid -> starttime of every process seen, for the leak check
        # --state-dir: as root the key store would otherwise live under /var/lib.
        self.daemon = subprocess.Popen(
            [GAFFERD, "--bind", self.endpoint, "--state-dir", os.path.join(self.tmp, "state", "gaffer")]
            + self.extra_args + [ini],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            env=self.env, cwd=self.tmp)
        # A cleanup, not tearDown: it must also run when setUp fails below.
        self.addCleanup(self.stop_daemon)
        self.wait_for_daemon()

    def daemon_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-4000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_for_daemon(self):
        def connectable():
            if self.daemon.poll() is not None:
                return True
            if not os.path.exists(self.sock):
                return False
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                try:
                    s.connect(self.sock)
                    return True
                except OSError:
                    return False

        wait_until(connectable, STARTUP_TIMEOUT)
        if self.daemon.poll() is not None:
            self.fail("gafferd exited with %s during start-up:\n%s" % (self.daemon.returncode, self.daemon_log()))
        if not os.path.exists(self.sock):
            self.fail("gafferd did not create %s within %ss:\n%s" % (self.sock, STARTUP_TIMEOUT, self.daemon_log()))
        # The job is spawned asynchronously: wait for its two processes.
        if not wait_until(lambda: len(self.running_pids("default.web")) == 2, STARTUP_TIMEOUT):
            self.fail("default.web never had 2 processes:\n%s" % self.daemon_log())

    def stop_daemon(self):
        """SIGTERM, SIGKILL after 10 s, then checks that every process it ran is gone."""
        try:
            self.track()
        except Exception:  # the daemon may be dead or confused; /proc still tells
            pass
        self.tracked.update(descendants(self.daemon.pid))
        if self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        left = wait_until(lambda: not any(alive(p, s) for p, s in self.tracked.items()), 5.0)
        if not left:
            leaked = [p for p, s in self.tracked.items() if alive(p, s)]
            for p in leaked:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            self.fail("processes left behind by gafferd: %s" % leaked)

    # --- helpers --------------------------------------------------------------------

    def ctl(self, *args, stdin=None, endpoint=True, env=None):
        """Runs gafferctl; returns the CompletedProcess (text mode)."""
        cmd = [GAFFERCTL]
        if endpoint:
            cmd += ["--endpoint", self.endpoint]
        cmd += list(args)
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                              env=env if env is not None else self.env, timeout=60)

    def ok(self, *args, **kw):
        """Runs gafferctl, asserts exit 0 and empty stderr, returns stdout lines."""
        r = self.ctl(*args, **kw)
        self.assertEqual(r.returncode, 0, "gafferctl %s: rc=%d stderr=%r\n%s" %
                         (" ".join(args), r.returncode, r.stderr, self.daemon_log()))
        self.assertEqual(r.stderr, "", "gafferctl %s wrote to stderr" % " ".join(args))
        return r.stdout.splitlines()

    def fails(self, code, *args, **kw):
        """Runs gafferctl, asserts exit `code`, nothing on stdout; returns stderr."""
        r = self.ctl(*args, **kw)
        self.assertEqual(r.returncode, code, "gafferctl %s: rc=%d stdout=%r stderr=%r" %
                         (" ".join(args), r.returncode, r.stdout, r.stderr))
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("gafferctl: "), r.stderr)
        if code == 1:
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, "one error line expected: %r" % r.stderr)
        return r.stderr

    def ps_json(self, job=None):
        args = ["--json", "ps"] + ([job] if job else [])
        r = self.ctl(*args)
        if r.returncode != 0:
            return []
        procs = json.loads(r.stdout)["processes"]
        for p in procs:
            if isinstance(p.get("os_pid"), int):
                st = proc_stat(p["os_pid"])
                if st is not None:
                    self.tracked.setdefault(p["os_pid"], st[2])
        return procs

    def running_pids(self, job):
        return [p["pid"] for p in self.ps_json(job) if p.get("state") == "running"]

    def track(self):
        self.ps_json()

    def pids(self, *args):
        return [int(x) for x in self.ok("pids", *args)]

    def write(self, name, obj):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            json.dump(obj, f)
        return path


class GafferctlTest(GafferdTestCase):

    # --- basics ---------------------------------------------------------------------

    def test_ping_and_version(self):
        self.assertEqual(self.ok("ping"), ["OK"])
        out = self.ok("version")
        self.assertEqual(len(out), 1)
        self.assertRegex(out[0], r"^gaffer \(version \S+\)$")
        # --version is local and needs no daemon.
        out = self.ok("--version", endpoint=False)
        self.assertRegex(out[0], r"^gafferctl \(version \S+\)$")

    def test_help(self):
        out = "\n".join(self.ok("help", endpoint=False))
        for name in ("processes", "add_process", "load_process", "update_process", "get_process",
                     "del_process", "start", "stop", "add", "sub", "status", "running", "numprocesses",
                     "pids", "kill", "version", "sessions", "jobs", "load", "unload", "update", "info",
                     "reload", "scale", "commit", "signal", "stop-process", "ps", "stats", "state",
                     "keys", "key", "key-create", "key-delete", "users", "user", "user-add", "user-del",
                     "user-password", "user-key", "auth"):
            self.assertRegex(out, r"(?m)^  %s\s" % re.escape(name))
        self.assertIn("usage: gafferctl scale", "\n".join(self.ok("help", "scale", endpoint=False)))
        self.assertIn("usage: gafferctl commit", "\n".join(self.ok("commit", "--help", endpoint=False)))
        self.fails(2, "help", "no-such-command", endpoint=False)

    def test_endpoint_from_environment(self):
        env = dict(self.env, GAFFERCTL_ENDPOINT=self.endpoint)
        self.assertEqual(self.ok("jobs", endpoint=False, env=env), ["default.web"])
        # --connect is the 0.4 spelling of --endpoint.
        self.assertEqual(self.ok("--connect", self.endpoint, "jobs", endpoint=False), ["default.web"])

    def test_sessions_and_jobs(self):
        self.assertEqual(self.ok("sessions"), ["default"])
        self.assertEqual(self.ok("jobs"), ["default.web"])
        self.assertEqual(self.ok("jobs", "default"), ["default.web"])
        err = self.fails(1, "jobs", "nosuch")
        self.assertIn("gafferctl: jobs nosuch: 404", err)
        self.assertEqual(self.ok("processes"), ["web"])

    # --- listings -------------------------------------------------------------------

    def test_ps_table(self):
        out = self.ok("ps")
        self.assertEqual(out[0].split(), ["PID", "OSPID", "JOB", "STATE", "UPTIME", "RESTARTS"])
        rows = [line.split() for line in out[1:]]
        self.assertEqual(len(rows), 2, out)
        for row in rows:
            self.assertTrue(row[0].isdigit() and row[1].isdigit(), row)
            self.assertEqual(row[2:4], ["default.web", "running"])
            self.assertRegex(row[4], r"^\d+[smhd]")
            self.assertTrue(alive(int(row[1])), "os pid %s does not run" % row[1])
        # The same processes per job (UPTIME may tick between the two calls).
        def cells(lines):
            return sorted([c[:4] + c[5:] for c in (l.split() for l in lines[1:])], key=lambda c: int(c[0]))
        self.assertEqual(cells(self.ok("ps", "default.web")), cells(out))
        self.fails(1, "ps", "default.nosuch")

    def test_pids_all_forms(self):
        pids = self.pids("default.web")
        self.assertEqual(len(pids), 2)
        self.assertEqual(sorted(self.pids()), sorted(pids))
        self.assertEqual(sorted(self.pids("web")), sorted(pids))
        self.assertEqual(sorted(int(x) for x in self.ok("processes", "--running")), sorted(pids))

    def test_info_job_and_process(self):
        info = self.ok("info", "default.web")
        self.assertIn("name: default.web", info)
        self.assertIn("active: true", info)
        self.assertIn("running: 2", info)
        self.assertIn("max_processes: 2", info)
        self.assertIn("config:", info)
        pid = self.pids("default.web")[0]
        pinfo = self.ok("info", str(pid))
        self.assertIn("pid: %d" % pid, pinfo)
        self.assertIn("name: default.web", pinfo)
        os_pid = [l for l in pinfo if l.startswith("os_pid: ")]
        self.assertEqual(len(os_pid), 1, pinfo)
        self.assertTrue(alive(int(os_pid[0].split()[1])))
        self.assertIn("gafferctl: info 999999: 404", self.fails(1, "info", "999999"))

    def test_status_running_numprocesses_state(self):
        for name in ("web", "default.web"):
            self.assertEqual(self.ok("status", name), ["active"])
            self.assertEqual(self.ok("running", name), ["2"])
            self.assertEqual(self.ok("numprocesses", name), ["2"])
        self.assertEqual(self.ok("state", "default.web"), ["1"])
        self.fails(1, "status", "nosuch")
        self.fails(1, "status", "default.nosuch")

    def test_stats(self):
        out = self.ok("stats", "default.web")
        self.assertEqual(out[0].split(), ["PID", "OSPID", "CPU", "MEM", "RSS", "VSZ", "CTIME"])
        self.assertEqual(len(out), 4, out)
        self.assertTrue(out[-1].startswith("Total CPU: "), out)
        pid = self.pids("default.web")[0]
        lines = self.ok("stats", str(pid))
        keys = {l.split(":", 1)[0] for l in lines}
        self.assertTrue({"mem_info1", "mem_info2", "cpu", "mem", "ctime"} <= keys, lines)

    def test_top_snapshots(self):
        out = self.ok("top", "--count", "2", "--interval", "0.2")
        headers = [l for l in out if l.startswith("JOB")]
        self.assertEqual(len(headers), 2, out)
        self.assertEqual(headers[0].split(), ["JOB", "PID", "OSPID", "STATE", "CPU%", "MEM%", "RSS", "UPTIME",
                                              "RESTARTS"])
        rows = [l.split() for l in out if l.startswith("default.web ")]
        self.assertGreaterEqual(len(rows), 2, out)
        self.assertTrue(all(r[3] == "running" for r in rows), rows)
        self.assertTrue(any(l.startswith("default.web: CPU ") for l in out), out)
        self.fails(2, "top", "--interval", "0")

    def test_json_output(self):
        self.assertEqual(json.loads(self.ctl("--json", "jobs").stdout), {"jobs": ["default.web"]})
        # Global options are accepted after the command too.
        procs = json.loads("\n".join(self.ok("ps", "--json")))["processes"]
        self.assertEqual(len(procs), 2)
        self.assertTrue(all(p["name"] == "default.web" for p in procs))
        info = json.loads("\n".join(self.ok("info", "default.web", "--json")))
        self.assertEqual(info["max_processes"], 2)
        self.assertEqual(info["name"], "default.web")

    # --- scaling, start/stop ----------------------------------------------------------

    def test_scale(self):
        self.assertEqual(self.ok("scale", "default.web", "+1"), ["3"])
        self.assertTrue(wait_until(lambda: len(self.running_pids("default.web")) == 3))
        # "-N" after the job is a value, not an option.
        self.assertEqual(self.ok("scale", "default.web", "-2"), ["1"])
        self.assertTrue(wait_until(lambda: len(self.pids("default.web")) == 1))
        self.assertEqual(self.ok("scale", "default.web", "=2"), ["2"])
        # A bare number adds, as the HTTP API does.
        self.assertEqual(self.ok("scale", "default.web", "1"), ["3"])
        self.assertEqual(self.ok("scale", "default.web", "-5"), ["0"])
        self.assertEqual(self.ok("scale", "default.web", "=2"), ["2"])
        self.assertTrue(wait_until(lambda: len(self.running_pids("default.web")) == 2))
        self.assertIn("invalid scale", self.fails(2, "scale", "default.web", "x5"))
        self.fails(2, "scale", "default.web")
        err = self.fails(1, "scale", "default.nosuch", "+1")
        self.assertIn("gafferctl: scale default.nosuch: 404", err)

    def test_add_sub(self):
        self.assertEqual(self.ok("add", "web", "2"), ["4"])
        self.assertTrue(wait_until(lambda: len(self.running_pids("default.web")) == 4))
        self.assertEqual(self.ok("sub", "web", "1"), ["3"])
        self.assertEqual(self.ok("sub", "default.web", "1"), ["2"])
        self.assertEqual(self.ok("add", "default.web", "1"), ["3"])
        self.assertEqual(self.ok("sub", "web", "1"), ["2"])
        self.fails(2, "add", "web", "zero")
        self.fails(1, "add", "nosuch", "1")

    def test_stop_and_start_both_apis(self):
        self.assertEqual(self.ok("stop", "default.web"), ["ok"])
        self.assertTrue(wait_until(lambda: self.ok("status", "web") == ["stopped"]))
        self.assertEqual(self.ok("state", "default.web"), ["0"])
        self.assertTrue(wait_until(lambda: self.ps_json("default.web") == []))
        self.assertEqual(self.ok("start", "web"), ["ok"])
        self.assertTrue(wait_until(lambda: len(self.running_pids("default.web")) == 2))
        self.assertEqual(self.ok("stop", "web"), ["ok"])
        self.assertTrue(wait_until(lambda: self.ok("status", "default.web") == ["stopped"]))
        self.assertEqual(self.ok("start", "default.web"), ["ok"])
        self.assertTrue(wait_until(lambda: len(self.running_pids("default.web")) == 2))
        self.fails(2, "start", "12")
        self.fails(1, "start", "default.nosuch")

    def test_reload_replaces_processes(self):
        before = set(self.pids("default.web"))
        self.assertEqual(self.ok("reload", "default.web"), ["ok"])
        self.assertTrue(wait_until(lambda: len(self.running_pids("default.web")) == 2
                                   and not before & set(self.running_pids("default.web"))))

    def test_stop_process_is_replaced(self):
        victim = self.pids("default.web")[0]
        self.assertEqual(self.ok("stop-process", str(victim)), ["ok"])
        self.assertTrue(wait_until(lambda: victim not in self.pids("default.web")
                                   and len(self.running_pids("default.web")) == 2))
        self.fails(2, "stop-process", "web")
        self.assertIn("404", self.fails(1, "stop-process", "999999"))
        # `stop <number>` stops one process as well.
        victim = self.pids("default.web")[0]
        self.assertEqual(self.ok("stop", str(victim)), ["ok"])
        self.assertTrue(wait_until(lambda: victim not in self.pids("default.web")))

    # --- signals --------------------------------------------------------------------

    def test_signals(self):
        # SIGCONT is harmless to sleep, so nothing restarts underneath the test.
        pids = self.pids("default.web")
        self.assertEqual(self.ok("signal", "default.web", "CONT"), ["ok"])
        self.assertEqual(self.ok("signal", str(pids[0]), "SIGCONT"), ["ok"])
        self.assertEqual(self.ok("kill", "web", "cont"), ["ok"])
        self.assertEqual(self.ok("kill", "default.web", "18"), ["ok"])
        self.assertEqual(self.ok("kill", str(pids[1]), "CONT"), ["ok"])
        self.assertEqual(sorted(self.pids("default.web")), sorted(pids))
        self.assertIn("unknown signal", self.fails(2, "signal", "default.web", "NOPE"))
        self.fails(2, "kill", "web", "NOPE")
        self.assertIn("404", self.fails(1, "signal", "999999", "CONT"))
        self.assertIn("404", self.fails(1, "signal", "default.nosuch", "CONT"))

    def test_signal_term_kills_and_job_restarts(self):
        pids = set(self.pids("default.web"))
        self.assertEqual(self.ok("signal", "default.web", "TERM"), ["ok"])
        # Unexpected exits: gaffer spawns replacements (new internal pids).
        self.assertTrue(wait_until(lambda: len(self.running_pids("default.web")) == 2
                                   and not pids & set(self.running_pids("default.web"))))

    # --- loading ----------------------------------------------------------------------

    def test_load_and_unload(self):
        path = self.write("worker.json", {"name": "worker", "cmd": "sleep", "args": ["1000"], "numprocesses": 1})
        self.assertEqual(self.ok("load", "--session", "app", path), ["app.worker: loaded"])
        self.assertIn("app.worker", self.ok("jobs"))
        self.assertIn("app", self.ok("sessions"))
        self.assertEqual(self.ok("jobs", "app"), ["app.worker"])
        self.assertTrue(wait_until(lambda: len(self.running_pids("app.worker")) == 1))
        err = self.fails(1, "load", "-s", "app", path)
        self.assertIn("gafferctl: load app.worker: 409", err)
        self.assertEqual(self.ok("unload", "app.worker"), ["app.worker: unloaded"])
        self.assertIn("gafferctl: unload app.worker: 404", self.fails(1, "unload", "app.worker"))
        self.assertTrue(wait_until(lambda: "app" not in self.ok("sessions")))
        self.assertTrue(wait_until(lambda: all(p["name"] == "default.web" for p in self.ps_json())))

    def test_load_list_from_stdin_nostart(self):
        jobs = {"jobs": [{"name": "a", "cmd": "sleep 1000"},
                         {"name": "other.b", "cmd": "sleep 1000"},
                         {"name": "c", "cmd": "sleep 1000", "start": True}]}
        out = self.ok("load", "--nostart", "--session", "batch", "-", stdin=json.dumps(jobs))
        self.assertEqual(out, ["batch.a: loaded", "other.b: loaded", "batch.c: loaded"])
        self.assertEqual(self.ok("status", "batch.a"), ["stopped"])
        self.assertEqual(self.ok("state", "other.b"), ["0"])
        self.assertTrue(wait_until(lambda: len(self.running_pids("batch.c")) == 1))
        self.assertEqual(self.ok("start", "batch.a"), ["ok"])
        self.assertTrue(wait_until(lambda: len(self.running_pids("batch.a")) == 1))
        self.assertEqual(self.ok("unload", "batch.a", "other.b", "batch.c"),
                         ["batch.a: unloaded", "other.b: unloaded", "batch.c: unloaded"])

    def test_load_bad_input(self):
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            f.write("{not json")
        self.assertIn("invalid JSON", self.fails(1, "load", bad))
        self.assertIn("No such file or directory", self.fails(1, "load", os.path.join(self.tmp, "missing.json")))
        self.fails(1, "load", self.write("noname.json", {"cmd": "sleep 1"}))
        self.assertEqual(self.ok("jobs"), ["default.web"])

    def test_update(self):
        path = self.write("u.json", {"name": "u", "cmd": "sleep", "args": ["1000"]})
        self.ok("load", path)
        self.assertTrue(wait_until(lambda: len(self.running_pids("default.u")) == 1))
        old = set(self.running_pids("default.u"))
        self.assertEqual(self.ok("update", "default.u", "-", stdin=json.dumps({"cmd": "sleep", "args": ["999"]})),
                         ["ok"])
        info = json.loads(self.ctl("--json", "info", "default.u").stdout)
        self.assertEqual(info["config"]["args"], ["999"])
        self.assertTrue(wait_until(lambda: len(self.running_pids("default.u")) == 1
                                   and not old & set(self.running_pids("default.u"))))
        self.fails(1, "update", "default.nosuch", path)
        self.ok("unload", "default.u")

    def test_commit(self):
        out = self.ok("commit", "-e", "GAFFERCTL_TEST=yes", "--graceful-timeout", "1", "default.web")
        self.assertEqual(len(out), 1)
        pid = int(out[0])
        info = json.loads(self.ctl("--json", "info", str(pid)).stdout)
        self.assertTrue(info["commited"])
        self.assertEqual(info["env"].get("GAFFERCTL_TEST"), "yes")
        self.assertTrue(any("(once)" in l for l in self.ok("ps", "default.web")))
        # Not counted in the job's pids, nor in its target.
        self.assertNotIn(pid, self.pids("default.web"))
        self.assertEqual(self.ok("numprocesses", "default.web"), ["2"])
        self.assertEqual(self.ok("running", "default.web"), ["3"])
        self.assertEqual(self.ok("stop-process", str(pid)), ["ok"])
        self.assertTrue(wait_until(lambda: all(p["pid"] != pid for p in self.ps_json())))
        self.fails(2, "commit", "-e", "NOEQUALS", "default.web")
        self.fails(1, "commit", "default.nosuch")

    # --- 0.4 template commands --------------------------------------------------------

    def test_process_template_commands(self):
        self.assertEqual(self.ok("add_process", "--start", "svc", "sleep", "1000"), ["ok"])
        self.assertIn("svc", self.ok("processes"))
        self.assertTrue(wait_until(lambda: len(self.running_pids("default.svc")) == 1))
        tpl = json.loads("\n".join(self.ok("get_process", "svc")))
        self.assertIsInstance(tpl, dict)  # printed once, not as a JSON string
        self.assertIn("cmd", tpl)
        # update_process must PUT (0.4 POSTed and always got 409).
        self.assertEqual(self.ok("update_process", "svc", "sleep", "2000"), ["ok"])
        tpl = json.loads("\n".join(self.ok("get_process", "svc")))
        self.assertIn("2000", json.dumps(tpl))
        self.assertEqual(self.ok("pids", "svc"), [str(p) for p in self.pids("default.svc")])
        self.assertEqual(self.ok("del_process", "svc"), ["ok"])
        self.assertIn("404", self.fails(1, "get_process", "svc"))
        # Without --start the job is only loaded.
        self.assertEqual(self.ok("add_process", "idle", "sleep 1000"), ["ok"])
        self.assertEqual(self.ok("status", "idle"), ["stopped"])
        self.assertEqual(self.ok("del_process", "idle"), ["ok"])
        # Conflict with an existing job.
        self.fails(1, "add_process", "web", "sleep", "1")

    def test_load_process_from_stdin(self):
        body = json.dumps({"name": "lp", "cmd": "sleep", "args": ["1000"]})
        self.assertEqual(self.ok("load_process", "--start", "-", stdin=body), ["ok"])
        self.assertTrue(wait_until(lambda: len(self.running_pids("default.lp")) == 1))
        self.assertEqual(self.ok("del_process", "default.lp"), ["ok"])
        self.assertIn("missing", self.fails(1, "load_process", "-", stdin=json.dumps({"name": "x"})))

    # --- errors -----------------------------------------------------------------------

    def test_unknown_job_errors(self):
        # "404 not_found", then the daemon's reason if it gives one.
        self.assertRegex(self.fails(1, "info", "default.nosuch"), r"^gafferctl: info default\.nosuch: 404 not_found( \(.*\))?\n$")
        self.assertIn("gafferctl: reload default.nosuch: 404", self.fails(1, "reload", "default.nosuch"))
        self.assertIn("gafferctl: stats default.nosuch: 404", self.fails(1, "stats", "default.nosuch"))
        self.assertIn("gafferctl: state default.nosuch: 404", self.fails(1, "state", "default.nosuch"))
        self.assertIn("404", self.fails(1, "pids", "default.nosuch"))
        self.assertIn("404", self.fails(1, "stop", "nosuch"))

    def test_usage_errors(self):
        self.fails(2, "no-such-command")
        self.fails(2, "scale")
        self.fails(2, "info")
        self.fails(2, "info", "a.b", "extra")
        self.fails(2, "ps", "--no-such-option")
        self.fails(2, "--no-such-option", "ps")
        self.fails(2, "--timeout", "soon", "ps")
        self.fails(2, "key-create", "nonsense")
        self.fails(2, "--endpoint", "ftp://example.org", "ping", endpoint=False)
        r = self.ctl(endpoint=False)
        self.assertEqual(r.returncode, 2)

    def test_key_api_disabled(self):
        # Without require_key the key and user routes do not exist (reference §9.4).
        self.assertIn("404", self.fails(1, "keys"))
        self.assertIn("404", self.fails(1, "users"))

    def test_no_daemon(self):
        missing = os.path.join(self.tmp, "nobody.sock")
        err = self.fails(1, "--endpoint", "unix:" + missing, "ping", endpoint=False)
        self.assertIn("cannot connect to unix:%s" % missing, err)
        self.assertIn("No such file or directory", err)
        # A loopback port nobody listens on.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        err = self.fails(1, "--endpoint", "http://127.0.0.1:%d" % port, "jobs", endpoint=False)
        self.assertIn("cannot connect to http://127.0.0.1:%d" % port, err)


class GafferctlKeysTest(GafferdTestCase):
    """The key and user commands, with the key API on. On its unix socket the daemon
    gives its own uid full rights (security-defaults.md), so no bootstrap key is needed."""

    extra_args = ["--require-key"]

    def test_keys(self):
        out = self.ok("key-create", "--label", "ctl-test", "default+r", "app.worker+rm")
        self.assertEqual(len(out), 1)
        key = out[0]
        self.assertRegex(key, r"^\S{16,}$")
        self.assertTrue(self.ok("keys"))
        info = "\n".join(self.ok("key", key))
        self.assertIn("ctl-test", info)
        self.assertIn("permissions:", info)
        # The new key is accepted (its read right covers default.web).
        self.assertEqual(len(self.ok("--api-key", key, "pids", "default.web")), 2)
        self.assertEqual(self.ok("key-delete", key), ["ok"])
        self.assertIn("404", self.fails(1, "key", key))
        self.fails(1, "key-delete", key)

    def test_key_with_uids(self):
        key = self.ok("key-create", "app+m", "uid=1000", "uid=nobody", "uid=1000")[0]
        info = "\n".join(self.ok("key", key))
        self.assertIn("1000", info)
        self.assertIn("nobody", info)
        self.assertEqual(info.count("1000"), 1, info)
        self.assertIn("uid=USER", self.fails(2, "key-create", "uid="))

    def test_users_and_auth(self):
        self.assertEqual(self.ok("user-add", "--password", "s3cret:x", "--type", "1", "bob"), ["ok"])
        self.assertIn("bob", self.ok("users"))
        self.assertIn("username: bob", self.ok("user", "bob"))
        self.fails(1, "user-add", "--password", "again", "bob")
        # Passwords may hold ':' (reference §9.3); stdin feeds the password when not a tty.
        key = self.ok("auth", "bob", stdin="s3cret:x\n")
        self.assertEqual(len(key), 1)
        self.assertTrue(key[0])
        self.assertIn("wrong user name or password", self.fails(1, "auth", "bob", "--password", "nope"))
        self.assertEqual(self.ok("user-password", "bob", "--password", "n3w"), ["ok"])
        self.assertEqual(len(self.ok("auth", "--password", "n3w", "bob")), 1)
        self.fails(1, "auth", "bob", "--password", "s3cret:x")
        self.assertEqual(self.ok("user-del", "bob"), ["ok"])
        self.assertIn("404", self.fails(1, "user", "bob"))
        self.fails(2, "user-add", "--type", "7", "--password", "x", "carol")


if __name__ == "__main__":
    unittest.main(verbosity=2)
