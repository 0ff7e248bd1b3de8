#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Issue 11 §3 and §6, as an attacker would try them against a gafferd with --require-key:
a revoked key or a deleted user keeps no rights on an open SockJS /channel, V1 websocket
channel or /watch feed; /auth keys stay out of the state file and are capped per user;
password guessing is answered 429 without a password check."""

import base64
import fcntl
import hashlib
import http.client
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402
from gafferlib import WebSocket, free_port  # noqa: E402

JSON = {"Content-Type": "application/json"}


class SecurityAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = gafferlib.Daemon("", tcp_port=cls.port, extra_args=["--require-key"]).start()
        r = cls.d.request("POST", "/keys", {"permissions": {"admin": True}, "label": "admin"}, headers=JSON)
        assert r.status == 200, r
        cls.admin = r.json()["api_key"]
        r = cls.d.request("POST", "/jobs/default", {"name": "cat", "cmd": "cat", "redirect_output": ["stdout"],
                                                    "redirect_input": True}, headers=JSON)
        assert r.status == 200, r
        cls.pid = cls.d.get_json("/jobs/default/cat/pids")["pids"][0]

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def tcp(self, method, path, body=None, key=None, headers=None):
        h = dict(headers or {})
        if key:
            h["X-Api-Key"] = key
        if body is not None:
            h.update(JSON)
        return self.d.request(method, path, body, headers=h, tcp=True)

    def new_key(self, perms):
        r = self.tcp("POST", "/keys", {"permissions": perms}, key=self.admin)
        self.assertEqual(r.status, 200, r)
        return r.json()["api_key"]

    def key_id(self, secret):
        return self.tcp("GET", "/keys/" + secret, key=self.admin).json()["id"]

    def channel_cmd(self, ws, ident, name, args=()):
        ws.send(json.dumps({"event": "CMD", "data": {"identity": ident, "name": name, "args": list(args)}}))
        return json.loads(ws.recv() or "null")

    def test_revoked_key_loses_its_sockjs_channel(self):
        key = self.new_key({"manage": ["*"]})
        ws = WebSocket(self.port, "/channel/websocket", {"X-Api-Key": key})
        try:
            ok = self.channel_cmd(ws, "c1", "jobs")
            self.assertEqual(ok["event"], "gaffer:command_success", ok)
            ws.send(json.dumps({"event": "SUB", "data": {"topic": "EVENTS"}}))
            self.assertEqual(json.loads(ws.recv())["event"], "gaffer:subscription_success")
            # The attack: the key is revoked, the channel stays open and keeps its rights.
            self.assertEqual(self.tcp("DELETE", "/keys/" + self.key_id(key), key=self.admin).status, 200)
            msg = ws.recv()
            self.assertIsNotNone(msg, "the channel must say why it ends")
            self.assertEqual(json.loads(msg)["data"]["error"], "AUTH_REQUIRED", msg)
            ws.send(json.dumps({"event": "CMD", "data": {"identity": "c2", "name": "stop_job",
                                                         "args": ["default.cat"]}}))
            self.assertIsNone(ws.recv(), "a revoked key's channel must be closed")
        finally:
            ws.close()
        self.assertEqual(self.d.get_json("/jobs/default/cat/state"), 1)  # still running

    def test_deleted_user_loses_its_channel_opened_with_auth(self):
        r = self.tcp("POST", "/users", {"username": "ops", "password": "opspw"}, key=self.admin)
        self.assertEqual(r.status, 200, r)
        r = self.tcp("PUT", "/users/ops/key", {"permissions": {"manage": ["*"]}}, key=self.admin)
        self.assertEqual(r.status, 200, r)
        basic = "Basic " + base64.b64encode(b"ops:opspw").decode()
        r = self.tcp("GET", "/auth", headers={"Authorization": basic})
        self.assertEqual(r.status, 200, r)
        minted = r.json()["api_key"]
        ws = WebSocket(self.port, "/channel/websocket")
        try:
            ws.send("AUTH:" + minted)
            self.assertEqual(self.channel_cmd(ws, "c1", "jobs")["event"], "gaffer:command_success")
            self.assertEqual(self.tcp("DELETE", "/users/ops", key=self.admin).status, 200)
            # The next command is refused and the channel ends.
            reply = self.channel_cmd(ws, "c2", "jobs")
            self.assertEqual(reply and reply["data"].get("error"), "AUTH_REQUIRED", reply)
            self.assertIsNone(ws.recv())
        finally:
            ws.close()

    def test_revoked_key_loses_its_v1_channel(self):
        key = self.new_key({"write": ["default"]})
        ws = WebSocket(self.port, f"/{self.pid}/channel", {"X-Api-Key": key})
        try:
            ws.send("V1 message a1\x00hello\n")
            got = [ws.recv(), ws.recv()]  # the echo and the ack, in either order
            self.assertTrue(any(m and m.startswith("V1 response a1") for m in got), got)
            self.assertEqual(self.tcp("DELETE", "/keys/" + self.key_id(key), key=self.admin).status, 200)
            # The attack: write again with the revoked key.
            ws.send("V1 message a2\x00again\n")
            seen = []
            while True:
                m = ws.recv()
                if m is None:
                    break
                seen.append(m)
            self.assertFalse(any(m.startswith("V1 response a2") for m in seen), seen)
            self.assertFalse(any("again" in m for m in seen), seen)
        finally:
            ws.close()

    def test_revoked_key_loses_its_wstreams_socket(self):
        key = self.new_key({"write": ["default"]})
        ws = WebSocket(self.port, f"/wstreams/{self.pid}", {"X-Api-Key": key})
        try:
            ws.send("before\n")
            self.assertEqual(ws.recv(), "before\n")  # cat's echo
            self.assertEqual(self.tcp("DELETE", "/keys/" + self.key_id(key), key=self.admin).status, 200)
            self.assertEqual(ws.recv(), '{"error":"forbidden"}')
            self.assertIsNone(ws.recv())
        finally:
            ws.close()

    def test_unknown_pid_is_403_on_the_live_routes_without_rights_on_everything(self):
        # The attack: a key for one session probes pids to learn which exist.
        key = self.new_key({"manage": ["other"]})
        unknown = 999999
        self.assertEqual(self.tcp("GET", f"/streams/{unknown}/stdout", key=key).status, 403)
        self.assertEqual(self.tcp("POST", f"/streams/{unknown}/stdin", "x", key=key).status, 403)
        self.assertEqual(self.tcp("GET", f"/streams/{self.pid}/stdout", key=key).status, 403)
        with self.assertRaisesRegex(AssertionError, "403"):
            WebSocket(self.port, f"/{unknown}/channel", {"X-Api-Key": key})
        ws = WebSocket(self.port, f"/wstreams/{unknown}", {"X-Api-Key": key})
        try:
            self.assertEqual(ws.recv(), '{"error":"forbidden"}')
        finally:
            ws.close()
        ws = WebSocket(self.port, "/channel/websocket", {"X-Api-Key": key})
        try:
            for ident, name in (("p1", "process_info"), ("p2", "kill")):
                got = self.channel_cmd(ws, ident, name, [unknown])
                self.assertEqual(got["event"], "gaffer:command_error", got)
                self.assertEqual(got["data"]["error"]["errno"], 403, got)
            ws.send(json.dumps({"event": "SUB", "data": {"topic": f"PROCESS:{unknown}"}}))
            got = json.loads(ws.recv())
            self.assertEqual(got["event"], "gaffer:subscription_error", got)
            self.assertIn("forbidden", json.dumps(got))
        finally:
            ws.close()
        # With rights on everything the answer stays 404.
        self.assertEqual(self.tcp("GET", f"/streams/{unknown}/stdout", key=self.admin).status, 404)
        with self.assertRaisesRegex(AssertionError, "404"):
            WebSocket(self.port, f"/{unknown}/channel", {"X-Api-Key": self.admin})

    def test_v1_channel_before_auth_tells_nothing_of_unknown_pids(self):
        # Without a key on the upgrade, an unknown pid is upgraded like a known one; the
        # answer comes after AUTH, rights first.
        for key, error in ((self.new_key({"manage": ["other"]}), "FORBIDDEN"), (self.admin, "not_found")):
            ws = WebSocket(self.port, "/999999/channel")
            try:
                ws.send(f"V1 message a1\x00AUTH:{key}")
                seen = []
                while (msg := ws.recv()) is not None:
                    seen.append(msg)
                self.assertTrue(any(f'"error":"{error}"' in m for m in seen), seen)
            finally:
                ws.close()

    def test_revoked_key_ends_its_watch_feed(self):
        key = self.new_key({"manage": ["*"]})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/watch?feed=eventsource&heartbeat=false", headers={"X-Api-Key": key})
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(self.tcp("DELETE", "/keys/" + self.key_id(key), key=self.admin).status, 200)
            # The body ends (a timeout here is the failure).
            r.read()
        finally:
            conn.close()

    def test_new_auth_ends_subscriptions_it_does_not_cover(self):
        wide = self.new_key({"manage": ["*"]})
        narrow = self.new_key({"read": ["default"]})
        ws = WebSocket(self.port, "/channel/websocket", {"X-Api-Key": wide})
        try:
            for topic in ("EVENTS", f"STATS:{self.pid}"):
                ws.send(json.dumps({"event": "SUB", "data": {"topic": topic}}))
            got = [json.loads(ws.recv()) for _ in range(2)]
            self.assertEqual({m["event"] for m in got}, {"gaffer:subscription_success"}, got)
            # The attack: keep the event feed after switching to a key that may not see it.
            ws.send("AUTH:" + narrow)
            ended = None
            for _ in range(50):
                m = json.loads(ws.recv())
                if m["event"] == "gaffer:subscription_error":
                    ended = m
                    break
            self.assertIsNotNone(ended)
            self.assertEqual((ended["topic"], ended["data"]["reason"]), ("EVENTS", "forbidden"))
            # STATS is read, which the new key covers: it goes on.
            for _ in range(50):
                m = json.loads(ws.recv())
                self.assertNotEqual(m["event"], "gaffer:subscription_error", m)
                if m["event"] == "gaffer:event" and m["data"]["topic"] == f"STATS:{self.pid}":
                    break
            else:
                self.fail("the STATS subscription ended")
        finally:
            ws.close()

    def test_auth_keys_stay_out_of_the_state_file_and_are_capped(self):
        self.assertEqual(self.tcp("POST", "/users", {"username": "app", "password": "apppw"},
                                  key=self.admin).status, 200)
        state = os.path.join(self.d.dir, "state", "auth.json")
        before = os.path.getsize(state)
        basic = "Basic " + base64.b64encode(b"app:apppw").decode()
        minted = []
        while len(minted) < 20:
            r = self.tcp("GET", "/auth", headers={"Authorization": basic})
            if r.status == 429:  # the global budget of password checks
                time.sleep(int(r.headers["Retry-After"]))
                continue
            self.assertEqual(r.status, 200, r)
            minted.append(r.json()["api_key"])
        self.assertEqual(os.path.getsize(state), before)
        with open(state) as f:
            text = f.read()
        for k in minted:
            self.assertNotIn(k[:8], text)
        live = [k for k in minted if self.tcp("GET", "/keys/" + k, key=k).status == 200]
        self.assertEqual(live, minted[-16:])

    def test_password_guessing_is_answered_429(self):
        self.assertEqual(self.tcp("POST", "/users", {"username": "victim", "password": "right"},
                                  key=self.admin).status, 200)
        statuses = []
        for i in range(10):
            basic = "Basic " + base64.b64encode(f"victim:guess{i}".encode()).decode()
            r = self.tcp("GET", "/auth", headers={"Authorization": basic})
            statuses.append(r.status)
            if r.status == 429:
                self.assertGreaterEqual(int(r.headers["Retry-After"]), 1)
        self.assertIn(429, statuses)
        self.assertNotIn(200, statuses)
        # The API itself stays available meanwhile.
        self.assertEqual(self.tcp("GET", "/ping").status, 200)


class ExpiryTest(unittest.TestCase):
    """A key that expires while its channel is open: Live prunes it when it expires
    (no polling) and the channel ends; the file loses it too."""

    def test_expired_key_ends_its_channel_and_leaves_the_file(self):
        port = free_port()
        d = gafferlib.Daemon("", tcp_port=port, extra_args=["--require-key"])
        try:
            secret = os.urandom(16).hex()
            digest = hashlib.sha256(secret.encode()).hexdigest()
            perms = {"admin": False, "create_key": False, "create_user": False, "manage": ["*"], "write": [],
                     "read": []}
            key = {"id": digest[:8], "hash": digest, "label": "short", "permissions": perms,
                   "expires_at": int(time.time()) + 3, "created_at": int(time.time())}
            state = os.path.join(d.dir, "state")
            os.makedirs(state, mode=0o700)
            with open(os.path.join(state, "auth.json"), "w") as f:
                json.dump({"version": 1, "keys": [key], "users": []}, f)
            os.chmod(os.path.join(state, "auth.json"), 0o600)
            d.start()
            ws = WebSocket(port, "/channel/websocket", {"X-Api-Key": secret})
            try:
                ws.send(json.dumps({"event": "SUB", "data": {"topic": "EVENTS"}}))
                self.assertEqual(json.loads(ws.recv())["event"], "gaffer:subscription_success")
                ws.sock.settimeout(15)
                msg = ws.recv()  # nothing happens on the channel: only the expiry can end it
                self.assertIsNotNone(msg)
                self.assertEqual(json.loads(msg)["data"]["error"], "AUTH_REQUIRED", msg)
                self.assertIsNone(ws.recv())
            finally:
                ws.close()
            with open(os.path.join(state, "auth.json")) as f:
                self.assertNotIn(digest, f.read())
        finally:
            d.cleanup()



class StateFileTest(unittest.TestCase):
    """auth.json as another process can leave it: locked (gafferd --create-admin-user
    writing) or corrupt. The daemon never waits for the lock on its loop, never takes a
    broken file for the client's fault, and never writes over it."""

    def setUp(self):
        self.d = gafferlib.Daemon("", extra_args=["--require-key"]).start()
        self.addCleanup(self.d.cleanup)
        self.state = os.path.join(self.d.dir, "state", "auth.json")

    def new_key(self):
        return self.d.request("POST", "/keys", {"permissions": {"read": ["*"]}}, headers=JSON)

    def test_a_locked_state_file_is_503_busy_and_the_loop_goes_on(self):
        with open(self.state + ".lock", "r+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            r = self.new_key()
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json()["error"], "busy")
            self.assertEqual(r.headers["Retry-After"], "1")
            self.assertEqual(self.d.request("GET", "/ping").status, 200)
            fcntl.flock(lock, fcntl.LOCK_UN)
        self.assertEqual(self.new_key().status, 200)

    def test_a_corrupt_state_file_is_500_and_is_left_alone(self):
        # Before: 400 bad_request, the store's EINVAL for the file read as bad input.
        self.assertEqual(self.new_key().status, 200)
        with open(self.state) as f:
            good = f.read()
        broken = '{"version": 1, "keys": [], "users": 7}'
        with open(self.state + ".new", "w") as f:
            f.write(broken)
        os.rename(self.state + ".new", self.state)
        r = self.new_key()
        self.assertEqual(r.status, 500, r)
        self.assertEqual(r.json()["error"], "internal_error")
        self.assertIn("users", r.json()["reason"])
        with open(self.state) as f:
            self.assertEqual(f.read(), broken)
        self.assertEqual(self.d.request("GET", "/ping").status, 200)
        # Repaired by the operator: changes go on.
        with open(self.state + ".new", "w") as f:
            f.write(good)
        os.rename(self.state + ".new", self.state)
        self.assertEqual(self.new_key().status, 200)

    def test_the_daemon_does_not_start_on_a_corrupt_state_file(self):
        self.d.stop()
        broken = '{"version": 1, "keys": [{"id": "00000000", "hash": "00"}], "users": []}'
        with open(self.state, "w") as f:
            f.write(broken)
        d = gafferlib.Daemon("", extra_args=["--require-key", "--state-dir", os.path.dirname(self.state)])
        self.addCleanup(d.cleanup)
        d.start(wait=False)
        self.assertNotEqual(d.proc.wait(timeout=15), 0)
        self.assertIn("keys[0].hash", d.output())
        self.assertIn("auth.json", d.output())
        with open(self.state) as f:
            self.assertEqual(f.read(), broken)

if __name__ == "__main__":
    unittest.main()
