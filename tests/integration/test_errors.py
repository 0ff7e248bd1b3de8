#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 12's error defects, tried through both front ends of a real gafferd (HTTP and the
raw /channel websocket): one validation of commit/load env, a spawn failure is its own
outcome (spawn_failed, with the stage and the errno), and the channel names manager errors
from the one table of lib/manager/errors.h."""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402
from test_security_auth import WebSocket  # noqa: E402

JSON = {"Content-Type": "application/json"}
BAD_ENVS = [{"": "x"}, {"A=B": "x"}, {"A": "x\u0000y"}]


class ErrorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gaffer-errors-")
        cls.noexec = os.path.join(cls.tmp, "noexec")
        with open(cls.noexec, "w") as f:
            f.write("#!/bin/sh\n")
        os.chmod(cls.noexec, 0o644)
        cls.d = gafferlib.Daemon("", tcp_port=gafferlib.free_port()).start()
        jobs = [{"name": "sleeper", "cmd": "sleep", "args": ["30"], "redirect_input": True},
                {"name": "missing", "cmd": os.path.join(cls.tmp, "no-such-program"), "start": False},
                {"name": "noexec", "cmd": cls.noexec, "start": False}]
        for job in jobs:
            r = cls.http("POST", "/jobs/default", job)
            assert r.status == 200, r

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        os.unlink(cls.noexec)
        os.rmdir(cls.tmp)

    @classmethod
    def http(cls, method, path, body=None):
        return cls.d.request(method, path, body, headers=JSON if body is not None else None, tcp=True)

    def pids(self, job):
        return self.d.get_json(f"/jobs/default/{job}/pids")["pids"]

    def channel(self, name, args=(), kwargs=None):
        """One command on a fresh raw /channel websocket; its reply's data."""
        ws = WebSocket(self.d.tcp_port, "/channel/websocket")
        try:
            ws.send(json.dumps({"event": "CMD", "data": {"identity": "c", "name": name, "args": list(args),
                                                         "kwargs": kwargs or {}}}))
            msg = ws.recv()
            self.assertIsNotNone(msg, "the channel closed")
            msg = json.loads(msg)
            self.assertIn(msg["event"], ("gaffer:command_success", "gaffer:command_error"), msg)
            return msg["data"]
        finally:
            ws.close()

    # -- env: one validation on every path

    def test_commit_env_refused_over_http(self):
        before = self.pids("sleeper")
        for env in BAD_ENVS:
            r = self.http("POST", "/jobs/default/sleeper/commit", {"env": env})
            self.assertEqual((r.status, r.json()["error"]), (400, "bad_request"), (env, r))
        self.assertEqual(self.pids("sleeper"), before)

    def test_commit_env_refused_over_channel(self):
        before = self.pids("sleeper")
        for env in BAD_ENVS:
            data = self.channel("commit", ["sleeper", None, env])
            self.assertEqual(data.get("error"), {"errno": 400, "reason": "bad_command"}, (env, data))
        self.assertEqual(self.pids("sleeper"), before)

    def test_load_env_refused_over_channel(self):
        for env in BAD_ENVS:
            data = self.channel("load", [{"name": "envjob", "cmd": "sleep", "args": ["30"]}], {"env": env})
            self.assertEqual(data.get("error"), {"errno": 400, "reason": "invalid_config"}, (env, data))
            self.assertEqual(self.http("GET", "/jobs/default/envjob").status, 404)

    # -- a spawn failure is spawn_failed, never the spawner's bare errno

    def check_spawn_failed_http(self, job, os_errno):
        r = self.http("POST", f"/jobs/default/{job}/commit", {})
        body = r.json()
        self.assertEqual((r.status, body["error"], body["errno"]), (500, "spawn_failed", 500), body)
        self.assertEqual((body["stage"], body["os_errno"]), ("exec", os_errno), body)
        self.assertIn(os.strerror(os_errno), body["reason"])
        # The job is there, and still answers.
        self.assertEqual(self.http("GET", f"/jobs/default/{job}").status, 200)

    def check_spawn_failed_channel(self, job, os_errno):
        err = self.channel("commit", [job])["error"]
        self.assertEqual((err["errno"], err["reason"], err["stage"], err["os_errno"]),
                         (500, "spawn_failed", "exec", os_errno), err)

    def test_commit_missing_executable(self):
        self.check_spawn_failed_http("missing", 2)
        self.check_spawn_failed_channel("missing", 2)

    def test_commit_not_executable(self):
        self.check_spawn_failed_http("noexec", 13)
        self.check_spawn_failed_channel("noexec", 13)

    def test_commit_unknown_job_still_not_found(self):
        r = self.http("POST", "/jobs/default/nope/commit", {})
        self.assertEqual((r.status, r.json()["error"]), (404, "not_found"))
        self.assertEqual(self.channel("commit", ["nope"])["error"], {"errno": 404, "reason": "not_found"})

    # -- the channel parses its arguments as the HTTP routes do

    def test_channel_pid_is_not_truncated(self):
        pid = self.pids("sleeper")[0]
        for big in (pid + 2**32, str(pid + 2**32)):
            data = self.channel("process_info", [big])
            self.assertEqual(data.get("error"), {"errno": 400, "reason": "bad_command"}, (big, data))

    def test_commit_graceful_timeout_checked_on_both(self):
        before = self.pids("sleeper")
        for bad in (-1, 1e300, "soon", True):
            r = self.http("POST", "/jobs/default/sleeper/commit", {"graceful_timeout": bad})
            self.assertEqual((r.status, r.json()["error"]), (400, "bad_request"), (bad, r))
            data = self.channel("commit", ["sleeper", bad])
            self.assertEqual(data.get("error"), {"errno": 400, "reason": "bad_command"}, (bad, data))
        self.assertEqual(self.pids("sleeper"), before)
        self.assertEqual(self.d.get_json("/jobs/default/sleeper")["running"], len(before))

    # -- the channel's errors come from the one table

    def test_channel_stream_errors(self):
        pid = self.pids("sleeper")[0]
        # Reference §5.2 fixes this name for the channel.
        self.assertEqual(self.channel("send", [pid, "x", "nostream"])["error"],
                         {"errno": 404, "reason": "stream_not_found"})
        # sleep never reads: the stdin queue fills up (4 MiB) and is then refused as full.
        chunk = "y" * 60000
        ws = WebSocket(self.d.tcp_port, "/channel/websocket")
        try:
            err = None
            for i in range(200):
                ws.send(json.dumps({"event": "CMD", "data": {"identity": i, "name": "send",
                                                             "args": [pid, chunk]}}))
                msg = json.loads(ws.recv())
                if msg["event"] == "gaffer:command_error":
                    err = msg["data"]["error"]
                    break
            self.assertEqual(err, {"errno": 503, "reason": "stream_full"})
        finally:
            ws.close()


    def test_wstreams_full_stdin_is_stream_full(self):
        # The 0.4 /wstreams socket named every write failure but EPERM "not_found".
        r = self.http("POST", "/jobs/default", {"name": "deaf", "cmd": "sleep", "args": ["30"],
                                                "redirect_input": True, "redirect_output": ["stdout"]})
        self.assertEqual(r.status, 200, r)
        pid = self.pids("deaf")[0]
        ws = WebSocket(self.d.tcp_port, f"/wstreams/{pid}")
        try:
            for _ in range(100):
                try:
                    ws.send("z" * 60000)
                except OSError:  # closed after its error message
                    break
            self.assertEqual(json.loads(ws.recv()), {"error": "stream_full"})
        finally:
            ws.close()
            self.http("DELETE", "/jobs/default/deaf")

if __name__ == "__main__":
    gafferlib.require_binaries()
    unittest.main()
