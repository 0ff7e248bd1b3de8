#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bounded jobs (issue 11 §6): the attacks, each against the real gafferd.

`max_jobs` and `max_config_bytes` refuse the job beyond them with 507 (413 for one job
larger than the whole budget) over the HEAD routes, the 0.4 routes and the SockJS
channel, and a config file over them is refused at start and on SIGHUP with the file
named; memory taken by big jobs returns when they are unloaded; a job option removed
from the file returns to its default on SIGHUP.
"""
import json
import os
import signal
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gafferlib import SANITIZED, Daemon, DaemonTestCase, free_port, rss_kib, wait_for  # noqa: E402

JSON = {"Content-Type": "application/json"}


class LimitsTest(DaemonTestCase):

    def load(self, d, job, **kw):
        return d.request("POST", "/jobs/default", dict({"name": job, "cmd": "sleep 1000", "start": False}, **kw),
                         headers=JSON)

    def assert_error(self, r, status, name):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json()["error"], name, r)

    # ---- max_jobs

    def test_101st_job_is_refused_with_507_and_changes_nothing(self):
        d = self.daemon("[gaffer]\nmax_jobs = 100\n").start()
        for i in range(100):
            self.assertEqual(self.load(d, f"j{i}").status, 200, i)
        r = self.load(d, "j100")
        self.assert_error(r, 507, "insufficient_storage")
        self.assertIn("max_jobs", r.json()["reason"])
        # The 0.4 route is the same manager call.
        r = d.request("POST", "/processes", {"name": "old", "cmd": "sleep 1000", "start": False}, headers=JSON)
        self.assert_error(r, 507, "insufficient_storage")
        jobs = d.get_json("/jobs")["jobs"]
        self.assertEqual(len(jobs), 100)
        self.assertNotIn("default.j100", jobs)
        # Unloading one makes room for one.
        self.assertEqual(d.request("DELETE", "/jobs/default/j0").status, 200)
        self.assertEqual(self.load(d, "j100").status, 200)
        self.assert_error(self.load(d, "j101"), 507, "insufficient_storage")

    def test_sockjs_load_beyond_max_jobs_is_refused_with_507(self):
        d = self.daemon("[gaffer]\nmax_jobs = 2\n", tcp_port=free_port()).start()
        self.assertEqual(self.load(d, "a").status, 200)
        self.assertEqual(self.load(d, "b").status, 200)
        sid = f"/channel/000/{uuid.uuid4().hex}"
        r = d.request("POST", sid + "/xhr", tcp=True)
        self.assertEqual(r.body, b"o\n")
        cmd = {"event": "CMD", "data": {"identity": "L", "name": "load",
                                        "args": [{"name": "c", "cmd": "sleep 1000"}], "kwargs": {"start": False}}}
        r = d.request("POST", sid + "/xhr_send", json.dumps([json.dumps(cmd)]), headers=JSON, tcp=True)
        self.assertEqual(r.status, 204, r)
        r = d.request("POST", sid + "/xhr", tcp=True)
        self.assertTrue(r.body.startswith(b"a"), r)
        msgs = [json.loads(m) for m in json.loads(r.body[1:])]
        self.assertEqual(msgs[0]["event"], "gaffer:command_error", msgs)
        self.assertEqual(msgs[0]["data"]["error"], {"errno": 507, "reason": "insufficient_storage"}, msgs)
        self.assertEqual(sorted(d.get_json("/jobs")["jobs"]), ["default.a", "default.b"])

    # ---- max_config_bytes

    def test_oversize_configs_are_refused_with_413_and_507(self):
        d = self.daemon("[gaffer]\nmax_config_bytes = 100K\n").start()
        # One job larger than the whole budget: 413, whatever else is loaded.
        r = self.load(d, "huge", args=["x" * 200_000])
        self.assert_error(r, 413, "config_too_large")
        # Jobs that fit one by one until the total would pass the budget: 507.
        self.assertEqual(self.load(d, "a", args=["x" * 45_000]).status, 200)
        self.assertEqual(self.load(d, "b", args=["x" * 45_000]).status, 200)
        r = self.load(d, "c", args=["x" * 45_000])
        self.assert_error(r, 507, "insufficient_storage")
        self.assertIn("max_config_bytes", r.json()["reason"])
        # An update that grows a job past the budget is refused and leaves it as it was.
        r = d.request("PUT", "/jobs/default/a", {"cmd": "sleep 1000", "args": ["y" * 60_000], "start": False},
                      headers=JSON)
        self.assert_error(r, 507, "insufficient_storage")
        self.assertEqual(d.get_json("/jobs/default/a")["config"]["args"], ["x" * 45_000])
        self.assertEqual(sorted(d.get_json("/jobs")["jobs"]), ["default.a", "default.b"])
        # Shrinking is always allowed, and unloading gives the bytes back.
        r = d.request("PUT", "/jobs/default/a", {"cmd": "sleep 1000", "start": False}, headers=JSON)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.load(d, "c", args=["x" * 45_000]).status, 200)

    def test_config_file_over_the_limits_is_refused_at_start_and_on_sighup(self):
        jobs = "".join(f"[process:j{i}]\ncmd = sleep 1000\nstart = false\n" for i in range(3))
        d = self.daemon("[gaffer]\nmax_jobs = 2\n" + jobs)
        d.start(wait=False)
        self.assertNotEqual(d.proc.wait(timeout=10), 0)
        self.assertRegex(d.output(), r"gafferd\.ini: 3 jobs, more than max_jobs \(2\)")

        d = self.daemon("[gaffer]\nmax_jobs = 3\n" + jobs).start()
        self.assertEqual(len(d.get_json("/jobs")["jobs"]), 3)
        d.write_config("[gaffer]\nmax_jobs = 3\n" + jobs + "[process:j3]\ncmd = sleep 1000\nstart = false\n")
        d.signal(signal.SIGHUP)
        wait_for(lambda: "keeping the running one" in d.output(), what="reload refusal logged")
        self.assertRegex(d.output(), r"gafferd\.ini: 4 jobs, more than max_jobs \(3\)")
        self.assertEqual(len(d.get_json("/jobs")["jobs"]), 3)
        self.assertIsNone(d.proc.poll())

    def test_limits_lowered_on_sighup_keep_what_is_loaded(self):
        d = self.daemon("[gaffer]\nmax_config_bytes = 1M\n").start()
        for job in ("a", "b", "c"):
            self.assertEqual(self.load(d, job, args=["x" * 30_000]).status, 200)
        d.write_config("[gaffer]\nmax_config_bytes = 50K\n")
        d.signal(signal.SIGHUP)
        wait_for(lambda: "SIGHUP: 0 loaded" in d.output(), what="the reload")
        self.assertEqual(sorted(d.get_json("/jobs")["jobs"]), ["default.a", "default.b", "default.c"])
        self.assert_error(self.load(d, "d", args=["x" * 10_000]), 507, "insufficient_storage")
        # Over the budget: an update that grows a job is refused, one that does not grow
        # it passes, even though the total stays over the budget.
        r = d.request("PUT", "/jobs/default/b", {"cmd": "sleep 1000", "args": ["x" * 31_000], "start": False},
                      headers=JSON)
        self.assert_error(r, 507, "insufficient_storage")
        r = d.request("PUT", "/jobs/default/a", {"cmd": "sleep 1000", "start": False}, headers=JSON)
        self.assertEqual(r.status, 201, r)
        for job in ("b", "c"):
            self.assertEqual(d.request("DELETE", f"/jobs/default/{job}").status, 200)
        self.assertEqual(self.load(d, "d", args=["x" * 10_000]).status, 200)

    # ---- memory that returns

    def test_memory_returns_after_unloading_big_jobs(self):
        # 50 jobs of ~900 KB each (a long argument list; one running process each), then
        # unloaded: the daemon's resident memory must come back near where it started.
        d = self.daemon("[gaffer]\nmax_config_bytes = 128M\n").start()
        # `sh -c 'exec sleep 1000' sh <args>`: sleep itself would refuse the arguments,
        # and a job that keeps failing would be respawned all the time.
        args = ["-c", "exec sleep 1000", "sh"] + [f"{i:06d}" + "a" * 94 for i in range(9000)]  # 9000 × 100 bytes
        # Warm-up: the first big request grows MHD's and jansson's buffers once.
        self.assertEqual(self.load(d, "warm", cmd="sh", args=args).status, 200)
        self.assertEqual(d.request("DELETE", "/jobs/default/warm").status, 200)
        before = rss_kib(d.proc.pid)
        for i in range(50):
            r = d.request("POST", "/jobs/default", {"name": f"big{i}", "cmd": "sh", "args": args}, headers=JSON)
            self.assertEqual(r.status, 200, r)
        loaded = rss_kib(d.proc.pid)
        for i in range(50):
            self.assertEqual(d.request("DELETE", f"/jobs/default/big{i}").status, 200)
        wait_for(lambda: not d.children(), what="the big jobs' processes to exit")
        after = rss_kib(d.proc.pid)
        print(f"\nRSS KiB: before {before}, 50 loaded {loaded}, after unloading {after}", file=sys.stderr)
        if SANITIZED:
            return  # ASan's quarantine keeps freed memory: RSS says nothing there
        self.assertLess(after - before, 16 * 1024, f"before {before} KiB, loaded {loaded} KiB, after {after} KiB")

    # ---- SIGHUP: removed options return to their defaults

    def test_sighup_removed_options_return_to_their_defaults(self):
        d = self.daemon("[process:web]\ncmd = sleep 1000\nnumprocesses = 2\ngraceful_timeout = 30\n"
                        "env:COLOUR = blue\nenv:SHAPE = round\n").start()
        wait_for(lambda: len(d.get_json("/jobs/default/web/pids")["pids"]) == 2, what="2 processes")
        d.write_config("[process:web]\ncmd = sleep 1000\nenv:SHAPE = round\n")
        d.signal(signal.SIGHUP)
        wait_for(lambda: "SIGHUP: 0 loaded, 1 updated" in d.output(), what="the reload")
        self.assertEqual(d.get_json("/jobs/default/web/numprocesses")["numprocesses"], 1)
        pids = wait_for(lambda: (lambda p: p if len(p) == 1 else None)(d.get_json("/jobs/default/web/pids")["pids"]),
                        what="one process")
        cfg = d.get_json("/jobs/default/web")["config"]
        self.assertNotIn("numprocesses", cfg)
        self.assertNotIn("graceful_timeout", cfg)
        env = d.get_json(f"/{pids[0]}")["env"]
        self.assertNotIn("COLOUR", env)
        self.assertEqual(env["SHAPE"], "round")
        wait_for(lambda: len(d.children()) == 1, what="the second process to be stopped")


if __name__ == "__main__":
    unittest.main()
