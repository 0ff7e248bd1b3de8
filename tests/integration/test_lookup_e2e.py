# SPDX-License-Identifier: MIT
"""The fleet end to end (issue 15): three real gafferd nodes register themselves with two
real gaffer_lookupds (gafferd --lookupd-address, twice); clients ask the lookupds.

- every §13.3 route of both lookupds lists exactly the jobs and the pids each node's own
  API shows, and follows load, scale and unload on the nodes;
- the event feed (raw /lookup/websocket) sees the node's changes as they happen;
- a SIGSTOPped node expires from both lookupds within 3 heartbeats (plus slack), and comes
  back by itself after SIGCONT (its links reconnect and re-register);
- a lookupd killed with SIGKILL: `gaffer lookup:*` and `gafferctl fleet ps` are still served
  by the other one; restarted on its port, the nodes find it again and re-register all;
- on a lookupd that requires keys, a node whose key may register only its own name is
  listed, one presenting another node's name is refused and never listed.
"""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402
from gafferlib import wait_for  # noqa: E402

LOOKUPD = os.environ.get("GAFFER_LOOKUPD")
GAFFER = os.environ.get("GAFFER")
GAFFERCTL = os.environ.get("GAFFERCTL")
HEARTBEAT = 0.5  # seconds, for the lookupds and the nodes alike

NODE_JOBS = {
    "alpha": {"web": 2, "worker": 1},
    "beta": {"web": 1},
    "gamma": {"worker": 2},
}


def ini(jobs):
    text = "[gaffer]\n"
    for name, n in jobs.items():
        text += f"[job:{name}]\ncmd = sleep 300\nnumprocesses = {n}\n"
    return text


def http_json(port, path, headers=None, timeout=5):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise AssertionError(f"GET {path}: {r.status} {body!r}")
        return json.loads(body)
    finally:
        c.close()


