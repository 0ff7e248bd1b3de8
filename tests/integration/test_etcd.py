#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The etcd registry backend (issue 15, lib/etcd) against a real etcd (Debian's
etcd-server, /usr/bin/etcd, started here on free loopback ports with a temporary data
dir and ended by pid):

- gafferd --registry=etcd://... writes /gaffer/v1/nodes/<name>/info and jobs/<sid.job>
  = {"pids": [...]} under one lease, and follows load, scale and unload;
- a SIGSTOPped node disappears when its lease expires (TTL = 3 heartbeats, whole
  seconds), and comes back after SIGCONT; an etcd that lost everything (restarted on an
  empty data dir) gets the node again; a clean stop revokes the lease at once;
- an etcd that accepts connections but never answers (SIGSTOPped) does not slow the API;
- the second endpoint is used when the first is down; a bad --registry is a usage error;
- the lookupd side: etcd-mirror-tool (a lookup::Registry fed by EtcdMirror) shows the
  nodes, jobs and pids, drops a node whose lease expired, and re-reads after etcd comes
  back; a node re-registering after etcd came back makes no churn;
- gaffer_lookupd --etcd (when $GAFFER_LOOKUPD names it): two lookupds on one etcd answer
  every §13.3 route the same, and a stopped node leaves both, with remove_node on the feed.
"""
import base64
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gafferlib import Daemon, WebSocket, end_by_pid, free_port, wait_for  # noqa: E402

ETCD = "/usr/bin/etcd"
MIRROR_TOOL = os.environ.get("ETCD_MIRROR_TOOL", "")
LOOKUPD = os.environ.get("GAFFER_LOOKUPD", "")
PREFIX = "/gaffer/v1/nodes/"
HEARTBEAT = "0.5"


def fqdn():
    """The host's FQDN as gafferd finds it: getaddrinfo's canonical name of gethostname()."""
    host = socket.gethostname()
    try:
        return socket.getaddrinfo(host, None, flags=socket.AI_CANONNAME)[0][3] or host
    except OSError:
        return host


FQDN = fqdn()

SLEEPER = """
[job:default.sleeper]
cmd = sleep
args = 1000
numprocesses = 2
"""


def b64(s):
    return base64.b64encode(s.encode()).decode()


def unb64(s):
    return base64.b64decode(s).decode()


class Etcd:
    """One etcd member on 127.0.0.1 (client and peer ports free), data in a temp dir."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="gaffer-etcd-")
        self.data = os.path.join(self.tmp.name, "data")
        self.client_port = free_port()
        self.peer_port = free_port()
        self.proc = None
        self.log = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.client_port}"

    def start(self, wipe=False):
        if wipe:
            shutil.rmtree(self.data, ignore_errors=True)
        peer = f"http://127.0.0.1:{self.peer_port}"
        self.log = open(os.path.join(self.tmp.name, "etcd.log"), "ab")
        self.proc = subprocess.Popen(
            [ETCD, "--name", "default", "--data-dir", self.data,
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"default={peer}", "--log-level", "error"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: self.proc.poll() is not None or self.healthy(), timeout=20, what="etcd to serve")
        if self.proc.poll() is not None:
            raise AssertionError(f"etcd exited with {self.proc.returncode}")
        return self

    def healthy(self):
        try:
            self.post("/v3/kv/range", {"key": b64("x")}, timeout=1)
            return True
        except (OSError, urllib.error.URLError):
            return False

    def stop(self):
        if self.proc:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGCONT)
            end_by_pid(self.proc)
            self.proc = None
        if self.log:
            self.log.close()
            self.log = None

    def cleanup(self):
        self.stop()
        self.tmp.cleanup()

    def post(self, path, body, timeout=5):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())

    def kvs(self, prefix=PREFIX):
        """{key: (value as JSON, lease id)} under the prefix."""
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        ans = self.post("/v3/kv/range", {"key": b64(prefix), "range_end": b64(end)})
        return {unb64(kv["key"]): (json.loads(unb64(kv["value"])), int(kv.get("lease", "0")))
                for kv in ans.get("kvs", [])}

    def lease_ttl(self, lease):
        ans = self.post("/v3/lease/timetolive", {"ID": str(lease), "keys": True})
        return int(ans.get("grantedTTL", "0")), sorted(unb64(k) for k in ans.get("keys", []))


