# SPDX-License-Identifier: MIT
"""gaffer_lookupd (issue 15, reference §13): the real binary on free loopback ports, driven
by gafferlib.WebSocket as a node (masked client frames), by http.client for the §13.3
queries and by the real sockjs-client (tests/node_modules) for the /lookup event feed.

Covers: every §13.2 error row, invalid JSON, messages before IDENTIFY, duplicate
name+origin, oversized and binary frames; the §13.3 bodies and orderings; close and
expiry (--heartbeat 0.3) with their events; the feed over raw /lookup/websocket and over
SockJS (websocket and xhr-streaming); a slow feed subscriber cut off with the lookupd's
RSS bounded; keys (--require-key: register rights, impersonation, 401/403); --max-nodes;
bad options; SIGHUP ignored; --pidfile; TLS.

Needs $GAFFER_LOOKUPD (the built binary); it never skips.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402
from gafferlib import WebSocket, free_port, rss_kib, wait_for  # noqa: E402

LOOKUPD = os.environ.get("GAFFER_LOOKUPD")
HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(os.path.dirname(HERE), "node_modules")
ORIGIN = "http://127.0.0.1:5000"


class Lookupd:
    """One gaffer_lookupd on a free loopback port; stop() ends it (by its pid)."""

    def __init__(self, *args, tls=None, env=None):
        if not LOOKUPD or not os.access(LOOKUPD, os.X_OK):
            raise RuntimeError("GAFFER_LOOKUPD must name the built gaffer_lookupd binary")
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="gaffer-lookupd-")
        self.log = open(os.path.join(self.tmp, "log"), "w+b")
        self.tls = tls
        argv = [LOOKUPD, f"--bind=127.0.0.1:{self.port}", *args]
        if tls:
            argv += [f"--certfile={tls[0]}", f"--keyfile={tls[1]}"]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for(lambda: self.proc.poll() is None and self.get("/ping").status == 200, timeout=10,
                     what="gaffer_lookupd to answer /ping")
        except AssertionError:
            self.stop()
            raise AssertionError(f"gaffer_lookupd did not start: {self.output()}")

    def connection(self):
        if self.tls:
            ctx = ssl.create_default_context(cafile=self.tls[0])
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def request(self, method, path, body=None, headers=None):
        c = self.connection()
        try:
            data = json.dumps(body) if isinstance(body, (dict, list)) else body
            headers = dict(headers or {})
            if data is not None:
                headers.setdefault("Content-Type", "application/json")
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            return gafferlib.Response(r.status, dict(r.getheaders()), r.read())
        finally:
            c.close()

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def get_json(self, path, headers=None):
        r = self.get(path, headers)
        assert r.status == 200, (path, r)
        return r.json()

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.log.closed:
            return self.proc.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return self.proc.returncode


class Node:
    """A node: a websocket on /ws speaking §13.2 with fresh msgids."""

    def __init__(self, lk, headers=None):
        self.ws = WebSocket(lk.port, "/ws", headers)
        self.n = 0

    def call(self, type_, **members):
        self.n += 1
        msgid = f"m{self.n}"
        self.ws.send(json.dumps({"type": type_, "msgid": msgid, **members}))
        return json.loads(self.ws.recv())

    def identify(self, name, origin=ORIGIN, version="0.1"):
        return self.call("IDENTIFY", name=name, origin=origin, version=version)

    def send_raw(self, text):
        self.ws.send(text)
        reply = self.ws.recv()
        return None if reply is None else json.loads(reply)

    def send_frame(self, opcode, payload):
        self.ws.send_frame(opcode, payload)

    def close_code(self):
        return self.ws.close_code()

    def close(self):
        self.ws.close()


def upgrade_status(lk, path, headers=None):
    """The HTTP status a websocket upgrade of `path` gets (101 when accepted)."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{lk.port}", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", lk.port), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
    return int(head.split(b" ", 2)[1])


def node_info(name, origin=ORIGIN, version="0.1"):
    return {"name": name, "origin": origin, "version": version}


def source(name, pids, origin=ORIGIN):
    return {"name": name, "pids": pids, "node_info": node_info(name, origin)}


class RegistrationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lk = Lookupd()

    @classmethod
    def tearDownClass(cls):
        cls.assert_stopped(cls.lk)

    @staticmethod
    def assert_stopped(lk):
        rc = lk.stop()
        assert rc == 0, rc

    def tearDown(self):
        wait_for(lambda: self.lk.get_json("/nodes") == {"nodes": []}, timeout=5, what="every node gone")

    def test_simple_routes(self):
        self.assertEqual(self.lk.get_json("/")["welcome"], "gaffer-lookupd")
        version = self.lk.get_json("/")["version"]
        self.assertEqual(self.lk.get_json("/version"), {"version": version})
        r = self.lk.get("/ping")
        self.assertEqual((r.status, r.body), (200, b"OK"))
        self.assertEqual(self.lk.get_json("/nodes"), {"nodes": []})
        self.assertEqual(self.lk.get_json("/sessions"), {"nb_sessions": 0, "sessions": []})
        self.assertEqual(self.lk.get_json("/sessions/nobody"), {"nb_sessions": 0, "sessions": []})
        self.assertEqual(self.lk.get_json("/jobs"), {"nb_jobs": 0, "jobs": []})
        self.assertEqual(self.lk.get_json("/findJob?name=s.j"), {"sources": []})
        self.assertEqual(self.lk.get_json("/findSession?sessionid=s"), {"nb_jobs": 0, "jobs": []})
        for path in ("/findJob", "/findSession"):
            r = self.lk.get(path)
            self.assertEqual(r.status, 400, path)
            self.assertEqual(r.json()["errno"], 400)
        r = self.lk.get("/nope")
        self.assertEqual((r.status, r.json()["error"]), (404, "not_found"))
        r = self.lk.request("POST", "/nodes", body="{}")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.headers.get("Allow"), "GET, OPTIONS")
        r = self.lk.request("OPTIONS", "/jobs")
        self.assertEqual(r.status, 204)
        # The key API is served, and off without --require-key (as gafferd's).
        self.assertEqual(self.lk.get("/keys").status, 404)
        # A plain GET of /ws is not an upgrade.
        self.assertEqual(self.lk.get("/ws").status, 400)

    def test_error_rows(self):
        n = Node(self.lk)
        try:
            self.assertEqual(n.send_raw("{nope"), {"errno": 400, "reason": "invalid_json", "msgid": None})
            self.assertEqual(n.send_raw('{"type": "PING"}'), {"errno": 400, "reason": "invalid_message", "msgid": None})
            self.assertEqual(n.send_raw('{"msgid": "x"}'), {"errno": 400, "reason": "invalid_message", "msgid": "x"})
            self.assertEqual(n.call("NOPE"), {"errno": 400, "reason": "invalid_message_type", "msgid": "m1"})
            self.assertEqual(n.call("REGISTER_JOB", job_name="s.j"),
                             {"errno": 404, "reason": "need to send IDENTIFY message first", "msgid": "m2"})
            self.assertEqual(n.call("PING"), {"ok": True, "msgid": "m3"})
            self.assertEqual(n.call("IDENTIFY", name="n1"), {"errno": 400, "reason": "invalid_message", "msgid": "m4"})
            self.assertEqual(n.identify("n1"), {"ok": True, "msgid": "m5"})
            self.assertEqual(n.identify("n1"), {"errno": 409, "reason": "", "msgid": "m6"})
            self.assertEqual(n.call("REGISTER_PROCESS", job_name="s.j", pid=1), {"errno": 404, "reason": "", "msgid": "m7"})
            self.assertEqual(n.call("REGISTER_JOB", job_name="s.j"), {"ok": True, "msgid": "m8"})
            self.assertEqual(n.call("REGISTER_JOB", job_name="s.j"),
                             {"errno": 409, "reason": "job 's.j' is already registered", "msgid": "m9"})
            self.assertEqual(n.call("UNREGISTER_JOB", job_name="s.unknown"), {"ok": True, "msgid": "m10"})
            # Same name and origin on another connection: refused; another origin is another node.
            other = Node(self.lk)
            try:
                self.assertEqual(other.identify("n1"), {"errno": 409, "reason": "", "msgid": "m1"})
                self.assertEqual(other.identify("n1", origin="http://127.0.0.1:5001"), {"ok": True, "msgid": "m2"})
            finally:
                other.close()
            # Oversized: refused with 413, not parsed; the connection stays.
            big = json.dumps({"type": "PING", "msgid": "big", "pad": "x" * (70 * 1024)})
            n.send_frame(0x1, big.encode())
            reply = json.loads(n.ws.recv())
            self.assertEqual(reply["errno"], 413)
            self.assertEqual(n.call("PING")["ok"], True)
            # A binary frame closes the connection with 1003.
            n.send_frame(0x2, b"\x00\x01")
            self.assertEqual(n.close_code(), 1003)
        finally:
            n.close()

    def test_query_bodies_and_ordering(self):
        a, b = Node(self.lk), Node(self.lk)
        try:
            self.assertTrue(a.identify("node-a")["ok"])
            self.assertTrue(b.identify("node-b", origin="http://127.0.0.1:5001")["ok"])
            for node, job, pid in ((b, "s2.web", 20), (a, "s1.web", 10), (a, "s2.web", 11), (a, "s1.db", 12)):
                self.assertTrue(node.call("REGISTER_JOB", job_name=job)["ok"])
                self.assertTrue(node.call("REGISTER_PROCESS", job_name=job, pid=pid)["ok"])
            self.assertTrue(a.call("REGISTER_PROCESS", job_name="s1.web", pid=13)["ok"])
            sb = source("node-b", [20], "http://127.0.0.1:5001")
            self.assertEqual(self.lk.get_json("/nodes"),
                             {"nodes": [node_info("node-a"), node_info("node-b", "http://127.0.0.1:5001")]})
            self.assertEqual(self.lk.get_json("/jobs"), {"nb_jobs": 3, "jobs": [
                {"name": "s2.web", "sources": [source("node-a", [11]), sb]},
                {"name": "s1.web", "sources": [source("node-a", [10, 13])]},
                {"name": "s1.db", "sources": [source("node-a", [12])]},
            ]})
            self.assertEqual(self.lk.get_json("/sessions"), {"nb_sessions": 2, "sessions": [
                {"sessionid": "s2", "jobs": {"s2.web": [source("node-a", [11]), sb]}},
                {"sessionid": "s1", "jobs": {"s1.web": [source("node-a", [10, 13])], "s1.db": [source("node-a", [12])]}},
            ]})
            self.assertEqual(self.lk.get_json("/sessions/node-b"), {"nb_sessions": 1, "sessions": [
                {"sessionid": "s2", "jobs": {"s2.web": [sb]}}]})
            self.assertEqual(self.lk.get_json("/findJob?name=s2.web"), {"sources": [source("node-a", [11]), sb]})
            self.assertEqual(self.lk.get_json("/findSession?sessionid=s1"), {"nb_jobs": 2, "jobs": [
                {"name": "s1.web", "sources": [source("node-a", [10, 13])]},
                {"name": "s1.db", "sources": [source("node-a", [12])]},
            ]})
            # A closed connection takes its node and everything it registered.
            a.close()
            wait_for(lambda: self.lk.get_json("/nodes") == {"nodes": [node_info("node-b", "http://127.0.0.1:5001")]},
                     timeout=5, what="node-a gone")
            self.assertEqual(self.lk.get_json("/jobs"), {"nb_jobs": 1, "jobs": [{"name": "s2.web", "sources": [sb]}]})
        finally:
            a.close()
            b.close()

    def test_raw_feed(self):
        feed = WebSocket(self.lk.port, "/lookup/websocket")
        try:
            n = Node(self.lk)
            self.assertTrue(n.identify("feed-node")["ok"])
            self.assertTrue(n.call("REGISTER_JOB", job_name="s.j")["ok"])
            self.assertTrue(n.call("REGISTER_PROCESS", job_name="s.j", pid=7)["ok"])
            self.assertTrue(n.call("UNREGISTER_PROCESS", job_name="s.j", pid=8)["ok"])  # unknown pid: no event
            feed.send("client messages are ignored")
            n.close()
            info = node_info("feed-node")
            null = {"name": None, "origin": None, "version": None}
            want = [
                {"event": "add_node", **null},
                {"event": "identify", **info},
                {"event": "add_job", "node": info, "job_name": "s.j"},
                {"event": "add_process", "node": info, "job_name": "s.j", "pid": 7},
                {"event": "remove_process", "node": info, "job_name": "s.j", "pid": 7},
                {"event": "remove_job", "node": info, "job_name": "s.j"},
                {"event": "remove_node", **info},
            ]
            self.assertEqual([json.loads(feed.recv()) for _ in want], want)
        finally:
            feed.close()

    def test_sockjs_http_transports_gated_as_channel(self):
        # The gate treats /lookup as a SockJS prefix: its transports keep their text/plain
        # bodies (no 415), and a page of another site cannot use them (403).
        r = self.lk.request("POST", "/lookup/000/gatesess/xhr")
        self.assertEqual(r.status, 200, r)
        r = self.lk.request("POST", "/lookup/000/gatesess/xhr_send", body='["ignored"]',
                            headers={"Content-Type": "text/plain;charset=UTF-8"})
        self.assertEqual(r.status, 204, r)
        r = self.lk.get("/lookup/info", headers={"Origin": "http://evil.example"})
        self.assertEqual(r.status, 403, r)

    def sockjs_feed(self, transport):
        if not shutil.which("node") or not os.path.isdir(os.path.join(NODE_MODULES, "sockjs-client")):
            raise AssertionError("node and tests/node_modules are required (make deps)")
        env = dict(os.environ, NODE_PATH=NODE_MODULES)
        p = subprocess.Popen(["node", os.path.join(HERE, "test_lookupd.js"), f"127.0.0.1:{self.lk.port}", transport,
                              "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            self.assertEqual(p.stderr.readline(), b"open\n")
            n = Node(self.lk)
            self.assertTrue(n.identify("sj-" + transport)["ok"])
            self.assertTrue(n.call("REGISTER_JOB", job_name="s.sj")["ok"])
            n.close()
            out, _ = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        res = json.loads(out.decode().strip().splitlines()[-1])
        self.assertEqual(res.get("transport"), transport, res)
        info = node_info("sj-" + transport)
        self.assertEqual([e["event"] for e in res["seen"]], ["add_node", "identify", "add_job", "remove_job"])
        self.assertEqual(res["seen"][2], {"event": "add_job", "node": info, "job_name": "s.sj"})

    def test_sockjs_feed_websocket(self):
        self.sockjs_feed("websocket")

    def test_sockjs_feed_xhr_streaming(self):
        self.sockjs_feed("xhr-streaming")


class ExpiryTest(unittest.TestCase):
    def test_silent_node_dropped(self):
        lk = Lookupd("--heartbeat=0.3")
        try:
            feed = WebSocket(lk.port, "/lookup/websocket")
            n = Node(lk)
            self.assertTrue(n.identify("silent")["ok"])
            self.assertTrue(n.call("REGISTER_JOB", job_name="s.j")["ok"])
            # A node that keeps sending PING stays.
            alive = Node(lk)
            self.assertTrue(alive.identify("alive")["ok"])
            t0 = time.monotonic()
            while time.monotonic() - t0 < 1.5:
                self.assertTrue(alive.call("PING")["ok"])
                time.sleep(0.1)
            self.assertEqual(lk.get_json("/nodes"), {"nodes": [node_info("alive")]})
            self.assertEqual(n.close_code(), 1001)
            events = []
            while not events or events[-1].get("event") != "remove_node" or events[-1].get("name") != "silent":
                events.append(json.loads(feed.recv()))
            self.assertIn({"event": "remove_job", "node": node_info("silent"), "job_name": "s.j"}, events)
            n.close()
            alive.close()
            feed.close()
        finally:
            self.assertEqual(lk.stop(), 0)


class SlowFeedTest(unittest.TestCase):
    def test_slow_subscriber_cut_off(self):
        lk = Lookupd()
        try:
            # A subscriber that never reads, with a small receive buffer.
            slow = socket.socket()
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.connect(("127.0.0.1", lk.port))
            slow.sendall((f"GET /lookup/websocket HTTP/1.1\r\nHost: 127.0.0.1:{lk.port}\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n").encode())
            time.sleep(0.2)
            base = rss_kib(lk.proc.pid)
            # Long names make each event about 700 bytes: 40000 events, ~28 MB, go out.
            n = Node(lk)
            self.assertTrue(n.identify("n" * 200, origin="http://" + "o" * 190)["ok"])
            job = "s." + "j" * 240
            zero = b"\0\0\0\0"
            frames = []
            for t in ("REGISTER_JOB", "UNREGISTER_JOB"):
                data = json.dumps({"type": t, "job_name": job, "msgid": "x"}).encode()
                frames.append(bytes([0x81, 0x80 | 126]) + struct.pack(">H", len(data)) + zero + data)
            batch = (frames[0] + frames[1]) * 500
            total = 0
            for _ in range(40):
                n.ws.sock.sendall(batch)
                for _ in range(1000):
                    self.assertIsNotNone(n.ws.recv())
                total += 1000
            peak = rss_kib(lk.proc.pid)
            self.assertEqual(lk.get("/ping").status, 200)
            # Bounded: well below what the feed would have queued for the slow subscriber
            # (under ASan the RSS measures its quarantine: the log line below still counts).
            if not gafferlib.SANITIZED:
                self.assertLess(peak - base, 16 * 1024, f"RSS grew from {base} KiB to {peak} KiB")
            # The slow subscriber was cut off: reading everything now ends before all events.
            slow.settimeout(10)
            got = 0
            while True:
                chunk = slow.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
            self.assertLess(got, total * 600 // 4, f"the slow subscriber got {got} bytes")
            self.assertIn("event feed subscriber too slow", lk.output())
            slow.close()
            n.close()
        finally:
            self.assertEqual(lk.stop(), 0)


class KeysTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        state = tempfile.mkdtemp(prefix="gaffer-lookupd-keys-")
        cls.state = state
        p = subprocess.run([LOOKUPD, f"--state-dir={state}", "--create-admin-user", "--username=admin",
                            "--password=secret-pw"], capture_output=True, timeout=30)
        assert p.returncode == 0, p
        cls.admin = p.stdout.decode().split("API Key: ")[1].strip()
        cls.lk = Lookupd("--require-key", f"--state-dir={state}")
        cls.addClassCleanup(cls.lk.stop)
        cls.addClassCleanup(shutil.rmtree, state, True)

        def key(perms):
            r = cls.lk.request("POST", "/keys", {"permissions": perms}, {"X-Api-Key": cls.admin})
            assert r.status == 200, r
            return r.json()["api_key"]
        cls.node_a = key({"register": ["node-a"]})
        cls.reader = key({"read": ["*"]})

    def test_register_needs_a_register_right(self):
        self.assertEqual(upgrade_status(self.lk, "/ws"), 401)
        self.assertEqual(upgrade_status(self.lk, "/ws", {"X-Api-Key": "nope"}), 403)
        self.assertEqual(upgrade_status(self.lk, "/ws", {"X-Api-Key": self.reader}), 403)

    def test_impersonation_refused(self):
        n = Node(self.lk, {"X-Api-Key": self.node_a})
        try:
            self.assertEqual(n.identify("node-b"), {"errno": 403, "reason": "forbidden", "msgid": "m1"})
            self.assertEqual(n.identify("node-a"), {"ok": True, "msgid": "m2"})
            self.assertEqual(self.lk.get_json("/nodes", {"X-Api-Key": self.reader}), {"nodes": [node_info("node-a")]})
        finally:
            n.close()
        admin = Node(self.lk, {"X-Api-Key": self.admin})
        try:
            self.assertEqual(admin.identify("anything")["ok"], True)
        finally:
            admin.close()

    def test_queries_and_feed_need_a_key(self):
        self.assertEqual(self.lk.get("/nodes").status, 401)
        self.assertEqual(self.lk.get("/nodes", {"X-Api-Key": "nope"}).status, 403)
        self.assertEqual(self.lk.get("/nodes", {"X-Api-Key": self.node_a}).status, 200)
        self.assertEqual(self.lk.get("/ping").status, 200)
        self.assertEqual(upgrade_status(self.lk, "/lookup/websocket"), 401)
        self.assertEqual(upgrade_status(self.lk, "/lookup/websocket", {"X-Api-Key": self.reader}), 101)
        self.assertEqual(self.lk.get("/lookup/info").status, 401)

    def test_gaffer_key_create_register(self):
        gaffer = os.environ.get("GAFFER")
        if not gaffer:
            raise AssertionError("$GAFFER must name the gaffer binary")
        p = subprocess.run([gaffer, "-g", f"http://127.0.0.1:{self.lk.port}", "--api-key", self.admin, "key:create",
                            "register=node-c"], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p)
        key = p.stdout.decode().split("'")[1]  # "Key '<secret>' created."
        n = Node(self.lk, {"X-Api-Key": key})
        try:
            self.assertEqual(n.identify("node-a")["errno"], 403)
            self.assertEqual(n.identify("node-c")["ok"], True)
        finally:
            n.close()

    def test_revoked_key_ends_sessions(self):
        def key(perms):
            r = self.lk.request("POST", "/keys", {"permissions": perms}, {"X-Api-Key": self.admin})
            self.assertEqual(r.status, 200, r)
            return r.json()["api_key"]
        node_key, feed_key = key({"register": ["node-r"]}), key({"read": ["*"]})
        n = Node(self.lk, {"X-Api-Key": node_key})
        feed = WebSocket(self.lk.port, "/lookup/websocket", {"X-Api-Key": feed_key})
        try:
            self.assertTrue(n.identify("node-r")["ok"])
            for k in (node_key, feed_key):
                self.assertEqual(self.lk.request("DELETE", f"/keys/{k}", headers={"X-Api-Key": self.admin}).status, 200)
            self.assertEqual(n.close_code(), 1008)
            self.assertEqual(feed.close_code(), 1000)
            wait_for(lambda: self.lk.get_json("/nodes", {"X-Api-Key": self.admin}) == {"nodes": []}, timeout=5,
                     what="node-r gone")
        finally:
            n.close()
            feed.close()

    def test_key_api_on_the_lookupd(self):
        r = self.lk.request("POST", "/keys", {"permissions": {"register": ["*"]}}, {"X-Api-Key": self.node_a})
        self.assertEqual(r.status, 403)  # no create_key right
        r = self.lk.get(f"/keys/{self.node_a}", {"X-Api-Key": self.admin})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["permissions"]["register"], ["node-a"])


class CorsTest(unittest.TestCase):
    """CORS as gafferd's: listed origins (either spelling of the option) get the headers,
    others do not, and a page of another origin cannot open /ws (it would register a
    fake node through a browser on the lookupd's machine)."""

    def test_listed_origins_only(self):
        lk = Lookupd("--cors-origin=http://app.example", "--cors-origins=http://two.example")
        try:
            def acao(r):
                return {k.lower(): v for k, v in r.headers.items()}.get("access-control-allow-origin")
            for origin in ("http://app.example", "http://two.example"):
                r = lk.get("/jobs", {"Origin": origin})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(acao(r), origin)
            r = lk.get("/jobs", {"Origin": "http://evil.example"})
            self.assertIsNone(acao(r))
            r = lk.request("OPTIONS", "/jobs", headers={"Origin": "http://app.example",
                                                        "Access-Control-Request-Method": "GET"})
            self.assertEqual(r.status, 204, r)
            self.assertEqual(acao(r), "http://app.example")
            self.assertEqual(upgrade_status(lk, "/ws", {"Origin": "http://evil.example"}), 403)
            self.assertEqual(upgrade_status(lk, "/lookup/websocket", {"Origin": "http://evil.example"}), 403)
            self.assertEqual(upgrade_status(lk, "/ws", {"Origin": "http://app.example"}), 101)
        finally:
            self.assertEqual(lk.stop(), 0)


class LimitsTest(unittest.TestCase):
    def test_max_nodes(self):
        lk = Lookupd("--max-nodes=2")
        nodes = []
        try:
            nodes = [Node(lk), Node(lk)]
            self.assertEqual(upgrade_status(lk, "/ws"), 429)
            nodes.pop().close()
            wait_for(lambda: upgrade_status(lk, "/ws") == 101, timeout=5, what="a place again")
        finally:
            for n in nodes:
                n.close()
            self.assertEqual(lk.stop(), 0)


class ProcessTest(unittest.TestCase):
    def run_bad(self, *args):
        p = subprocess.run([LOOKUPD, *args], capture_output=True, timeout=30)
        self.assertNotEqual(p.returncode, 0, args)
        return p.stderr.decode()

    def test_bad_options(self):
        port = free_port()
        self.assertIn("--heartbeat", self.run_bad("--heartbeat=0", f"--bind=127.0.0.1:{port}"))
        self.assertIn("--heartbeat", self.run_bad("--heartbeat=soon", f"--bind=127.0.0.1:{port}"))
        self.assertIn("--max-nodes", self.run_bad("--max-nodes=-1", f"--bind=127.0.0.1:{port}"))
        self.assertIn('missing key "certfile" in ssl_options', self.run_bad("--keyfile=/etc/hostname"))
        self.assertIn('certfile "/nonexistent/c.pem" does not exist', self.run_bad("--certfile=/nonexistent/c.pem",
                                                                                   "--keyfile=/etc/hostname"))
        self.assertIn("--cacert", self.run_bad("--cacert=/etc/hostname"))
        self.assertIn("require_key", self.run_bad(f"--bind=0.0.0.0:{port}"))
        self.assertIn("unexpected argument", self.run_bad("extra"))
        self.assertIn("Usage", self.run_bad("--no-such-option"))

    def test_sighup_ignored_and_pidfile(self):
        d = tempfile.mkdtemp(prefix="gaffer-lookupd-pid-")
        pidfile = os.path.join(d, "lookupd.pid")
        lk = Lookupd(f"--pidfile={pidfile}")
        try:
            with open(pidfile) as f:
                self.assertEqual(int(f.read()), lk.proc.pid)
            lk.proc.send_signal(signal.SIGHUP)
            time.sleep(0.3)
            self.assertIsNone(lk.proc.poll())
            self.assertEqual(lk.get("/ping").status, 200)
            self.assertIn("SIGHUP ignored", lk.output())
        finally:
            self.assertEqual(lk.stop(), 0)
        self.assertFalse(os.path.exists(pidfile))
        shutil.rmtree(d, ignore_errors=True)

    def test_sd_notify(self):
        d = tempfile.mkdtemp(prefix="gaffer-lookupd-notify-")
        path = os.path.join(d, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(10)
        try:
            lk = Lookupd(env=dict(os.environ, NOTIFY_SOCKET=path))
            try:
                self.assertIn(b"READY=1", sock.recv(4096))
            finally:
                self.assertEqual(lk.stop(), 0)
            self.assertIn(b"STOPPING=1", sock.recv(4096))
        finally:
            sock.close()
            shutil.rmtree(d, ignore_errors=True)

    def test_daemon_mode(self):
        d = tempfile.mkdtemp(prefix="gaffer-lookupd-daemon-")
        pidfile = os.path.join(d, "pid")
        port = free_port()
        try:
            p = subprocess.run([LOOKUPD, f"--bind=127.0.0.1:{port}", "--daemon", f"--pidfile={pidfile}",
                                f"--error-log={os.path.join(d, 'log')}"], capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 0, p)
            with open(pidfile) as f:
                pid = int(f.read())
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.request("GET", "/ping")
                self.assertEqual(c.getresponse().read(), b"OK")
                c.close()
            finally:
                os.kill(pid, signal.SIGTERM)
                wait_for(lambda: not os.path.exists(pidfile), timeout=10, what="the daemon to stop")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_tls(self):
        d = tempfile.mkdtemp(prefix="gaffer-lookupd-tls-")
        try:
            cert, key = gafferlib.self_signed_cert(d)
            lk = Lookupd(tls=(cert, key))
            try:
                self.assertEqual(lk.get_json("/nodes"), {"nodes": []})
                # Plain HTTP on the TLS endpoint gets no answer.
                c = http.client.HTTPConnection("127.0.0.1", lk.port, timeout=5)
                with self.assertRaises((http.client.HTTPException, OSError)):
                    c.request("GET", "/ping")
                    c.getresponse().read()
                c.close()
            finally:
                self.assertEqual(lk.stop(), 0)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
