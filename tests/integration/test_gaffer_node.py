#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The `gaffer` CLI's node commands (issue 14, reference §11.1/§11.2) against a real
gafferd: a real Procfile and .env in a temp dir, each output checked against the exact
text of §11.1, exit statuses 0/1, and the 401/403 sentences under --require-key.

Every process the node starts carries GAFFER_TEST_TAG (from the .env file or the job's
env), so the harness finds stragglers."""
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402

GAFFER = gafferlib.GAFFER


def require_gaffer():
    if not GAFFER or not os.access(GAFFER, os.X_OK):
        raise RuntimeError("GAFFER must name the built gaffer binary (run through `make test`)")


class Project:
    """A Procfile app in a temp dir whose .env tags every process."""

    def __init__(self, tag, name="shop"):
        self.tmp = tempfile.TemporaryDirectory(prefix="gaffer-node-")
        self.root = os.path.join(self.tmp.name, name)
        os.mkdir(self.root)
        with open(os.path.join(self.root, "Procfile"), "w") as f:
            f.write("web: sleep 3600\nworker: cat\n")
        with open(os.path.join(self.root, ".env"), "w") as f:
            f.write(f"GAFFER_REDIRECT_INPUT=worker\nGREETING=hi\nGAFFER_TEST_TAG={tag}\n")

    def path(self, *p):
        return os.path.join(self.tmp.name, *p)


class NodeTestBase(unittest.TestCase):
    endpoint = None
    env = None

    def gaffer(self, *args, stdin=None, endpoint=True, env=None):
        argv = [GAFFER] + (["-g", self.endpoint] if endpoint else []) + list(args)
        e = dict(os.environ)
        e.pop("GAFFER_API_KEY", None)
        e["GAFFER_CONFIG"] = self.project.path("settings", "gaffer.ini")
        if self.env:
            e.update(self.env)
        if env:
            e.update(env)
        return subprocess.run(argv, cwd=self.project.root, input=stdin if stdin is not None else None,
                              stdin=None if stdin is not None else subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=30, env=e)

    def ok(self, *args, **kw):
        r = self.gaffer(*args, **kw)
        self.assertEqual(r.returncode, 0, f"gaffer {' '.join(args)}: {r.stderr}")
        return r.stdout

    def failed(self, *args, **kw):
        r = self.gaffer(*args, **kw)
        self.assertEqual(r.returncode, 1, f"gaffer {' '.join(args)} should fail: {r.stdout}")
        return r.stderr


class NodeCommandsTest(NodeTestBase):
    @classmethod
    def setUpClass(cls):
        require_gaffer()
        cls.d = gafferlib.Daemon("").start()
        cls.project = Project(cls.d.tag)
        cls.endpoint = "unix:" + cls.d.sock

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.project.tmp.cleanup()

    def info(self, job):
        return self.d.get_json("/jobs/" + job.replace(".", "/"))

    def wait_running(self, job, n):
        gafferlib.wait_for(lambda: self.info(job)["running"] == n, what=f"{job} running {n}")

    def load(self, app, *extra):
        out = self.ok("load", "--app", app, *extra)
        self.assertEqual(out, f"==> '{app}' has been loaded in {self.endpoint}\n")

    # --- load ---

    def test_load_the_procfile_with_concurrency(self):
        self.load("a1", "-c", "web=2")
        web, worker = self.info("a1.web"), self.info("a1.worker")
        self.assertEqual(web["config"]["numprocesses"], 2)
        self.assertEqual(web["config"]["redirect_output"], ["out", "err"])
        self.assertFalse(web["config"].get("redirect_input", False))
        self.assertTrue(worker["config"]["redirect_input"])
        self.assertEqual(web["config"]["cwd"], self.project.root)
        self.assertEqual(web["config"]["env"]["GREETING"], "hi")
        self.wait_running("a1.web", 2)
        # Loading again: each job is already there.
        out = self.ok("load", "--app", "a1")
        self.assertEqual(out, f"'a1.web' already loaded\n'a1.worker' already loaded\n"
                              f"==> 'a1' has been loaded in {self.endpoint}\n")

    def test_load_nostart(self):
        self.load("a2", "--nostart")
        web = self.info("a2.web")
        self.assertFalse(web["active"])
        self.assertEqual(web["running"], 0)

    def test_load_a_json_file_and_stdin(self):
        tag = self.d.tag
        path = self.project.path("jobs.json")
        with open(path, "w") as f:
            json.dump({"name": "j1", "cmd": "sleep", "args": ["3600"], "env": {"GAFFER_TEST_TAG": tag}}, f)
        self.assertEqual(self.ok("load", "--app", "a3", path),
                         f"'a3.j1' has been loaded in {self.endpoint}\n'{path}' has been loaded\n")
        self.assertEqual(self.ok("load", "--app", "a3", path), f"'a3.j1' already loaded\n'{path}' has been loaded\n")
        body = json.dumps({"jobs": [{"name": "a3.j2", "cmd": "sleep", "args": ["3600"]}]})
        self.assertEqual(self.ok("load", "--nostart", "-", stdin=body),
                         f"'a3.j2' has been loaded in {self.endpoint}\n'-' has been loaded\n")
        self.assertFalse(self.info("a3.j2")["active"])
        self.assertEqual(self.failed("load", "-c", "web=2", path),
                         f"gaffer: load: -c and --port apply to the Procfile's entries, not to the jobs of '{path}'\n")
        # A job the node refuses: HTTP Error, status 1.
        err = self.failed("load", "--app", "a3", "-", stdin='{"name": "bad"}')
        self.assertTrue(err.startswith("HTTP Error: 400 bad_request"), err)

    def test_old_load_and_unload_of_a_group(self):
        self.assertEqual(self.ok("load", "g4"), f"'g4' has been loaded in {self.endpoint}\n")
        self.assertIn("g4", self.ok("apps").split())
        self.assertEqual(self.ok("unload", "--no-input", "g4"), "'g4' unloaded\n")
        gafferlib.wait_for(lambda: "g4" not in self.ok("apps").split(), what="g4 gone")

    # --- ps, ps:info ---

    def test_ps_and_ps_info(self):
        self.load("a5", "-c", "web=2,worker=0")
        self.wait_running("a5.web", 2)
        pids = self.info("a5.web")["processes"]
        out = self.ok("ps", "--app", "a5")
        lines = out.split("\n")
        self.assertEqual(lines[0], "=== web: `sleep 3600`")
        self.assertRegex(lines[1], r"^Total CPU: \d+\.\d\d Total MEM: \d+\.\d\d$")
        self.assertEqual(lines[2], "")
        got = sorted(int(re.match(r"^web\.(\d+): up for \S+$", l).group(1)) for l in lines[3:5])
        self.assertEqual(got, sorted(pids))
        self.assertNotIn("=== worker", out)  # inactive jobs are not shown
        self.assertEqual(self.ok("ps:info", "--app", "a5", "web"),
                         "active: True\nrunning: 2\nnum_processes: 2\npids: %s\n" % ",".join(map(str, pids)))
        self.assertEqual(self.ok("ps:info", "a5.worker"), "active: False\nrunning: 0\nnum_processes: 0\npids: \n")
        out = self.ok("ps:info", str(pids[0]))
        self.assertIn(f"pid: {pids[0]}\n", out)
        self.assertIn("name: a5.web\n", out)
        err = self.failed("ps:info", "--app", "a5", "nope")
        self.assertEqual(err, "gaffer: job 'nope' not found\n")

    # --- scale ---

    def test_scale(self):
        self.load("a6", "-c", "worker=0")
        out = self.ok("ps:scale", "--app", "a6", "web=3", "web+1", "web-2")
        self.assertEqual(out, "Scaling a6.web processes... done, now running 3\n"
                              "Scaling a6.web processes... done, now running 4\n"
                              "Scaling a6.web processes... done, now running 2\n")
        self.assertEqual(self.info("a6.web")["max_processes"], 2)
        r = self.gaffer("ps:scale", "--app", "a6", "nope=1")
        self.assertEqual((r.returncode, r.stderr), (1, "'a6.nope' not found\n"))
        self.assertEqual(self.ok("scale", "a6", "web=1"), "Scaling web processes... done, now running 1\n")
        self.assertEqual(self.failed("ps:scale", "--app", "a6", "web~2"),
                         "gaffer: invalid scale 'web~2' (expected <name>=N, <name>+N or <name>-N)\n")

    # --- start, stop, kill, restart, run ---

    def test_start_stop_kill_restart_and_run(self):
        self.load("a7", "-c", "worker=0")
        self.wait_running("a7.web", 1)
        self.assertEqual(self.ok("ps:stop", "--app", "a7", "web"), "'web' stopped\n")
        gafferlib.wait_for(lambda: not self.info("a7.web")["active"], what="web stopped")
        self.assertEqual(self.ok("ps:start", "--app", "a7", "web"), "'web' started\n")
        self.wait_running("a7.web", 1)
        pid = self.info("a7.web")["processes"][0]
        self.assertEqual(self.ok("ps:kill", str(pid), "KILL"), f"'KILL' sent to '{pid}'\n")
        gafferlib.wait_for(lambda: self.info("a7.web")["processes"] not in ([pid], []), what="replacement")
        pid = self.info("a7.web")["processes"][0]
        self.assertEqual(self.ok("restart", "--app", "a7", "web"), "'web' restarted\n")
        gafferlib.wait_for(lambda: self.info("a7.web")["processes"] not in ([pid], []), what="restart")
        out = self.ok("run", "--app", "a7", "web")
        m = re.fullmatch(r"'a7\.web': new process (\d+) launched\n", out)
        self.assertTrue(m, out)
        self.assertEqual(self.d.request("GET", "/" + m.group(1)).status, 200)
        self.assertRegex(self.ok("run", "a7.web"), r"^'a7\.web': new process \d+ launched\n$")
        # Options after the job (§11.1's order): an environment for this process only.
        out = self.ok("run", "web", "--app", "a7", "-p", "EXTRA=1", "--graceful-timeout=2")
        pid = re.fullmatch(r"'a7\.web': new process (\d+) launched\n", out).group(1)
        self.assertEqual(self.d.request("GET", "/" + pid).status, 200)
        once = int(m.group(1))
        self.assertEqual(self.ok("stop", str(once)), f"'{once}' stopped\n")
        self.assertEqual(self.ok("ps:stop", "--app", "a7", "--no-input"), "==> all jobs in 'a7' stopped\n")
        gafferlib.wait_for(lambda: not self.info("a7.web")["active"], what="all stopped")
        err = self.failed("ps:stop", "--app", "a7", "nope")
        self.assertEqual(err, "'nope' not found in 'a7'\n")

    def test_overmind_style_stop_and_restart_of_a_type_of_the_project(self):
        # No --app: the project's app, named after its directory.
        self.assertEqual(self.ok("load", "-c", "worker=0"), f"==> 'shop' has been loaded in {self.endpoint}\n")
        self.wait_running("shop.web", 1)
        pid = self.info("shop.web")["processes"][0]
        self.assertEqual(self.ok("restart", "web"), "'web' restarted\n")
        gafferlib.wait_for(lambda: self.info("shop.web")["processes"] not in ([pid], []), what="restart")
        self.assertEqual(self.ok("stop", "web"), "'web' stopped\n")
        gafferlib.wait_for(lambda: not self.info("shop.web")["active"], what="stopped")
        self.assertEqual(self.ok("unload", "--no-input"), "==> app 'shop' unloaded\n")

    # --- unload, reload, apps ---

    def test_unload_reload_apps(self):
        self.load("a8", "-c", "worker=0")
        self.wait_running("a8.web", 1)
        self.assertIn("a8", self.ok("apps").split("\n"))
        self.assertEqual(self.ok("reload", "--app", "a8", "--no-input", "web"), "job 'web' reloaded\n")
        # A closed stdin answers no: nothing is unloaded.
        r = self.gaffer("unload", "--app", "a8", "web")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "Do you want to unload 'web'? [y]|n: \n")
        self.assertEqual(self.d.request("HEAD", "/jobs/a8/web").status, 200)
        self.assertEqual(self.ok("unload", "--app", "a8", "web", stdin="y\n"),
                         "Do you want to unload 'web'? [y]|n: job 'web' unloaded\n")
        self.assertEqual(self.failed("unload", "--app", "a8", "--no-input", "web"), "'web' not found in 'a8'\n")
        self.assertEqual(self.ok("unload", "--app", "a8", "--no-input"), "==> app 'a8' unloaded\n")
        self.assertNotIn("a8", self.ok("apps").split("\n"))

    # --- send, recv, logs ---

    def follow(self, *args):
        """Starts a following command; a thread collects its lines."""
        e = dict(os.environ, GAFFER_CONFIG=self.project.path("settings", "gaffer.ini"))
        p = subprocess.Popen([GAFFER, "-g", self.endpoint] + list(args), cwd=self.project.root,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
                             env=e)

        def end():
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stdout.close()
        self.addCleanup(end)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in p.stdout], daemon=True).start()
        return p, lines

    def wait_line(self, lines, pattern, poke, timeout=10):
        """Calls poke() until a line matches (the stream may not be subscribed yet)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            poke()
            try:
                while True:
                    line = lines.get(timeout=0.3)
                    if re.search(pattern, line):
                        return line
            except queue.Empty:
                pass
        self.fail(f"no line matching {pattern!r}")

    def test_send_and_recv(self):
        self.load("a9", "-c", "web=0")
        self.wait_running("a9.worker", 1)
        pid = self.info("a9.worker")["processes"][0]
        p, lines = self.follow("recv", str(pid))
        self.wait_line(lines, r"^hello world$", lambda: self.ok("send", str(pid), "hello", "world"))
        self.assertEqual(self.ok("send", str(pid), "-", stdin="one\ntwo\n.\nthree\n"), "")
        self.assertEqual(lines.get(timeout=10), "one\n")
        self.assertEqual(lines.get(timeout=10), "two\n")
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=10), 0)
        err = self.failed("send", "999999", "x")
        self.assertIn("no process 999999", err)

    def test_logs_shows_a_spawn_after_a_scale(self):
        self.load("a10", "-c", "worker=0")
        p, lines = self.follow("logs", "--app", "a10")
        line = self.wait_line(lines, r"a10\.web \| spawn",
                              lambda: self.ok("ps:scale", "--app", "a10", "web+1"))
        self.assertRegex(line, r"^\d\d:\d\d:\d\d a10\.web \| spawn process with pid \d+\n$")
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=10), 0)

    def test_bad_input(self):
        self.assertEqual(self.failed("ps", "--app", "Bad!"), "gaffer: Invalid APP name 'Bad!' (^[a-z][a-z0-9_+-]*$)\n")
        self.assertEqual(self.failed("ps:kill", "web", "NOSIG"), "gaffer: unknown signal 'NOSIG'\n")
        self.assertEqual(self.failed("ps", "--app", "nothere"), "'nothere' not found\n")


