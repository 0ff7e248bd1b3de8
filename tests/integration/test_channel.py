#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test of the websocket routes against the real gafferd ($GAFFERD) with
real Node clients (tests/node_modules: ws, sockjs-client; `make deps` or
`cd tests && npm install`): the V1 stdio channel (§5.1: write, read, close on exit,
EPERM on a read-only channel, unknown stream, Origin check), the raw /channel/websocket
and the SockJS websocket and xhr-streaming transports (§5.2: SUB reference counting,
UNSUB, CMD, errors), and 300 websocket connect/disconnect cycles without fd growth.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(os.path.dirname(HERE), "node_modules")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class ChannelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("node") or not os.path.isdir(os.path.join(NODE_MODULES, "sockjs-client")):
            raise AssertionError("node and tests/node_modules are required (make deps)")
        cls.d = gafferlib.Daemon("", tcp_port=free_port()).start()
        r = cls.d.request("POST", "/jobs/default", {"name": "cat", "cmd": "cat", "redirect_output": ["stdout"],
                                                    "redirect_input": True})
        assert r.status == 200, r

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def node(self, scenario, pid=""):
        env = dict(os.environ, NODE_PATH=NODE_MODULES)
        p = subprocess.run(["node", os.path.join(HERE, "test_channel.js"), f"127.0.0.1:{self.d.tcp_port}",
                            scenario, str(pid)], capture_output=True, env=env, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return json.loads(p.stdout.decode().strip().splitlines()[-1])

    def cat_pid(self):
        return self.d.get_json("/jobs/default/cat/pids")["pids"][0]

    def test_v1_write_read_close_on_exit(self):
        pid = self.cat_pid()
        env = dict(os.environ, NODE_PATH=NODE_MODULES)
        p = subprocess.Popen(["node", os.path.join(HERE, "test_channel.js"), f"127.0.0.1:{self.d.tcp_port}", "v1",
                              str(pid)], stdout=subprocess.PIPE, env=env)
        # Let the echo come back, then stop the process: the server must close the socket.
        time.sleep(1.0)
        self.assertIn(self.d.request("DELETE", f"/{pid}").status, (200, 202))
        outp, _ = p.communicate(timeout=20)
        res = json.loads(outp.decode().strip())
        self.assertEqual(p.returncode, 0, res)
        self.assertIn("V1 response abc\x00OK", res["seen"])
        msgs = [m for m in res["seen"] if m.startswith("V1 message ")]
        self.assertTrue(msgs and msgs[0].split("\x00", 1)[1] == "hello\n", res)

    def test_v1_readonly_eperm_and_bad_stream(self):
        pid = self.cat_pid()
        res = self.node("v1_readonly", pid)
        self.assertEqual(res["seen"], ['V1 error m1\x00{"error":"EPERM","errno":403}'])
        self.assertEqual(self.node("v1_badstream", pid)["status"], 404)
        self.assertEqual(self.node("origin", pid)["status"], 403)

    def test_raw_channel(self):
        pid = self.cat_pid()
        seen = self.node("raw", pid)["seen"]
        by_event = {}
        for m in seen:
            by_event.setdefault(m["event"], []).append(m)
        self.assertEqual(by_event["gaffer:subscription_success"][0]["topic"], f"STREAM:{pid}")
        err = by_event["gaffer:subscription_error"][0]
        self.assertEqual((err["topic"], err["data"]["reason"]), ("JOB:default.nope", "invalid_process"))
        ok = {m["data"]["id"]: m["data"]["result"] for m in by_event["gaffer:command_success"]}
        self.assertEqual(ok["c1"], {"ok": True})
        self.assertEqual(ok["c3"]["info"]["name"], "default.cat")
        self.assertEqual(by_event["gaffer:command_error"][0]["data"],
                         {"id": "c2", "error": {"errno": 404, "reason": "command_not_found"}})
        self.assertEqual(by_event["gaffer:error"][0]["data"], {"error": "invalid_msg", "reason": "invalid_json"})
        ev = by_event["gaffer:event"][0]["data"]
        self.assertEqual((ev["event"], ev["topic"], ev["data"], ev["pid"]), ("stdout", f"STREAM:{pid}", "raw\n", pid))

    def sockjs(self, scenario):
        res = self.node(scenario)
        seen = res["seen"]
        events = [m for m in seen if m["event"] == "gaffer:event"]
        # Subscribed twice: delivered once; after two UNSUBs the second load is not delivered.
        self.assertEqual(len(events), 1, seen)
        self.assertEqual(events[0]["data"]["event"], "load")
        self.assertEqual(events[0]["data"]["topic"], "EVENTS:load")
        self.assertEqual(len([m for m in seen if m["event"] == "gaffer:subscription_success"]), 4)
        return res

    def test_sockjs_websocket(self):
        self.sockjs("sockjs_websocket")

    def test_sockjs_xhr_streaming(self):
        self.sockjs("sockjs_xhr_streaming")

    def test_websocket_cycles_no_fd_leak(self):
        pid = self.cat_pid()
        dpid = self.d.proc.pid
        script = f"""
const WebSocket = require('ws');
let n = 0;
function one() {{
  if (n++ === 300) {{ console.log('done'); process.exit(0); }}
  const ws = new WebSocket('ws://127.0.0.1:{self.d.tcp_port}/channel/websocket');
  ws.on('open', () => {{ ws.send(JSON.stringify({{event:'SUB', data:{{topic:'STREAM:{pid}'}}}})); }});
  ws.on('message', () => ws.terminate());
  ws.on('close', one);
}}
one();
"""
        env = dict(os.environ, NODE_PATH=NODE_MODULES)
        subprocess.run(["node", "-e", script.replace("300", "30")], env=env, timeout=60, check=True)
        base = len(os.listdir(f"/proc/{dpid}/fd"))
        p = subprocess.run(["node", "-e", script], env=env, timeout=120, capture_output=True)
        self.assertIn(b"done", p.stdout, p.stderr)
        gafferlib.wait_for(lambda: len(os.listdir(f"/proc/{dpid}/fd")) <= base + 2, timeout=10,
                           what="fd count back to the baseline")


if __name__ == "__main__":
    unittest.main()
