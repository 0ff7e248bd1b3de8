#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test of gafferctl's live commands (man/gafferctl.1: watch, tail, send)
and of the two HTTP features under them, against the real gafferd ($GAFFERD) and
gafferctl ($GAFFERCTL) over a unix socket:

* watch: a line per event for a real process exit and respawn, --json, exit 0 on SIGINT
  and SIGTERM, exit 1 when the daemon goes away;
* tail: a pid's later output (bytes unchanged), -n (earlier output), --no-follow, a job
  followed across the replacement of its process after kill -9 (lines prefixed);
* send: words and `-` mode (with the `.` terminator) to a `cat` job, the errors;
* GET /streams/<pid>/<label>?backlog=N (bad values, no duplicate and no gap between the
  backlog and the live data, the longpoll snapshot) and GET /stats...?feed=continuous.

Each test loads its own jobs through the API in one shared daemon (a second one for the
daemon-gone case). Python 3 standard library and curl only.
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402

GAFFERCTL = os.environ.get("GAFFERCTL", "")
TIMEOUT = 20.0

# Prints 0, 1, 2, ... one per line, every 5 ms, one write per line (print() would write
# the newline separately, and eventsource framing cannot show a chunk's boundaries).
COUNTER = ("import itertools, sys, time\n"
           "for i in itertools.count():\n"
           "    sys.stdout.write('%d\\n' % i)\n"
           "    sys.stdout.flush()\n"
           "    time.sleep(0.005)\n")


def ctl_env():
    env = dict(os.environ)
    for var in ("GAFFERCTL_ENDPOINT", "GAFFER_API_KEY"):
        env.pop(var, None)
    return env