class NodeAuthTest(NodeTestBase):
    """Under --require-key: login with a user made by `gafferd --create-admin-user`, the
    stored key, 401 and 403, users and keys."""

    @classmethod
    def setUpClass(cls):
        require_gaffer()
        cls.port = gafferlib.free_port()
        cls.d = gafferlib.Daemon("", tcp_port=cls.port, extra_args=["--require-key"])
        r = subprocess.run([gafferlib.GAFFERD, "--state-dir", os.path.join(cls.d.dir, "state"), "--create-admin-user",
                            "--username", "admin", "--password", "s3cret", cls.d.config],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        cls.d.start()
        cls.project = Project(cls.d.tag)
        cls.endpoint = f"http://127.0.0.1:{cls.port}"

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.project.tmp.cleanup()

    def test_login_keys_and_users(self):
        settings = self.project.path("settings", "gaffer.ini")
        self.assertEqual(self.failed("apps"), "Unauthorized access. You need an API key\n")
        self.assertEqual(self.failed("login", "-u", "admin", "-p", "wrong"),
                         "unauthorized: username or password is wrong\n")
        self.assertFalse(os.path.exists(settings))
        self.assertEqual(self.ok("login", "-u", "admin", "-p", "s3cret"), "User 'admin' authenticated.\n")
        self.assertEqual(os.stat(settings).st_mode & 0o777, 0o600)
        # The stored key is used from now on.
        self.ok("apps")
        self.load_ok = self.ok("load", "--app", "b1", "-c", "worker=0")
        self.assertEqual(self.load_ok, f"==> 'b1' has been loaded in {self.endpoint}\n")

        out = self.ok("key:create", "b1+r", "--label", "reader")
        key = re.fullmatch(r"Key '([0-9a-f]+)' created\.\n", out).group(1)
        self.assertEqual(self.ok("key", key), f"Key '{key}' found.\nLabel: reader\nPermisssions:\n  read: b1\n")
        err = self.failed("--api-key", key, "ps:scale", "--app", "b1", "web=2")
        self.assertTrue(err.startswith("Forbidden access. API key permissions aren't enough"), err)
        self.assertEqual(self.d.get_json("/jobs/b1/web", tcp=True, headers={"X-Api-Key": key})["max_processes"], 1)

        self.assertEqual(self.ok("user:add", "bob", "-p", "pw1", "--no-input"), "User 'bob' created\n")
        self.assertEqual(self.ok("user", "bob"), "User 'bob' found\nAPI Key: None\n")
        self.assertEqual(self.ok("user:setpassword", "bob", "-p", "pw2", "--no-input"),
                         "Password of 'bob' changed\n")
        self.assertEqual(self.ok("user:setkey", "bob", key, "--no-input"), "Key of 'bob' changed\n")
        self.assertRegex(self.ok("user", "bob"), r"^User 'bob' found\nAPI Key: [0-9a-f]+\n$")
        self.assertEqual(self.ok("user:del", "bob", "--no-input"), "User 'bob' deleted\n")
        self.assertEqual(self.failed("user", "bob"), "gaffer: user 'bob' not found\n")
        self.assertEqual(self.ok("key:delete", key, "--no-input"), f"Key '{key}' deleted.\n")
        self.assertEqual(self.failed("key", key), "gaffer: key not found\n")
        self.ok("unload", "--app", "b1", "--no-input")


if __name__ == "__main__":
    unittest.main()