@unittest.skipUnless(os.access(ETCD, os.X_OK), f"{ETCD} is missing (Debian package etcd-server, "
                     "contrib/install-deps.sh installs it)")
class EtcdTestCase(unittest.TestCase):
    def setUp(self):
        self.etcd = Etcd().start()
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            if d.proc and d.proc.poll() is None:
                d.proc.send_signal(signal.SIGCONT)
            d.stop()
            d.cleanup()
        self.etcd.cleanup()

    def node(self, name, config=SLEEPER, registry=None, heartbeat=HEARTBEAT, start=True):
        d = Daemon(config, tcp_port=free_port(), extra_args=[
            "--no-dbus", "--registry", registry or f"etcd://127.0.0.1:{self.etcd.client_port}",
            "--node-name", name, "--lookupd-heartbeat", heartbeat])
        self.daemons.append(d)
        return d.start() if start else d

    def node_keys(self, name):
        return {k[len(PREFIX) + len(name) + 1:]: v for k, v in self.etcd.kvs(PREFIX + name + "/").items()}

    def wait_keys(self, name, want, timeout=10):
        """Waits until the node's keys hold exactly `want` ({suffix: value}); returns them with leases."""
        got = {}

        def same():
            nonlocal got
            got = self.node_keys(name)
            return {k: v for k, (v, _) in got.items()} == want
        try:
            wait_for(same, timeout=timeout, what=f"etcd keys of {name} to be {want}")
        except AssertionError:
            raise AssertionError(f"etcd keys of {name}: {got}, want {want}")
        return got


