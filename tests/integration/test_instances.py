#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test of the job options `instance_env` (foreman's PORT and PS per process
slot) and `pty` (stdout and stderr on a pseudo-terminal) against the real gafferd
($GAFFERD), driven over its HTTP API on a unix socket: the values each process sees, a
replacement taking its predecessor's slot back, `slot` in GET /<pid>, the config echo,
isatty() with and without pty, output without a newline arriving before the child
exits, raw line ends, and refused configs that change nothing.
"""
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402

# Writes "<argv[1]> <PS>" (argv[1] is "$PORT", substituted by gafferd, §7.3) to
# <argv[2]>/<PS>, then sleeps. No shell: the substitution is gafferd's.
REPORTER = ("import os, sys, time\n"
            "open(os.path.join(sys.argv[2], os.environ['PS']), 'w').write(sys.argv[1] + ' ' + os.environ['PS'])\n"
            "time.sleep(1000)\n")


def curl(d, path, seconds):
    """curl -N on the unix socket for at most `seconds`; returns (rc, body bytes). The
    streams are read with ?backlog= so that output written before the request counts."""
    p = subprocess.run(["curl", "-sN", "--max-time", str(seconds), "--unix-socket", d.sock,
                        "http://localhost" + path], capture_output=True)
    return p.returncode, p.stdout


class InstancesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = gafferlib.Daemon("").start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def load(self, body, session="default"):
        r = self.d.request("POST", f"/jobs/{session}", body)
        self.assertEqual(r.status, 200, r)
        self.addCleanup(lambda: self.d.request("DELETE", f"/jobs/{session}/{body['name']}"))
        return self.d.get_json(f"/jobs/{session}/{body['name']}/pids")["pids"]

    def read(self, path):
        try:
            with open(path) as f:
                return f.read()
        except FileNotFoundError:
            return None

    # ---------------------------------------------------------------- instance_env

    def test_port_and_ps_per_instance_and_a_replacement_gets_the_same_pair(self):
        out = os.path.join(self.d.dir, "web-out")
        os.mkdir(out)
        pids = self.load({"name": "web", "cmd": "python3", "args": ["-c", REPORTER, "$PORT", out],
                          "numprocesses": 3, "instance_env": True, "env": {"PORT": "6000"}})
        self.assertEqual(len(pids), 3)
        want = {"web.1": "6000 web.1", "web.2": "6001 web.2", "web.3": "6002 web.3"}
        gafferlib.wait_for(lambda: all(self.read(os.path.join(out, ps)) == v for ps, v in want.items()),
                           what="three instances to report PORT and PS")
        infos = {p: self.d.get_json(f"/{p}") for p in pids}
        self.assertEqual(sorted(i["slot"] for i in infos.values()), [1, 2, 3])
        for i in infos.values():
            self.assertEqual(i["env"]["PS"], f"web.{i['slot']}")
            self.assertEqual(i["env"]["PORT"], str(5999 + i["slot"]))
        # The config echo shows the option as given.
        self.assertIs(self.d.get_json("/jobs/default/web")["config"]["instance_env"], True)

        # Kill the process in slot 2: its replacement reports the same pair again.
        victim = next(p for p, i in infos.items() if i["slot"] == 2)
        os.unlink(os.path.join(out, "web.2"))
        os.kill(infos[victim]["os_pid"], signal.SIGKILL)
        gafferlib.wait_for(lambda: victim not in self.d.get_json("/jobs/default/web/pids")["pids"]
                           and len(self.d.get_json("/jobs/default/web/pids")["pids"]) == 3,
                           what="the replacement")
        new = [p for p in self.d.get_json("/jobs/default/web/pids")["pids"] if p not in pids]
        self.assertEqual(len(new), 1)
        self.assertEqual(self.d.get_json(f"/{new[0]}")["slot"], 2)
        gafferlib.wait_for(lambda: self.read(os.path.join(out, "web.2")) == "6001 web.2",
                           what="the replacement to report 6001 web.2")
        self.assertEqual(self.read(os.path.join(out, "web.1")), "6000 web.1")
        self.assertEqual(self.read(os.path.join(out, "web.3")), "6002 web.3")

    def test_without_instance_env_every_process_sees_the_jobs_values(self):
        pids = self.load({"name": "plain", "cmd": "sleep", "args": ["1000"], "numprocesses": 2,
                          "env": {"PORT": "6000", "PS": "mine"}})
        for p in pids:
            info = self.d.get_json(f"/{p}")
            self.assertEqual((info["env"]["PORT"], info["env"]["PS"]), ("6000", "mine"))
        self.assertEqual(sorted(self.d.get_json(f"/{p}")["slot"] for p in pids), [1, 2])

    def test_a_non_numeric_port_is_left_alone(self):
        pids = self.load({"name": "named", "cmd": "sleep", "args": ["1000"], "numprocesses": 2,
                          "instance_env": True, "env": {"PORT": "http"}})
        envs = sorted((self.d.get_json(f"/{p}")["env"]["PS"], self.d.get_json(f"/{p}")["env"]["PORT"])
                      for p in pids)
        self.assertEqual(envs, [("named.1", "http"), ("named.2", "http")])

    # ---------------------------------------------------------------- pty

    def test_stdout_is_a_terminal_with_pty_and_a_pipe_without(self):
        # No flush: on a pipe Python block-buffers and the line would never come while
        # the child sleeps; on a terminal it is line-buffered.
        code = "import sys, time; print(sys.stdout.isatty()); time.sleep(1000)"
        pid = self.load({"name": "tty", "cmd": "python3", "args": ["-c", code], "pty": True,
                         "redirect_output": ["out"]})[0]
        rc, body = curl(self.d, f"/streams/{pid}/out?feed=continuous&backlog=65536", 3)
        self.assertEqual(body, b"True\n")  # "\n", not "\r\n"
        self.assertIs(self.d.get_json("/jobs/default/tty")["config"]["pty"], True)

        code = "import sys, time; print(sys.stdout.isatty(), flush=True); time.sleep(1000)"
        pid = self.load({"name": "pipe", "cmd": "python3", "args": ["-c", code], "redirect_output": ["out"]})[0]
        rc, body = curl(self.d, f"/streams/{pid}/out?feed=continuous&backlog=65536", 3)
        self.assertEqual(body, b"False\n")

    def test_output_without_newline_arrives_before_the_child_exits(self):
        pid = self.load({"name": "tick", "cmd": "sh", "args": ["-c", "[ -t 1 ] && printf tick; exec sleep 1000"],
                         "pty": True, "redirect_output": ["out"]})[0]
        rc, body = curl(self.d, f"/streams/{pid}/out?feed=continuous&backlog=65536", 2)
        self.assertEqual(rc, 28, body)  # still streaming: the child still runs
        self.assertEqual(body, b"tick")
        self.assertTrue(self.d.get_json(f"/{pid}")["active"])

    def test_stdout_and_stderr_are_one_stream_with_raw_line_ends(self):
        log = os.path.join(self.d.dir, "both.log")
        self.load({"name": "both", "cmd": "sh",
                   "args": ["-c", "echo one; echo two >&2; printf 'a\\nb\\n'; exec sleep 1000"],
                   "pty": True, "stdout_file": log})
        gafferlib.wait_for(lambda: (self.read(log) or "").endswith("b\n"), what="the log file")
        self.assertEqual(self.read(log), "one\ntwo\na\nb\n")

    def test_window_size_from_columns_and_lines(self):
        code = "import os, time; s = os.get_terminal_size(); print(s.columns, s.lines); time.sleep(1000)"
        pid = self.load({"name": "size", "cmd": "python3", "args": ["-c", code], "pty": True,
                         "redirect_output": ["out"], "env": {"COLUMNS": "132", "LINES": "50"}})[0]
        rc, body = curl(self.d, f"/streams/{pid}/out?feed=continuous&backlog=65536", 3)
        self.assertEqual(body, b"132 50\n")

    def test_stdin_still_works_through_its_pipe(self):
        code = "import sys; print('got', sys.stdin.readline().strip()); import time; time.sleep(1000)"
        pid = self.load({"name": "echo", "cmd": "python3", "args": ["-c", code], "pty": True,
                         "redirect_output": ["out"], "redirect_input": True})[0]
        r = self.d.request("POST", f"/streams/{pid}/stdin", "hello\n", headers={"Content-Type": "text/plain"})
        self.assertIn(r.status, (200, 202), r)
        rc, body = curl(self.d, f"/streams/{pid}/out?feed=continuous&backlog=65536", 3)
        self.assertEqual(body, b"got hello\n")

    # ---------------------------------------------------------------- bad input

    def test_pty_with_nothing_capturing_output_is_refused_and_nothing_loaded(self):
        r = self.d.request("POST", "/jobs/default", {"name": "lost", "cmd": "sleep 1000", "pty": True})
        self.assertEqual(r.status, 400, r)
        self.assertIn("pty: needs redirect_output, stdout_file or log_dir", r.body.decode())
        self.assertEqual(self.d.request("GET", "/jobs/default/lost").status, 404)
        for bad in ({"pty": "yes", "redirect_output": ["out"]}, {"instance_env": 1}):
            r = self.d.request("POST", "/jobs/default", {"name": "lost", "cmd": "sleep 1000", **bad})
            self.assertEqual(r.status, 400, r)
            self.assertIn("must be true or false", r.body.decode())
            self.assertEqual(self.d.request("GET", "/jobs/default/lost").status, 404)


class InstancesIniTest(unittest.TestCase):
    def test_ini_options(self):
        d = gafferlib.Daemon("[job:web]\ncmd = sleep 1000\nnumprocesses = 2\ninstance_env = true\n"
                             "pty = true\nredirect_output = out\nenv:PORT = 7000\n")
        try:
            d.start()
            pids = d.get_json("/jobs/default/web/pids")["pids"]
            envs = sorted((d.get_json(f"/{p}")["env"]["PS"], d.get_json(f"/{p}")["env"]["PORT"]) for p in pids)
            self.assertEqual(envs, [("web.1", "7000"), ("web.2", "7001")])
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
