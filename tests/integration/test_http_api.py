#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test of the gaffer HTTP API, route for route, against the real gafferd
binary named by $GAFFERD (reference §1.1 rows 1-25, 29-35, E1, the 0.4 routes of §4.3,
security-defaults.md).

Each daemon runs on a temporary config, a unix socket in a temp dir and a loopback TCP
port below 32768 (20000 + pid-derived offset, retried on collision). Requests go through
http.client over both transports; TLS uses a self-signed certificate made here with
`openssl req -x509`. Every job a test loads carries GAFFER_TEST_TAG in its environment,
so teardown can kill stragglers even if a daemon crashed.

Without $GAFFERD the module fails (it never skips).
"""
import base64
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402

GAFFERD = os.environ.get("GAFFERD")
TAG = str(uuid.uuid4())
ORIGIN = "https://ui.example"

_ports = itertools.count()


def setUpModule():
    if not GAFFERD:
        raise AssertionError("$GAFFERD is not set: it must name the gafferd binary under test")
    if not os.access(GAFFERD, os.X_OK):
        raise AssertionError(f"$GAFFERD={GAFFERD!r} is not an executable file")


def tearDownModule():
    kill_tagged()


def next_port():
    # Below the ephemeral range (32768-60999), different for concurrent runs.
    return 20000 + (os.getpid() * 13 + next(_ports) * 101) % 12000


def kill_tagged():
    needle = f"GAFFER_TEST_TAG={TAG}".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    os.kill(int(pid), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def job(name, n=1, **extra):
    cfg = {"name": name, "cmd": "sleep", "args": ["1000"], "numprocesses": n,
           "env": {"GAFFER_TEST_TAG": TAG}}
    cfg.update(extra)
    return cfg


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name)

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"<Resp {self.status} {self.body[:300]!r}>"


class Daemon:
    """One gafferd process on a temp dir; stop() kills it and everything it started."""

    INI = """
