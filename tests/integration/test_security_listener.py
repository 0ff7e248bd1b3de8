#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test of the listener's defences (issue 11, §4 and §5), written as the
attacks against the real gafferd binary named by $GAFFERD:

- §5: a client that sends half a request and closes must not leave its connection in
  CLOSE-WAIT until the idle timeout; a client that half-closes after a COMPLETE request
  still gets its answer; one client address cannot take every connection slot.
- §4: with the daemon at its open-file limit, accept failures (EMFILE) never stop the TCP
  listener: an over-limit client is refused at once, the daemon does not spin, and /ping
  answers as soon as fds are free again; spawning stops before the API's reserve is
  eaten; the daemon raises its soft RLIMIT_NOFILE to the hard limit while its children
  get the original soft limit back.

Daemons run under a lowered fd limit through a small exec wrapper (setrlimit, then
exec). Only loopback addresses are used (127.0.0.x as source addresses for "other
clients"). Every TCP request carries a correct Host and, with a body, a JSON
Content-Type.
"""
import http.client
import itertools
import json
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gafferlib import Daemon, wait_for  # noqa: E402

_ports = itertools.count()
CLOSE_WAIT = "08"


def next_port():
    # Below the ephemeral range, different for concurrent runs (and the two backends).
    return 20000 + (os.getpid() * 17 + next(_ports) * 103 + 7) % 12000


class LimitedDaemon(Daemon):
    """A gafferd started with RLIMIT_NOFILE set to (soft, hard) before exec."""

    def __init__(self, nofile=None, **kw):
        super().__init__(**kw)
        self.nofile = nofile

    def args(self):
        a = super().args()
        if not self.nofile:
            return a
        soft, hard = self.nofile
        wrapper = ("import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (%d, %d)); "
                   "os.execv(sys.argv[1], sys.argv[1:])") % (soft, hard)
        return [sys.executable, "-c", wrapper] + a


def close_wait_count(port):
    """Sockets of the listener's port in CLOSE-WAIT (the daemon's side, peer gone)."""
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].endswith(":%04X" % port) and fields[3] == CLOSE_WAIT:
                n += 1
    return n


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def nofile_limits(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                parts = line.split()
                return int(parts[3]), int(parts[4])
    raise AssertionError("no 'Max open files' line")


def connect(port, source="127.0.0.1", timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_all(s):
    """Everything until EOF; a reset counts as EOF (the refusal may close before we read)."""
    chunks = []
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def ping_tcp(port, source="127.0.0.1", timeout=5):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        conn.request("GET", "/ping")
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class Base(unittest.TestCase):
    nofile = None
    config = ""

    def setUp(self):
        self.port = next_port()
        for attempt in range(5):
            self.d = LimitedDaemon(nofile=self.nofile, config_text=self.config, tcp_port=self.port)
            try:
                self.d.start()
                break
            except AssertionError:
                out = self.d.output()
                self.d.cleanup()
                if "Address already in use" not in out or attempt == 4:
                    raise
                self.port = next_port()
        self.held = []

    def tearDown(self):
        for s in self.held:
            s.close()
        try:
            # A clean exit (0 on SIGTERM): also what catches a sanitizer report.
            rc = self.d.stop()
            self.assertEqual(rc, 0, self.d.output()[-3000:])
        finally:
            self.d.cleanup()


class PeerClose(Base):
    """§5: connections of peers that left are freed at once."""

    def test_half_request_then_close_frees_the_connection(self):
        # The attack: 1,500 of these in 2.4 s took every slot for a minute. Three shapes
        # of "half a request": a partial request line, headers without the blank line,
        # a body shorter than its Content-Length.
        halves = [
            b"GET /pi",
            b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % self.port,
            b"POST /jobs/default HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{\"name\"" % self.port,
        ]
        for i in range(60):
            s = connect(self.port)
            s.sendall(halves[i % 3])
            s.close()
        wait_for(lambda: close_wait_count(self.port) == 0, timeout=10,
                 what="no connection left in CLOSE-WAIT (the idle timeout is 60 s)")
        self.assertEqual(ping_tcp(self.port)[0], 200)

    def test_half_close_after_a_complete_request_is_answered(self):
        # A pipelining client may send its request and shut its sending side at once.
        s = connect(self.port)
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % self.port)
        s.shutdown(socket.SHUT_WR)
        data = read_all(s)
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data)
        self.assertTrue(data.endswith(b"OK"), data)
        # Two pipelined requests, the second with a body, then FIN.
        body = b'{"signal": "TERM"}'
        s = connect(self.port)
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                  b"POST /jobs/default/nope/signal HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                  b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                  % (self.port, self.port, len(body), body))
        s.shutdown(socket.SHUT_WR)
        data = read_all(s)
        s.close()
        self.assertEqual(data.count(b"HTTP/1.1 "), 2, data)
        self.assertIn(b"HTTP/1.1 404", data)

    def test_one_client_cannot_take_every_slot(self):
        # 128 connections per client address by default; the attacker opens more.
        for _ in range(128):
            s = connect(self.port)
            self.held.append(s)
        # The backlog is first in, first out: once a client from another address has its
        # answer, the daemon holds all 128. The next one is refused at once, with a 503,
        # instead of waiting in the backlog.
        self.assertEqual(ping_tcp(self.port, source="127.0.0.2")[0], 200)
        extra = connect(self.port)
        t0 = time.monotonic()
        data = read_all(extra)
        refused_after = time.monotonic() - t0
        extra.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 503"), data)
        print(f"\nover-cap client refused after {refused_after * 1000:.1f} ms", file=sys.stderr)
        # Another client (another loopback address) is still served.
        self.assertEqual(ping_tcp(self.port, source="127.0.0.2")[0], 200)
        # And the attacker gets its slots back as soon as it lets go.
        for s in self.held:
            s.close()
        self.held = []
        wait_for(lambda: ping_tcp(self.port)[0] == 200, timeout=10, what="/ping from the first address again")


class ConfiguredCap(Base):
    """[gaffer] max_connections_per_client sets the per-client cap."""

    config = "[gaffer]\nmax_connections_per_client = 3\n"

    def test_the_cap_is_the_configured_one(self):
        for _ in range(3):
            self.held.append(connect(self.port))
        wait_for(lambda: ping_tcp(self.port, source="127.0.0.2")[0] == 200, timeout=10, what="another client served")
        extra = connect(self.port)
        data = read_all(extra)
        extra.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 503"), data)


class FdLimit(Base):
    """§4: the daemon at its open-file limit keeps its TCP listener."""

    nofile = (64, 64)

    def hold_until_emfile(self):
        # Idle connections (nothing sent) until the daemon cannot accept any more; spread
        # over several source addresses so that the per-client cap is not what stops them.
        for i in range(200):
            try:
                s = connect(self.port, source=f"127.0.0.{2 + i % 8}", timeout=2)
            except OSError:
                break
            self.held.append(s)
            if open_fds(self.d.proc.pid) >= 64:
                break
        wait_for(lambda: open_fds(self.d.proc.pid) >= 63, timeout=10, what="the daemon to reach its fd limit")

    def test_listener_survives_emfile(self):
        self.hold_until_emfile()
        # Over the limit: a new client is refused at once (503 or a close), not left
        # hanging in the backlog.
        extra = connect(self.port, source="127.0.0.20")
        t0 = time.monotonic()
        data = read_all(extra)
        refused_after = time.monotonic() - t0
        extra.close()
        self.assertTrue(data == b"" or data.startswith(b"HTTP/1.1 503"), data)
        # Half-sent requests that are then closed: the reproduction of the issue.
        for i in range(30):
            try:
                s = connect(self.port, source="127.0.0.30", timeout=2)
                s.sendall(b"GET /ping HTTP/1.1\r\n")
                s.close()
            except OSError:
                pass
        # At the limit the daemon does not spin.
        cpu0, t_0 = cpu_seconds(self.d.proc.pid), time.monotonic()
        time.sleep(1.0)
        cpu = (cpu_seconds(self.d.proc.pid) - cpu0) / (time.monotonic() - t_0)
        print(f"\nover-limit client refused after {refused_after * 1000:.1f} ms; CPU at the limit {cpu * 100:.0f}%",
              file=sys.stderr)
        self.assertLess(cpu, 0.5, "the daemon spins at its fd limit")
        # Free the fds: TCP (and the unix socket) answer at once.
        for s in self.held:
            s.close()
        self.held = []
        wait_for(lambda: ping_tcp(self.port, timeout=2)[0] == 200, timeout=10, what="/ping over TCP after the fd limit")
        self.assertTrue(self.d.ping())


class OpenFileLimit(Base):
    """§4: RLIMIT_NOFILE raised for the daemon, not for its children."""

    nofile = (256, 1024)
    config = "[process:sleeper]\ncmd = sleep 1000\n"

    def test_daemon_raises_its_soft_limit_children_keep_theirs(self):
        self.assertEqual(nofile_limits(self.d.proc.pid), (1024, 1024))
        kids = wait_for(lambda: self.d.children(), timeout=10, what="the job's process")
        self.assertEqual(nofile_limits(kids[0]), (256, 1024))


class SpawnReserve(Base):
    """§4: many processes near the fd limit do not eat the API's descriptors."""

    nofile = (128, 128)
    config = "[process:many]\ncmd = sleep 1000\nnumprocesses = 100\n"

    def test_spawning_stops_before_the_api_reserve(self):
        wait_for(lambda: "(stdio stage): Too many open files" in self.d.output(), timeout=20,
                 what="a spawn refused near the fd limit")
        started = len(self.d.children())
        self.assertGreater(started, 0)
        self.assertLess(started, 100)
        # The API still has room: several TCP clients at once, and the unix socket.
        conns = [http.client.HTTPConnection("127.0.0.1", self.port, timeout=5) for _ in range(8)]
        try:
            for c in conns:
                c.connect()
            for c in conns:
                c.request("GET", "/ping")
                r = c.getresponse()
                self.assertEqual((r.status, r.read()), (200, b"OK"))
        finally:
            for c in conns:
                c.close()
        self.assertTrue(self.d.ping())
        print(f"\n{started} of 100 processes started under a 128-fd limit; "
              f"daemon fds {open_fds(self.d.proc.pid)}", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