class TestRegistration(EtcdTestCase):
    def test_keys_follow_load_scale_unload_under_one_lease(self):
        d = self.node("n1")
        origin = f"http://{FQDN}:{d.tcp_port}"
        info = {"name": "n1", "origin": origin, "version": "0.1"}
        got = self.wait_keys("n1", {"info": info, "jobs/default.sleeper": {"pids": [1, 2]}})
        leases = {lease for _, lease in got.values()}
        self.assertEqual(len(leases), 1)
        lease = leases.pop()
        self.assertNotEqual(lease, 0)
        ttl, keys = self.etcd.lease_ttl(lease)
        self.assertEqual(ttl, 2)  # 3 x 0.5 s, in whole seconds (and etcd's minimum)
        self.assertEqual(keys, [PREFIX + "n1/info", PREFIX + "n1/jobs/default.sleeper"])
        # The pids are those the API shows.
        self.assertEqual(d.get_json("/jobs/default/sleeper/pids"), {"pids": [1, 2]})

        self.assertEqual(d.request("POST", "/jobs/default/sleeper/numprocesses", {"scale": "=4"}).status, 200)
        self.wait_keys("n1", {"info": info, "jobs/default.sleeper": {"pids": [1, 2, 3, 4]}})
        self.assertEqual(d.request("POST", "/jobs/default/sleeper/numprocesses", {"scale": "-3"}).status, 200)
        pids = wait_for(lambda: d.get_json("/jobs/default/sleeper/pids")["pids"] if
                        len(d.get_json("/jobs/default/sleeper/pids")["pids"]) == 1 else None, what="scale down")
        self.wait_keys("n1", {"info": info, "jobs/default.sleeper": {"pids": pids}})

        r = d.request("POST", "/jobs/web", {"name": "front", "cmd": "sleep", "args": ["1000"], "numprocesses": 1})
        self.assertEqual(r.status, 200, r)
        self.wait_keys("n1", {"info": info, "jobs/default.sleeper": {"pids": pids},
                              "jobs/web.front": {"pids": [d.get_json("/jobs/web/front/pids")["pids"][0]]}})
        self.assertEqual(d.request("DELETE", "/jobs/default/sleeper").status, 200)
        got = self.wait_keys("n1", {"info": info, "jobs/web.front": {"pids": d.get_json("/jobs/web/front/pids")["pids"]}})
        self.assertEqual({lease for _, lease in got.values()}, {lease})

    def test_stopped_node_expires_with_its_lease_and_comes_back(self):
        d = self.node("n1")
        got = self.wait_keys("n1", {"info": {"name": "n1", "origin": f"http://{FQDN}:{d.tcp_port}", "version": "0.1"},
                                    "jobs/default.sleeper": {"pids": [1, 2]}})
        ttl, _ = self.etcd.lease_ttl(next(iter(got.values()))[1])
        d.signal(signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            # Expiry: the lease's TTL after the last keepalive (at most one heartbeat before
            # the stop), plus etcd's expiry check (every 0.5 s); 3 heartbeats + 1 s when
            # 3 heartbeats are whole seconds.
            wait_for(lambda: not self.node_keys("n1"), timeout=ttl + 1.0, interval=0.05, what="the keys to expire")
            gone = time.monotonic() - t0
        finally:
            d.signal(signal.SIGCONT)
        print(f"\n  lease TTL {ttl} s: keys gone {gone:.2f} s after SIGSTOP", file=sys.stderr)
        self.wait_keys("n1", {"info": {"name": "n1", "origin": f"http://{FQDN}:{d.tcp_port}", "version": "0.1"},
                              "jobs/default.sleeper": {"pids": [1, 2]}})

    def test_etcd_that_lost_everything_gets_the_node_again(self):
        d = self.node("n1")
        want = {"info": {"name": "n1", "origin": f"http://{FQDN}:{d.tcp_port}", "version": "0.1"},
                "jobs/default.sleeper": {"pids": [1, 2]}}
        self.wait_keys("n1", want)
        self.etcd.stop()
        # While etcd is away the API answers, and changes made meanwhile are written later.
        self.assertEqual(d.request("POST", "/jobs/default/sleeper/numprocesses", {"scale": "=3"}).status, 200)
        time.sleep(1.0)  # a few failed keepalives and re-registrations (back-off)
        self.etcd.start(wipe=True)
        want["jobs/default.sleeper"] = {"pids": [1, 2, 3]}
        self.wait_keys("n1", want, timeout=20)
        self.assertIn("etcd registry", d.output())

    def test_unresponsive_etcd_does_not_slow_the_api(self):
        d = self.node("n1")
        self.wait_keys("n1", {"info": {"name": "n1", "origin": f"http://{FQDN}:{d.tcp_port}", "version": "0.1"},
                              "jobs/default.sleeper": {"pids": [1, 2]}})
        # A stopped etcd accepts connections (the kernel does) and never answers: a client
        # that waited for it on the loop would hold every request for its timeout.
        os.kill(self.etcd.proc.pid, signal.SIGSTOP)
        try:
            worst = 0.0
            deadline = time.monotonic() + 3.0  # past several heartbeats and keepalives
            n = 0
            while time.monotonic() < deadline:
                t = time.monotonic()
                self.assertEqual(d.request("GET", "/jobs/default/sleeper/pids", timeout=5).status, 200)
                self.assertEqual(d.request("POST", "/jobs/default/sleeper/numprocesses",
                                           {"scale": f"={2 + n % 2}"}, timeout=5).status, 200)
                worst = max(worst, time.monotonic() - t)
                n += 1
                time.sleep(0.05)
            print(f"\n  etcd stopped: {n} API round trips, the slowest {worst * 1000:.1f} ms", file=sys.stderr)
            self.assertLess(worst, 1.0)
        finally:
            os.kill(self.etcd.proc.pid, signal.SIGCONT)
        # And it registers again once etcd answers.
        d.request("POST", "/jobs/default/sleeper/numprocesses", {"scale": "=2"})
        self.wait_keys("n1", {"info": {"name": "n1", "origin": f"http://{FQDN}:{d.tcp_port}", "version": "0.1"},
                              "jobs/default.sleeper": {"pids": d.get_json("/jobs/default/sleeper/pids")["pids"]}},
                       timeout=20)

    def test_clean_stop_revokes_the_lease_at_once(self):
        d = self.node("n1", heartbeat="5")  # TTL 15 s: only a revoke removes the keys sooner
        self.wait_keys("n1", {"info": {"name": "n1", "origin": f"http://{FQDN}:{d.tcp_port}", "version": "0.1"},
                              "jobs/default.sleeper": {"pids": [1, 2]}})
        self.assertEqual(d.stop(), 0)
        self.assertEqual(self.node_keys("n1"), {})

    def test_next_endpoint_when_the_first_is_down(self):
        dead = free_port()
        d = self.node("n1", registry=f"etcd://127.0.0.1:{dead},127.0.0.1:{self.etcd.client_port}")
        self.wait_keys("n1", {"info": {"name": "n1", "origin": f"http://{FQDN}:{d.tcp_port}", "version": "0.1"},
                              "jobs/default.sleeper": {"pids": [1, 2]}})

    def test_broadcast_address_is_the_origin(self):
        d = Daemon(SLEEPER.replace("[job:", "[gaffer]\nbroadcast_address = https://n1.example:8443\n"
                                   f"registry = etcd://127.0.0.1:{self.etcd.client_port}\n"
                                   "node_name = n1\nlookupd_heartbeat = 0.5\n\n[job:", 1),
                   tcp_port=free_port(), extra_args=["--no-dbus"])
        self.daemons.append(d)
        d.start()
        self.wait_keys("n1", {"info": {"name": "n1", "origin": "https://n1.example:8443", "version": "0.1"},
                              "jobs/default.sleeper": {"pids": [1, 2]}})

    def test_bad_registry_is_a_usage_error(self):
        for bad in ["ftp://127.0.0.1:2379", "etcd://127.0.0.1", "etcd://127.0.0.1:99999", "etcd://h:1/path", ""]:
            d = self.node("n1", registry=bad or "etcd://", start=False)
            d.start(wait=False)
            self.assertEqual(d.proc.wait(10), 2, bad)
            self.assertIn("registry", d.output(), bad)
        d = Daemon(f"[gaffer]\nbroadcast_address = ftp://n1:1\nregistry = etcd://127.0.0.1:{self.etcd.client_port}\n",
                   extra_args=["--no-dbus"])
        self.daemons.append(d)
        d.start(wait=False)
        self.assertEqual(d.proc.wait(10), 2)
        self.assertIn("broadcast_address", d.output())
        d = self.node("bad/name", start=False)
        d.start(wait=False)
        self.assertEqual(d.proc.wait(10), 2)
        self.assertIn("--node-name", d.output())


@unittest.skipUnless(MIRROR_TOOL and os.access(MIRROR_TOOL, os.X_OK), "ETCD_MIRROR_TOOL is not built")
class TestMirror(EtcdTestCase):
    def setUp(self):
        super().setUp()
        self.tool = subprocess.Popen([MIRROR_TOOL, f"--etcd={self.etcd.url}", "--heartbeat=0.5"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.events = []
        threading.Thread(target=self._read, daemon=True).start()

    def tearDown(self):
        self.tool.stdin.close()
        try:
            rc = self.tool.wait(5)
        except subprocess.TimeoutExpired:
            end_by_pid(self.tool)
            rc = None
        self.tool.stdout.close()
        super().tearDown()
        self.assertEqual(rc, 0, "etcd-mirror-tool did not end cleanly at the end of its input")

    def _read(self):
        for line in self.tool.stdout:
            kind, _, body = line.rstrip("\n").partition(" ")
            self.lines.put((kind, json.loads(body)))

    def ask(self, cmd):
        self.tool.stdin.write(cmd + "\n")
        self.tool.stdin.flush()
        while True:
            kind, body = self.lines.get(timeout=5)
            if kind == "answer":
                return body
            self.events.append(body)

    def test_mirror_shows_nodes_and_follows_leases(self):
        a = self.node("n1")
        b = self.node("n2")
        nodes = [{"name": "n1", "origin": f"http://{FQDN}:{a.tcp_port}", "version": "0.1"},
                 {"name": "n2", "origin": f"http://{FQDN}:{b.tcp_port}", "version": "0.1"}]

        def jobs_are(want):
            return lambda: (lambda j: j if j == want else None)(self.ask("jobs"))

        def sources(*names):
            return [{"name": n["name"], "pids": [1, 2], "node_info": n} for n in nodes if n["name"] in names]
        wait_for(lambda: sorted(self.ask("nodes")["nodes"], key=lambda n: n["name"]) == nodes, what="both nodes")
        wait_for(lambda: sorted(self.ask("jobs")["jobs"][0]["sources"], key=lambda s: s["name"]) == sources("n1", "n2")
                 if self.ask("jobs")["nb_jobs"] == 1 else False, what="both sources")

        # n2 stops: its lease expires and the mirror drops it, with the events of a
        # directly connected node that went away.
        b.signal(signal.SIGSTOP)
        try:
            wait_for(lambda: self.ask("nodes")["nodes"] == nodes[:1], timeout=5, what="n2 to expire")
        finally:
            b.signal(signal.SIGCONT)
        names = [(e["event"], e.get("name") or e.get("node", {}).get("name")) for e in self.events]
        self.assertIn(("remove_node", "n2"), names)
        self.assertIn(("remove_job", "n2"), names)
        wait_for(lambda: len(self.ask("nodes")["nodes"]) == 2, timeout=10, what="n2 back")

        # etcd goes away and comes back empty: the mirror re-reads (the nodes register again).
        self.etcd.stop()
        wait_for(lambda: self.ask("status")["failures"] > 0, timeout=10, what="the watch to break")
        self.etcd.start(wipe=True)
        wait_for(lambda: self.ask("status")["watching"] and len(self.ask("nodes")["nodes"]) == 2, timeout=20,
                 what="the mirror to read etcd again")
        self.assertGreaterEqual(self.ask("status")["ranges"], 2)
        wait_for(lambda: self.ask("jobs")["nb_jobs"] == 1 and len(self.ask("jobs")["jobs"][0]["sources"]) == 2,
                 timeout=10, what="both sources again")

    def test_reregistration_after_etcd_returns_makes_no_churn(self):
        # TTL 6 s: the old lease outlives the outage, so the node never really left etcd.
        d = self.node("n1", heartbeat="2")
        node = {"name": "n1", "origin": f"http://{FQDN}:{d.tcp_port}", "version": "0.1"}

        def job_is(pids):
            return lambda: self.ask("jobs") == {"nb_jobs": 1, "jobs": [{"name": "default.sleeper", "sources": [
                {"name": "n1", "pids": pids, "node_info": node}]}]}
        wait_for(job_is([1, 2]), what="n1 in the mirror")
        old_lease = {lease for _, lease in self.node_keys("n1").values()}
        self.events.clear()
        self.etcd.stop()
        # A change while etcd is away: its write fails and the node registers again.
        self.assertEqual(d.request("POST", "/jobs/default/sleeper/numprocesses", {"scale": "=3"}).status, 200)
        time.sleep(0.5)
        self.etcd.start()
        self.wait_keys("n1", {"info": node, "jobs/default.sleeper": {"pids": [1, 2, 3]}})
        wait_for(lambda: {lease for _, lease in self.node_keys("n1").values()}.isdisjoint(old_lease),
                 what="the keys under a new lease")
        wait_for(job_is([1, 2, 3]), what="the mirror to show the new pid")
        wait_for(lambda: self.ask("status")["watching"], what="the mirror to watch again")
        time.sleep(0.5)
        self.ask("status")  # collect the events so far
        kinds = [e["event"] for e in self.events]
        self.assertEqual(kinds, ["add_process"], self.events)
        self.assertIn("registering again", d.output())

    def test_mirror_reads_what_was_there_before_it(self):
        # Keys written by hand (as another gafferd version would): the mirror's first range.
        self.etcd.post("/v3/kv/put", {"key": b64(PREFIX + "x/info"),
                                      "value": b64(json.dumps({"name": "x", "origin": "http://x:1", "version": "0.1"}))})
        self.etcd.post("/v3/kv/put", {"key": b64(PREFIX + "x/jobs/s.j"), "value": b64(json.dumps({"pids": [5, 6]}))})
        self.etcd.post("/v3/kv/put", {"key": b64(PREFIX + "x/jobs/s.bad"), "value": b64("not json")})
        wait_for(lambda: self.ask("jobs") == {"nb_jobs": 1, "jobs": [{"name": "s.j", "sources": [
            {"name": "x", "pids": [5, 6], "node_info": {"name": "x", "origin": "http://x:1", "version": "0.1"}}]}]},
            what="the hand-written node")
        self.etcd.post("/v3/kv/deleterange", {"key": b64(PREFIX + "x/info")})
        wait_for(lambda: self.ask("nodes") == {"nodes": []}, what="the node to go with its info")


def canon(value):
    """A JSON value with its arrays sorted: two lookupds may list in different orders."""
    if isinstance(value, list):
        return sorted((canon(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, dict):
        return {k: canon(v) for k, v in value.items()}
    return value


@unittest.skipUnless(LOOKUPD and os.access(LOOKUPD, os.X_OK), "GAFFER_LOOKUPD does not name a gaffer_lookupd binary")
class TestLookupdFromEtcd(EtcdTestCase):
    def lookupd(self):
        port = free_port()
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen([LOOKUPD, f"--bind=127.0.0.1:{port}", f"--etcd={self.etcd.url}", "--heartbeat=0.5"],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.addCleanup(log.close)
        self.addCleanup(end_by_pid, proc)

        def up():
            if proc.poll() is not None:
                log.seek(0)
                raise AssertionError(f"gaffer_lookupd --etcd exited: {log.read().decode(errors='replace')}")
            return self.get(port, "/ping") is not None
        wait_for(up, what="gaffer_lookupd to answer")
        return port

    @staticmethod
    def get(port, path):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            body = r.read()
            return json.loads(body) if body.startswith(b"{") else body

    def test_two_lookupds_answer_from_etcd_as_from_direct_nodes(self):
        a = self.node("n1")
        b = self.node("n2")
        l1, l2 = self.lookupd(), self.lookupd()
        feed = WebSocket(l1, "/lookup/websocket")
        self.addCleanup(feed.close)
        events = queue.Queue()

        def read():
            while (msg := feed.recv()) is not None:
                events.put(json.loads(msg))
        threading.Thread(target=read, daemon=True).start()

        info = {n: {"name": n, "origin": f"http://{FQDN}:{d.tcp_port}", "version": "0.1"} for n, d in (("n1", a), ("n2", b))}
        source = {n: {"name": n, "pids": [1, 2], "node_info": info[n]} for n in info}
        for port in (l1, l2):
            wait_for(lambda: canon(self.get(port, "/nodes")) == canon({"nodes": [info["n1"], info["n2"]]}),
                     what="both nodes on every lookupd")
            wait_for(lambda: canon(self.get(port, "/findJob?name=default.sleeper")) ==
                     canon({"sources": [source["n1"], source["n2"]]}), what="both sources")
        for path in ("/nodes", "/jobs", "/sessions", "/sessions/n1", "/findJob?name=default.sleeper",
                     "/findSession?sessionid=default"):
            self.assertEqual(canon(self.get(l1, path)), canon(self.get(l2, path)), path)
        self.assertEqual(canon(self.get(l1, "/jobs")), canon({"nb_jobs": 1, "jobs": [
            {"name": "default.sleeper", "sources": [source["n1"], source["n2"]]}]}))

        b.signal(signal.SIGSTOP)
        try:
            for port in (l1, l2):
                wait_for(lambda: self.get(port, "/nodes") == {"nodes": [info["n1"]]}, timeout=5,
                         what="n2 to leave every lookupd")
        finally:
            b.signal(signal.SIGCONT)
        seen = []
        while not any(e == {"event": "remove_node", **info["n2"]} for e in seen):
            seen.append(events.get(timeout=5))
        self.assertIn({"event": "remove_job", "node": info["n2"], "job_name": "default.sleeper"}, seen)


if __name__ == "__main__":
    unittest.main()