[process:sleeper]
cmd = sleep 1000
numprocesses = 1
env:GAFFER_TEST_TAG = {tag}
"""

    def __init__(self, tcp=True, require_key=False, cors=(ORIGIN,), tls=None, binds=None, ini=None):
        self.dir = tempfile.mkdtemp(prefix="gaffer-http-")
        self.sock = os.path.join(self.dir, "api.sock")
        self.state = os.path.join(self.dir, "state")
        self.tcp = tcp
        self.require_key = require_key
        self.cors = cors
        self.tls = tls  # (certfile, keyfile)
        self.extra_binds = binds
        self.ini = (ini if ini is not None else self.INI).format(tag=TAG)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.dir, "gafferd.log")
        self.seen = []  # every response, for the "no hash ever" check

    def argv(self):
        args = [GAFFERD, "--state-dir", self.state, "--bind", "unix:" + self.sock]
        if self.tcp:
            args += ["--bind", f"127.0.0.1:{self.port}"]
        for b in self.extra_binds or []:
            args += ["--bind", b.format(port=self.port)]
        if self.require_key:
            args.append("--require-key")
        for o in self.cors:
            args += ["--cors-origin", o]
        if self.tls:
            args += ["--certfile", self.tls[0], "--keyfile", self.tls[1]]
        args.append(os.path.join(self.dir, "gafferd.ini"))
        return args

    def spawn(self):
        with open(os.path.join(self.dir, "gafferd.ini"), "w") as f:
            f.write(self.ini)
        env = dict(os.environ)
        env["GAFFER_TEST_TAG"] = TAG
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)
        log.close()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def start(self):
        for _attempt in range(6):
            self.port = next_port()
            open(self.log_path, "wb").close()
            self.spawn()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if self.request("GET", "/ping", via="unix", record=False).status == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.02)
            if self.proc.poll() is None:
                self.stop()
                raise AssertionError("gafferd did not answer /ping in time:\n" + self.log())
            if "in use" not in self.log():
                raise AssertionError(f"gafferd exited with {self.proc.returncode}:\n" + self.log())
        raise AssertionError("no free port found:\n" + self.log())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def connection(self, via):
        if via == "unix":
            return UnixHTTPConnection(self.sock)
        if via == "tls":
            ctx = ssl.create_default_context(cafile=self.tls[0])
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=10, context=ctx)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def request(self, method, path, body=None, headers=None, via="tcp", key=None, record=True, conn=None):
        hdrs = dict(headers or {})
        if key:
            hdrs["X-Api-Key"] = key
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if body and not any(k.lower() == "content-type" for k in hdrs):
            hdrs["Content-Type"] = "application/json"  # as gafferctl; TCP refuses others (415)
        own = conn is None
        c = conn or self.connection(via)
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            resp = Resp(r.status, r.headers, data)
        finally:
            if own:
                c.close()
        if record:
            self.seen.append(resp)
        return resp


class Base(unittest.TestCase):
    daemon = None
    daemon_args = {}

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(**cls.daemon_args).start()

    @classmethod
    def tearDownClass(cls):
        if cls.daemon:
            cls.daemon.stop()

    def req(self, method, path, body=None, **kw):
        return self.daemon.request(method, path, body, **kw)

    def assertJson(self, r, status):
        self.assertEqual(r.status, status, r)
        ctype = r.header("Content-Type") or ""
        self.assertTrue(ctype.startswith("application/json"), (ctype, r))
        return r.json()

    def assertError(self, r, status, name=None):
        j = self.assertJson(r, status)
        self.assertIsInstance(j, dict)
        self.assertIsInstance(j.get("error"), str, r)
        self.assertEqual(j.get("errno"), status, r)
        if name is not None:
            self.assertEqual(j["error"], name, r)
        return j

    def assertOk(self, r, status=200):
        self.assertEqual(self.assertJson(r, status), {"ok": True})

    def pids_of(self, sid, name, **kw):
        return self.assertJson(self.req("GET", f"/jobs/{sid}/{name}/pids", **kw), 200)["pids"]

    def wait_for(self, pred, timeout=15, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.05)
        self.fail(f"timed out waiting for {what}")


# ---------------------------------------------------------------------------------------
# The API without keys: unix socket (owner) and loopback TCP, CORS for one origin.
# ---------------------------------------------------------------------------------------

class ApiTest(Base):
    def test_root_version_ping(self):
        for via in ("unix", "tcp"):
            j = self.assertJson(self.req("GET", "/", via=via), 200)
            self.assertEqual(j["welcome"], "gaffer")
            self.assertIsInstance(j["version"], str)
            self.assertTrue(j["version"])
            v = self.assertJson(self.req("GET", "/version", via=via), 200)
            self.assertEqual(v["name"], "gaffer")
            self.assertIn(v["loop"], ("io_uring", "epoll"))
            if os.environ.get("GAFFER_LOOP"):
                self.assertEqual(v["loop"], os.environ["GAFFER_LOOP"])
            self.assertIn(v["cgroup"], ("v2", "hybrid", "none"))
            p = self.req("GET", "/ping", via=via)
            self.assertEqual(p.status, 200)
            self.assertEqual(p.body, b"OK")
            self.assertTrue(p.header("Content-Type").startswith("text/plain"))

    def test_unknown_url_is_404_json(self):
        for path in ("/nope", "/jobs/a/b/c/d", "/abc/stats", "/streams/999/out", "/_plugin/x/y"):
            self.assertError(self.req("GET", path), 404, "not_found")

    def test_wrong_method_is_405_with_allow(self):
        r = self.req("PUT", "/sessions")
        self.assertError(r, 405)
        self.assertEqual(r.header("Allow"), "GET, OPTIONS")
        r = self.req("PATCH", "/jobs/default/sleeper")
        self.assertError(r, 405)
        self.assertEqual(r.header("Allow"), "HEAD, GET, PUT, DELETE, OPTIONS")
        for m, p in (("GET", "/jobs/default/sleeper/signal"), ("DELETE", "/ping"), ("POST", "/pids"),
                     ("GET", "/jobs/default/sleeper/commit"), ("PUT", "/1/stats")):
            self.assertError(self.req(m, p), 405)

    ROUTES = ("/", "/version", "/ping", "/sessions", "/jobs", "/jobs/default", "/jobs/default/sleeper",
              "/jobs/default/sleeper/stats", "/jobs/default/sleeper/numprocesses",
              "/jobs/default/sleeper/signal", "/jobs/default/sleeper/state", "/jobs/default/sleeper/pids",
              "/jobs/default/sleeper/commit", "/jobs/default/sleeper/processes", "/pids", "/1", "/1/signal",
              "/1/stats", "/processes", "/processes/sleeper", "/status/sleeper", "/stats", "/groups")

    def test_options_is_204_on_every_route(self):
        for path in self.ROUTES:
            r = self.req("OPTIONS", path, headers={"Origin": ORIGIN,
                                                   "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "X-Api-Key"})
            self.assertEqual(r.status, 204, path)
            self.assertEqual(r.body, b"", path)
            self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN, path)
            self.assertIn("X-Api-Key", r.header("Access-Control-Allow-Headers"), path)
            self.assertIn("OPTIONS", r.header("Allow"), path)

    def test_cors_only_for_listed_origins(self):
        for m, p in (("GET", "/"), ("GET", "/jobs"), ("GET", "/nope"), ("PUT", "/sessions"),
                     ("GET", "/jobs/default/nope"), ("GET", "/keys")):
            r = self.req(m, p, headers={"Origin": ORIGIN})
            self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN, (m, p))
            self.assertEqual(r.header("Access-Control-Allow-Credentials"), "true")
            self.assertEqual(r.header("Access-Control-Max-Age"), "86400")
            self.assertIn("X-Api-Key", r.header("Access-Control-Allow-Headers"))
            for meth in ("POST", "GET", "PUT", "DELETE", "OPTIONS"):
                self.assertIn(meth, r.header("Access-Control-Allow-Methods"))
        for origin in ("https://evil.example", "null"):
            r = self.req("GET", "/", headers={"Origin": origin})
            self.assertIsNone(r.header("Access-Control-Allow-Origin"), origin)
            self.assertIsNone(r.header("Access-Control-Allow-Credentials"), origin)
        self.assertIsNone(self.req("GET", "/").header("Access-Control-Allow-Origin"))

    def test_ini_job_is_listed(self):
        self.assertIn("default", self.assertJson(self.req("GET", "/sessions"), 200)["sessions"])
        self.assertIn("default.sleeper", self.assertJson(self.req("GET", "/jobs"), 200)["jobs"])
        j = self.assertJson(self.req("GET", "/jobs/default"), 200)
        self.assertEqual(j["sessionid"], "default")
        self.assertIn("default.sleeper", j["jobs"])
        self.assertError(self.req("GET", "/jobs/nosuchsession"), 404, "not_found")

    def test_load_info_head_unload(self):
        self.assertOk(self.req("POST", "/jobs/t_load", job("web", 2)))
        info = self.assertJson(self.req("GET", "/jobs/t_load/web", via="unix"), 200)
        self.assertEqual(info["name"], "t_load.web")
        self.assertIs(info["active"], True)
        self.assertEqual(info["running"], 2)
        self.assertEqual(info["running_out"], 0)
        self.assertEqual(info["max_processes"], 2)
        self.assertEqual(len(info["processes"]), 2)
        self.assertEqual(info["config"]["name"], "web")
        self.assertEqual(info["config"]["cmd"], "sleep")
        self.assertNotIn("start", info["config"])
        h = self.req("HEAD", "/jobs/t_load/web")
        self.assertEqual((h.status, h.body), (200, b""))
        h = self.req("HEAD", "/jobs/t_load/nope")
        self.assertEqual((h.status, h.body), (404, b""))
        self.assertError(self.req("POST", "/jobs/t_load", job("web")), 409, "process_conflict")
        self.assertOk(self.req("DELETE", "/jobs/t_load/web"))
        self.assertError(self.req("DELETE", "/jobs/t_load/web"), 404, "not_found")
        self.assertError(self.req("GET", "/jobs/t_load/web"), 404, "not_found")
        self.assertNotIn("t_load", self.assertJson(self.req("GET", "/sessions"), 200)["sessions"])

    def test_load_bad_bodies_are_400_and_store_nothing(self):
        for b in ("", "not json", "[1]", '{"cmd":"sleep 1"}', '{"name":"x"}', '{"name":"x","cmd":""}',
                  '{"name":"x","cmd":"sleep","numprocesses":-1}', '{"name":"x","cmd":"s","flapping":{"z":1}}'):
            self.assertError(self.req("POST", "/jobs/t_bad", b), 400, "bad_request")
        self.assertError(self.req("GET", "/jobs/t_bad"), 404)

    def test_update(self):
        self.assertOk(self.req("POST", "/jobs/t_upd", job("web")))
        r = self.req("PUT", "/jobs/t_upd/web", {"cmd": "sleep", "args": ["999"], "numprocesses": 2,
                                                "env": {"GAFFER_TEST_TAG": TAG}})
        self.assertOk(r, 201)
        info = self.assertJson(self.req("GET", "/jobs/t_upd/web"), 200)
        self.assertEqual(info["config"]["args"], ["999"])
        self.assertEqual(info["max_processes"], 2)
        j = self.assertError(self.req("PUT", "/jobs/t_upd/web", "{nope"), 400, "bad_request")
        self.assertTrue(j.get("reason"))
        j = self.assertError(self.req("PUT", "/jobs/t_upd/web", {"numprocesses": 1}), 400, "bad_request")
        self.assertEqual(j["reason"], "invalid process config")
        j = self.assertError(self.req("PUT", "/jobs/t_upd/web", {"name": "other", "cmd": "x"}), 400)
        self.assertEqual(j["reason"], "template name conflict with the path")
        self.assertError(self.req("PUT", "/jobs/t_upd/nope", {"cmd": "x"}), 404, "not_found")
        # start: true (the default) starts a stopped job (§14.13).
        self.assertOk(self.req("POST", "/jobs/t_upd/web/state", "0"), 202)
        self.assertEqual(self.req("GET", "/jobs/t_upd/web/state").body, b"0")
        self.assertOk(self.req("PUT", "/jobs/t_upd/web", job("web")), 201)
        self.assertEqual(self.req("GET", "/jobs/t_upd/web/state").body, b"1")

    def test_job_stats(self):
        self.assertOk(self.req("POST", "/jobs/t_stats", job("web", 2)))
        j = self.assertJson(self.req("GET", "/jobs/t_stats/web/stats"), 200)
        self.assertEqual(j["name"], "t_stats.web")
        self.assertEqual(len(j["stats"]), 2)
        for entry in j["stats"]:
            for k in ("mem_info1", "mem_info2", "cpu", "mem", "ctime", "pid", "os_pid"):
                self.assertIn(k, entry)
            self.assertRegex(entry["ctime"], r"^\d+:\d\d\.\d\d$")
            self.assertRegex(entry["mem_info1"], r"^\d+[BKMGTPEZY]$")
        for k in ("mem", "max_mem", "min_mem", "cpu", "max_cpu", "min_cpu"):
            self.assertIsInstance(j[k], (int, float), k)
        # No process: every aggregate is "N/A" (§14.6).
        self.assertOk(self.req("POST", "/jobs/t_stats", job("idle", 1, start=False)))
        j = self.assertJson(self.req("GET", "/jobs/t_stats/idle/stats"), 200)
        for k in ("mem", "max_mem", "min_mem", "cpu", "max_cpu", "min_cpu"):
            self.assertEqual(j[k], "N/A", k)
        self.assertError(self.req("GET", "/jobs/t_stats/nope/stats"), 404, "not_found")

    def test_numprocesses_and_scale(self):
        self.assertOk(self.req("POST", "/jobs/t_scale", job("web", 1, start=False)))
        self.assertEqual(self.assertJson(self.req("GET", "/jobs/t_scale/web/numprocesses"), 200),
                         {"numprocesses": 1})
        for v, n in ((2, 3), ("2", 5), ("+1", 6), ("-2", 4), (-1, 3), ("=7", 7), ("-100", 0)):
            r = self.req("POST", "/jobs/t_scale/web/numprocesses", {"scale": v})
            self.assertEqual(self.assertJson(r, 200), {"numprocesses": n}, v)
        for b in ("", "x", "{}", '{"scale":"x5"}', '{"scale":"+"}', '{"scale":1.5}', '{"scale":"+a"}',
                  '{"scale":null}'):
            self.assertError(self.req("POST", "/jobs/t_scale/web/numprocesses", b), 400, "bad_request")
        self.assertEqual(self.assertJson(self.req("GET", "/jobs/t_scale/web"), 200)["max_processes"], 0)
        self.assertError(self.req("GET", "/jobs/t_scale/nope/numprocesses"), 404)
        self.assertError(self.req("POST", "/jobs/t_scale/nope/numprocesses", {"scale": 1}), 404)

    def test_signal_job(self):
        self.assertOk(self.req("POST", "/jobs/t_sig", job("web", 2)))
        for s in ("CONT", "sigcont", 18, "18"):
            self.assertOk(self.req("POST", "/jobs/t_sig/web/signal", {"signal": s}), 202)
        for b in ("", "{}", '{"signal":"NOPE"}', '{"signal":0}', '{"signal":null}'):
            self.assertError(self.req("POST", "/jobs/t_sig/web/signal", b), 400, "bad_request")
        self.assertError(self.req("POST", "/jobs/t_sig/nope/signal", {"signal": "HUP"}), 404)

    def test_state(self):
        self.assertOk(self.req("POST", "/jobs/t_state", job("web")))
        r = self.req("GET", "/jobs/t_state/web/state")
        self.assertEqual((r.status, r.body), (200, b"1"))
        self.assertTrue(r.header("Content-Type").startswith("text/plain"))
        self.assertOk(self.req("POST", "/jobs/t_state/web/state", "0"), 202)
        self.assertEqual(self.req("GET", "/jobs/t_state/web/state").body, b"0")
        self.assertEqual(self.pids_of("t_state", "web"), [])
        self.assertOk(self.req("POST", "/jobs/t_state/web/state", "1\n"), 202)
        self.assertEqual(self.req("GET", "/jobs/t_state/web/state").body, b"1")
        self.assertOk(self.req("POST", "/jobs/t_state/web/state", "2"), 202)
        for b in ("", "10", "x", "3"):
            self.assertError(self.req("POST", "/jobs/t_state/web/state", b), 400, "bad_request")
        self.assertError(self.req("GET", "/jobs/t_state/nope/state"), 404)
        self.assertError(self.req("POST", "/jobs/t_state/nope/state", "1"), 404)

    def test_pids_processes_commit(self):
        self.assertOk(self.req("POST", "/jobs/t_commit", job("web", 2)))
        self.assertEqual(len(self.pids_of("t_commit", "web")), 2)
        r = self.assertJson(self.req("POST", "/jobs/t_commit/web/commit",
                                     {"graceful_timeout": 1.5, "env": {"X": "y"}}), 200)
        pid = r["pid"]
        self.assertIsInstance(pid, int)
        self.assertNotIn(pid, self.pids_of("t_commit", "web"))
        self.assertIn(pid, self.assertJson(self.req("GET", "/pids"), 200)["pids"])
        info = self.assertJson(self.req("GET", "/jobs/t_commit/web"), 200)
        self.assertEqual(info["running_out"], 1)
        self.assertIn(pid, info["processes"])
        p = self.assertJson(self.req("GET", f"/{pid}"), 200)
        self.assertIs(p["commited"], True)
        self.assertEqual(p["env"].get("X"), "y")
        ps = self.assertJson(self.req("GET", "/jobs/t_commit/web/processes"), 200)["processes"]
        self.assertEqual(len(ps), 3)
        for e in ps:
            self.assertEqual(set(e), {"pid", "os_pid", "name", "state", "create_time", "commited", "restarts",
                                      "slot"})
            self.assertIn(e["state"], ("running", "starting", "stopping"))
        # Two regular processes and the committed one: slots 1, 2 and 3.
        self.assertEqual(sorted(e["slot"] for e in ps), [1, 2, 3])
        for b in ("", "x", "[]", '{"graceful_timeout":-1}', '{"graceful_timeout":"1"}', '{"env":[]}',
                  '{"env":{"A":1}}'):
            self.assertError(self.req("POST", "/jobs/t_commit/web/commit", b), 400, "bad_request")
        self.assertError(self.req("POST", "/jobs/t_commit/nope/commit", "{}"), 404)
        self.assertError(self.req("GET", "/jobs/t_commit/nope/pids"), 404)
        self.assertError(self.req("GET", "/jobs/t_commit/nope/processes"), 404)
        full = self.assertJson(self.req("GET", "/processes?full=1"), 200)["processes"]
        self.assertTrue({e["pid"] for e in ps} <= {e["pid"] for e in full})

    def test_process_routes(self):
        self.assertOk(self.req("POST", "/jobs/t_pid", job("web")))
        pid = self.pids_of("t_pid", "web")[0]
        p = self.assertJson(self.req("GET", f"/{pid}"), 200)
        for k in ("pid", "name", "cmd", "args", "env", "uid", "gid", "os_pid", "create_time", "commited",
                  "redirect_output", "redirect_input", "custom_streams", "active", "slot"):
            self.assertIn(k, p)
        self.assertEqual(p["slot"], 1)
        self.assertEqual(p["pid"], pid)
        self.assertEqual(p["name"], "t_pid.web")
        self.assertEqual((p["cmd"], p["args"]), ("sleep", ["1000"]))
        self.assertEqual(self.req("HEAD", f"/{pid}").status, 200)
        self.assertEqual(self.req("HEAD", "/999999").status, 404)
        self.assertError(self.req("GET", "/999999"), 404, "not_found")
        self.assertError(self.req("GET", "/1/2"), 400, "bad_value")
        s = self.assertJson(self.req("GET", f"/{pid}/stats"), 200)["stats"]
        for k in ("mem_info1", "mem_info2", "cpu", "mem", "ctime"):
            self.assertIn(k, s)
        self.assertError(self.req("GET", "/999999/stats"), 404)
        for s in ("CONT", "sigcont", 18):
            self.assertOk(self.req("POST", f"/{pid}/signal", {"signal": s}), 202)
        for b in ("", "x", "[]"):
            self.assertError(self.req("POST", f"/{pid}/signal", b), 400, "bad_request")
        for b in ("{}", '{"signal":"NOPE"}', '{"signal":null}'):
            self.assertError(self.req("POST", f"/{pid}/signal", b), 400, "bad_signal")
        self.assertError(self.req("POST", "/999999/signal", {"signal": "HUP"}), 404)
        self.assertOk(self.req("DELETE", f"/{pid}"), 202)
        new = self.wait_for(lambda: [x for x in self.pids_of("t_pid", "web") if x != pid], what="replacement")
        self.assertEqual(len(new), 1)
        self.assertError(self.req("DELETE", "/999999"), 404)

    def test_key_api_disabled_is_404(self):
        for m, p in (("GET", "/auth"), ("HEAD", "/auth"), ("GET", "/keys"), ("POST", "/keys"),
                     ("GET", "/keys/x"), ("DELETE", "/keys/x"), ("GET", "/users"), ("POST", "/users"),
                     ("GET", "/users/bob"), ("PUT", "/users/bob"), ("DELETE", "/users/bob"),
                     ("PUT", "/users/bob/password"), ("PUT", "/users/bob/key")):
            r = self.req(m, p, "{}")
            self.assertEqual(r.status, 404, (m, p))

    def test_body_over_one_mib_is_413(self):
        # The answer comes before the body is read (and the connection is then closed), so
        # send the head only and read the answer, as a client using Expect would.
        with socket.create_connection(("127.0.0.1", self.daemon.port), timeout=10) as s:
            s.sendall(b"POST /jobs/t_big HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % (self.daemon.port, (1 << 20) + 10))
            resp = http.client.HTTPResponse(s)
            resp.begin()
            r = Resp(resp.status, resp.headers, resp.read())
        self.assertError(r, 413)
        # A body just under the cap is read and judged on its content.
        self.assertError(self.req("POST", "/jobs/t_big", b" " * ((1 << 20) - 10)), 400, "bad_request")
        self.assertError(self.req("GET", "/jobs/t_big"), 404)

    def test_keep_alive(self):
        conn = self.daemon.connection("tcp")
        try:
            for _ in range(3):
                r = self.daemon.request("GET", "/version", conn=conn)
                self.assertEqual(r.status, 200)
                self.assertNotEqual((r.header("Connection") or "").lower(), "close")
            first = conn.sock
            self.daemon.request("GET", "/ping", conn=conn)
            self.assertIs(conn.sock, first)
        finally:
            conn.close()

    def test_unix_socket_mode(self):
        st = os.stat(self.daemon.sock)
        self.assertEqual(st.st_mode & 0o777, 0o660)

    def test_compat_routes(self):
        r = self.req("POST", "/processes", job("g04:web", 1))
        self.assertOk(r)
        self.assertOk(self.req("POST", "/processes", job("plain04", 1, start=False)))
        names = self.assertJson(self.req("GET", "/processes"), 200)
        self.assertIn("g04:web", names)
        self.assertIn("plain04", names)
        self.assertIsInstance(self.assertJson(self.req("GET", "/processes?running=true"), 200), list)
        self.assertError(self.req("POST", "/processes", job("plain04")), 409, "conflict")
        self.assertError(self.req("POST", "/processes", "nope"), 400, "invalid_json")
        self.assertError(self.req("POST", "/processes", {"name": "x"}), 400, "invalid_process_info")
        t = self.assertJson(self.req("GET", "/processes/g04:web"), 200)
        self.assertEqual((t["name"], t["cmd"]), ("g04:web", "sleep"))
        pid = self.assertJson(self.req("GET", "/processes/g04:web/_pids"), 200)["pids"][0]
        self.assertEqual(self.assertJson(self.req("GET", f"/processes/{pid}"), 200), t)
        self.assertEqual(self.req("HEAD", "/processes/g04:web").status, 200)
        self.assertEqual(self.req("HEAD", "/processes/nope04").status, 404)
        self.assertError(self.req("GET", "/processes/nope04"), 404, "not_found")
        self.assertEqual(self.assertJson(self.req("GET", "/status/plain04"), 200),
                         {"active": False, "running": 0, "max_processes": 1})
        self.assertOk(self.req("POST", "/processes/plain04/_start"))
        self.assertEqual(self.assertJson(self.req("POST", "/processes/plain04/_add/2"), 200),
                         {"ok": True, "numprocesses": 3})
        self.assertEqual(self.assertJson(self.req("POST", "/processes/plain04/_sub"), 200),
                         {"ok": True, "numprocesses": 2})
        self.assertOk(self.req("POST", "/processes/plain04/_signal/CONT"))
        self.assertOk(self.req("POST", "/processes/plain04/_restart"))
        self.assertError(self.req("POST", "/processes/plain04/_bogus"), 404, "resource_not_found")
        self.assertError(self.req("POST", "/processes/plain04/_signal/NOPE"), 400, "bad_signal")
        self.assertOk(self.req("POST", f"/processes/{pid}/_signal/18"))
        self.assertOk(self.req("PUT", "/processes/plain04", job("ignored", 1)))
        stats = self.assertJson(self.req("GET", "/stats/g04:web"), 200)
        self.assertEqual(stats["name"], "g04:web")
        entry = stats["stats"][0]
        for k in ("id", "pid", "username", "nice", "cmdline", "children"):
            self.assertIn(k, entry)
        one = self.assertJson(self.req("GET", f"/stats/g04:web/{entry['id']}"), 200)
        self.assertEqual(one["id"], entry["id"])
        self.assertIsInstance(self.assertJson(self.req("GET", "/stats"), 200), list)
        self.assertIn("g04", self.assertJson(self.req("GET", "/groups"), 200))
        self.assertEqual(self.assertJson(self.req("GET", "/groups/g04"), 200), ["g04:web"])
        self.assertOk(self.req("POST", "/groups/g04/_stop"))
        self.assertOk(self.req("POST", "/groups/g04/_start"))
        self.assertError(self.req("POST", "/groups/g04/_bogus"), 404, "resource_not_found")
        self.assertOk(self.req("DELETE", "/groups/g04"))
        self.assertError(self.req("GET", "/groups/g04"), 404)
        self.assertOk(self.req("POST", "/processes/plain04/_stop"))
        self.assertOk(self.req("DELETE", "/processes/plain04"))
        self.assertError(self.req("DELETE", "/processes/plain04"), 404)


# ---------------------------------------------------------------------------------------
# Keys required on TCP; the unix socket owner bootstraps them.
# ---------------------------------------------------------------------------------------

class KeysTest(Base):
    daemon_args = {"require_key": True}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.daemon.request("POST", "/keys", {"permissions": {"admin": True}, "label": "admin"}, via="unix")
        assert r.status == 200, r
        cls.admin = r.json()["api_key"]
        cls.secrets = {cls.admin}

    def new_key(self, perms, label="k", key=None):
        r = self.req("POST", "/keys", {"permissions": perms, "label": label}, key=key or self.admin)
        j = self.assertJson(r, 200)
        self.secrets.add(j["api_key"])
        return j["api_key"]

    def test_tcp_needs_a_key(self):
        r = self.req("GET", "/jobs", headers={"Origin": ORIGIN})
        self.assertError(r, 401, "unauthorized")
        self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN)
        self.assertError(self.req("GET", "/jobs", key="0" * 32), 403, "forbidden")
        self.assertJson(self.req("GET", "/jobs", key=self.admin), 200)
        for p in ("/", "/version", "/ping"):
            self.assertEqual(self.req("GET", p).status, 200, p)

    def test_preflight_needs_no_key(self):
        for p in ("/jobs", "/jobs/default/sleeper/state", "/keys", "/users/x", "/auth", "/1/signal"):
            r = self.req("OPTIONS", p, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                 "Access-Control-Request-Headers": "x-api-key"})
            self.assertEqual(r.status, 204, p)
            self.assertEqual(r.header("Access-Control-Allow-Origin"), ORIGIN, p)
            self.assertIn("X-Api-Key", r.header("Access-Control-Allow-Headers"), p)

    def test_unix_owner_has_full_rights(self):
        self.assertOk(self.req("POST", "/jobs/k_unix", job("web"), via="unix"))
        self.assertJson(self.req("GET", "/sessions", via="unix"), 200)

    def test_permissions_before_acting(self):
        self.assertOk(self.req("POST", "/jobs/k_perm", job("web"), key=self.admin))
        reader = self.new_key({"read": ["k_perm.web"]})
        manager = self.new_key({"manage": ["k_perm"]})
        self.assertJson(self.req("GET", "/jobs/k_perm/web", key=reader), 200)
        self.assertJson(self.req("GET", "/jobs/k_perm/web/stats", key=reader), 200)
        self.assertError(self.req("POST", "/jobs/k_perm/web/state", "0", key=reader), 403, "forbidden")
        self.assertEqual(self.req("GET", "/jobs/k_perm/web/state", key=reader).body, b"1")
        self.assertError(self.req("GET", "/sessions", key=manager), 403)
        self.assertError(self.req("GET", "/jobs/default/sleeper", key=manager), 403)
        self.assertOk(self.req("POST", "/jobs/k_perm/web/state", "0", key=manager), 202)
        pid = self.assertJson(self.req("POST", "/jobs/k_perm/web/commit", "{}", key=manager), 200)["pid"]
        self.assertError(self.req("GET", f"/{pid}", key=self.new_key({"read": ["other"]})), 403)
        self.assertJson(self.req("GET", f"/{pid}", key=reader), 200)

    def test_privileged_job_options_need_full_rights(self):
        manager = self.new_key({"manage": ["*"]})
        for extra in ({"shell": True}, {"uid": 4242 if os.geteuid() != 4242 else 4343},
                      {"capabilities": ["CAP_NET_BIND_SERVICE"]}):
            r = self.req("POST", "/jobs/k_priv", job("a", **extra), key=manager)
            self.assertError(r, 403, "forbidden")
        self.assertError(self.req("GET", "/jobs/k_priv", key=self.admin), 404)
        self.assertOk(self.req("POST", "/jobs/k_priv", {"name": "sh", "cmd": "sleep 1000", "shell": True,
                                                        "env": {"GAFFER_TEST_TAG": TAG}}, key=self.admin))

    def test_keys_routes(self):
        r = self.req("POST", "/keys", {"permissions": {"read": ["*"]}, "label": "ro", "key": "ignored"},
                     key=self.admin)
        j = self.assertJson(r, 200)
        secret = j["api_key"]
        self.secrets.add(secret)
        self.assertIs(j["ok"], True)
        self.assertNotEqual(secret, "ignored")
        self.assertEqual(r.header("X-Api-Key"), secret)
        self.assertTrue(r.header("Location").endswith("/keys/" + secret), r.header("Location"))
        ids = self.assertJson(self.req("GET", "/keys", key=self.admin), 200)["keys"]
        self.assertTrue(all(isinstance(i, str) for i in ids))
        objs = self.assertJson(self.req("GET", "/keys?include_keys=true", key=self.admin), 200)["keys"]
        self.assertTrue(all("permissions" in o and "id" in o for o in objs))
        me = self.assertJson(self.req("GET", "/keys/" + secret, key=secret), 200)
        self.assertEqual(me["label"], "ro")
        self.assertEqual(self.req("HEAD", "/keys/" + secret, key=self.admin).status, 200)
        self.assertEqual(self.req("HEAD", "/keys/" + "0" * 32, key=self.admin).status, 404)
        self.assertError(self.req("POST", "/keys", {"permissions": {"admin": True}}, key=secret), 403)
        self.assertError(self.req("POST", "/keys", "nope", key=self.admin), 400)
        self.assertOk(self.req("DELETE", "/keys/" + secret, key=self.admin))
        self.assertError(self.req("DELETE", "/keys/" + secret, key=self.admin), 404)
        self.assertError(self.req("GET", "/jobs/x/y", key=secret), 403)

    def test_users_routes(self):
        self.assertOk(self.req("POST", "/users", {"username": "bob", "password": "s3cret", "color": "blue"},
                               key=self.admin))
        self.assertError(self.req("POST", "/users", {"username": "bob", "password": "x"}, key=self.admin), 409)
        for b in ("", {"username": "x"}, {"password": "x"}):
            self.assertError(self.req("POST", "/users", b, key=self.admin), 400)
        self.assertIn("bob", self.assertJson(self.req("GET", "/users", key=self.admin), 200)["users"])
        full = self.req("GET", "/users?include_user=true", key=self.admin)
        one = self.req("GET", "/users/bob", key=self.admin)
        for r in (full, one):
            self.assertJson(r, 200)
            self.assertNotIn(b"s3cret", r.body)
            self.assertNotIn(b"password", r.body)
        u = one.json()
        self.assertEqual((u["username"], u["user_type"], u["color"]), ("bob", 1, "blue"))
        self.assertEqual(self.req("HEAD", "/users/bob", key=self.admin).status, 200)
        self.assertEqual(self.req("HEAD", "/users/nobody", key=self.admin).status, 404)
        ro = self.new_key({"read": ["*"]})
        self.assertEqual(self.req("HEAD", "/users/bob", key=ro).status, 404)
        self.assertEqual(self.req("HEAD", "/users/bob").status, 404)
        self.assertOk(self.req("PUT", "/users/bob/password", {"password": "n3w"}, key=self.admin))
        self.assertError(self.req("PUT", "/users/nobody/password", {"password": "x"}, key=self.admin), 404)
        self.assertError(self.req("PUT", "/users/bob/password", "{}", key=self.admin), 400)
        self.assertOk(self.req("PUT", "/users/bob/key", {"key": ro}, key=self.admin))
        self.assertError(self.req("PUT", "/users/nobody/key", {"key": ro}, key=self.admin), 404)
        self.assertJson(self.req("GET", "/users/bob", key=ro), 200)
        self.assertOk(self.req("PUT", "/users/bob", {"password": "again", "user_type": 1}, key=self.admin))
        self.assertOk(self.req("DELETE", "/users/bob", key=self.admin))
        self.assertError(self.req("DELETE", "/users/bob", key=self.admin), 404)

    def test_basic_auth(self):
        self.assertOk(self.req("POST", "/users", {"username": "carol", "password": "a:b:c"}, key=self.admin))
        ro = self.new_key({"read": ["*"]})
        self.assertOk(self.req("PUT", "/users/carol/key", {"key": ro}, key=self.admin))
        cred = "Basic " + base64.b64encode(b"carol:a:b:c").decode()
        r = self.req("GET", "/auth", headers={"Authorization": cred})
        j = self.assertJson(r, 200)
        minted = j["api_key"]
        self.secrets.add(minted)
        self.assertEqual(r.header("X-Api-Key"), minted)
        self.assertJson(self.req("GET", "/jobs/default/sleeper", key=minted), 200)
        # Only the user's rights: it reads (the listings too), it may not act.
        self.assertError(self.req("DELETE", "/jobs/default/sleeper", key=minted), 403)
        self.assertEqual(self.req("HEAD", "/auth", headers={"Authorization": cred}).status, 200)
        bad = "Basic " + base64.b64encode(b"carol:nope").decode()
        self.assertError(self.req("GET", "/auth", headers={"Authorization": bad}), 401)
        r = self.req("GET", "/auth")
        self.assertError(r, 401)
        self.assertIn("Basic", r.header("WWW-Authenticate"))

    def test_zz_no_route_ever_returns_a_hash(self):
        with open(os.path.join(self.daemon.state, "auth.json"), "rb") as f:
            state = f.read().decode("utf-8", "replace")
        # Every long hex or base64-ish run and every PBKDF2 string in the state file.
        hashes = set(re.findall(r"[0-9a-fA-F]{40,}", state)) | set(re.findall(r"PBKDF2[^\"]*", state))
        self.assertTrue(hashes, "the state file holds no hash to look for")
        for h in hashes:
            self.assertNotIn(h, self.secrets)
        for resp in self.daemon.seen:
            text = resp.body.decode("utf-8", "replace") + "".join(f"{k}:{v}" for k, v in resp.headers.items())
            for h in hashes:
                self.assertNotIn(h, text, resp)


# ---------------------------------------------------------------------------------------
# Endpoints: TLS, non-loopback refusal, socket cleanup.
# ---------------------------------------------------------------------------------------

class TlsTest(unittest.TestCase):
    def test_tls_endpoint(self):
        d = tempfile.mkdtemp(prefix="gaffer-tls-")
        try:
            cert, key = gafferlib.self_signed_cert(d)
            daemon = Daemon(tls=(cert, key)).start()
            try:
                v = daemon.request("GET", "/version", via="tls")
                self.assertEqual(v.status, 200)
                self.assertEqual(v.json()["name"], "gaffer")
                r = daemon.request("POST", "/jobs/tls", json.dumps(job("web")), via="tls")
                self.assertEqual(r.status, 200, r)
                # The unix socket stays plain HTTP.
                self.assertEqual(daemon.request("GET", "/ping", via="unix").status, 200)
                # Plain HTTP on the TLS port gets no HTTP answer.
                with self.assertRaises((http.client.HTTPException, OSError)):
                    daemon.request("GET", "/ping", via="tcp")
            finally:
                daemon.stop()
        finally:
            shutil.rmtree(d, ignore_errors=True)


class EndpointTest(unittest.TestCase):
    def test_non_loopback_needs_require_key(self):
        d = Daemon(tcp=False, binds=["0.0.0.0:0"])
        d.spawn()
        try:
            rc = d.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            d.stop()
            self.fail("gafferd started on 0.0.0.0 without --require-key")
        self.assertNotEqual(rc, 0)
        self.assertIn("require_key", d.log())
        self.assertFalse(os.path.exists(d.sock))
        shutil.rmtree(d.dir, ignore_errors=True)

    def test_non_loopback_with_require_key(self):
        d = Daemon(tcp=False, binds=["0.0.0.0:{port}"], require_key=True).start()
        try:
            r = d.request("GET", "/jobs", via="tcp")
            self.assertEqual(r.status, 401)
            self.assertEqual(d.request("GET", "/ping", via="tcp").status, 200)
        finally:
            d.stop()

    def test_ipv6_loopback(self):
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
                probe.bind(("::1", 0))
        except OSError as e:
            self.skipTest(f"no IPv6 loopback here: {e}")
        d = Daemon(tcp=False, binds=["[::1]:{port}"]).start()
        try:
            c = http.client.HTTPConnection("::1", d.port, timeout=10)
            try:
                c.request("GET", "/version")
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                self.assertEqual(json.loads(r.read())["name"], "gaffer")
                # Loopback: full rights without a key.
                c.request("GET", "/sessions")
                r = c.getresponse()
                r.read()
                self.assertEqual(r.status, 200)
            finally:
                c.close()
        finally:
            d.stop()

    def test_socket_removed_at_exit(self):
        d = Daemon().start()
        path = d.sock
        self.assertTrue(os.path.exists(path))
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(timeout=30)
        self.assertFalse(os.path.exists(path))
        d.stop()


if __name__ == "__main__":
    unittest.main()
