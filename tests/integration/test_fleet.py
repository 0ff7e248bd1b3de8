#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`gafferctl fleet ps` (man/gafferctl.1 FLEET): three real gafferd nodes on loopback
ports, registered with a lookupd (lookuplib.LOOKUPD: the stand-in, or the real
gaffer_lookupd with $GAFFER_LOOKUPD), plus a dead origin, a node that never answers, and
an origin that names a local unix socket. One table with a row per process of each live
node, one row saying why for each other node; --json; the lookupd merge; and the rule
that an origin from the registry is only followed when it is an http(s) URL."""
import json
import os
import re
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402
import lookuplib  # noqa: E402

GAFFERCTL = gafferlib.GAFFERCTL

CONFIGS = {
    "n1": "[job:web]\ncmd = sleep 3600\nnumprocesses = 2\n",
    "n2": "[job:worker]\ncmd = sleep 3600\nnumprocesses = 1\n[job:web]\ncmd = sleep 3600\nnumprocesses = 1\n",
    "n3": "[job:clock]\ncmd = sleep 3600\nnumprocesses = 1\n",
}


class FleetTest(gafferlib.DaemonTestCase):
    @classmethod
    def setUpClass(cls):
        gafferlib.require_binaries()
        if not GAFFERCTL or not os.access(GAFFERCTL, os.X_OK):
            raise RuntimeError("GAFFERCTL must name the built gafferctl binary")

    def setUp(self):
        super().setUp()
        self.lk = lookuplib.LOOKUPD().start()
        self.registered = []
        self.nodes = {}
        for name, config in CONFIGS.items():
            d = self.daemon(config, tcp_port=gafferlib.free_port())
            d.start()
            self.nodes[name] = d
        for name, d in self.nodes.items():
            want = sum(int(n) for n in re.findall(r"numprocesses = (\d+)", CONFIGS[name]))
            gafferlib.wait_for(lambda: len(d.get_json("/pids")["pids"]) == want, what=f"{name}'s processes")
            self.register(name, f"http://127.0.0.1:{d.tcp_port}")
        # A node whose origin refuses connections.
        self.dead_port = gafferlib.free_port()
        self.register("n4", f"http://127.0.0.1:{self.dead_port}")
        # A node that accepts the connection and never answers.
        self.mute = socket.socket()
        self.mute.bind(("127.0.0.1", 0))
        self.mute.listen(8)
        self.register("n5", f"http://127.0.0.1:{self.mute.getsockname()[1]}")

    def tearDown(self):
        for n in self.registered:
            try:
                n.close()
            except OSError:
                pass
        self.lk.stop()
        self.mute.close()
        super().tearDown()

    def register(self, name, origin, lk=None):
        n = (lk or self.lk).connect(name, origin)
        self.registered.append(n)
        return n

    def fleet(self, *args, lookupds=None):
        argv = [GAFFERCTL]
        for url in lookupds or [self.lk.url]:
            argv += ["--lookupd", url]
        env = dict(os.environ)
        env.pop("GAFFER_API_KEY", None)
        return subprocess.run(argv + ["fleet", "ps", "--node-timeout", "1"] + list(args), capture_output=True,
                              text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)

    def rows(self, out):
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["NODE", "JOB", "PID", "STATE", "CPU", "MEM"])
        return [re.split(r"  +", line, maxsplit=2) if " -  " in line else line.split() for line in lines[1:]]

    def test_one_table_for_the_fleet(self):
        r = self.fleet()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        rows = self.rows(r.stdout)
        live = [row for row in rows if len(row) == 6]
        got = sorted((row[0], row[1], row[2], row[3]) for row in live)
        self.assertEqual(got, [("n1", "default.web", "1", "running"), ("n1", "default.web", "2", "running"),
                               ("n2", "default.web", "2", "running"), ("n2", "default.worker", "1", "running"),
                               ("n3", "default.clock", "1", "running")])
        for row in live:
            float(row[4]), float(row[5])  # CPU and MEM are numbers
        other = {row[0]: row[2] for row in rows if len(row) == 3}
        self.assertEqual(other["n4"], f"unreachable (cannot connect to http://127.0.0.1:{self.dead_port}: "
                                      "Connection refused)")
        self.assertRegex(other["n5"], r"^unreachable \(no answer from http://127\.0\.0\.1:\d+ within 1 s\)$")
        self.assertEqual(len(rows), 7)

    def test_json(self):
        r = self.fleet("--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        nodes = {n["name"]: n for n in json.loads(r.stdout)["nodes"]}
        self.assertEqual(set(nodes), {"n1", "n2", "n3", "n4", "n5"})
        procs = nodes["n1"]["processes"]
        self.assertEqual(sorted(p["pid"] for p in procs), [1, 2])
        for p in procs:
            self.assertEqual(p["name"], "default.web")
            self.assertEqual(p["stats"]["id"], p["pid"])
            self.assertEqual(p["stats"]["pid"], p["os_pid"])
        self.assertEqual(nodes["n1"]["origin"], f"http://127.0.0.1:{self.nodes['n1'].tcp_port}")
        self.assertIn("unreachable (cannot connect", nodes["n4"]["error"])
        self.assertNotIn("processes", nodes["n4"])

    def test_lookupds_merged_and_a_dead_one_reported(self):
        other = lookuplib.LOOKUPD().start()
        try:
            # n1 registered with both lookupds is listed once.
            self.register("n1", f"http://127.0.0.1:{self.nodes['n1'].tcp_port}", lk=other)
            dead = f"http://127.0.0.1:{gafferlib.free_port()}"
            r = self.fleet(lookupds=[self.lk.url, dead, other.url])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"lookupd cannot connect to {dead}", r.stderr)
            rows = self.rows(r.stdout)
            self.assertEqual(len([row for row in rows if row[0] == "n1"]), 2)
        finally:
            other.stop()

    def test_more_nodes_than_requests_in_flight(self):
        # 2 requests a node, at most 64 in flight: 70 more nodes all get their row.
        for i in range(70):
            self.register(f"m{i:02d}", f"http://127.0.0.1:{self.dead_port}/m{i}")
        r = self.fleet()
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = self.rows(r.stdout)
        more = [row for row in rows if row[0].startswith("m")]
        self.assertEqual(len(more), 70)
        for row in more:
            self.assertTrue(row[2].startswith("unreachable (cannot connect"), row)
        self.assertEqual(len([row for row in rows if len(row) == 6]), 5)

    def test_node_key(self):
        # A node with --require-key answers 401 without a key (one row saying so) and
        # lists its processes with --node-key; the lookupd never gets the node key.
        locked = self.daemon(CONFIGS["n3"], tcp_port=gafferlib.free_port(), extra_args=["--require-key"])
        locked.start()
        gafferlib.wait_for(lambda: len(locked.get_json("/pids")["pids"]) == 1, what="the locked node's process")
        self.register("locked", f"http://127.0.0.1:{locked.tcp_port}")
        r = subprocess.run([GAFFERCTL, "--endpoint", "unix:" + locked.sock, "key-create", "+a"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        key = r.stdout.strip()
        r = self.fleet()
        row = [row for row in self.rows(r.stdout) if row[0] == "locked"]
        self.assertEqual(row, [["locked", "-", "error (Unauthorized access. You need an API key)"]])
        r = self.fleet("--node-key", key)
        self.assertEqual(r.returncode, 0, r.stderr)
        row = [row[:4] for row in self.rows(r.stdout) if row[0] == "locked"]
        self.assertEqual(row, [["locked", "default.clock", "1", "running"]])
        if self.lk.records_requests:
            for method, path, headers in self.lk.requests:
                self.assertNotIn("X-Api-Key", headers)

    def test_no_lookupd_answers(self):
        r = self.fleet(lookupds=[f"http://127.0.0.1:{gafferlib.free_port()}"])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("no lookupd answered", r.stderr)

    def test_an_origin_is_never_a_local_socket(self):
        # A registry entry naming a local unix socket (the path of n1's own control
        # socket, full rights without a key) must not make gafferctl talk to it.
        self.register("evil", "unix:" + self.nodes["n1"].sock)
        r = self.fleet()
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = self.rows(r.stdout)
        evil = [row for row in rows if row[0] == "evil"]
        self.assertEqual(len(evil), 1, rows)
        self.assertEqual(evil[0][2], f"unreachable (invalid origin 'unix:{self.nodes['n1'].sock}')")

    def test_mutations_are_not_fleet_commands(self):
        r = subprocess.run([GAFFERCTL, "--lookupd", self.lk.url, "fleet", "stop"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown fleet command 'stop' (fleet has: ps)", r.stderr)


if __name__ == "__main__":
    unittest.main()
