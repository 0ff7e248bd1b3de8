# SPDX-License-Identifier: MIT
"""gaffer start / dev:start / run: the Procfile tool's local mode (issue 14), driven as a
developer would: real Procfiles and .env files in a temporary app folder, the real gaffer
binary, real processes, signals sent to gaffer itself, the control socket used with
gafferctl and raw HTTP."""
import json
import os
import pty
import re
import select
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import gafferlib  # noqa: E402
from gafferlib import wait_for  # noqa: E402

GAFFER = os.environ.get("GAFFER")
GAFFERCTL = os.environ.get("GAFFERCTL")
# Another uid must be able to run it (not a python under root's home).
SYSTEM_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
LINE = re.compile(r"^(\d\d:\d\d:\d\d) (\S+)( *) \| (.*)$")


class App:
    """A temporary app folder with a Procfile and optional .env."""

    def __init__(self, procfile, dotenv=None, name="demo"):
        self.tmp = tempfile.TemporaryDirectory(prefix="gaffer-start-")
        self.root = os.path.join(self.tmp.name, name)
        os.mkdir(self.root)
        with open(os.path.join(self.root, "Procfile"), "w") as f:
            f.write(procfile)
        if dotenv is not None:
            with open(os.path.join(self.root, ".env"), "w") as f:
                f.write(dotenv)

    def path(self, *p):
        return os.path.join(self.root, *p)


class Run:
    """`gaffer <args>` running in the app root; stdout lines collected by a thread."""

    def __init__(self, app, *args, tag=None, env_extra=None):
        self.tag = tag or uuid.uuid4().hex
        env = dict(os.environ)
        env.pop("PORT", None)
        env.pop("PYTHONUNBUFFERED", None)  # the children must buffer as they would for a user
        env["GAFFER_TEST_TAG"] = self.tag
        env.update(env_extra or {})
        self.proc = subprocess.Popen([GAFFER, *args], cwd=app.root, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.lines = []
        self.err = b""
        self._lock = threading.Lock()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        self._te = threading.Thread(target=self._read_err, daemon=True)
        self._te.start()

    def _read(self):
        for raw in self.proc.stdout:
            with self._lock:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def _read_err(self):
        self.err = self.proc.stderr.read()

    def snapshot(self):
        with self._lock:
            return list(self.lines)

    def wait_line(self, pattern, timeout=10.0):
        rx = re.compile(pattern)
        try:
            return wait_for(lambda: next((l for l in self.snapshot() if rx.search(l)), None), timeout=timeout,
                            what=f"a line matching {pattern!r}")
        except AssertionError as e:
            raise AssertionError(f"{e}; lines: {self.snapshot()[-20:]!r}; stderr: {self.err[-2000:]!r}") from None

    def count(self, pattern):
        rx = re.compile(pattern)
        return sum(1 for l in self.snapshot() if rx.search(l))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=20):
        rc = self.proc.wait(timeout=timeout)
        self._t.join(timeout=5)
        self._te.join(timeout=5)
        return rc

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        gafferlib.kill_tagged(self.tag)


def gafferctl(app, *args):
    return subprocess.run([GAFFERCTL, "--endpoint", "unix:" + app.path(".gaffer", "gaffer.sock"), *args],
                          capture_output=True, text=True, timeout=20)


def control_get(app, path):
    conn = gafferlib.UnixHTTPConnection(app.path(".gaffer", "gaffer.sock"))
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, json.loads(body) if body else None


