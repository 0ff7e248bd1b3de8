# SPDX-License-Identifier: MIT
"""Issue 11 §3 (jobs created through the API) and "also noticed", against the real gafferd
running as root: a caller without full rights gets nothing it could not do itself.

Each test is the attack, as the exact request, by a key that may manage one session (and,
for the allowed cases, lists uid 65534). Root is required (the rule only bites when the
daemon can run jobs as other users); CI runs as root, elsewhere the suite is skipped.
"""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402

NOBODY = 65534


def setUpModule():
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root: the rule concerns a gafferd that can run jobs as any user")
    gafferlib.require_binaries()


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def proc_uid(os_pid):
    return gafferlib.proc_status_int(os_pid, "Uid")


class JobRuleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.logs = tempfile.TemporaryDirectory(prefix="gafferd-logroot-")
        cls.log_root = cls.logs.name
        os.chmod(cls.log_root, 0o755)
        cls.d = gafferlib.Daemon(f"[gaffer]\nrequire_key = true\nlog_root = {cls.log_root}/\n",
                                 tcp_port=gafferlib.free_port())
        try:
            cls.d.start()
            cls.admin = cls.make_key({"admin": True}, via_unix=True)
            cls.session = cls.make_key({"manage": ["app"]})
            cls.nobody = cls.make_key({"manage": ["app"], "uids": [NOBODY]})
        except Exception:
            cls.d.cleanup()
            cls.logs.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.logs.cleanup()

    @classmethod
    def make_key(cls, perms, via_unix=False):
        if via_unix:  # the socket's owner (root) has full rights
            r = cls.d.request("POST", "/keys", {"permissions": perms}, headers={"Content-Type": "application/json"})
        else:
            r = cls.req("POST", "/keys", {"permissions": perms}, cls.admin)
        assert r.status == 200, r
        return r.json()["api_key"]

    @classmethod
    def req(cls, method, path, body=None, key=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if key:
            headers["X-Api-Key"] = key
        return cls.d.request(method, path, body, headers=headers, tcp=True)

    def job(self, name, **extra):
        # The tag lets teardown find the processes (os_env is off for API jobs).
        cfg = {"name": name, "cmd": "sleep", "args": ["1000"], "env": {"GAFFER_TEST_TAG": self.d.tag}}
        cfg.update(extra)
        return cfg

    def assertRefused(self, r, job=None, because=""):
        """403 for the reason `because` names (a part of the answer's reason), nothing stored."""
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["error"], "forbidden", r)
        self.assertIn(because, r.json().get("reason", ""), r)
        if job:
            self.assertEqual(self.req("HEAD", f"/jobs/app/{job}", key=self.admin).status, 404, job)

    # ---- uid ----

    def test_job_without_uid_is_refused(self):
        # Would run `id > /tmp/p`-style commands as root.
        self.assertRefused(self.req("POST", "/jobs/app", self.job("nouid"), self.session), "nouid")
        self.assertRefused(self.req("POST", "/jobs/app", self.job("nouid"), self.nobody), "nouid")

    def test_uid_zero_is_refused(self):
        self.assertRefused(self.req("POST", "/jobs/app", self.job("root", uid=0), self.nobody), "root")
        self.assertRefused(self.req("POST", "/jobs/app", self.job("root", uid="root"), self.nobody), "root")

    def test_uid_the_key_lists_is_allowed_and_used(self):
        r = self.req("POST", "/jobs/app", self.job("asnobody", uid=NOBODY), self.nobody)
        self.assertEqual(r.status, 200, r)
        self.addCleanup(self.req, "DELETE", "/jobs/app/asnobody", key=self.admin)
        procs = gafferlib.wait_for(
            lambda: self.req("GET", "/jobs/app/asnobody/processes", key=self.nobody).json()["processes"],
            what="the process")
        self.assertEqual(proc_uid(procs[0]["os_pid"]), NOBODY)

    def test_gid_zero_is_refused(self):
        self.assertRefused(self.req("POST", "/jobs/app", self.job("gid0", uid=NOBODY, gid=0), self.nobody), "gid0",
                           "gid 0")

    def test_os_env_is_refused(self):
        self.assertRefused(self.req("POST", "/jobs/app", self.job("env", uid=NOBODY, os_env=True), self.nobody),
                           "env", "os_env")

    def test_critical_is_refused(self):
        # A critical job that gives up would stop gafferd with every other session's jobs.
        cfg = self.job("crit", uid=NOBODY, critical=True, flapping={"attempts": 1, "window": 1, "max_retry": 0})
        self.assertRefused(self.req("POST", "/jobs/app", cfg, self.nobody), "crit", "critical")

    # ---- log files ----

    def test_stdout_file_outside_log_root_is_refused(self):
        target = "/etc/gafferd-security-test"
        self.assertRefused(self.req("POST", "/jobs/app", self.job("etc", uid=NOBODY, stdout_file=target),
                                    self.nobody), "etc", "not beneath log_root")
        self.assertFalse(os.path.exists(target))

    def test_dotdot_out_of_log_root_is_refused(self):
        escape = os.path.join(os.path.dirname(self.log_root), "gafferd-escape.log")
        for path in (self.log_root + "/../gafferd-escape.log", self.log_root + "/x/../../gafferd-escape.log"):
            self.assertRefused(self.req("POST", "/jobs/app", self.job("dots", uid=NOBODY, stderr_file=path),
                                        self.nobody), "dots", "'..'")
        self.assertRefused(self.req("POST", "/jobs/app", self.job("dots", uid=NOBODY, log_dir=self.log_root + "/.."),
                                    self.nobody), "dots", "'..'")
        self.assertFalse(os.path.exists(escape))

    def test_relative_log_path_is_refused(self):
        # Relative to the daemon's working directory, which is not beneath log_root.
        self.assertRefused(self.req("POST", "/jobs/app", self.job("rel", uid=NOBODY, stdout_file="out.log"),
                                    self.nobody), "rel", "not beneath log_root")

    def test_symlink_beneath_log_root_is_refused(self):
        victim = os.path.join(self.d.dir, "victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        link = os.path.join(self.log_root, "link.log")
        os.symlink(victim, link)
        self.addCleanup(os.unlink, link)
        self.assertRefused(self.req("POST", "/jobs/app", self.job("link", uid=NOBODY, stdout_file=link),
                                    self.nobody), "link", "symbolic link")
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_log_file_beneath_log_root_is_allowed(self):
        out = os.path.join(self.log_root, "echo.log")
        cfg = self.job("echo", uid=NOBODY, stdout_file=out)
        cfg.update(cmd="sh", args=["-c", "echo hello; exec sleep 1000"])
        self.assertEqual(self.req("POST", "/jobs/app", cfg, self.nobody).status, 200)
        self.addCleanup(self.req, "DELETE", "/jobs/app/echo", key=self.admin)
        gafferlib.wait_for(lambda: read_text(out) == "hello\n", what="the log line")

    # ---- every path that takes a spec ----

    def test_update_and_04_routes_and_commit_env(self):
        self.assertEqual(self.req("POST", "/jobs/app", self.job("mine", uid=NOBODY, start=False),
                                  self.nobody).status, 200)
        self.addCleanup(self.req, "DELETE", "/jobs/app/mine", key=self.admin)
        # PUT would turn the job into root's.
        self.assertRefused(self.req("PUT", "/jobs/app/mine", self.job("mine", start=False), self.nobody))
        self.assertRefused(self.req("PUT", "/processes/app:mine", self.job("mine", uid=0, start=False), self.nobody))
        self.assertRefused(self.req("POST", "/processes", self.job("app:old", start=False), self.nobody), "old")
        self.assertEqual(self.req("GET", "/jobs/app/mine", key=self.admin).json()["config"]["uid"], NOBODY)
        # commit with env into a job of root's (loaded by the admin).
        self.assertEqual(self.req("POST", "/jobs/app", self.job("rootjob", start=False), self.admin).status, 200)
        self.addCleanup(self.req, "DELETE", "/jobs/app/rootjob", key=self.admin)
        r = self.req("POST", "/jobs/app/rootjob/commit", {"env": {"LD_PRELOAD": "/tmp/evil.so"}}, self.nobody)
        self.assertRefused(r)
        self.assertEqual(self.req("GET", "/jobs/app/rootjob/processes", key=self.admin).json()["processes"], [])

    # ---- "also noticed": rights before existence ----

    def test_unknown_pid_is_403_without_rights_on_everything(self):
        self.assertRefused(self.req("GET", "/987654", key=self.session))
        self.assertRefused(self.req("DELETE", "/987654", key=self.session))
        self.assertRefused(self.req("POST", "/processes/987654/_stop", key=self.session))
        self.assertEqual(self.req("GET", "/987654", key=self.admin).status, 404)

    # ---- the unix socket, as another user ----

    def test_unix_non_owner_reads_but_cannot_load(self):
        os.chmod(self.d.dir, 0o711)
        os.chmod(self.d.sock, 0o666)
        own_key = self.make_key({"manage": ["app"]})
        rd, wr = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: uid/gid 65534, no supplementary groups
            try:
                os.close(rd)
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
                ct = {"Content-Type": "application/json"}
                out = {
                    "jobs": self.d.request("GET", "/jobs").status,
                    "pids": self.d.request("GET", "/pids").status,
                    "sessions": self.d.request("GET", "/sessions").status,
                    "load": self.d.request("POST", "/jobs/app", self.job("peer", uid=NOBODY), headers=ct).status,
                    "keyed_root": self.d.request("POST", "/jobs/app", self.job("peer"),
                                                 headers=dict(ct, **{"X-Api-Key": own_key})).status,
                    "keyed_own": self.d.request("POST", "/jobs/app", self.job("peer", uid=NOBODY, start=False),
                                                headers=dict(ct, **{"X-Api-Key": own_key})).status,
                }
                os.write(wr, json.dumps(out).encode())
            finally:
                os._exit(0)
        os.close(wr)
        with os.fdopen(rd) as f:
            data = f.read()
        os.waitpid(pid, 0)
        self.addCleanup(self.req, "DELETE", "/jobs/app/peer", key=self.admin)
        out = json.loads(data)
        self.assertEqual(out, {"jobs": 200, "pids": 200, "sessions": 200, "load": 403, "keyed_root": 403,
                               "keyed_own": 200})


if __name__ == "__main__":
    unittest.main()
