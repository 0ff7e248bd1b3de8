# SPDX-License-Identifier: MIT
"""The gaffer CLI's frame and project commands (issue 14): the command line (global
options before or after the command), the project (Procfile, root, .env files, app name),
check, env and export, with the exports loaded back into a real gafferd."""
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gafferlib  # noqa: E402

GAFFER = os.environ.get("GAFFER")


def gaffer(*args, cwd=None, env=None, stdin=None):
    e = dict(os.environ)
    e.pop("PORT", None)
    e.update(env or {})
    return subprocess.run([GAFFER, *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=30,
                          input=stdin)


class CliTest(unittest.TestCase):
    def setUp(self):
        if not GAFFER or not os.access(GAFFER, os.X_OK):
            self.fail("GAFFER must name the built gaffer binary (run through `make test`)")
        self.tmp = tempfile.TemporaryDirectory(prefix="gaffer-cli-")
        self.root = os.path.join(self.tmp.name, "shop")
        os.mkdir(self.root)
        self.write("Procfile", "web: python3 -m http.server $PORT\n"
                               "worker: sh -c 'echo \"$GREETING\" && sleep 60'\n"
                               "clock-tick: /bin/sleep 3600\n")
        self.write(".env", "GREETING='hello world'\nAPI_TOKEN=s3cr3t\nexport QUOTED=\"it's\"\n")

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        with open(os.path.join(self.root, name), "w") as f:
            f.write(text)

    def test_version_help_and_unknown_command(self):
        r = gaffer("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^gaffer \(version \d+\.\d+\.\d+\)\n$")
        r = gaffer("help")
        self.assertEqual(r.returncode, 0)
        for cmd in ("start", "check", "env", "export", "run"):
            self.assertIn(f"  {cmd} ", r.stdout)
        r = gaffer("help", "start")
        self.assertIn("--exit-on-fail", r.stdout)
        r = gaffer("frobnicate")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown command 'frobnicate'", r.stderr)
        r = gaffer("check", "--no-such-option", cwd=self.root)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unrecognized option '--no-such-option'", r.stderr)

    def test_global_options_before_or_after_the_command(self):
        other = os.path.join(self.tmp.name, "other")
        os.mkdir(other)
        with open(os.path.join(other, "Procfile.dev"), "w") as f:
            f.write("api: /bin/true\n")
        for args in (["-f", os.path.join(other, "Procfile.dev"), "check"],
                     ["check", "-f", os.path.join(other, "Procfile.dev")],
                     ["check", "--procfile=" + os.path.join(other, "Procfile.dev")]):
            r = gaffer(*args, cwd=self.root)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("valid Procfile detected (api)", r.stdout)
            self.assertIn("app: other, root: " + other, r.stdout)
        r = gaffer("check", "-d", self.root, cwd=self.tmp.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(web, worker, clock-tick)", r.stdout)
        # An explicit -f that does not exist is an error.
        r = gaffer("check", "-f", "nope", cwd=self.root)
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope", r.stderr)

    def test_app_name(self):
        r = gaffer("export", "--format=json", "--app", "Bad.Name", cwd=self.root)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Invalid APP name", r.stderr)
        r = gaffer("export", "--format=json", "--app", "good-name", cwd=self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        names = [j["name"] for j in json.loads(r.stdout)["jobs"]]
        self.assertEqual(names, ["web", "worker", "clock-tick"])

    def test_check_strict_and_duplicates(self):
        self.write("Procfile", "web: /bin/true\nnot a process line\nweb: /bin/false\n")
        r = gaffer("check", cwd=self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning", r.stderr)
        self.assertIn("Procfile:3", r.stderr)
        r = gaffer("check", "--strict", cwd=self.root)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Procfile:2", r.stderr)

    def test_env_masks_secrets_and_quotes(self):
        r = gaffer("env", "web", cwd=self.root, env={"MY_PASSWORD": "pw", "PLAIN": "x"})
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("GREETING='hello world'", lines)
        self.assertIn("API_TOKEN=****", lines)
        self.assertIn("MY_PASSWORD=****", lines)
        self.assertIn("PLAIN=x", lines)
        self.assertIn("PORT=5000", lines)
        self.assertIn("PS=web.1", lines)
        self.assertIn("QUOTED='it'\\''s'", lines)
        self.assertEqual(lines, sorted(lines))
        r = gaffer("env", "worker", "--show-secrets", cwd=self.root)
        self.assertIn("API_TOKEN=s3cr3t", r.stdout.splitlines())
        self.assertIn("PORT=5100", r.stdout.splitlines())
        r = gaffer("env", "nope", cwd=self.root)
        self.assertEqual(r.returncode, 1)
        # The shell reads the output back to the same values.
        r = gaffer("env", "--show-secrets", cwd=self.root)
        out = subprocess.run(["sh", "-c", r.stdout.replace("\n", "; ") + ' printf "%s|%s" "$GREETING" "$QUOTED"'],
                             capture_output=True, text=True)
        self.assertEqual(out.stdout, "hello world|it's")

    def test_env_files_order(self):
        self.write("extra.env", "GREETING=from-extra\n")
        r = gaffer("env", "-e", ".env", "-e", "extra.env", cwd=self.root)
        self.assertIn("GREETING=from-extra", r.stdout.splitlines())
        r = gaffer("-e", "missing.env", "env", cwd=self.root)
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing.env", r.stderr)
        self.write("bad.env", "GOOD=1\nBAD: value\n")
        r = gaffer("env", "-e", "bad.env", cwd=self.root)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bad.env:2", r.stderr)

    def test_export_ini_round_trip_through_gafferd(self):
        out = os.path.join(self.tmp.name, "shop.ini")
        r = gaffer("export", "--format=ini", "--out=" + out, "-c", "web=2", cwd=self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        want = json.loads(gaffer("export", "--format=json", "-c", "web=2", cwd=self.root).stdout)["jobs"]
        d = gafferlib.Daemon(open(out).read())
        try:
            d.start()
            self.assertEqual(sorted(d.get_json("/jobs/shop")["jobs"]), ["shop.clock-tick", "shop.web", "shop.worker"])
            for job in want:
                got = d.get_json(f"/jobs/shop/{job['name']}")["config"]
                for key in ("cmd", "args", "numprocesses", "env", "cwd", "shell"):
                    if key in job:
                        value = got.get(key)
                        if key == "args" and isinstance(value, str):  # INI: one string, split as the shell does
                            value = shlex.split(value)
                        self.assertEqual(value, job[key], (job["name"], key))
            gafferlib.wait_for(lambda: len(d.get_json("/jobs/shop/web")["processes"]) == 2, what="2 web")
        finally:
            d.cleanup()

    def test_export_json_loads_over_http(self):
        r = gaffer("export", "json", cwd=self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        jobs = json.loads(r.stdout)["jobs"]
        d = gafferlib.Daemon("")
        try:
            d.start()
            for job in jobs:
                job = dict(job, start=False)
                resp = d.request("POST", "/jobs/shop", body=json.dumps(job))
                self.assertIn(resp.status, (200, 201), resp.body)
            self.assertEqual(sorted(d.get_json("/jobs/shop")["jobs"]), ["shop.clock-tick", "shop.web", "shop.worker"])
        finally:
            d.cleanup()

    def test_export_systemd_verifies(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        self.write("Procfile", "web: /bin/sleep 3600\nworker: sh -c 'sleep 1 && echo done'\n")
        out = os.path.join(self.tmp.name, "units")
        r = gaffer("export", "--format=systemd", "--out", out, "-c", "web=2", cwd=self.root)
        self.assertEqual(r.returncode, 0, r.stderr)
        files = sorted(os.listdir(out))
        self.assertIn("shop.target", files)
        self.assertIn("shop-web@.service", files)
        target = open(os.path.join(out, "shop.target")).read()
        self.assertIn("shop-web@5000.service", target)
        self.assertIn("shop-web@5001.service", target)
        self.assertIn("shop-worker@5100.service", target)
        v = subprocess.run(["systemd-analyze", "verify", "--man=no", os.path.join(out, "shop.target"),
                            *[os.path.join(out, f) for f in files if f.endswith("@.service")]],
                           capture_output=True, text=True, env=dict(os.environ, SYSTEMD_UNIT_PATH=out + ":"))
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        # Several files need a directory.
        r = gaffer("export", "--format=systemd", cwd=self.root)
        self.assertEqual(r.returncode, 1)

    def test_export_bad_format(self):
        r = gaffer("export", "--format=xml", cwd=self.root)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown export format 'xml'", r.stderr)


if __name__ == "__main__":
    unittest.main()