class LiveCtl:
    """A gafferctl process whose stdout and stderr are collected by threads."""

    def __init__(self, endpoint, *args):
        self.proc = subprocess.Popen([GAFFERCTL, "--endpoint", endpoint, *args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ctl_env())
        self.out = bytearray()
        self.err = bytearray()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
                        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True)]
        for t in self.threads:
            t.start()

    def _pump(self, f, buf):
        while True:
            chunk = os.read(f.fileno(), 65536)
            if not chunk:
                return
            with self.lock:
                buf += chunk

    def text(self):
        with self.lock:
            return self.out.decode("utf-8", "replace")

    def finish(self, sig=None, timeout=TIMEOUT):
        """Sends `sig` (if any), waits; returns (exit status, stdout, stderr) as text."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("gafferctl did not exit: " + self.text())
        self._close()
        with self.lock:
            return rc, self.out.decode("utf-8", "replace"), self.err.decode("utf-8", "replace")

    def _close(self):
        for t in self.threads:
            t.join(timeout=5)
        for f in (self.proc.stdout, self.proc.stderr):
            if not f.closed:
                f.close()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()


def curl(d, path, seconds, extra=()):
    """curl -N on the unix socket for at most `seconds`; (rc, body bytes)."""
    p = subprocess.run(["curl", "-sN", "--max-time", str(seconds), "--unix-socket", d.sock, *extra,
                        "http://localhost" + path], capture_output=True)
    return p.returncode, p.stdout


class GafferctlLiveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not GAFFERCTL or not os.access(GAFFERCTL, os.X_OK):
            raise AssertionError("$GAFFERCTL must name the built gafferctl binary (got %r)" % GAFFERCTL)
        cls.d = gafferlib.Daemon("").start()
        cls.endpoint = "unix:" + cls.d.sock

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    # ---- helpers ----

    def ctl(self, *args, input=None):
        p = subprocess.run([GAFFERCTL, "--endpoint", self.endpoint, *args], input=input, capture_output=True,
                           env=ctl_env(), timeout=TIMEOUT)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def live(self, *args):
        c = LiveCtl(self.endpoint, *args)
        self.addCleanup(c.kill)
        return c

    def load(self, name, cmd, args, **extra):
        body = {"name": name, "cmd": cmd, "args": args, **extra}
        r = self.d.request("POST", "/jobs/default", body)
        self.assertEqual(r.status, 200, r)
        self.addCleanup(lambda: self.d.request("DELETE", f"/jobs/default/{name}"))
        return gafferlib.wait_for(lambda: self.d.get_json(f"/jobs/default/{name}/pids")["pids"],
                                  timeout=TIMEOUT, what=f"{name} to run")[0]

    def os_pid(self, pid):
        return self.d.get_json(f"/{pid}")["os_pid"]

    def backlog(self, pid, label="out", n=65536):
        r = self.d.request("GET", f"/streams/{pid}/{label}?feed=longpoll&backlog={n}")
        self.assertEqual(r.status, 200, r)
        return r.body

    def post(self, pid, data):
        r = self.d.request("POST", f"/streams/{pid}/stdin", data)
        self.assertEqual(r.status, 200, r)

    def cat_job(self, name):
        return self.load(name, "cat", [], redirect_output=["out"], redirect_input=True)

    # ---- watch ----

    def kill_until(self, name, c, pattern):
        """SIGKILLs the job's current process every 0.5 s until `pattern` shows in c's output
        (the first kill may come before gafferctl has subscribed)."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            pids = self.d.get_json(f"/jobs/default/{name}/pids")["pids"]
            if pids:
                self.d.request("POST", f"/{pids[0]}/signal", {"signal": 9})
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                m = re.search(pattern, c.text(), re.M)
                if m:
                    return m
                time.sleep(0.05)
        self.fail(f"no line matching {pattern!r} in {c.text()!r}")

    def test_watch_lines_and_sigint(self):
        self.load("wj", "sleep", ["1000"])
        c = self.live("watch", "job.default.wj")
        m = self.kill_until("wj", c, r"^\d\d:\d\d:\d\d default\.wj \| job\.default\.wj\.exit process with pid (\d+) "
                                     r"\(signal 9\)$")
        pid = int(m.group(1))
        gafferlib.wait_for(lambda: re.search(r"^\d\d:\d\d:\d\d default\.wj \| job\.default\.wj\.spawn process with "
                                             r"pid (?!%d\b)\d+$" % pid, c.text(), re.M),
                           timeout=TIMEOUT, what="the spawn line of the replacement")
        rc, out, err = c.finish(signal.SIGINT)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        self.assertNotIn("\033[", out)  # colours only with --colorize
        # Only the job's events (the pattern), each line complete.
        for line in out.splitlines():
            self.assertRegex(line, r"^\d\d:\d\d:\d\d default\.wj \| job\.default\.wj\.")

    def test_watch_json_colorize_and_sigterm(self):
        self.load("wj2", "sleep", ["1000"])
        c = self.live("--json", "watch", "job.default.wj2")
        self.kill_until("wj2", c, r'"event": ?"job\.default\.wj2\.spawn"')
        rc, out, err = c.finish(signal.SIGTERM)
        self.assertEqual(rc, 0, err)
        events = [json.loads(line) for line in out.splitlines()]
        self.assertTrue(events)
        for ev in events:
            self.assertEqual(ev["name"], "default.wj2")
            self.assertTrue(ev["event"].startswith("job.default.wj2."), ev)
        exits = [ev for ev in events if ev["event"] == "job.default.wj2.exit"]
        self.assertTrue(exits and exits[0]["term_signal"] == 9, events)

        c = self.live("watch", "--colorize", "job.default.wj2")
        self.kill_until("wj2", c, r"\033\[[0-9;]*m\d\d:\d\d:\d\d default\.wj2\033\[0m \| job\.default\.wj2\.spawn")
        rc, _, err = c.finish(signal.SIGINT)
        self.assertEqual(rc, 0, err)

    def test_watch_fails_when_the_daemon_stops(self):
        d2 = gafferlib.Daemon("").start()
        try:
            c = LiveCtl("unix:" + d2.sock, "watch", "--heartbeat", "1")
            self.addCleanup(c.kill)
            time.sleep(1.0)
            if c.proc.poll() is not None:
                self.fail("watch exited early: %r" % (c.finish(),))
            d2.stop()
            rc, out, err = c.finish()
            self.assertEqual(rc, 1, (out, err))
            self.assertIn("closed the stream", err)
        finally:
            d2.cleanup()

    def test_watch_usage(self):
        rc, _, err = self.ctl("watch", "a..b")
        self.assertEqual(rc, 2, err)
        rc, _, err = self.ctl("watch", "--heartbeat", "x")
        self.assertEqual(rc, 2, err)
        rc, out, _ = self.ctl("--help")
        for name in ("watch", "tail", "send"):
            self.assertRegex(out, r"\n  %s " % name)

    # ---- tail ----

    def test_tail_pid_sees_later_output(self):
        pid = self.cat_job("tp")
        self.post(pid, "early\n")
        gafferlib.wait_for(lambda: b"early\n" in self.backlog(pid), timeout=TIMEOUT, what="early output")
        c = self.live("tail", "-n", "0", str(pid))
        deadline = time.monotonic() + TIMEOUT
        k = 0
        while "later-" not in c.text() and time.monotonic() < deadline:
            self.post(pid, f"later-{k}\n")
            k += 1
            time.sleep(0.2)
        gafferlib.wait_for(lambda: c.text().endswith("\n"), timeout=TIMEOUT, what="a whole line")
        rc, out, err = c.finish(signal.SIGINT)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("early", out)  # -n 0: nothing from before
        self.assertRegex(out, r"^(later-\d+\n)+$")  # bytes unchanged: no prefix

    def test_tail_n_shows_earlier_output(self):
        pid = self.cat_job("tn")
        self.post(pid, "one\ntwo\nthree\n")
        gafferlib.wait_for(lambda: self.backlog(pid).endswith(b"three\n"), timeout=TIMEOUT, what="output")
        rc, out, err = self.ctl("tail", "-n", "100", "--no-follow", str(pid))
        self.assertEqual((rc, out), (0, "one\ntwo\nthree\n"), err)
        rc, out, err = self.ctl("tail", "-n", "6", "--no-follow", str(pid))
        self.assertEqual((rc, out), (0, "three\n"), err)
        rc, out, err = self.ctl("tail", "--no-follow", "default.tn")
        self.assertEqual((rc, out), (0, "".join(f"default.tn.{pid} | {w}\n" for w in ("one", "two", "three"))), err)
        # Follow mode starts with the same earlier output, then goes on.
        c = self.live("tail", "-n", "100", str(pid))
        gafferlib.wait_for(lambda: c.text() == "one\ntwo\nthree\n", timeout=TIMEOUT, what="the backlog")
        self.post(pid, "four\n")
        gafferlib.wait_for(lambda: c.text() == "one\ntwo\nthree\nfour\n", timeout=TIMEOUT, what="live output")
        rc, _, err = c.finish(signal.SIGINT)
        self.assertEqual(rc, 0, err)

    def test_tail_pid_ends_when_the_process_exits(self):
        pid = self.cat_job("te")
        c = self.live("tail", str(pid))
        deadline = time.monotonic() + TIMEOUT
        while "ping" not in c.text() and time.monotonic() < deadline:
            self.post(pid, "ping\n")
            time.sleep(0.2)
        self.d.request("POST", f"/{pid}/signal", {"signal": 9})
        rc, out, err = c.finish()
        self.assertEqual(rc, 0, (out, err))

    def test_tail_job_follows_the_replacement(self):
        first = self.load("tj", "sh", ["-c", "while true; do echo tick; sleep 0.1; done"], redirect_output=["out"])
        c = self.live("tail", "-n", "0", "default.tj")
        gafferlib.wait_for(lambda: f"default.tj.{first} | tick\n" in c.text(), timeout=TIMEOUT,
                           what="the first process's lines")
        self.d.request("POST", f"/{first}/signal", {"signal": 9})
        m = gafferlib.wait_for(lambda: re.search(r"^default\.tj\.(?!%d\b)(\d+) \| tick$" % first, c.text(), re.M),
                               timeout=TIMEOUT, what="the replacement's lines")
        second = int(m.group(1))
        self.assertEqual(self.d.get_json("/jobs/default/tj/pids")["pids"], [second])
        # A scale-up is followed too.
        r = self.d.request("POST", "/jobs/default/tj/numprocesses", {"scale": "+1"})
        self.assertEqual(r.status, 200, r)
        m = gafferlib.wait_for(lambda: re.search(r"^default\.tj\.(?!%d\b|%d\b)(\d+) \| tick$" % (first, second),
                                                 c.text(), re.M),
                               timeout=TIMEOUT, what="the new process's lines")
        rc, out, err = c.finish(signal.SIGINT)
        self.assertEqual(rc, 0, err)
        for line in out.splitlines():
            self.assertRegex(line, r"^default\.tj\.\d+ \| tick$")

    def test_tail_errors(self):
        rc, _, err = self.ctl("tail", "999999")
        self.assertEqual(rc, 1)
        self.assertIn("404", err)
        plain = self.load("tplain", "sleep", ["1000"])
        rc, _, err = self.ctl("tail", str(plain))
        self.assertEqual(rc, 1)
        self.assertIn("redirect", err)
        rc, _, err = self.ctl("tail", "default.nosuchjob")
        self.assertEqual(rc, 1)
        self.assertIn("404", err)
        rc, _, err = self.ctl("tail", "-n", "x", "default.tplain")
        self.assertEqual(rc, 2)

    # ---- send ----

    def test_send(self):
        pid = self.cat_job("sc")
        rc, out, err = self.ctl("send", str(pid), "hello", "world")
        self.assertEqual((rc, out), (0, ""), err)
        rc, out, err = self.ctl("send", f"{pid}.stdin", "again\n")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.ctl("send", str(pid), "-", input=b"l1\nl2\n.\nl3\n")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.ctl("send", str(pid), "-", input=b"l4\nl5")
        self.assertEqual(rc, 0, err)
        gafferlib.wait_for(lambda: self.backlog(pid).endswith(b"l5\n"), timeout=TIMEOUT, what="cat's output")
        self.assertEqual(self.backlog(pid), b"hello world\nagain\nl1\nl2\nl4\nl5\n")

    def test_send_errors(self):
        plain = self.load("sp", "sleep", ["1000"])
        rc, _, err = self.ctl("send", str(plain), "x")
        self.assertEqual(rc, 1)
        self.assertIn("stdin is not redirected", err)
        self.assertIn("redirect_input", err)
        rc, _, err = self.ctl("send", "999999", "x")
        self.assertEqual(rc, 1)
        self.assertIn("no process 999999", err)
        rc, _, err = self.ctl("send", f"{plain}.other", "x")
        self.assertEqual(rc, 2)
        rc, _, err = self.ctl("send", "web", "x")
        self.assertEqual(rc, 2)

    # ---- the HTTP side ----

    def test_backlog_bad_values(self):
        pid = self.cat_job("bb")
        for v in ("-1", "x", "", "1.5", "%2B3"):
            r = self.d.request("GET", f"/streams/{pid}/out?feed=continuous&backlog={v}")
            self.assertEqual((r.status, r.json()["error"]), (400, "bad_value"), v)

    def test_backlog_then_live_no_dup_no_gap(self):
        pid = self.load("bc", "python3", ["-c", COUNTER], redirect_output=["out"])
        gafferlib.wait_for(lambda: self.backlog(pid).count(b"\n") >= 30, timeout=TIMEOUT, what="some output")
        for feed in ("continuous", "eventsource"):
            rc, body = curl(self.d, f"/streams/{pid}/out?feed={feed}&backlog=65536", 1.5)
            self.assertEqual(rc, 28, body[:200])  # still streaming when curl gave up
            if feed == "eventsource":
                self.assertTrue(body.startswith(b"event: out\ndata: "), body[:100])
                body = body[:body.rfind(b"\n\n")]  # whole events only
                body = b"\n".join(line[6:] for line in body.split(b"\n") if line.startswith(b"data: ")) + b"\n"
            lines = body.split(b"\n")[:-1]  # the last one may be cut
            nums = [int(x) for x in lines]
            self.assertGreater(len(nums), 60, body[:200])
            self.assertEqual(nums, list(range(nums[0], nums[0] + len(nums))), feed)
            # Less than 64 KiB was written: the backlog goes back to the first line.
            self.assertEqual(nums[0], 0)

    def test_backlog_longpoll_snapshot(self):
        pid = self.cat_job("bs")
        t0 = time.monotonic()
        r = self.d.request("GET", f"/streams/{pid}/out?backlog=100")
        self.assertEqual((r.status, r.body), (200, b""))
        self.assertLess(time.monotonic() - t0, 5)
        self.post(pid, "x1\nx2\n")
        gafferlib.wait_for(lambda: self.backlog(pid) == b"x1\nx2\n", timeout=TIMEOUT, what="output")
        r = self.d.request("GET", f"/streams/{pid}/out?feed=longpoll&backlog=3")
        self.assertEqual((r.status, r.body), (200, b"x2\n"))
        r = self.d.request("GET", f"/streams/{pid}/nope?backlog=3")
        self.assertEqual((r.status, r.json()["error"]), (404, "io_not_found"))
        # Without backlog=, longpoll still waits for new data only.
        out = {}
        t = threading.Thread(target=lambda: out.update(r=curl(self.d, f"/streams/{pid}/out", 10)))
        t.start()
        time.sleep(0.5)
        deadline = time.monotonic() + TIMEOUT
        while t.is_alive() and time.monotonic() < deadline:
            self.post(pid, "new\n")
            t.join(0.3)
        t.join()
        self.assertEqual(out["r"], (0, b"new\n"))

    def test_stats_feed_continuous(self):
        self.load("sf", "sleep", ["1000"])
        rc, body = curl(self.d, "/stats/sf?feed=continuous", 0.8, ["-D", "-"])
        self.assertEqual(rc, 28)
        head, _, body = body.partition(b"\r\n\r\n")
        self.assertIn(b"application/json", head.lower())
        docs = [json.loads(x) for x in body.split(b"\r\n")[:-1] if x.strip()]
        self.assertGreaterEqual(len(docs), 2, body[:300])
        for doc in docs:
            self.assertEqual(doc["name"], "sf")
        # longpoll still answers once.
        rc, body = curl(self.d, "/stats/sf?feed=longpoll", 5)
        self.assertEqual(rc, 0)
        self.assertEqual(json.loads(body)["name"], "sf")


if __name__ == "__main__":
    unittest.main()
