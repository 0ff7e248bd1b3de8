# SPDX-License-Identifier: MIT
"""Issue 11 §1, §2, §7, written as the attacks: what a web page (cross-site requests,
DNS rebinding) or a request smuggled past a proxy could make a default gafferd do over
its loopback TCP listener. Each test sends the exact request of the report and then
checks that nothing ran. lib/http/gate.h states the rules; tests/unit/http/gate_test.cc
covers them case by case.
"""
import base64
import os
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402


def raw(port, data, timeout=5):
    """Sends `data` as is on a fresh TCP connection; returns all that comes back until the
    server closes (or the timeout: then what came so far)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out


def statuses(answer):
    """The status codes of every HTTP response in a byte stream."""
    return [int(line.split()[1]) for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.")]


class Gate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = gafferlib.Daemon("[gaffer]\nallowed_hosts = gaffer.test\n", tcp_port=gafferlib.free_port()).start()
        cls.port = cls.d.tcp_port
        cls.host = f"127.0.0.1:{cls.port}"
        r = cls.d.request("POST", "/jobs/default", {"name": "sleeper", "cmd": "sleep", "args": ["1000"]})
        assert r.status == 200, r

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gate-")
        self.marker = os.path.join(self.tmp, "p")

    def tcp(self, method, path, body=None, headers=None):
        return self.d.request(method, path, body=body, headers=headers, tcp=True)

    def job_exists(self, name):
        return self.d.request("GET", f"/jobs/default/{name}").status == 200

    def evil_job(self, name):
        return ('{"name":"%s","cmd":"sh","args":["-c","id > %s"]}' % (name, self.marker)).encode()

    def assertNothingRan(self, name):
        time.sleep(0.2)
        self.assertFalse(self.job_exists(name), f"job {name} was loaded")
        self.assertFalse(os.path.exists(self.marker), "the command ran")

    # ---- §1 cross-site requests ----

    def test_text_plain_post_from_another_site(self):
        # The report's curl: Origin evil.example, Content-Type text/plain, a job that runs a command.
        r = self.tcp("POST", "/jobs/default", self.evil_job("x"),
                     {"Origin": "http://evil.example", "Content-Type": "text/plain"})
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["error"], "forbidden")
        self.assertNothingRan("x")

    def test_form_and_text_bodies_without_origin_need_json(self):
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b"):
            r = self.tcp("POST", "/jobs/default", self.evil_job("y"), {"Content-Type": ctype})
            self.assertEqual(r.status, 415, (ctype, r))
            self.assertEqual(r.json()["error"], "unsupported_media_type")
        self.assertNothingRan("y")
        # The same body as JSON, as gafferctl and curl -H sends it, is served.
        r = self.tcp("POST", "/jobs/default", {"name": "ok", "cmd": "sleep", "args": ["1000"], "start": False},
                     {"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.tcp("DELETE", "/jobs/default/ok").status, 200)

    def test_bodiless_changes_from_another_site(self):
        pids = self.d.get_json("/jobs/default/sleeper/pids")["pids"]
        attacks = [
            ("POST", "/processes/default.sleeper/_stop", {"Origin": "http://evil.example"}),
            ("POST", "/jobs/default/sleeper/numprocesses", {"Origin": "null"}),
            ("DELETE", "/jobs/default/sleeper", {"Origin": "http://evil.example"}),
            ("DELETE", f"/{pids[0]}", {"Sec-Fetch-Site": "cross-site"}),
            ("POST", "/jobs/default/sleeper/state", {"Sec-Fetch-Site": "same-site"}),
        ]
        for method, path, headers in attacks:
            r = self.tcp(method, path, None, headers)
            self.assertEqual(r.status, 403, (method, path, headers, r))
        time.sleep(0.2)
        self.assertEqual(self.d.get_json("/jobs/default/sleeper/pids")["pids"], pids)
        self.assertEqual(self.d.get_json("/jobs/default/sleeper/numprocesses")["numprocesses"], 1)

    def test_own_origin_may_act(self):
        for origin in (f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"):
            r = self.tcp("POST", "/jobs/default/sleeper/numprocesses", {"scale": "=1"}, {"Origin": origin})
            self.assertEqual(r.status, 200, (origin, r))

    def test_sockjs_form_post_from_another_site(self):
        sid = "/channel/000/gate" + str(self.port)
        r = self.tcp("POST", sid + "/xhr", None, {"Origin": f"http://127.0.0.1:{self.port}"})
        self.assertEqual(r.status, 200, r)
        cmd = '["{\\"event\\":\\"CMD\\",\\"data\\":{\\"identity\\":\\"k\\",\\"name\\":\\"unload\\",' \
              '\\"args\\":[\\"default.sleeper\\"]}}"]'
        r = self.tcp("POST", sid + "/xhr_send", cmd, {"Origin": "http://evil.example", "Content-Type": "text/plain"})
        self.assertEqual(r.status, 403, r)
        r = self.tcp("GET", sid + "/jsonp?c=cb", None, {"Sec-Fetch-Site": "cross-site"})
        self.assertEqual(r.status, 403, r)
        self.assertTrue(self.job_exists("sleeper"))

    # ---- §2 DNS rebinding ----

    def test_rebound_name_is_refused(self):
        # evil.example now resolves to 127.0.0.1: the page sends its own name in Host.
        evil = f"evil.example:{self.port}"
        r = self.tcp("GET", "/jobs", None, {"Host": evil})
        self.assertEqual(r.status, 421, r)
        self.assertNotIn(b"default.sleeper", r.body)
        r = self.tcp("POST", "/jobs/default", self.evil_job("z"),
                     {"Host": evil, "Origin": f"http://{evil}", "Content-Type": "application/json"})
        self.assertEqual(r.status, 421, r)
        self.assertNothingRan("z")

    def test_rebound_websocket_and_sockjs_are_refused(self):
        evil = f"evil.example:{self.port}"
        key = base64.b64encode(os.urandom(16)).decode()
        for path in ("/channel/websocket", "/channel/000/rebind/websocket"):
            req = (f"GET {path} HTTP/1.1\r\nHost: {evil}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{evil}\r\n\r\n")
            answer = raw(self.port, req.encode())
            self.assertEqual(statuses(answer)[:1], [421], (path, answer[:300]))
        r = self.tcp("POST", "/channel/000/rebind2/xhr", None, {"Host": evil, "Origin": f"http://{evil}"})
        self.assertEqual(r.status, 421, r)

    def test_endpoint_names_and_allowed_hosts_pass(self):
        # A listed name is accepted with any port, or none (a reverse proxy's site).
        for host in (self.host, f"localhost:{self.port}", f"gaffer.test:{self.port}", f"GAFFER.test:{self.port}",
                     "gaffer.test", "gaffer.test:443"):
            self.assertEqual(self.tcp("GET", "/ping", None, {"Host": host}).status, 200, host)
        for host in ("127.0.0.1", f"localhost:{self.port + 1}", f"127.0.0.2:{self.port}", "gaffer.test.evil.example",
                     f"x.gaffer.test:{self.port}"):
            self.assertEqual(self.tcp("GET", "/ping", None, {"Host": host}).status, 421, host)
        # A page served from an allowed name is the daemon's own origin.
        for origin in (f"http://gaffer.test:{self.port}", "https://gaffer.test"):
            r = self.tcp("POST", "/jobs/default/sleeper/numprocesses", {"scale": "=1"},
                         {"Host": "gaffer.test", "Origin": origin})
            self.assertEqual(r.status, 200, (origin, r))

    # ---- §7 HTTP parsing ----

    def test_content_length_with_transfer_encoding_smuggles_nothing(self):
        smuggled = f"DELETE /jobs/default/sleeper HTTP/1.1\r\nHost: {self.host}\r\n\r\n"
        body = "0\r\n\r\n" + smuggled
        req = (f"POST /jobs/default/sleeper/numprocesses HTTP/1.1\r\nHost: {self.host}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
               f"Transfer-Encoding: chunked\r\n\r\n{body}")
        answer = raw(self.port, req.encode())
        self.assertEqual(statuses(answer), [400], answer[:400])
        time.sleep(0.2)
        self.assertTrue(self.job_exists("sleeper"), "the smuggled DELETE ran")

    def test_two_content_lengths(self):
        body = '{"scale":"+1"}'
        req = (f"POST /jobs/default/sleeper/numprocesses HTTP/1.1\r\nHost: {self.host}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nContent-Length: 0\r\n\r\n{body}")
        answer = raw(self.port, req.encode())
        self.assertEqual(statuses(answer)[:1], [400], answer[:400])
        self.assertEqual(self.d.get_json("/jobs/default/sleeper/numprocesses")["numprocesses"], 1)

    def test_nul_and_cr_in_headers(self):
        # libmicrohttpd 0.9.75 ends a header value at a NUL byte before gafferd sees it (the
        # rest of that line is dropped, never used: gafferd(8) BUGS); a NUL in a name and a
        # CR anywhere are refused.
        for bad in (b"X-Api-Key: abc\rdef\r\n", b"X-T\x00est: a\r\n", b"X-Test: a\rX-Other: b\r\n",
                    b"Content-Length: 0\rX: 1\r\n"):
            req = b"GET /jobs HTTP/1.1\r\nHost: " + self.host.encode() + b"\r\n" + bad + b"\r\n"
            answer = raw(self.port, req)
            self.assertEqual(statuses(answer)[:1], [400], (bad, answer[:300]))

    def test_nul_in_path(self):
        pid = self.d.get_json("/jobs/default/sleeper/pids")["pids"][0]
        for path in (f"/{pid}%00", f"/{pid}%00/stats", f"/jobs/default/sleeper%00x"):
            for tcp in (True, False):
                r = self.d.request("GET", path, tcp=tcp)
                self.assertEqual(r.status, 400, (path, tcp, r))
        r = self.d.request("DELETE", f"/{pid}%00", tcp=True)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.d.get_json("/jobs/default/sleeper/pids")["pids"], [pid])


if __name__ == "__main__":
    unittest.main()
