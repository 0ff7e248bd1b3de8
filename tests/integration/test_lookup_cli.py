#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`gaffer lookup*` (reference §11.1 rows lookup..., §13.3, §13.4) against lookupds
(lookuplib.LOOKUPD: the stand-in, or the real gaffer_lookupd with $GAFFER_LOOKUPD): every
output format to the byte, the merge of two lookupds that know the same nodes and jobs,
a dead lookupd among live ones (reported, the others used, exit 0) and all dead (exit 1),
the event feed's lines, its resumption across responses, and its reconnection after the
lookupd went away."""
import os
import pty
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402
import lookuplib  # noqa: E402

GAFFER = gafferlib.GAFFER


def require_gaffer():
    if not GAFFER or not os.access(GAFFER, os.X_OK):
        raise RuntimeError("GAFFER must name the built gaffer binary (run through `make test`)")


def clean_env():
    e = dict(os.environ)
    e.pop("GAFFER_API_KEY", None)
    e["GAFFER_CONFIG"] = "/nonexistent/gaffer.ini"
    return e


def gaffer(*args, timeout=30):
    return subprocess.run([GAFFER] + list(args), capture_output=True, text=True, timeout=timeout, env=clean_env(),
                          stdin=subprocess.DEVNULL)


class Feed:
    """A running `gaffer lookup`: its stdout and stderr lines arrive on queues."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([GAFFER, "lookup"] + list(args), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=clean_env(), stdin=subprocess.DEVNULL)
        self.out, self.err = queue.Queue(), queue.Queue()
        for stream, q in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, q), daemon=True).start()

    @staticmethod
    def _pump(stream, q):
        for line in stream:
            q.put(line.rstrip("\n"))

    def line(self, q=None, timeout=15):
        try:
            return (q or self.out).get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no line from gaffer lookup in time")

    def err_line(self, pattern, timeout=20):
        """The first stderr line matching `pattern`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no stderr line matching {pattern!r}")
            line = self.line(self.err, timeout=left)
            if re.search(pattern, line):
                return line

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


class LookupTestBase(unittest.TestCase):
    def setUp(self):
        require_gaffer()
        self.lookupds = []
        self.feeds = []
        self.nodes = []

    def tearDown(self):
        for f in self.feeds:
            f.stop()
        for n in self.nodes:
            try:
                n.close()
            except OSError:
                pass
        for lk in self.lookupds:
            lk.stop()

    def lookupd(self, **kw):
        lk = lookuplib.LOOKUPD(**kw).start()
        self.lookupds.append(lk)
        return lk

    def standin(self, **kw):
        """The stand-in whatever $GAFFER_LOOKUPD says: for what only it can do (record
        requests, break a route, end responses early)."""
        lk = lookuplib.StandInLookupd(**kw).start()
        self.lookupds.append(lk)
        return lk

    def node(self, lk, name, origin, jobs=()):
        n = lk.connect(name, origin)
        self.nodes.append(n)
        for job, pids in jobs:
            n.register_job(job)
            for p in pids:
                n.register_process(job, p)
        return n

    def feed(self, *args):
        f = Feed(*args)
        self.feeds.append(f)
        return f

    def wait_feeds(self, lk, n):
        if lk.records_requests:
            gafferlib.wait_for(lambda: lk.feeds() >= n, timeout=15, what="the feed to open")
        else:
            time.sleep(1)


class QueryTest(LookupTestBase):
    """Two lookupds knowing overlapping registries."""

    def setUp(self):
        super().setUp()
        self.a = self.lookupd()
        self.b = self.lookupd()
        # n1 registered with both (same name and origin): one node, pids unioned.
        self.node(self.a, "n1", "http://10.0.0.1:5000", [("shop.web", [1, 2]), ("shop.worker", [3])])
        self.node(self.b, "n1", "http://10.0.0.1:5000", [("shop.web", [2, 5])])
        self.node(self.b, "n2", "http://10.0.0.2:5000", [("shop.web", [7]), ("blog.web", [])])
        self.L = ["-L", self.a.url, "-L", self.b.url]

    def check(self, args, expected):
        r = gaffer(*args, *self.L)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, expected)
        self.assertEqual(r.stderr, "")

    def test_nodes(self):
        self.check(["lookup:nodes"], "2 node(s) found\n\n"
                   "http://10.0.0.1:5000 - n1 (protocol: 0.1)\n"
                   "http://10.0.0.2:5000 - n2 (protocol: 0.1)\n")

    def test_jobs(self):
        self.check(["lookup:jobs"], "3 job(s) found\n\n"
                   "=== shop.web\n"
                   "http://10.0.0.1:5000 - name: n1, protocol: 0.1\n"
                   "http://10.0.0.2:5000 - name: n2, protocol: 0.1\n\n"
                   "=== shop.worker\n"
                   "http://10.0.0.1:5000 - name: n1, protocol: 0.1\n\n"
                   "=== blog.web\n"
                   "http://10.0.0.2:5000 - name: n2, protocol: 0.1\n\n")

    def test_job(self):
        self.check(["lookup:job", "shop.web"],
                   "=== n1 (Protocol: 0.1)\nOrigin: http://10.0.0.1:5000\nPids: 1,2,5\n\n"
                   "=== n2 (Protocol: 0.1)\nOrigin: http://10.0.0.2:5000\nPids: 7\n\n")
        self.check(["lookup:job", "blog.web"], "=== n2 (Protocol: 0.1)\nOrigin: http://10.0.0.2:5000\nPids: \n\n")
        self.check(["lookup:job", "shop.nope"], "no job found\n")

    def test_session(self):
        self.check(["lookup:session", "shop"], "2 job(s) found\n\n"
                   "=== shop.web\n"
                   "http://10.0.0.1:5000 - name: n1, protocol: 0.1\n"
                   "http://10.0.0.2:5000 - name: n2, protocol: 0.1\n\n"
                   "=== shop.worker\n"
                   "http://10.0.0.1:5000 - name: n1, protocol: 0.1\n\n")
        self.check(["lookup:session", "nope"], "0 job(s) found\n\n")

    def test_sessions(self):
        self.check(["lookup:sessions"], "2 session(s) found\n\n"
                   "*** session: shop\n\n"
                   "=== job: shop.web\n"
                   "http://10.0.0.1:5000 - name: n1, protocol: 0.1\n"
                   "http://10.0.0.2:5000 - name: n2, protocol: 0.1\n\n"
                   "=== job: shop.worker\n"
                   "http://10.0.0.1:5000 - name: n1, protocol: 0.1\n\n"
                   "*** session: blog\n\n"
                   "=== job: blog.web\n"
                   "http://10.0.0.2:5000 - name: n2, protocol: 0.1\n\n")
        # One node's sessions only (GET /sessions/<node>).
        self.check(["lookup:sessions", "n2"], "2 session(s) found\n\n"
                   "*** session: shop\n\n"
                   "=== job: shop.web\n"
                   "http://10.0.0.2:5000 - name: n2, protocol: 0.1\n\n"
                   "*** session: blog\n\n"
                   "=== job: blog.web\n"
                   "http://10.0.0.2:5000 - name: n2, protocol: 0.1\n\n")

    def test_dead_lookupd_among_live_ones(self):
        dead = f"http://127.0.0.1:{gafferlib.free_port()}"
        r = gaffer("lookup:nodes", "-L", dead, *self.L)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 node(s) found", r.stdout)
        self.assertRegex(r.stderr, r"^gaffer: cannot connect to " + re.escape(dead) + r".*\n$")

    def test_all_dead(self):
        dead = [f"http://127.0.0.1:{gafferlib.free_port()}" for _ in range(2)]
        r = gaffer("lookup:jobs", "-L", dead[0], "--lookupd", dead[1])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        for d in dead:
            self.assertIn(d, r.stderr)

    def test_answer_that_is_not_json_is_reported(self):
        broken = self.standin()
        self.node(broken, "n1", "http://10.0.0.1:5000", [("shop.web", [1])])
        broken.broken_routes.add("/nodes")
        r = gaffer("lookup:nodes", "-L", broken.url, "-L", self.b.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(broken.url + ": the answer to GET /nodes is not a JSON object", r.stderr)
        self.assertIn("2 node(s) found", r.stdout)  # b knows both

    def test_bad_address(self):
        r = gaffer("lookup:nodes", "-L", "ftp://x")
        self.assertEqual(r.returncode, 1)
        self.assertIn("invalid lookupd address", r.stderr)

    def test_api_key_is_sent_and_only_given_one(self):
        rec = self.standin()
        r = gaffer("lookup:nodes", "-L", rec.url, "--api-key", "k-123")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(rec.requests[-1][2].get("X-Api-Key"), "k-123")
        # A node key in the environment is never sent to a lookupd.
        e = clean_env()
        e["GAFFER_API_KEY"] = "node-secret"
        subprocess.run([GAFFER, "lookup:nodes", "-L", rec.url], env=e, capture_output=True, timeout=30)
        self.assertNotIn("X-Api-Key", rec.requests[-1][2])


class FeedTest(LookupTestBase):
    def test_every_event_line(self):
        lk = self.lookupd()
        f = self.feed("-L", lk.url)
        self.wait_feeds(lk, 1)
        n = lk.connect("n1", "http://10.0.0.1:5000")
        n.register_job("shop.web")
        n.register_process("shop.web", 4)
        n.unregister_process("shop.web", 4)
        n.unregister_job("shop.web")
        n.close()
        expected = [
            "add_node | add node",
            "identify | n1: http://10.0.0.1:5000",
            "add_job | load shop.web in http://10.0.0.1:5000",
            "add_process | shop.web: process id 4 spawned on http://10.0.0.1:5000",
            "remove_process | shop.web: process 4 exited on http://10.0.0.1:5000",
            "remove_job | unload shop.web in http://10.0.0.1:5000",
            "remove_node | n1: node http://10.0.0.1:5000",
        ]
        for e in expected:
            line = f.line()
            self.assertRegex(line, r"^\d\d:\d\d:\d\d " + re.escape(e) + "$")
            self.assertNotIn("\033", line)  # not a terminal: no colour
        self.assertEqual(f.stop(), 0)

    def test_session_resumed_across_responses(self):
        # The server ends each response after 2 messages (as SockJS does after its byte
        # limit): the client resumes the same session and loses nothing, silently.
        lk = self.standin(response_limit=2)
        f = self.feed("-L", lk.url)
        self.wait_feeds(lk, 1)
        n = self.node(lk, "n1", "http://10.0.0.1:5000")
        for i in range(5):
            n.register_job(f"s.j{i}")
        lines = [f.line() for _ in range(7)]
        self.assertTrue(lines[0].endswith("add_node | add node"))
        self.assertEqual([line.split(" | ")[1] for line in lines[2:]],
                         [f"load s.j{i} in http://10.0.0.1:5000" for i in range(5)])
        posts = [p for (m, p, h) in lk.requests if m == "POST"]
        self.assertGreaterEqual(len(posts), 4)
        self.assertEqual(len(set(posts)), 1, posts)  # one session id throughout
        self.assertEqual(lk.feeds(), 1)
        self.assertTrue(f.err.empty(), f.err.queue)

    def test_reconnects_after_the_lookupd_went_away(self):
        lk = self.lookupd()
        f = self.feed("-L", lk.url)
        self.wait_feeds(lk, 1)
        lk.stop()
        f.err_line(r"^gaffer: lookupd " + re.escape(lk.url) + r": feed lost: .*; reconnecting in 1 s$")
        lk2 = self.lookupd(port=lk.port)
        f.err_line(r"^gaffer: lookupd " + re.escape(lk.url) + r": feed reconnected$")
        self.node(lk2, "n9", "http://10.0.0.9:5000")
        self.assertTrue(f.line().endswith("add_node | add node"))
        self.assertTrue(f.line().endswith("identify | n9: http://10.0.0.9:5000"))
        self.assertEqual(f.stop(), 0)

    def test_one_feed_per_lookupd(self):
        a, b = self.lookupd(), self.lookupd()
        dead = f"http://127.0.0.1:{gafferlib.free_port()}"
        f = self.feed("-L", a.url, "-L", dead, "-L", b.url)
        self.wait_feeds(a, 1)
        self.wait_feeds(b, 1)
        f.err_line(r"^gaffer: lookupd " + re.escape(dead) + r": feed lost: cannot connect")
        self.node(a, "na", "http://10.0.0.1:5000")
        got = {f.line().split(" | ")[1] for _ in range(2)}
        self.node(b, "nb", "http://10.0.0.2:5000")
        got |= {f.line().split(" | ")[1] for _ in range(2)}
        self.assertEqual(got, {"add node", "na: http://10.0.0.1:5000", "nb: http://10.0.0.2:5000"})

    def test_colour_on_a_terminal_only(self):
        lk = self.lookupd()
        for args, coloured in (([], True), (["--no-color"], False)):
            master, slave = pty.openpty()
            p = subprocess.Popen([GAFFER, "lookup", "-L", lk.url] + args, stdout=slave, stderr=subprocess.DEVNULL,
                                 env=clean_env(), stdin=subprocess.DEVNULL)
            os.close(slave)
            try:
                self.wait_feeds(lk, 1 if coloured else 2)
                name = "n1" if coloured else "n2"
                self.nodes.append(lk.connect(name, "http://10.0.0.1:5000"))
                data = b""
                deadline = time.monotonic() + 15
                while b"identify" not in data and time.monotonic() < deadline:
                    data += os.read(master, 4096)
                self.assertIn(b"identify | " + name.encode(), data)
                self.assertEqual(b"\033[" in data, coloured, data)
            finally:
                p.send_signal(signal.SIGINT)
                self.assertEqual(p.wait(timeout=10), 0)
                os.close(master)


if __name__ == "__main__":
    unittest.main()
