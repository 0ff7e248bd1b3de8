#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The operations layer (lib/ops/operations.h) through every front end's adapter, against
the real gafferd: one table of (operation, argument, bad values); each bad value goes
through the HTTP route and through the /channel command of that operation, both refuse
it (HTTP 400, channel errno 400 with the reference's reason) and nothing changes. A
caller without the operation's right gets 403 / forbidden on both, whatever the
arguments. Run by `make test` through meson ($GAFFERD).
"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402
from gafferlib import WebSocket, free_port  # noqa: E402

JSON = {"Content-Type": "application/json"}

BAD_SCALE = ["x", "++1", 1.5, None, [], {}, "+", "=-1"]
BAD_SIGNAL = ["SIGFOO", 999, -1, 1.5, [], {}, None, ""]
BAD_TIMEOUT = [-1, "x", 1e10, [], {}, True]
BAD_ENV = [{"": "x"}, {"A=B": "x"}, {"A": "x\u0000y"}, {"A": 1}, "A=1", [], 5]
BAD_CONFIG = [{"name": "x"}, {"cmd": "true"}, "str", [], 5, {"name": "x", "cmd": 5}, {"name": "x", "cmd": "true",
                                                                                       "numprocesses": "many"}]

# (operation, argument, bad values, HTTP request for a value, channel command for a value,
#  the channel's reason, HTTP's error name)
CASES = [
    ("scale", "scale", BAD_SCALE,
     lambda t, v: ("POST", "/jobs/default/web/numprocesses", {"scale": v}),
     lambda t, v: ("scale", ["default.web", v], {}), "bad_command", "bad_request"),
    ("killall", "signal", BAD_SIGNAL,
     lambda t, v: ("POST", "/jobs/default/web/signal", {"signal": v}),
     lambda t, v: ("killall", ["default.web", v], {}), "bad_command", "bad_request"),
    ("kill", "signal", BAD_SIGNAL,
     lambda t, v: ("POST", f"/{t.pid}/signal", {"signal": v}),
     lambda t, v: ("kill", [t.pid, v], {}), "bad_command", "bad_signal"),
    ("commit", "graceful_timeout", BAD_TIMEOUT,
     lambda t, v: ("POST", "/jobs/default/web/commit", {"graceful_timeout": v}),
     lambda t, v: ("commit", ["default.web", v], {}), "bad_command", "bad_request"),
    ("commit", "env", BAD_ENV,
     lambda t, v: ("POST", "/jobs/default/web/commit", {"env": v}),
     lambda t, v: ("commit", ["default.web", None, v], {}), "bad_command", "bad_request"),
    ("load", "config", BAD_CONFIG,
     lambda t, v: ("POST", "/jobs/default", v),
     lambda t, v: ("load", [v], {}), "invalid_config", "bad_request"),
]


class OperationsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = gafferlib.Daemon("", tcp_port=cls.port, extra_args=["--require-key"]).start()
        r = cls.d.request("POST", "/keys", {"permissions": {"admin": True}}, headers=JSON)
        assert r.status == 200, r
        cls.admin = r.json()["api_key"]
        r = cls.d.request("POST", "/keys", {"permissions": {"read": ["*"]}}, headers=JSON)
        assert r.status == 200, r
        cls.reader = r.json()["api_key"]
        r = cls.d.request("POST", "/jobs/default", {"name": "web", "cmd": "sleep", "args": ["1000"],
                                                    "numprocesses": 2}, headers=JSON)
        assert r.status == 200, r
        # The process the pid cases name (scaling removes the newest first).
        cls.pid = cls.d.get_json("/jobs/default/web/pids")["pids"][0]
        cls.ws = {key: WebSocket(cls.port, "/channel/websocket", {"X-Api-Key": key})
                  for key in (cls.admin, cls.reader)}

    @classmethod
    def tearDownClass(cls):
        for ws in cls.ws.values():
            ws.close()
        cls.d.cleanup()

    def http(self, key, method, path, body):
        h = dict(JSON, **{"X-Api-Key": key})
        data = None if body is None else json.dumps(body).encode()
        return self.d.request(method, path, data, headers=h, tcp=True)

    def channel(self, key, name, args, kwargs):
        ws = self.ws[key]
        ws.send(json.dumps({"event": "CMD", "data": {"identity": 7, "name": name, "args": args, "kwargs": kwargs}}))
        msg = json.loads(ws.recv() or "null")
        self.assertIsNotNone(msg, "the channel closed")
        return msg

    def state(self):
        """What a refused operation must leave as it was."""
        return (self.d.get_json("/jobs"), self.d.get_json("/pids"),
                self.d.get_json("/jobs/default/web")["max_processes"],
                [p["os_pid"] for p in self.d.get_json("/jobs/default/web/processes")["processes"]])

    def test_every_bad_argument_is_refused_alike_by_http_and_the_channel(self):
        before = self.state()
        for op, arg, values, http_req, chan_cmd, chan_reason, http_name in CASES:
            for v in values:
                with self.subTest(op=op, arg=arg, value=v):
                    method, path, body = http_req(self, v)
                    r = self.http(self.admin, method, path, body)
                    self.assertEqual(r.status, 400, r)
                    self.assertEqual(r.json()["error"], http_name, r)
                    name, args, kwargs = chan_cmd(self, v)
                    msg = self.channel(self.admin, name, args, kwargs)
                    self.assertEqual(msg["event"], "gaffer:command_error", msg)
                    self.assertEqual(msg["data"]["error"]["errno"], 400, msg)
                    self.assertEqual(msg["data"]["error"]["reason"], chan_reason, msg)
                    self.assertEqual(self.state(), before, "a refused operation changed something")

    def test_rights_come_before_arguments_on_both_front_ends(self):
        before = self.state()
        for op, arg, values, http_req, chan_cmd, _, _ in CASES:
            if op == "load":
                continue  # the channel's load needs admin: covered below
            for v in values[:2]:
                with self.subTest(op=op, arg=arg, value=v):
                    method, path, body = http_req(self, v)
                    r = self.http(self.reader, method, path, body)
                    self.assertEqual((r.status, r.json()["error"]), (403, "forbidden"), r)
                    name, args, kwargs = chan_cmd(self, v)
                    msg = self.channel(self.reader, name, args, kwargs)
                    self.assertEqual(msg["data"]["error"], {"errno": 403, "reason": "forbidden"}, msg)
        msg = self.channel(self.reader, "load", [{"name": "x", "cmd": "true"}], {})
        self.assertEqual(msg["data"]["error"], {"errno": 403, "reason": "forbidden"}, msg)
        self.assertEqual(self.state(), before)

    def test_good_arguments_do_the_same_on_both_front_ends(self):
        r = self.http(self.admin, "POST", "/jobs/default/web/numprocesses", {"scale": "+1"})
        self.assertEqual(r.json(), {"numprocesses": 3})
        msg = self.channel(self.admin, "scale", ["default.web", "-1"], {})
        self.assertEqual(msg["data"]["result"], {"numprocesses": 2}, msg)
        # The other tests compare states: the stopped process must be gone first.
        gafferlib.wait_for(lambda: len(self.d.get_json("/jobs/default/web/processes")["processes"]) == 2,
                           what="the scaled-down process to exit")
        http_info = self.http(self.admin, "GET", "/jobs/default/web", None).json()
        chan_info = self.channel(self.admin, "info", ["default.web"], {})["data"]["result"]["info"]
        self.assertEqual(set(http_info), set(chan_info))
        self.assertEqual(http_info["name"], chan_info["name"])
        pid = self.d.get_json("/jobs/default/web/pids")["pids"][0]
        http_stats = self.http(self.admin, "GET", f"/{pid}/stats", None).json()["stats"]
        chan_stats = self.channel(self.admin, "process_stats", [pid], {})["data"]["result"]["stats"]
        self.assertEqual(set(http_stats), set(chan_stats))
        self.assertEqual((http_stats["pid"], chan_stats["os_pid"]), (pid, http_stats["os_pid"]))


if __name__ == "__main__":
    unittest.main()