class Lookupd:
    def __init__(self, tmp, port=None, extra=()):
        self.port = port or gafferlib.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        self.extra = list(extra)
        self.proc = None

    def start(self):
        log = open(os.path.join(self.tmp, f"lookupd-{self.port}.log"), "ab")
        self.proc = subprocess.Popen([LOOKUPD, f"--bind=127.0.0.1:{self.port}", f"--heartbeat={HEARTBEAT}",
                                      *self.extra], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()

        def up():
            if self.proc.poll() is not None:
                return True
            try:
                return http_json(self.port, "/version", timeout=1) is not None
            except (OSError, AssertionError):
                return False
        wait_for(up, timeout=15, what="gaffer_lookupd to answer")
        if self.proc.poll() is not None:
            raise AssertionError(f"gaffer_lookupd exited with {self.proc.returncode}")
        return self

    def get(self, path, **kw):
        return http_json(self.port, path, **kw)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        gafferlib.end_by_pid(self.proc) if self.proc else None


@unittest.skipUnless(LOOKUPD and GAFFER and GAFFERCTL, "GAFFER_LOOKUPD, GAFFER and GAFFERCTL are needed")
class FleetEndToEnd(gafferlib.DaemonTestCase):
    def setUp(self):
        super().setUp()
        import tempfile
        self._tmp = tempfile.TemporaryDirectory(prefix="lookup-e2e-")
        self.lookupds = [Lookupd(self._tmp.name).start(), Lookupd(self._tmp.name).start()]
        self.nodes = {}
        for name, jobs in NODE_JOBS.items():
            port = gafferlib.free_port()
            args = [f"--node-name={name}", f"--broadcast-address=http://127.0.0.1:{port}",
                    f"--lookupd-heartbeat={HEARTBEAT}"]
            for lk in self.lookupds:
                args.append(f"--lookupd-address={lk.url}")
            d = self.daemon(ini(jobs), tcp_port=port, extra_args=args)
            d.start()
            self.nodes[name] = d
        for lk in self.lookupds:
            self.wait_registered(lk)

    def tearDown(self):
        for lk in self.lookupds:
            lk.stop()
        super().tearDown()
        self._tmp.cleanup()

    # ---- what the nodes say about themselves, and what a lookupd says about them

    def node_pids(self, d):
        """{"default.web": [pids]} from a node's own API (the internal pids)."""
        out = {}
        for sid_job in d.get_json("/jobs")["jobs"]:
            sid, job = sid_job.split(".", 1)
            out[sid_job] = sorted(d.get_json(f"/jobs/{sid}/{job}/pids")["pids"])
        return out

    def expected(self, names=None):
        """{job: {node: sorted pids}} over the given nodes (default: all)."""
        exp = {}
        for name in names or self.nodes:
            for job, pids in self.node_pids(self.nodes[name]).items():
                exp.setdefault(job, {})[name] = pids
        return exp

    def listed(self, lk):
        got = {}
        for job in lk.get("/jobs")["jobs"]:
            got[job["name"]] = {s["name"]: sorted(s["pids"]) for s in job["sources"]}
        return got

    def wait_registered(self, lk, names=None, timeout=15):
        names = names or list(self.nodes)
        wait_for(lambda: self.listed(lk) == self.expected(names), timeout=timeout,
                 what=f"{lk.url} to list {names} as their APIs do")

    # ---- the tests

    def test_every_route_lists_what_the_nodes_run(self):
        for lk in self.lookupds:
            nodes = lk.get("/nodes")["nodes"]
            self.assertEqual(sorted(n["name"] for n in nodes), sorted(self.nodes))
            for n in nodes:
                self.assertEqual(n["origin"], f"http://127.0.0.1:{self.nodes[n['name']].tcp_port}")
                self.assertEqual(n["version"], "0.1")
            exp = self.expected()
            self.assertEqual(self.listed(lk), exp)
            web = lk.get("/findJob?name=default.web")["sources"]
            self.assertEqual({s["name"]: sorted(s["pids"]) for s in web}, exp["default.web"])
            self.assertEqual(lk.get("/findJob?name=default.nothing"), {"sources": []})
            sess = lk.get("/findSession?sessionid=default")
            self.assertEqual(sess["nb_jobs"], 2)
            self.assertEqual(sorted(j["name"] for j in sess["jobs"]), ["default.web", "default.worker"])
            allsess = lk.get("/sessions")
            self.assertEqual(allsess["nb_sessions"], 1)
            self.assertEqual(sorted(allsess["sessions"][0]["jobs"]), ["default.web", "default.worker"])
            beta = lk.get("/sessions/beta")
            self.assertEqual(list(beta["sessions"][0]["jobs"]), ["default.web"])

    def test_changes_on_a_node_follow_on_every_lookupd(self):
        feed = gafferlib.WebSocket(self.lookupds[1].port, "/lookup/websocket")
        try:
            alpha = self.nodes["alpha"]
            r = alpha.request("POST", "/jobs/default/web/numprocesses", {"scale": "+2"})
            self.assertIn(r.status, (200, 201), r)
            r = alpha.request("POST", "/jobs/default", {"name": "cron", "cmd": "sleep", "args": ["300"]})
            self.assertEqual(r.status, 200, r)
            for lk in self.lookupds:
                self.wait_registered(lk)
            self.assertEqual(len(self.listed(self.lookupds[0])["default.web"]["alpha"]), 4)
            r = alpha.request("DELETE", "/jobs/default/worker")
            self.assertIn(r.status, (200, 202), r)
            for lk in self.lookupds:
                self.wait_registered(lk)
            self.assertNotIn("alpha", self.listed(self.lookupds[0]).get("default.worker", {}))
            # The feed saw it happen, with the node named.
            seen = []
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                feed.sock.settimeout(max(0.1, deadline - time.monotonic()))
                try:
                    m = feed.recv()
                except OSError:
                    break
                if m is None:
                    break
                ev = json.loads(m)
                seen.append((ev["event"], ev.get("node", {}).get("name"), ev.get("job_name")))
                if ("remove_job", "alpha", "default.worker") in seen:
                    break
            self.assertIn(("add_process", "alpha", "default.web"), seen)
            self.assertIn(("add_job", "alpha", "default.cron"), seen)
            self.assertIn(("remove_process", "alpha", "default.worker"), seen)
            self.assertIn(("remove_job", "alpha", "default.worker"), seen)
        finally:
            feed.close()

    def test_a_stopped_node_expires_and_comes_back(self):
        gamma = self.nodes["gamma"]
        gamma.signal(signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            for lk in self.lookupds:
                # 3 heartbeats of silence, plus the expiry timer's half period and slack.
                wait_for(lambda: "gamma" not in [n["name"] for n in lk.get("/nodes")["nodes"]],
                         timeout=3 * HEARTBEAT + 5, what="the stopped node to expire")
            self.assertLess(time.monotonic() - t0, 3 * HEARTBEAT + 5)
            for lk in self.lookupds:
                self.assertEqual(self.listed(lk), self.expected(["alpha", "beta"]))
        finally:
            gamma.signal(signal.SIGCONT)
        for lk in self.lookupds:
            self.wait_registered(lk)

    def test_a_dead_lookupd_is_survived_and_found_again(self):
        dead, alive = self.lookupds
        dead.kill()
        r = subprocess.run([GAFFER, "lookup:jobs", "-L", dead.url, "-L", alive.url],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(dead.url, r.stderr)
        self.assertIn("2 job(s) found", r.stdout)
        for name in self.nodes:
            self.assertIn(f"name: {name}, protocol: 0.1", r.stdout)
        r = subprocess.run([GAFFERCTL, "--lookupd", dead.url, "--lookupd", alive.url, "fleet", "ps", "--json"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        fleet = json.loads(r.stdout)
        text = json.dumps(fleet)
        for name in self.nodes:
            self.assertIn(name, text)
        # The nodes keep working while a lookupd is gone: their APIs answer at once.
        t = time.monotonic()
        self.nodes["alpha"].get_json("/jobs")
        self.assertLess(time.monotonic() - t, 2)
        # Restarted on the same port: every node reconnects (back-off) and re-registers.
        self.lookupds[0] = Lookupd(self._tmp.name, port=dead.port).start()
        self.wait_registered(self.lookupds[0], timeout=45)
        self.assertEqual(self.listed(self.lookupds[0]), self.listed(alive))


@unittest.skipUnless(LOOKUPD and GAFFER, "GAFFER_LOOKUPD and GAFFER are needed")
class KeysEndToEnd(gafferlib.DaemonTestCase):
    """A lookupd with --require-key: a node registers with a key that names it."""

    def setUp(self):
        super().setUp()
        import tempfile
        self._tmp = tempfile.TemporaryDirectory(prefix="lookup-e2e-keys-")
        self.state = os.path.join(self._tmp.name, "state")
        r = subprocess.run([LOOKUPD, f"--state-dir={self.state}", "--create-admin-user", "--username", "admin",
                            "--password", "secret-pw"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.admin_key = r.stdout.split("API Key:")[1].split()[0]
        self.lk = Lookupd(self._tmp.name, extra=["--require-key", f"--state-dir={self.state}"]).start()

    def tearDown(self):
        self.lk.stop()
        super().tearDown()
        self._tmp.cleanup()

    def make_key(self, word):
        r = subprocess.run([GAFFER, "-g", self.lk.url, "--api-key", self.admin_key, "key:create", word],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout.split("'")[1]  # "Key '<secret>' created."

    def node(self, name, key):
        port = gafferlib.free_port()
        d = self.daemon("[job:web]\ncmd = sleep 300\n", tcp_port=port,
                        extra_args=[f"--node-name={name}", f"--broadcast-address=http://127.0.0.1:{port}",
                                    f"--lookupd-heartbeat={HEARTBEAT}", f"--lookupd-address={self.lk.url}"],
                        env={"GAFFER_LOOKUPD_KEY": key})
        return d.start()

    def test_a_node_registers_as_itself_only(self):
        good = self.node("node-a", self.make_key("register=node-a"))
        liar = self.node("node-c", self.make_key("register=node-b"))
        hdr = {"X-Api-Key": self.admin_key}
        wait_for(lambda: [n["name"] for n in self.lk.get("/nodes", headers=hdr)["nodes"]] == ["node-a"],
                 timeout=15, what="node-a to be listed")
        # The liar keeps trying (its IDENTIFY is refused); it is never listed.
        time.sleep(4 * HEARTBEAT)
        self.assertEqual([n["name"] for n in self.lk.get("/nodes", headers=hdr)["nodes"]], ["node-a"])
        jobs = self.lk.get("/jobs", headers=hdr)
        self.assertEqual([j["name"] for j in jobs["jobs"]], ["default.web"])
        self.assertEqual([s["name"] for s in jobs["jobs"][0]["sources"]], ["node-a"])
        self.assertTrue(good.ping() and liar.ping())


if __name__ == "__main__":
    unittest.main()
