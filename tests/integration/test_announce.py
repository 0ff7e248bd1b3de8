#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gafferd registering with gaffer_lookupd (reference §13.2, lib/announce): the real
gafferd ($GAFFERD) against a small websocket server in this file playing the lookupd on a
loopback port. It records every upgrade request and every frame, and answers each message
{"ok": true, "msgid": M} (or nothing, in the tests of unanswered links). Checked: the
upgrade (path <prefix>/ws, X-Api-Key), IDENTIFY (name, origin = broadcast address,
version 0.1), REGISTER_JOB/REGISTER_PROCESS for the INI's and the API's jobs with the API's
pids, UNREGISTER_* on stop and unload, 32-hex msgids, the PING period, reconnection with a
full re-registration, unanswered PINGs, a blackholed lookupd not slowing the API, growing
back-off, two lookupds, SIGHUP changing the list, and the broadcast address rule. Then end
to end against the real gaffer_lookupd ($GAFFER_LOOKUPD): two nodes, their jobs and pids
in its queries, PINGs keeping them, a stopped node gone, a restarted lookupd filled again."""
import base64
import hashlib
import json
import os
import re
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
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gafferlib import GAFFERD, DaemonTestCase, free_port, wait_for  # noqa: E402

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MSGID = re.compile(r"^[0-9a-f]{32}$")


class Conn:
    """One websocket connection accepted by FakeLookupd."""

    def __init__(self, sock, path, headers, opened):
        self.sock, self.path, self.headers, self.opened = sock, path, headers, opened
        self.messages = []  # parsed JSON, in arrival order
        self.times = []     # arrival time of each message
        self.closed = False
        self.close_payload = None  # the payload of the client's Close frame


class FakeLookupd:
    """A websocket server on 127.0.0.1: records connections and messages; answers each
    message with {"ok": true, "msgid": M} while `answer` is true."""

    def __init__(self, answer=True, accept_upgrade=True, tls=None):
        self.answer = answer
        self.tls = tls  # an ssl.SSLContext (server side), or None
        self.accept_upgrade = accept_upgrade
        self.lock = threading.Lock()
        self.conns = []
        self.accepts = []  # time of each TCP accept
        self.peer_certs = []  # TLS: the client certificate of each handshake that succeeded
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def url(self, prefix=""):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{prefix}"

    def _accept_loop(self):
        while not self.stopping:
            try:
                s, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepts.append(time.monotonic())
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        try:
            if self.tls:
                s.settimeout(10)
                s = self.tls.wrap_socket(s, server_side=True)
                s.settimeout(None)
                with self.lock:
                    self.peer_certs.append(s.getpeercert())
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    s.close()
                    return
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode().split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {}
            for line in lines[1:]:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
            if not self.accept_upgrade:
                s.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                s.close()
                return
            accept = base64.b64encode(hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest())
            s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            conn = Conn(s, path, headers, time.monotonic())
            with self.lock:
                self.conns.append(conn)
            while True:
                while len(buf) < 2:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise EOFError
                    buf += chunk
                op, masked, n = buf[0] & 0x0F, buf[1] & 0x80, buf[1] & 0x7F
                off = 2
                if n == 126:
                    off = 4
                elif n == 127:
                    off = 10
                while len(buf) < off + 4:
                    buf += s.recv(65536) or b""
                if n == 126:
                    n = struct.unpack(">H", buf[2:4])[0]
                elif n == 127:
                    n = struct.unpack(">Q", buf[2:10])[0]
                assert masked, "client frames must be masked"
                while len(buf) < off + 4 + n:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise EOFError
                    buf += chunk
                mask = buf[off:off + 4]
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(buf[off + 4:off + 4 + n]))
                buf = buf[off + 4 + n:]
                if op == 8:
                    conn.close_payload = payload
                    raise EOFError
                if op != 1:
                    continue
                msg = json.loads(payload)
                with self.lock:
                    conn.messages.append(msg)
                    conn.times.append(time.monotonic())
                if self.answer:
                    reply = json.dumps({"ok": True, "msgid": msg.get("msgid")}).encode()
                    s.sendall(bytes([0x81, len(reply)]) + reply if len(reply) < 126 else
                              bytes([0x81, 126]) + struct.pack(">H", len(reply)) + reply)
        except (EOFError, OSError, AssertionError, ValueError, ssl.SSLError):
            pass
        finally:
            with self.lock:
                for c in self.conns:
                    if c.sock is s:
                        c.closed = True
            try:
                s.close()
            except OSError:
                pass

    def connections(self):
        with self.lock:
            return list(self.conns)

    def messages(self, conn=-1, types=None):
        with self.lock:
            if not self.conns:
                return []
            msgs = list(self.conns[conn].messages)
        return [m for m in msgs if types is None or m["type"] in types]

    def drop_all(self):
        """Closes every open connection from the server side."""
        with self.lock:
            conns = [c for c in self.conns if not c.closed]
        for c in conns:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def send_close(self, code):
        """Starts the closing handshake on every open connection."""
        with self.lock:
            conns = [c for c in self.conns if not c.closed]
        for c in conns:
            c.sock.sendall(bytes([0x88, 2]) + struct.pack(">H", code))

    def close(self):
        self.stopping = True
        self.drop_all()
        self.listener.close()


def registrations(msgs):
    """The state a lookupd would hold after `msgs`: {job: set(pids)}."""
    state = {}
    for m in msgs:
        t = m["type"]
        if t == "REGISTER_JOB":
            state.setdefault(m["job_name"], set())
        elif t == "UNREGISTER_JOB":
            state.pop(m["job_name"], None)
        elif t == "REGISTER_PROCESS":
            state.setdefault(m["job_name"], set()).add(m["pid"])
        elif t == "UNREGISTER_PROCESS":
            state.get(m["job_name"], set()).discard(m["pid"])
    return state


INI = "[job:web]\ncmd = sleep 1000\nnumprocesses = 2\n[job:app:worker]\ncmd = sleep 1000\n"


class AnnounceTest(DaemonTestCase):
    def setUp(self):
        super().setUp()
        self.peers = []

    def tearDown(self):
        super().tearDown()
        for p in self.peers:
            p.close()

    def peer(self, **kw):
        p = FakeLookupd(**kw)
        self.peers.append(p)
        return p

    def start(self, config, *args, **kw):
        d = self.daemon(config, extra_args=["--node-name", "node1", "--broadcast-address",
                                            "http://node1.example:5000", "--lookupd-heartbeat", "0.3", *args],
                        **kw)
        return d.start()

    def api_state(self, d):
        """{job: set(pids)} as the API shows it."""
        state = {}
        for sid in d.get_json("/sessions")["sessions"]:
            for job in d.get_json(f"/jobs/{sid}")["jobs"]:
                name = job if "." in job else f"{sid}.{job}"
                s, j = name.split(".", 1)
                state[name] = set(d.get_json(f"/jobs/{s}/{j}/pids")["pids"])
        return state

    def wait_synced(self, d, peer, conn=-1):
        wait_for(lambda: peer.connections() and registrations(peer.messages(conn)) == self.api_state(d),
                 timeout=10, what="the lookupd to hold the API's state")

    def test_identify_then_everything_then_events(self):
        p = self.peer()
        d = self.start(INI, "--lookupd-address", p.url(), "--lookupd-key", "s3cret")
        self.wait_synced(d, p)
        conn = p.connections()[0]
        self.assertEqual(conn.path, "/ws")
        self.assertEqual(conn.headers.get("x-api-key"), "s3cret")
        self.assertEqual(conn.headers.get("sec-websocket-version"), "13")
        msgs = p.messages()
        ident = msgs[0]
        self.assertEqual(ident["type"], "IDENTIFY")
        self.assertEqual((ident["name"], ident["origin"], ident["version"]),
                         ("node1", "http://node1.example:5000", "0.1"))
        self.assertEqual(set(ident), {"type", "name", "origin", "version", "msgid"})
        # The INI's jobs, each registered before its processes, with the API's pids.
        regs = [m for m in msgs if m["type"] != "PING"][1:]
        self.assertEqual({m["job_name"] for m in regs if m["type"] == "REGISTER_JOB"}, {"default.web", "app.worker"})
        for i, m in enumerate(regs):
            if m["type"] == "REGISTER_PROCESS":
                self.assertIn({"type": "REGISTER_JOB", "job_name": m["job_name"]},
                              [{"type": r["type"], "job_name": r["job_name"]} for r in regs[:i]])
                self.assertIsInstance(m["pid"], int)
        self.assertEqual(len([m for m in regs if m["type"] == "REGISTER_PROCESS"]), 3)

        # A job loaded through the API, a process stopped, the job unloaded.
        r = d.request("POST", "/jobs/api", {"name": "extra", "cmd": "sleep", "args": ["1000"], "numprocesses": 1})
        self.assertEqual(r.status, 200, r)
        self.wait_synced(d, p)
        self.assertIn("api.extra", registrations(p.messages()))
        pid = sorted(self.api_state(d)["default.web"])[0]
        self.assertEqual(d.request("DELETE", f"/{pid}").status, 202)
        wait_for(lambda: {"type": "UNREGISTER_PROCESS", "job_name": "default.web", "pid": pid} in
                 [{k: v for k, v in m.items() if k != "msgid"} for m in p.messages()], what="UNREGISTER_PROCESS")
        self.wait_synced(d, p)  # its replacement registered
        self.assertEqual(len(self.api_state(d)["default.web"]), 2)
        self.assertEqual(d.request("DELETE", "/jobs/api/extra").status, 200)
        wait_for(lambda: "api.extra" not in registrations(p.messages()), what="UNREGISTER_JOB")
        self.assertIn("UNREGISTER_JOB", [m["type"] for m in p.messages() if m.get("job_name") == "api.extra"])
        self.wait_synced(d, p)

        # Every message has its own 32-hex msgid; PING every 0.3 s.
        wait_for(lambda: len(p.messages(types={"PING"})) >= 4, what="4 PINGs")
        msgs = p.messages()
        ids = [m["msgid"] for m in msgs]
        self.assertTrue(all(MSGID.match(i) for i in ids), ids)
        self.assertEqual(len(set(ids)), len(ids))
        times = [t for m, t in zip(conn.messages, conn.times) if m["type"] == "PING"]
        gaps = [b - a for a, b in zip(times, times[1:])]
        self.assertTrue(all(0.15 < g < 1.5 for g in gaps), gaps)
        # No duplicate registration: the lookupd would have answered 409.
        jobs = [m["job_name"] for m in msgs if m["type"] == "REGISTER_JOB"]
        self.assertEqual(len(jobs), len(set(jobs)), jobs)

    def test_lookupd_socket_is_close_on_exec(self):
        p = self.peer()
        d = self.start(INI, "--lookupd-address", p.url())
        self.wait_synced(d, p)
        base = f"/proc/{d.proc.pid}"
        # The inode of gafferd's TCP connection to the peer, from its /proc/net/tcp.
        with open(f"{base}/net/tcp") as f:
            rows = [line.split() for line in f.readlines()[1:]]
        inodes = {r[9] for r in rows if int(r[2].split(":")[1], 16) == p.port}
        self.assertTrue(inodes)
        found = 0
        for fd in os.listdir(f"{base}/fd"):
            try:
                target = os.readlink(f"{base}/fd/{fd}")
                if target[len("socket:["):-1] not in inodes or not target.startswith("socket:"):
                    continue
                with open(f"{base}/fdinfo/{fd}") as f:
                    flags = int(next(line for line in f if line.startswith("flags:")).split()[1], 8)
            except OSError:
                continue
            found += 1
            self.assertTrue(flags & 0o2000000, f"the lookupd socket (fd {fd}) is not close-on-exec")
        self.assertEqual(found, 1)

    def test_reconnects_and_registers_everything_again(self):
        p = self.peer()
        d = self.start(INI, "--lookupd-address", p.url("/prefix/"))
        self.wait_synced(d, p)
        self.assertEqual(p.connections()[0].path, "/prefix/ws")
        p.drop_all()
        wait_for(lambda: len(p.connections()) >= 2, what="a second connection")
        self.wait_synced(d, p, conn=1)
        second = p.messages(1)
        self.assertEqual(second[0]["type"], "IDENTIFY")
        self.assertEqual(registrations(second), self.api_state(d))
        self.assertEqual(self.api_state(d).keys(), {"default.web", "app.worker"})

    def test_close_frame_is_answered_and_the_link_comes_back(self):
        p = self.peer()
        d = self.start(INI, "--lookupd-address", p.url())
        self.wait_synced(d, p)
        p.send_close(1001)
        wait_for(lambda: p.connections()[0].close_payload is not None, what="the Close answer")
        self.assertEqual(p.connections()[0].close_payload, struct.pack(">H", 1001))
        wait_for(lambda: len(p.connections()) >= 2, what="a new link")
        self.wait_synced(d, p, conn=1)

    def test_unanswered_pings_drop_the_link(self):
        p = self.peer(answer=False)
        self.start(INI, "--lookupd-address", p.url())
        # Heartbeat 0.3 s: no answer for 0.6 s drops the link, and it comes back.
        wait_for(lambda: len(p.connections()) >= 2 and p.messages(1), timeout=10, what="a reconnection")
        self.assertTrue(p.connections()[0].closed)
        self.assertEqual(p.messages(1)[0]["type"], "IDENTIFY")

    def test_refused_upgrade_is_retried(self):
        p = self.peer(accept_upgrade=False)
        d = self.start(INI, "--lookupd-address", p.url(), "--lookupd-key", "wrong")
        wait_for(lambda: len(p.accepts) >= 2, timeout=10, what="a second attempt")
        self.assertTrue(d.ping())
        self.assertIn("403", d.output())

    def test_blackholed_lookupd_does_not_slow_the_api(self):
        # A listening socket that never accepts: the kernel completes the TCP handshake
        # and then nothing ever answers. A synchronous client would hang until its
        # timeout (5 s) on every request's turn of the loop.
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(1)
        self.addCleanup(hole.close)
        port = hole.getsockname()[1]
        d = self.start(INI, "--lookupd-address", f"http://127.0.0.1:{port}")
        worst = 0.0
        end = time.monotonic() + 3
        while time.monotonic() < end:
            t0 = time.monotonic()
            self.assertEqual(d.request("GET", "/jobs").status, 200)
            worst = max(worst, time.monotonic() - t0)
        self.assertLess(worst, 1.0)

    def test_backoff_grows_while_the_lookupd_is_down(self):
        # A lookupd that accepts and closes at once: every attempt fails.
        p = self.peer(accept_upgrade=False)
        self.start(INI, "--lookupd-address", p.url())
        wait_for(lambda: len(p.accepts) >= 5, timeout=15, what="5 attempts")
        t = list(p.accepts)
        gaps = [b - a for a, b in zip(t, t[1:])]
        # 0.5, 1, 2, 4 s, each +-25 %: every gap longer than the one before.
        self.assertTrue(all(b > a * 1.1 for a, b in zip(gaps, gaps[1:4])), gaps)
        self.assertGreater(gaps[0], 0.3)
        self.assertGreater(gaps[3], 2.5)

    def test_two_lookupds_both_get_everything(self):
        a, b = self.peer(), self.peer()
        d = self.start(INI, "--lookupd-address", a.url(), "--lookupd-address", b.url())
        self.wait_synced(d, a)
        self.wait_synced(d, b)
        self.assertEqual(a.messages()[0]["type"], "IDENTIFY")
        self.assertEqual(b.messages()[0]["type"], "IDENTIFY")
        d.request("POST", "/jobs/api", {"name": "extra", "cmd": "sleep", "args": ["1000"]})
        self.wait_synced(d, a)
        self.wait_synced(d, b)
        self.assertIn("api.extra", registrations(b.messages()))

    def test_sighup_adds_and_removes_lookupds(self):
        a, b = self.peer(), self.peer()
        d = self.daemon(f"[gaffer]\nlookupd_address1 = {a.url()}\n" + INI,
                        extra_args=["--node-name", "node1", "--lookupd-heartbeat", "0.3"]).start()
        self.wait_synced(d, a)
        # Default origin: http://<fqdn>:<first TCP port>; this daemon has none.
        self.assertTrue(a.messages()[0]["origin"].startswith("http://"))
        d.write_config(f"[gaffer]\nlookupd_address_b = {b.url()}\n" + INI + "[job:new]\ncmd = sleep 1000\n")
        d.signal(signal.SIGHUP)
        self.wait_synced(d, b)
        self.assertIn("default.new", registrations(b.messages()))
        wait_for(lambda: a.connections()[0].closed, what="the removed lookupd's link to close")
        self.assertEqual(len(a.connections()), 1)
        # Both again: b's link is kept (no second connection), a gets a new one.
        d.write_config(f"[gaffer]\nlookupd_address1 = {a.url()}\nlookupd_address2 = {b.url()}\n" + INI)
        d.signal(signal.SIGHUP)
        wait_for(lambda: len(a.connections()) == 2, what="a new link to the re-added lookupd")
        self.wait_synced(d, a)
        self.wait_synced(d, b)
        self.assertNotIn("default.new", registrations(b.messages()))
        self.assertEqual(len(b.connections()), 1)

    def test_key_from_the_environment_is_sent_and_not_inherited(self):
        p = self.peer()
        d = self.start(INI, "--lookupd-address", p.url(), env={"GAFFER_LOOKUPD_KEY": "from-env"})
        self.wait_synced(d, p)
        self.assertEqual(p.connections()[0].headers.get("x-api-key"), "from-env")
        procs = d.get_json("/jobs/default/web/processes")["processes"]
        with open(f"/proc/{procs[0]['os_pid']}/environ", "rb") as f:
            env = f.read().split(b"\0")
        self.assertTrue(any(e.startswith(b"GAFFER_TEST_TAG=") for e in env))
        self.assertFalse(any(e.startswith(b"GAFFER_LOOKUPD_KEY=") for e in env))

    def make_cert(self):
        openssl = shutil.which("openssl")
        if not openssl:
            self.fail("openssl is missing: it is needed to make the test's self-signed certificate")
        d = tempfile.mkdtemp(prefix="gaffer-announce-tls-")
        self.addCleanup(shutil.rmtree, d, True)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return cert, key

    def test_https_lookupd_with_ca_and_client_certificate(self):
        cert, key = self.make_cert()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        ctx.verify_mode = ssl.CERT_REQUIRED  # the client must present a certificate we trust
        ctx.load_verify_locations(cert)
        p = self.peer(tls=ctx)
        # Without the CA, the self-signed certificate is refused: never registered.
        bad = self.start(INI, "--lookupd-address", p.url())
        wait_for(lambda: len(p.accepts) >= 1, what="an attempt")
        # With the CA and the client certificate: registered.
        d = self.start(INI, "--lookupd-address", p.url(), "--cacert", cert, "--client-certfile", cert,
                       "--client-keyfile", key)
        self.wait_synced(d, p)
        self.assertEqual(len(p.connections()), 1)
        self.assertEqual(dict(x[0] for x in p.peer_certs[0]["subject"])["commonName"], "127.0.0.1")
        self.assertTrue(bad.ping())

    def test_warns_when_the_broadcast_host_would_be_refused(self):
        p = self.peer()
        port = free_port()
        cases = ((["--broadcast-address", "http://node1.example:5000"], True),
                 (["--broadcast-address", "http://node1.example:5000", "--allowed-host", "node1.example"], False),
                 (["--broadcast-address", f"http://127.0.0.1:{port}"], False),
                 (["--broadcast-address", f"http://localhost:{port}"], False))
        for args, warned in cases:
            d = self.daemon("", tcp_port=port, extra_args=["--lookupd-address", p.url(), *args]).start()
            wait_for(lambda: "started" in d.output(), what="the start-up line")
            self.assertEqual("add it to allowed_hosts" in d.output(), warned, (args, d.output()))
            d.cleanup()

    def test_bad_broadcast_address_is_a_config_error(self):
        for args, ini in ((["--broadcast-address", "node1:5000"], ""),
                          ([], "[gaffer]\nbroadcast_address = ftp://node1\n")):
            d = self.daemon(ini, extra_args=args)
            r = subprocess.run(d.args(), capture_output=True, text=True, timeout=20, env=d.env, cwd=d.dir)
            self.assertEqual(r.returncode, 2, r)  # a usage error, as for the etcd registry
            self.assertIn("broadcast_address", r.stderr)
            self.assertIn("must start with http:// or https://", r.stderr)
        d = self.daemon("", extra_args=["--lookupd-address", "tcp://127.0.0.1:5010"])
        r = subprocess.run(d.args(), capture_output=True, text=True, timeout=20, env=d.env, cwd=d.dir)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("lookupd address", r.stderr)


class RealLookupd:
    """The built gaffer_lookupd ($GAFFER_LOOKUPD) on a free loopback port."""

    def __init__(self, port=None, require_key=False):
        binary = os.environ.get("GAFFER_LOOKUPD")
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError("GAFFER_LOOKUPD must name the built gaffer_lookupd binary")
        self.port = port or free_port()
        self.tmp = tempfile.mkdtemp(prefix="gaffer-announce-lookupd-")
        self.key = None
        if require_key:
            out = subprocess.run([binary, f"--state-dir={self.tmp}/state", "--create-admin-user", "--username=adm",
                                  "--password=pw"], capture_output=True, text=True, timeout=20, check=True).stdout
            self.key = re.search(r"API Key: (\S+)", out).group(1)
        self.proc = subprocess.Popen([binary, f"--bind=127.0.0.1:{self.port}", "--heartbeat=1",
                                      f"--state-dir={self.tmp}/state", *(["--require-key"] if require_key else [])],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: self.proc.poll() is not None or self._ping(), timeout=10, what="gaffer_lookupd")
            if self.proc.poll() is not None:
                raise AssertionError("gaffer_lookupd exited early")
        except BaseException:
            self.stop()  # never leave it running
            raise

    def _ping(self):
        try:
            return self.raw("/ping") == b"OK"
        except OSError:
            return False

    def raw(self, path):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                     headers={"X-Api-Key": self.key} if self.key else {})
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.read()

    def get(self, path):
        return json.loads(self.raw(path))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


class RealLookupdTest(DaemonTestCase):
    """End to end: gafferd nodes registering with the real gaffer_lookupd."""

    def lookupd(self, port=None, require_key=False):
        lk = RealLookupd(port, require_key)
        self.addCleanup(lk.stop)
        return lk

    def node(self, name, lk, *args):
        return self.daemon(INI, extra_args=["--node-name", name, "--broadcast-address", f"http://{name}.example:5000",
                                            "--lookupd-address", f"http://127.0.0.1:{lk.port}",
                                            "--lookupd-heartbeat", "0.3", *args]).start()

    def sources(self, lk, job):
        return {s["name"]: sorted(s["pids"]) for s in lk.get(f"/findJob?name={job}")["sources"]}

    def test_nodes_jobs_and_processes_reach_the_lookupd(self):
        lk = self.lookupd()
        n1, n2 = self.node("node1", lk), self.node("node2", lk)
        wait_for(lambda: len(lk.get("/nodes")["nodes"]) == 2, what="two nodes")
        self.assertEqual(lk.get("/nodes")["nodes"][0]["version"], "0.1")
        self.assertEqual({n["origin"] for n in lk.get("/nodes")["nodes"]},
                         {"http://node1.example:5000", "http://node2.example:5000"})
        pids = lambda d: sorted(d.get_json("/jobs/default/web/pids")["pids"])  # noqa: E731
        wait_for(lambda: self.sources(lk, "default.web") == {"node1": pids(n1), "node2": pids(n2)},
                 what="the pids of default.web")
        n1.request("POST", "/jobs/api", {"name": "x", "cmd": "sleep", "args": ["1000"]})
        wait_for(lambda: list(self.sources(lk, "api.x")) == ["node1"], what="api.x on node1")
        n1.request("DELETE", "/jobs/api/x")
        wait_for(lambda: self.sources(lk, "api.x") == {}, what="api.x gone")
        # The lookupd drops nodes silent for 3 of its 1 s heartbeats; PINGs keep them.
        time.sleep(3.5)
        self.assertEqual(len(lk.get("/nodes")["nodes"]), 2)
        n2.stop()
        wait_for(lambda: [n["name"] for n in lk.get("/nodes")["nodes"]] == ["node1"], what="node2 gone")

    def test_a_lookupd_that_requires_a_key(self):
        lk = self.lookupd(require_key=True)
        without = self.node("nokey", lk)
        wait_for(lambda: "401" in without.output(), what="the refused upgrade in the log")
        self.node("node1", lk, "--lookupd-key", lk.key)
        wait_for(lambda: [n["name"] for n in lk.get("/nodes")["nodes"]] == ["node1"], what="node1 registered")
        wait_for(lambda: lk.get("/jobs")["nb_jobs"] == 2, what="its jobs")

    def test_a_restarted_lookupd_gets_everything_again(self):
        lk = self.lookupd()
        n1 = self.node("node1", lk)
        wait_for(lambda: lk.get("/jobs")["nb_jobs"] == 2, what="the jobs")
        port = lk.port
        lk.stop()
        lk2 = self.lookupd(port)
        wait_for(lambda: lk2.get("/jobs")["nb_jobs"] == 2, timeout=15, what="the jobs again")
        self.assertEqual(self.sources(lk2, "default.web"),
                         {"node1": sorted(n1.get_json("/jobs/default/web/pids")["pids"])})


if __name__ == "__main__":
    unittest.main()
