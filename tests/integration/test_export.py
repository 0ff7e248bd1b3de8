# SPDX-License-Identifier: MIT
"""Export round trips (issue 14, `gaffer export`): a Procfile and .env planned and exported
by tests/helpers/app_export_tool (lib/config/app_export without the gaffer CLI), then
  * ini  -> `gafferd <file>` -> GET /jobs/<app>/<job> configs equal the plan's jobs;
  * json -> POST /jobs/<app> for each element -> the same;
  * systemd -> `systemd-analyze verify` clean on the units written;
  * supervisord -> read back as supervisord does (configparser, shlex, its env reader);
  * what a format cannot express is refused, exit 1, no file written.
"""
import configparser
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402

TOOL = os.environ.get("APP_EXPORT_TOOL")

PROCFILE = """\
web: /bin/sleep 1000 && /bin/echo done
worker: /usr/bin/env MSG='two words' GREET="$GREETING" PORT_SEEN=${PORT} /bin/sleep 1000
clock: sleep 1000
"""

DOTENV = """\
SPACES="a b  c"
QUOTES='say "hi" now'
PCT=100%
DOLLAR='$x and ${y}'
API_SECRET=s3cr3t
GREETING="hi there"
PATH=/usr/bin:/bin
"""

TYPES = ["web", "worker", "clock"]


def supervisord_env(text):
    """supervisord's datatypes.dict_of_key_value_pairs (4.2), which reads environment=."""
    lexer = shlex.shlex(text)
    lexer.wordchars += "/.+-():"
    tokens = list(lexer)
    out, i = {}, 0
    while i < len(tokens):
        k, eq, v = tokens[i:i + 3]
        assert eq == "=", tokens
        out[k] = v.strip("'\"")
        i += 4
    return out