class GafferStartTest(unittest.TestCase):
    def setUp(self):
        if not GAFFER or not os.access(GAFFER, os.X_OK):
            self.fail("GAFFER must name the built gaffer binary (run through `make test`)")
        self.runs = []

    def tearDown(self):
        for r in self.runs:
            r.cleanup()

    @staticmethod
    def tmp_parent(app):
        return os.path.dirname(app.root)

    def start(self, app, *args, **kw):
        r = Run(app, "start", *args, **kw)
        self.runs.append(r)
        return r

    def stop(self, r, sig=signal.SIGINT):
        r.signal(sig)
        return r.wait()

    def test_prefixes_padding_and_order(self):
        app = App("web: sh -c 'for i in 1 2 3 4 5; do echo web line $i; done; sleep 60'\n"
                  "longworker: sh -c 'echo \"  indented\"; echo; echo worker done; sleep 60'\n")
        r = self.start(app)
        r.wait_line(r"web\.1 +\| web line 5$")
        r.wait_line(r"longworker\.1 +\| worker done$")
        self.assertEqual(self.stop(r), 0)
        lines = r.snapshot()
        web = [LINE.match(l) for l in lines if " web.1 " in l]
        self.assertTrue(all(web), lines)
        # Names padded to the longest ("longworker.1"), time HH:MM:SS local.
        for m in web:
            self.assertEqual(len(m.group(2)) + len(m.group(3)), len("longworker.1"))
        texts = [m.group(4) for m in web if m.group(4).startswith("web line")]
        self.assertEqual(texts, [f"web line {i}" for i in range(1, 6)])
        worker = [LINE.match(l).group(4) for l in lines if " longworker.1 |" in l]
        # Indentation and empty lines are kept, in the order written.
        i = worker.index("  indented")
        self.assertEqual(worker[i:i + 3], ["  indented", "", "worker done"])
        # Not a terminal: no colour.
        self.assertFalse(any("\033[" in l for l in lines))
        self.assertRegex(lines[-1], r"system +\| all processes stopped$")

    def test_no_prefix_and_no_timestamp(self):
        app = App("web: sh -c 'echo plain; sleep 60'\n")
        r = self.start(app, "--no-timestamp")
        r.wait_line(r"^web\.1  +\| plain$")
        self.stop(r)
        r2 = self.start(app, "--no-prefix")
        r2.wait_line(r"^plain$")
        self.stop(r2)

    def test_colour_on_a_terminal(self):
        app = App("web: sh -c 'echo hi; sleep 60'\nworker: sh -c 'echo ho; sleep 60'\n")
        tag = uuid.uuid4().hex
        env = dict(os.environ, GAFFER_TEST_TAG=tag)
        env.pop("NO_COLOR", None)
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(app.root)
            os.execve(GAFFER, [GAFFER, "start"], env)
        out = b""
        try:
            deadline = time.monotonic() + 10
            while b"ho" not in out or b"hi" not in out:
                if time.monotonic() > deadline:
                    self.fail(f"no output on the terminal: {out!r}")
                if select.select([fd], [], [], 0.2)[0]:
                    out += os.read(fd, 65536)
            os.kill(pid, signal.SIGINT)
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                out += data
        finally:
            _, status = os.waitpid(pid, 0)
            gafferlib.kill_tagged(tag)
        text = out.decode(errors="replace")
        # §12.3: cyan for the first type, yellow for the second, the whole line wrapped.
        self.assertRegex(text, r"\x1b\[36m\d\d:\d\d:\d\d web\.1 +\| hi\x1b\[39m")
        self.assertRegex(text, r"\x1b\[33m\d\d:\d\d:\d\d worker\.1 \| ho\x1b\[39m")
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)

    def test_pty_line_buffers_children(self):
        # Python block-buffers its stdout on a pipe: without --pty nothing shows while it
        # sleeps; with --pty it sees a terminal and prints at once.
        app = App("py: python3 -c \"import sys,time; print('tty', sys.stdout.isatty()); time.sleep(60)\"\n"
                  "partial: sh -c 'printf \"prompt> \"; sleep 60'\n")
        r = self.start(app, "--pty")
        r.wait_line(r"py\.1 +\| tty True$")
        # A partial line (no newline) shows up too.
        r.wait_line(r"partial\.1 +\| prompt> ?$")
        self.assertFalse(any("\r" in l for l in r.snapshot()))
        self.assertEqual(self.stop(r), 0)
        r2 = self.start(app)
        r2.wait_line(r"partial\.1 +\| prompt> ?$")
        time.sleep(0.5)
        self.assertEqual(r2.count(r"py\.1 +\| tty"), 0, r2.snapshot())
        self.assertEqual(self.stop(r2), 0)
        # SIGTERM ended python with its line still in its buffer: never shown.
        self.assertEqual(r2.count(r"py\.1 +\| tty"), 0, r2.snapshot())

    def test_sigint_leaves_nothing_behind(self):
        marker = str(1000 + os.getpid() % 1000) + ".25"
        app = App(f"tree: sh -c 'setsid sleep {marker} & sleep {marker} & echo spawned; wait'\n"
                  f"stubborn: sh -c 'trap \"echo ignoring TERM\" TERM; echo armed; while :; do sleep 0.1; done'\n")
        r = self.start(app, "-t", "1")
        r.wait_line(r"tree\.1 +\| spawned")
        r.wait_line(r"stubborn\.1 +\| armed")
        wait_for(lambda: len(gafferlib.tagged_pids(r.tag, exclude=(r.proc.pid,))) >= 5, what="the process tree")
        self.assertEqual(self.stop(r), 0)
        self.assertEqual(gafferlib.tagged_pids(r.tag), [], "processes left after SIGINT")
        self.assertFalse(os.path.exists(app.path(".gaffer", "gaffer.sock")))

    def test_second_sigint_kills_at_once(self):
        app = App("stubborn: sh -c 'trap \"echo ignoring TERM\" TERM INT; echo armed; while :; do sleep 0.1; done'\n")
        r = self.start(app, "-t", "60")
        r.wait_line(r"stubborn\.1 +\| armed")
        r.signal(signal.SIGINT)
        r.wait_line(r"stopping all processes")
        r.wait_line(r"ignoring TERM")
        r.signal(signal.SIGINT)
        self.assertEqual(r.wait(timeout=10), 0)
        self.assertTrue(any("killing all processes now" in l for l in r.snapshot()))
        self.assertEqual(gafferlib.tagged_pids(r.tag), [])

    def test_sigterm_is_graceful_too(self):
        app = App("web: sh -c 'trap \"echo bye; exit 0\" TERM; echo armed; while :; do sleep 0.1; done'\n")
        r = self.start(app)
        r.wait_line(r"web\.1 +\| armed")
        self.assertEqual(self.stop(r, signal.SIGTERM), 0)
        self.assertTrue(any(l.endswith("| bye") for l in r.snapshot()), r.snapshot())

    def test_concurrency_counts(self):
        app = App("web: sh -c 'echo up; sleep 60'\nworker: sh -c 'echo up; sleep 60'\nclock: sh -c 'echo up; sleep 60'\n")
        r = self.start(app, "-c", "web=2,worker=0", "-c", "clock=3")
        r.wait_line(r"web\.2 +\| up")
        r.wait_line(r"clock\.3 +\| up")
        status, body = control_get(app, "/jobs/demo")
        self.assertEqual(status, 200)
        self.assertEqual(sorted(body["jobs"]), ["demo.clock", "demo.web", "demo.worker"])
        self.assertEqual(len(control_get(app, "/jobs/demo/web")[1]["processes"]), 2)
        self.assertEqual(len(control_get(app, "/jobs/demo/worker")[1]["processes"]), 0)
        self.assertEqual(len(control_get(app, "/jobs/demo/clock")[1]["processes"]), 3)
        self.stop(r)
        self.assertEqual(r.count(r"worker\.\d"), 0)

    def test_start_one_type(self):
        app = App("web: sh -c 'echo up; sleep 60'\nworker: sh -c 'echo up; sleep 60'\n")
        r = self.start(app, "worker")
        r.wait_line(r"worker\.1 +\| up")
        self.assertEqual(len(control_get(app, "/jobs/demo/web")[1]["processes"]), 0)
        self.stop(r)

    def test_port_and_ps_per_instance(self):
        app = App("web: sh -c 'echo PORT=$PORT PS=$PS; sleep 60'\n"
                  "worker: sh -c 'echo PORT=$PORT PS=$PS; sleep 60'\n"
                  "clock: sh -c 'echo PORT=$PORT PS=$PS; sleep 60'\n")
        r = self.start(app, "-c", "all=2", "-p", "7000")
        want = {"web.1": 7000, "web.2": 7001, "worker.1": 7100, "worker.2": 7101, "clock.1": 7200, "clock.2": 7201}
        for name, port in want.items():
            r.wait_line(rf"{re.escape(name)} +\| PORT={port} PS={re.escape(name)}$")
        self.stop(r)

    def test_dotenv_and_port_from_env(self):
        app = App("web: sh -c 'echo \"$GREETING|$PORT|$FROM_SHELL\"; sleep 60'\n",
                  dotenv='GREETING="hello ${WHO:-world}"\nPORT=6100\n')
        r = self.start(app, env_extra={"FROM_SHELL": "inherited"})
        r.wait_line(r"web\.1 +\| hello world\|6100\|inherited$")
        self.stop(r)

    def test_crashing_type_is_retried_while_others_run(self):
        app = App("web: sh -c 'i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done'\n"
                  "crash: sh -c 'echo crashing; exit 3'\n")
        r = self.start(app)
        r.wait_line(r"crash\.\d+ +\| exited with code 3")
        wait_for(lambda: r.count(r"crash\.\d+ +\| started with pid") >= 2, what="a retry of crash")
        r.wait_line(r"crash +\| flapping")
        first = r.count(r"web\.1 +\| tick")
        wait_for(lambda: r.count(r"web\.1 +\| tick") > first + 2, what="web still running")
        self.assertEqual(r.count(r"web\.1 +\| (exited|terminated)"), 0)
        self.assertEqual(self.stop(r), 0)

    def test_exit_on_fail_status(self):
        app = App("web: sh -c 'echo up; sleep 60'\nfail: sh -c 'sleep 0.5; exit 3'\n")
        r = self.start(app, "--exit-on-fail")
        self.assertEqual(r.wait(), 3)
        self.assertTrue(any("fail failed (--exit-on-fail)" in l for l in r.snapshot()), r.snapshot())
        self.assertEqual(gafferlib.tagged_pids(r.tag), [])
        app2 = App("web: sh -c 'echo up; sleep 60'\nkilled: sh -c 'sleep 0.5; kill -9 $$'\n")
        r2 = self.start(app2, "--exit-on-fail")
        self.assertEqual(r2.wait(), 128 + 9)
        # A clean exit (0) is not a failure: the process is restarted.
        app3 = App("web: sh -c 'echo up; sleep 60'\nok: sh -c 'echo once; sleep 0.3; exit 0'\n")
        r3 = self.start(app3, "--exit-on-fail")
        wait_for(lambda: r3.count(r"ok\.\d+ +\| once") >= 2, what="the clean exit restarted")
        self.assertIsNone(r3.proc.poll())
        self.assertEqual(self.stop(r3), 0)

    def test_exit_on_fail_ignores_processes_it_stops(self):
        app = App("web: sh -c 'echo up; sleep 60'\nworker: sh -c 'echo up; sleep 60'\n")
        r = self.start(app, "--exit-on-fail")
        r.wait_line(r"worker\.1 +\| up")
        # A restart through the control socket SIGTERMs the old process: not a failure.
        out = gafferctl(app, "reload", "demo.worker")
        self.assertEqual(out.returncode, 0, out.stderr)
        wait_for(lambda: r.count(r"worker\.\d+ +\| up") >= 2, what="the worker restarted")
        self.assertIsNone(r.proc.poll())
        self.assertEqual(self.stop(r), 0)

    def test_control_socket(self):
        app = App("web: sh -c 'echo up; sleep 60'\nworker: sh -c 'echo up; sleep 60'\n")
        r = self.start(app)
        r.wait_line(r"worker\.1 +\| up")
        sock = app.path(".gaffer", "gaffer.sock")
        self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(app.path(".gaffer")).st_mode), 0o700)
        if os.geteuid() == 0:
            # Another user cannot reach the control socket (the API would give it full rights).
            probe = ("import socket,sys\n"
                     "s=socket.socket(socket.AF_UNIX)\n"
                     "try:\n s.connect(sys.argv[1])\nexcept PermissionError:\n sys.exit(3)\n")
            os.chmod(self.tmp_parent(app), 0o755)
            rc = subprocess.run([SYSTEM_PYTHON, "-c", probe, sock], user=65534, group=65534,
                                timeout=20).returncode
            self.assertEqual(rc, 3)  # the directory (0700) stops it
            os.chmod(app.path(".gaffer"), 0o711)
            try:
                rc = subprocess.run([SYSTEM_PYTHON, "-c", probe, sock], user=65534, group=65534,
                                    timeout=20).returncode
                self.assertEqual(rc, 3)  # and so does the socket's own mode (0600)
            finally:
                os.chmod(app.path(".gaffer"), 0o700)
        web_pids = control_get(app, "/jobs/demo/web")[1]["processes"]
        worker_before = control_get(app, "/jobs/demo/worker")[1]["processes"]
        # Restart one type; the other keeps its processes.
        out = gafferctl(app, "reload", "demo.worker")
        self.assertEqual(out.returncode, 0, out.stderr)
        wait_for(lambda: control_get(app, "/jobs/demo/worker")[1]["processes"] not in ([], worker_before),
                 what="a new worker")
        self.assertEqual(control_get(app, "/jobs/demo/web")[1]["processes"], web_pids)
        # Scale through the API.
        out = gafferctl(app, "scale", "demo.web", "=3")
        self.assertEqual(out.returncode, 0, out.stderr)
        wait_for(lambda: len(control_get(app, "/jobs/demo/web")[1]["processes"]) == 3, what="3 web")
        # A second `gaffer start` in the same app is refused, the first keeps running.
        r2 = Run(app, "start")
        self.runs.append(r2)
        self.assertEqual(r2.wait(), 1)
        self.assertIn(b"another gaffer is running this app", r2.err)
        self.assertIsNone(r.proc.poll())
        self.assertEqual(self.stop(r), 0)
        self.assertFalse(os.path.exists(sock))

    def test_gaffer_commands_on_the_running_app(self):
        # overmind style: in the app folder, without -g, gaffer talks to the running start.
        app = App("web: sh -c 'echo up; sleep 60'\nworker: sh -c 'echo up; sleep 60'\n")
        r = self.start(app)
        r.wait_line(r"worker\.1 +\| up")
        env = dict(os.environ, GAFFER_ENDPOINT="http://127.0.0.1:1")  # never used: the socket wins

        def g(*args):
            return subprocess.run([GAFFER, *args], cwd=app.root, env=env, capture_output=True, text=True,
                                  timeout=20)

        web = control_get(app, "/jobs/demo/web")[1]["processes"]
        out = g("restart", "worker")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("'worker' restarted", out.stdout)
        wait_for(lambda: r.count(r"worker\.1 +\| up") >= 2, what="the worker restarted as worker.1")
        self.assertEqual(control_get(app, "/jobs/demo/web")[1]["processes"], web)
        out = g("ps:scale", "web=3")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("Scaling demo.web processes... done, now running 3", out.stdout)
        r.wait_line(r"web\.3 +\| up")
        out = g("ps")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("=== web: `sh -c", out.stdout)
        out = g("stop", "worker")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("'worker' stopped", out.stdout)
        wait_for(lambda: control_get(app, "/jobs/demo/worker")[1]["processes"] == [], what="worker stopped")
        self.assertIsNone(r.proc.poll())
        self.assertEqual(self.stop(r), 0)

    def test_bad_input_starts_nothing(self):
        cases = {
            "binary": (b"web: echo \x00\x01\x02\n", ()),
            "long line": (b"web: echo " + b"x" * (1 << 20) + b"\n", ()),
            "bad concurrency": (b"web: sleep 60\n", ("-c", "web=abc")),
            "unknown type": (b"web: sleep 60\n", ("-c", "nope=2")),
            "strict": (b"web: sleep 60\nthis is not a process line\n", ("--strict",)),
        }
        for what, (content, args) in cases.items():
            with self.subTest(what):
                app = App("")
                with open(app.path("Procfile"), "wb") as f:
                    f.write(content)
                r = Run(app, "start", *args)
                self.runs.append(r)
                self.assertEqual(r.wait(), 1)
                self.assertRegex(r.err.decode(), r"^gaffer: .+")
                self.assertEqual(gafferlib.tagged_pids(r.tag), [])
                self.assertFalse(os.path.exists(app.path(".gaffer")))
        app = App("web: sleep 60\n", dotenv='KEY="unterminated\n')
        r = Run(app, "start")
        self.runs.append(r)
        self.assertEqual(r.wait(), 1)
        self.assertIn(".env:1", r.err.decode())
        app = App("")
        os.unlink(app.path("Procfile"))
        os.mkdir(app.path("Procfile"))
        r = Run(app, "start")
        self.runs.append(r)
        self.assertEqual(r.wait(), 1)
        self.assertIn("Procfile", r.err.decode())
        # A missing -e file is an error; a missing default .env is not.
        app = App("web: sh -c 'echo up; sleep 60'\n")
        r = Run(app, "start", "-e", "missing.env")
        self.runs.append(r)
        self.assertEqual(r.wait(), 1)
        self.assertIn("missing.env", r.err.decode())

    def test_a_terminal_that_stops_reading_never_stops_supervision(self):
        # stdout is a pipe nobody reads for a while, and a process floods it: the control
        # socket still answers (the loop never waits on the terminal), the flood waits on
        # its own pipe (gaffer stops reading it), and once the reader is back every line
        # arrives, in order.
        n = 300000
        app = App(f"flood: sh -c 'seq 1 {n}; sleep 60'\nquiet: sleep 60\n")
        tag = uuid.uuid4().hex
        env = dict(os.environ, GAFFER_TEST_TAG=tag)
        proc = subprocess.Popen([GAFFER, "start", "--no-timestamp"], cwd=app.root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            sock = app.path(".gaffer", "gaffer.sock")
            wait_for(lambda: os.path.exists(sock), what="the control socket")
            time.sleep(1.0)  # the pipe to us is full by now
            for _ in range(3):
                status, body = control_get(app, "/jobs/demo/quiet")
                self.assertEqual(status, 200)
            out = b""
            deadline = time.monotonic() + 60
            while f"flood.1 | {n}\n".encode() not in out:
                self.assertLess(time.monotonic(), deadline, out[-300:])
                out += os.read(proc.stdout.fileno(), 1 << 20)
            proc.send_signal(signal.SIGINT)
            while True:
                data = os.read(proc.stdout.fileno(), 1 << 20)
                if not data:
                    break
                out += data
            self.assertEqual(proc.wait(timeout=20), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            gafferlib.kill_tagged(tag)
        text = out.decode()
        self.assertNotIn("not shown", text)
        numbers = [int(l.split("| ", 1)[1]) for l in text.splitlines() if l.startswith("flood.1 ") and
                   l.split("| ", 1)[1].isdigit()]
        self.assertEqual(numbers, list(range(1, n + 1)))
        self.assertEqual(gafferlib.tagged_pids(tag), [])

    def test_dev_start_event_console(self):
        app = App("web: sh -c 'echo hello; sleep 60'\n")
        r = Run(app, "dev:start", "-v")
        self.runs.append(r)
        # §12.3: "<time> <app.job> | spawn process with pid <pid>", output as <name>.<pid>.
        r.wait_line(r"^\d\d:\d\d:\d\d demo\.web \| spawn process with pid 1$")
        r.wait_line(r"^\d\d:\d\d:\d\d demo\.web\.1 \| hello$")
        self.assertEqual(self.stop(r), 0)


class GafferRunTest(unittest.TestCase):
    def setUp(self):
        if not GAFFER or not os.access(GAFFER, os.X_OK):
            self.fail("GAFFER must name the built gaffer binary (run through `make test`)")

    def test_run_with_the_app_environment(self):
        app = App("web: sleep 60\n", dotenv="GREETING='hi there'\n")
        r = Run(app, "run", "printenv", "GREETING")
        self.assertEqual(r.wait(), 0, (r.err, r.snapshot()))
        self.assertEqual(r.snapshot(), ["hi there"])
        r = Run(app, "run", "sh", "-c", "exit 7")
        self.assertEqual(r.wait(), 7)
        r = Run(app, "dev:run", "echo $GREETING")
        self.assertEqual(r.wait(), 0, r.err)
        self.assertEqual(r.snapshot(), ["hi there"])
        r = Run(app, "run", "no-such-command-here")
        self.assertEqual(r.wait(), 127)

    def test_run_copies(self):
        app = App("web: sleep 60\n")
        r = Run(app, "run", "-c", "2", "sh", "-c", "echo copy; exit 4")
        self.assertEqual(r.wait(), 4)
        self.assertEqual(sum(1 for l in r.snapshot() if l.endswith("| copy")), 2, r.snapshot())
        self.assertEqual(gafferlib.tagged_pids(r.tag), [])


if __name__ == "__main__":
    unittest.main()
