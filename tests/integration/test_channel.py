#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test of the websocket routes against the real gafferd ($GAFFERD) with
real Node clients (tests/node_modules: ws, sockjs-client; `make deps` or
`cd tests && npm install`): the V1 stdio channel (§5.1: write, read, close on exit,
EPERM on a read-only channel, unknown stream, Origin check), the raw /channel/websocket
and the SockJS websocket and xhr-streaming transports (§5.2: SUB reference counting,
UNSUB, CMD, errors), non-UTF-8 process output in text frames (V1, /wstreams, STREAM
topics), and 300 websocket connect/disconnect cycles without fd growth.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(os.path.dirname(HERE), "node_modules")


def daemon_with_cat():
    """A gafferd on a free loopback TCP port (full rights) running default.cat with its
    stdin and stdout redirected (also used by test_sockjs_transports.py)."""
    d = gafferlib.Daemon("", tcp_port=gafferlib.free_port()).start()
    r = d.request("POST", "/jobs/default", {"name": "cat", "cmd": "cat", "redirect_output": ["stdout"],
                                            "redirect_input": True})
    assert r.status == 200, r
    return d


def load_bytes_job(d, name, parts):
    """Loads default.<name>: a process that waits for a line on stdin, then writes each of
    `parts` (bytes) with a 0.3 s pause after each write, and exits. Returns its pid."""
    script = ("import os, sys, time\nsys.stdin.readline()\n"
              f"for p in {parts!r}:\n    os.write(1, p)\n    time.sleep(0.3)\n")
    r = d.request("POST", "/jobs/default", {"name": name, "cmd": sys.executable, "args": ["-c", script],
                                            "redirect_output": ["stdout"], "redirect_input": True})
    assert r.status == 200, r
    return d.get_json(f"/jobs/default/{name}/pids")["pids"][0]


class ChannelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("node") or not os.path.isdir(os.path.join(NODE_MODULES, "sockjs-client")):
            raise AssertionError("node and tests/node_modules are required (make deps)")
        cls.d = daemon_with_cat()

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
                              str(pid)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        # Wait for the echo (an event, not a time: a loaded machine may take seconds to start
        # node), then stop the process: the server must close the socket.
        line = p.stderr.readline()
        self.assertEqual(line, b"echoed\n", "node ended before the echo came back")
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

    # Output that is not UTF-8, and characters split across two reads (a sleep between the
    # writes), in text frames: the text is what a browser's TextDecoder makes of the bytes,
    # the connection stays open (ws closes with 1007 on invalid UTF-8), and the bytes held
    # back when the process exits come out as U+FFFD.
    UTF8_PARTS = [b"A\xff\xfeB \xe2\x82", b"\xac \xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80 \xe0\x80 \xf0\x9f",
                  b"\x98\x80 \x80 end \xe2\x82"]

    def utf8_scenario(self, scenario):
        name = scenario.replace("_", "")
        try:
            pid = load_bytes_job(self.d, name, self.UTF8_PARTS)
            raw = b"".join(self.UTF8_PARTS)
            env = dict(os.environ, NODE_PATH=NODE_MODULES)
            p = subprocess.run(["node", os.path.join(HERE, "test_channel.js"), f"127.0.0.1:{self.d.tcp_port}",
                                scenario, str(pid), raw.hex()], capture_output=True, env=env, timeout=30)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            res = json.loads(p.stdout.decode().strip().splitlines()[-1])
        finally:
            self.d.request("DELETE", f"/jobs/default/{name}")
        self.assertEqual(res["errors"], [], res)
        self.assertEqual(res["text"], res["want"], res)
        # Python's decoder replaces maximal subparts too: the same text.
        self.assertEqual(res["want"], raw.decode("utf-8", "replace"))
        self.assertIn("\u20ac", res["text"])
        self.assertIn("\U0001f600", res["text"])
        self.assertTrue(res["text"].endswith("end \ufffd"), res)
        return res

    def test_utf8_v1_channel(self):
        # The server closes the channel normally when the process exits.
        self.assertEqual(self.utf8_scenario("utf8_v1")["code"], 1000)

    def test_utf8_wstreams(self):
        self.assertEqual(self.utf8_scenario("utf8_wstreams")["code"], 1000)

    def test_utf8_sockjs_stream_topic(self):
        self.utf8_scenario("utf8_raw")

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