class ExportTest(gafferlib.DaemonTestCase):
    def setUp(self):
        super().setUp()
        if not TOOL or not os.access(TOOL, os.X_OK):
            raise RuntimeError("APP_EXPORT_TOOL must name the built app-export-tool (run through meson test)")
        self.tmp = tempfile.TemporaryDirectory(prefix="gaffer-export-")
        self.root = os.path.join(self.tmp.name, "myapp")
        self.out = os.path.join(self.tmp.name, "out")
        os.mkdir(self.root)
        os.mkdir(self.out)
        with open(os.path.join(self.root, "Procfile"), "w") as f:
            f.write(PROCFILE)

    def tearDown(self):
        super().tearDown()
        self.tmp.cleanup()

    def export(self, fmt, dotenv, *extra, check=True):
        env_path = os.path.join(self.root, ".env")
        with open(env_path, "w") as f:
            f.write(dotenv)
        argv = [TOOL, "--format", fmt, "--procfile", os.path.join(self.root, "Procfile"), "--root", self.root,
                "--app", "myapp", "--out", self.out, "-e", env_path, "-c", "clock=2", *extra]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def read(self, name):
        with open(os.path.join(self.out, name)) as f:
            return f.read()

    def plan_configs(self, dotenv):
        """The plan's job configs, as the JSON export writes them."""
        self.export("json", dotenv)
        return self.read("myapp.json")

    def tagged_env(self, d):
        # Exported jobs run without the daemon's environment (os_env false): the tag that
        # lets teardown find stragglers goes in through the .env file.
        return DOTENV + f"GAFFER_TEST_TAG={d.tag}\n"

    def daemon_config(self, d, name):
        info = d.get_json(f"/jobs/myapp/{name}")
        return info["config"]

    def assert_same_job(self, got, want):
        def args(c):
            a = c.get("args") or []
            return shlex.split(a) if isinstance(a, str) else a
        for k in ("name", "cmd", "env", "cwd", "numprocesses", "os_env"):
            self.assertEqual(got.get(k), want.get(k), k)
        self.assertEqual(bool(got.get("shell")), bool(want.get("shell")))
        self.assertEqual(args(got), args(want))

    def test_ini_loads_back_into_gafferd(self):
        d = self.daemon("")
        want = json.loads(self.plan_configs(self.tagged_env(d)))["jobs"]
        self.export("ini", self.tagged_env(d))
        d.write_config(self.read("myapp.ini"))
        d.start()
        self.assertEqual(sorted(d.get_json("/jobs/myapp")["jobs"]), sorted(f"myapp.{t}" for t in TYPES))
        for job in want:
            self.assert_same_job(self.daemon_config(d, job["name"]), job)
        self.assertEqual(want[2]["env"]["PORT"], "5200")
        self.assertEqual(want[0]["env"]["PCT"], "100%")
        self.assertTrue(want[0]["shell"])
        # The processes run: 1 + 1 + 2.
        gafferlib.wait_for(lambda: len(d.children()) >= 4, what="the 4 exported processes")

    def test_json_elements_load_over_http(self):
        d = self.daemon("").start()
        doc = json.loads(self.plan_configs(self.tagged_env(d)))
        self.assertEqual([j["name"] for j in doc["jobs"]], TYPES)
        for job in doc["jobs"]:
            r = d.request("POST", "/jobs/myapp", job)
            self.assertIn(r.status, (200, 201), r)
        for job in doc["jobs"]:
            self.assertEqual(self.daemon_config(d, job["name"]), job)
        gafferlib.wait_for(lambda: len(d.children()) >= 4, what="the 4 loaded processes")

    def test_systemd_units_verify_clean(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed")
        r = self.export("systemd", DOTENV, "--user", "root")
        files = r.stdout.split()
        units = [f for f in files if "/" not in f]
        self.assertEqual(sorted(units), sorted(["myapp.target", "myapp-web@.service", "myapp-worker@.service",
                                                "myapp-clock@.service"]))
        self.assertIn("myapp-clock@5201.service.d/50-ps.conf", files)
        self.assertIn("Environment=PS=clock.2\n", self.read("myapp-clock@5201.service.d/50-ps.conf"))
        target = self.read("myapp.target")
        for port in ("5000", "5100"):
            self.assertIn(f"@{port}.service\n", target)
        env = dict(os.environ, SYSTEMD_UNIT_PATH=self.out + ":", SYSTEMD_LOG_LEVEL="notice")
        paths = [os.path.join(self.out, u) for u in units]
        # Instances as well as templates: the target pulls them in.
        paths += [os.path.join(self.out, f"myapp-clock@5201.service")]
        v = subprocess.run([analyze, "verify", "--man=no", *paths], capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertEqual(v.stderr.strip(), "", v.stderr)
        worker = self.read("myapp-worker@.service")
        self.assertIn('ExecStart=/usr/bin/env "MSG=two words" GREET=${GREETING} PORT_SEEN=${PORT} /bin/sleep 1000\n',
                      worker)

    def test_supervisord_programs_read_back(self):
        self.export("supervisord", DOTENV, "--user", "nobody")
        cp = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"))
        cp.read(os.path.join(self.out, "myapp.conf"))
        programs = ["myapp-web-1", "myapp-worker-1", "myapp-clock-1", "myapp-clock-2"]
        self.assertEqual(cp.get("group:myapp", "programs").split(","), programs)
        self.assertEqual([s for s in cp.sections() if s.startswith("program:")], [f"program:{p}" for p in programs])

        def unpercent(s):
            return s.replace("%%", "%")

        for program, port, ps in (("myapp-web-1", 5000, "web.1"), ("myapp-worker-1", 5100, "worker.1"),
                                  ("myapp-clock-1", 5200, "clock.1"), ("myapp-clock-2", 5201, "clock.2")):
            sec = cp[f"program:{program}"]
            env = supervisord_env(unpercent(sec["environment"]))
            self.assertEqual(env["PORT"], str(port))
            self.assertEqual(env["PS"], ps)
            self.assertEqual(env["SPACES"], "a b  c")
            self.assertEqual(env["QUOTES"], 'say "hi" now')
            self.assertEqual(env["PCT"], "100%")
            self.assertEqual(env["DOLLAR"], "$x and ${y}")
            self.assertEqual(unpercent(sec["directory"]), self.root)
            self.assertEqual(sec["user"], "nobody")
            self.assertEqual(sec["autorestart"], "true")
            self.assertEqual(sec["stopasgroup"], "true")
            self.assertEqual(sec["killasgroup"], "true")
            self.assertEqual(sec["stopwaitsecs"], "10")
        argv = lambda p: shlex.split(unpercent(cp[f"program:{p}"]["command"]))  # noqa: E731
        self.assertEqual(argv("myapp-web-1"), ["/bin/sh", "-c", "/bin/sleep 1000 && /bin/echo done"])
        self.assertEqual(argv("myapp-worker-1"), ["/usr/bin/env", "MSG=two words", "GREET=hi there", "PORT_SEEN=5100",
                                                  "/bin/sleep", "1000"])
        self.assertEqual(argv("myapp-clock-2"), ["/usr/bin/sleep", "1000"])

    def test_what_a_format_cannot_express_is_refused(self):
        multi = DOTENV + 'MULTI="line1\\nline2"\n'
        r = self.export("supervisord", multi, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("supervisord: web: environment variable MULTI", r.stderr)
        self.assertEqual(os.listdir(self.out), [])
        r = self.export("systemd", DOTENV + "my.var=1\n", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("'my.var'", r.stderr)
        self.assertEqual(os.listdir(self.out), [])
        r = self.export("ini", DOTENV + "LONG=" + "x" * 300 + "\n", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("199 bytes", r.stderr)
        self.assertEqual(os.listdir(self.out), [])


if __name__ == "__main__":
    unittest.main()
