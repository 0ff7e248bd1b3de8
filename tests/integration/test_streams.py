#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test of the live HTTP routes against the real gafferd ($GAFFERD):
GET /streams/<pid>/<label> (longpoll, continuous, eventsource, heartbeats, errors),
POST /streams/<pid>/stdin, GET /watch, /stats?feed= (reference §4.1-§4.3, §16), a
200 MB writer with a slow subscriber (bounded memory, child not slowed, log file
complete) and 1000 connect/disconnect cycles (no fd or memory leak).
Clients: curl (through the unix socket) and raw sockets.
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402


def curl(d, path, seconds, extra=()):
    """Runs curl -N on the unix socket for at most `seconds`; returns (rc, body bytes)."""
    p = subprocess.run(["curl", "-sN", "--max-time", str(seconds), "--unix-socket", d.sock, *extra,
                        "http://localhost" + path], capture_output=True)
    return p.returncode, p.stdout


def dechunk(raw):
    """The body of a raw HTTP/1.1 chunked response (as far as it is complete)."""
    _, _, rest = raw.partition(b"\r\n\r\n")
    body = bytearray()
    while True:
        line, sep, after = rest.partition(b"\r\n")
        if not sep:
            break
        n = int(line.split(b";")[0], 16)
        if n == 0 or len(after) < n + 2:
            break
        body += after[:n]
        rest = after[n + 2:]
    return bytes(body)


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class StreamsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = gafferlib.Daemon("").start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def load(self, name, cmd, args, **extra):
        body = {"name": name, "cmd": cmd, "args": args, **extra}
        r = self.d.request("POST", "/jobs/default", body)
        self.assertEqual(r.status, 200, r)
        pids = self.d.get_json(f"/jobs/default/{name}/pids")["pids"]
        self.addCleanup(lambda: self.d.request("DELETE", f"/jobs/default/{name}"))
        return pids[0]

    def ticker(self, name, period="0.2"):
        return self.load(name, "sh", ["-c", f"while true; do echo tick; sleep {period}; done"],
                         redirect_output=["stdout"])

    def test_continuous(self):
        pid = self.ticker("cont")
        rc, body = curl(self.d, f"/streams/{pid}/stdout?feed=continuous", 1.5)
        self.assertEqual(rc, 28, body)  # still streaming when curl gave up
        self.assertGreaterEqual(body.count(b"tick\n"), 3, body)

    def test_quiet_line_after_a_burst_arrives_promptly(self):
        # A line written once a burst is over must still arrive promptly, and whole (the
        # pipe's watch must survive the batched reads of the burst).
        go = os.path.join(self.d.dir, "burst.go")
        pid = self.load("burst", "sh", ["-c", f"while [ ! -e {go} ]; do sleep 0.01; done; "
                                               "head -c 8000000 /dev/zero; sleep 1; echo quiet-line; sleep 1000"],
                        redirect_output=["stdout"])
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.d.sock)
        self.addCleanup(s.close)
        s.sendall(f"GET /streams/{pid}/stdout?feed=continuous HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        open(go, "w").close()
        s.settimeout(10)
        seen = b""
        deadline = time.monotonic() + 30
        while b"quiet-line" not in seen and time.monotonic() < deadline:
            c = s.recv(1 << 20)
            if not c:
                break
            seen = seen[-64:] + c
        self.assertIn(b"quiet-line\n", seen)

    def test_longpoll_one_chunk(self):
        pid = self.ticker("lp")
        rc, body = curl(self.d, f"/streams/{pid}/stdout", 5)
        self.assertEqual(rc, 0, body)
        self.assertEqual(body, b"tick\n")

    def test_eventsource_framing(self):
        pid = self.load("multi", "sh", ["-c", "while true; do printf 'a\\nb\\n'; sleep 0.2; done"],
                        redirect_output=["out"])
        rc, body = curl(self.d, f"/streams/{pid}/out?feed=eventsource", 1.2, ["-D", "-"])
        head, _, events = body.partition(b"\r\n\r\n")
        self.assertIn(b"text/event-stream", head)
        self.assertIn(b"no-cache", head.lower())
        self.assertTrue(events.startswith(b"event: out\ndata: a\ndata: b\n\n"), events)

    def test_heartbeat(self):
        pid = self.load("silent", "sleep", ["1000"], redirect_output=["stdout"])
        rc, body = curl(self.d, f"/streams/{pid}/stdout?feed=continuous&heartbeat=1", 2.6)
        self.assertEqual(rc, 28)
        self.assertEqual(body, b"\n\n", body)
        rc, body = curl(self.d, f"/streams/{pid}/stdout?feed=continuous&heartbeat=x", 5)
        self.assertEqual(json.loads(body)["error"], "bad_value")

    def test_errors(self):
        pid = self.ticker("err")
        plain = self.load("plain", "sleep", ["1000"])
        for path, status, error in [
            ("/streams/abc/stdout", 400, "bad_value"),
            ("/streams/999999/stdout", 404, "not_found"),
            (f"/streams/{pid}/stderr", 404, "io_not_found"),
            (f"/streams/{plain}/stdout", 400, "io_not_redirected"),
        ]:
            r = self.d.request("GET", path)
            self.assertEqual((r.status, r.json()["error"]), (status, error), path)
        r = self.d.request("POST", f"/streams/{pid}/stdin", "x")
        self.assertEqual((r.status, r.json()["error"]), (403, "forbidden_write"))
        r = self.d.request("POST", f"/streams/999999/stdin", "x")
        self.assertEqual(r.status, 404)

    def test_stdin_concurrent_writers_whole_and_ordered(self):
        pid = self.load("cat", "cat", [], redirect_output=["stdout"], redirect_input=True)
        got = bytearray()
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.d.sock)
        s.sendall(f"GET /streams/{pid}/stdout?feed=continuous HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        stop = threading.Event()

        def reader():
            s.settimeout(0.2)
            while not stop.is_set():
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                got.extend(chunk)

        t = threading.Thread(target=reader)
        t.start()
        time.sleep(0.3)
        writers, per = 6, 30

        def writer(w):
            for i in range(per):
                body = (f"<w{w}-{i}:" + "x" * 3000 + ">\n").encode()
                r = self.d.request("POST", f"/streams/{pid}/stdin", body)
                self.assertEqual(r.status, 200, r)

        ws = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
        for w in ws:
            w.start()
        for w in ws:
            w.join()
        gafferlib.wait_for(lambda: dechunk(bytes(got)).count(b">\n") >= writers * per, timeout=10,
                           what="all writes echoed")
        stop.set()
        t.join()
        s.close()
        text = dechunk(bytes(got)).decode("latin-1")
        for w in range(writers):
            last = -1
            for i in range(per):
                block = f"<w{w}-{i}:" + "x" * 3000 + ">\n"
                pos = text.find(block)
                self.assertGreater(pos, last, f"writer {w} message {i} torn or out of order")
                last = pos

    def test_watch(self):
        out = {}

        def longpoll():
            out["lp"] = curl(self.d, "/watch/load", 10)

        def sse():
            out["sse"] = curl(self.d, "/watch/job?feed=eventsource", 2)

        ts = [threading.Thread(target=longpoll), threading.Thread(target=sse)]
        for t in ts:
            t.start()
        time.sleep(0.5)
        self.load("watched", "sleep", ["1000"])
        for t in ts:
            t.join()
        rc, body = out["lp"]
        self.assertEqual(rc, 0)
        self.assertTrue(body.endswith(b"\r\n"), body)
        ev = json.loads(body)
        self.assertEqual((ev["event"], ev["name"]), ("load", "default.watched"))
        rc, body = out["sse"]
        self.assertIn(b"event: job.default.watched.start\ndata: {", body)
        self.assertIn(b"event: job.default.watched.spawn\n", body)

    def test_watch_04_names_only_by_name(self):
        # The 0.4 names (create, proc.<template>.<event>) reach subscribers that ask for
        # them; an "every event" watcher sees each event once, under its HEAD name.
        out = {}

        def named():
            out["create"] = curl(self.d, "/watch/create", 10)

        def tmpl():
            out["tmpl"] = curl(self.d, "/watch/proc/w04?feed=eventsource", 2)

        def everything():
            out["all"] = curl(self.d, "/watch?feed=eventsource", 2)

        ts = [threading.Thread(target=f) for f in (named, tmpl, everything)]
        for t in ts:
            t.start()
        time.sleep(0.5)
        self.load("w04", "sleep", ["1000"])
        for t in ts:
            t.join()
        rc, body = out["create"]
        self.assertEqual(rc, 0, body)
        self.assertEqual(json.loads(body)["event"], "create")
        self.assertIn(b"event: proc.w04.spawn\n", out["tmpl"][1])
        body = out["all"][1]
        self.assertIn(b"event: load\n", body)
        self.assertIn(b"event: job.default.w04.spawn\n", body)
        self.assertNotIn(b"event: create\n", body)
        self.assertNotIn(b"event: proc.w04.", body)

    def test_stats_feed(self):
        self.load("st", "sleep", ["1000"])
        rc, body = curl(self.d, "/stats/st?feed=eventsource", 1.05)
        self.assertEqual(rc, 28)
        self.assertGreaterEqual(body.count(b"event: stat\n"), 5, body[:300])
        rc, body = curl(self.d, "/stats/st?feed=longpoll", 5)
        self.assertEqual(rc, 0)
        self.assertEqual(json.loads(body)["name"], "st")
        r = self.d.request("GET", "/stats/nope?feed=eventsource")
        self.assertEqual(r.status, 404)

    def test_connect_disconnect_no_leak(self):
        pid = self.load("leak", "sleep", ["1000"], redirect_output=["stdout"])
        dpid = self.d.proc.pid

        def cycle(n):
            for i in range(n):
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.d.sock)
                feed = ["continuous", "eventsource", "longpoll"][i % 3]
                s.sendall(f"GET /streams/{pid}/stdout?feed={feed} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                data = b""
                while b"\r\n\r\n" not in data:
                    c = s.recv(4096)
                    if not c:
                        break
                    data += c
                self.assertIn(b" 200 ", data.split(b"\r\n")[0])
                s.close()

        cycle(100)
        time.sleep(0.3)
        fds0, rss0 = fd_count(dpid), gafferlib.rss_kib(dpid)
        cycle(1000)
        gafferlib.wait_for(lambda: fd_count(dpid) <= fds0 + 2, timeout=10, what="fds back to the baseline")
        if not gafferlib.SANITIZED:  # ASan's quarantine keeps freed memory: RSS says nothing there
            self.assertLess(gafferlib.rss_kib(dpid) - rss0, 4096, "RSS grew by more than 4 MiB over 1000 cycles")

    def test_fast_writer_slow_reader(self):
        size = 200 * 1000 * 1000
        tmp = self.d.dir

        def run(name, subscribe):
            log = os.path.join(tmp, name + ".log")
            # The writer starts only when a marker file appears, so the subscriber is in place.
            go = os.path.join(tmp, name + ".go")
            pid = self.load(name, "sh", ["-c", f"while [ ! -e {go} ]; do sleep 0.01; done; "
                                               f"head -c {size} /dev/zero; sleep 1000"],
                            redirect_output=["stdout"], stdout_file=log, log_max_bytes=4 * size)
            s = None
            if subscribe:
                s = socket.socket(socket.AF_UNIX)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(self.d.sock)
                s.sendall(f"GET /streams/{pid}/stdout?feed=continuous HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                s.recv(100)
            max_rss = [0]
            done = threading.Event()
            got = [0]

            def slow():
                s.settimeout(0.5)
                while not done.is_set():
                    try:
                        c = s.recv(16384)
                    except socket.timeout:
                        continue
                    if not c:
                        break
                    got[0] += len(c)
                    time.sleep(0.02)

            t = None
            if s:
                t = threading.Thread(target=slow)
                t.start()
            t0 = time.monotonic()
            open(go, "w").close()

            def complete():
                max_rss[0] = max(max_rss[0], gafferlib.rss_kib(self.d.proc.pid))
                return os.path.exists(log) and os.path.getsize(log) >= size

            gafferlib.wait_for(complete, timeout=120, interval=0.05, what=f"{name}: {size} bytes logged")
            elapsed = time.monotonic() - t0
            if s:
                time.sleep(0.5)
                done.set()
                t.join()
                s.close()
            self.assertEqual(os.path.getsize(log), size)
            return elapsed, max_rss[0], got[0]

        base, _, _ = run("fast0", False)
        slow_t, rss, got = run("fast1", True)
        if not gafferlib.SANITIZED:
            self.assertLess(rss, 64 * 1024, f"daemon RSS {rss} KiB")
        self.assertGreater(got, 0)
        self.assertLess(got, size, "the slow reader cannot have read everything")
        self.assertLess(slow_t, base * 3 + 3.0, f"child slowed down: {slow_t:.2f}s vs {base:.2f}s")


if __name__ == "__main__":
    unittest.main()
