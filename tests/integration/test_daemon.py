#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The real gafferd binary on temporary configs: keeps N alive, replaces a killed
process, flapping gives up, priority order, SIGHUP applies only the difference,
broken configs, shutdown exit code and the process tree, pid file, console output."""
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from gafferlib import Daemon, DaemonTestCase, wait_for, GAFFERD  # noqa: E402


def job_info(d, qualified):
    sid, job = qualified.split(".", 1)
    return d.get_json(f"/jobs/{sid}/{job}")


class DaemonTest(DaemonTestCase):

    def test_keeps_n_alive_and_replaces_a_killed_process(self):
        d = self.daemon("[process:sleeper]\ncmd = sleep 1000\nnumprocesses = 3\n").start()
        info = wait_for(lambda: (lambda i: i if i["running"] == 3 else None)(job_info(d, "default.sleeper")),
                        what="3 processes")
        self.assertEqual(info["max_processes"], 3)
        self.assertEqual(info["processes"], [1, 2, 3])
        self.assertEqual(len(d.children()), 3)
        victim = d.get_json("/1")["os_pid"]
        os.kill(victim, signal.SIGKILL)
        info = wait_for(lambda: (lambda i: i if 4 in i["processes"] else None)(job_info(d, "default.sleeper")),
                        what="replacement pid 4")
        self.assertEqual(sorted(info["processes"]), [2, 3, 4])
        wait_for(lambda: len(d.children()) == 3, what="3 OS processes")
        self.assertNotIn(victim, d.children())

    def test_shutdown_exits_zero_and_leaves_no_process(self):
        d = self.daemon("[process:a]\ncmd = sleep 1000\nnumprocesses = 2\n"
                        "[process:stubborn]\ncmd = sh -c 'trap \"\" TERM; sleep 1000 & wait'\n"
                        "graceful_timeout = 0.5\n").start()
        wait_for(lambda: len(d.children()) >= 4, what="processes (2 + sh + sleep)")
        before = d.children()
        t0 = time.monotonic()
        self.assertEqual(d.stop(timeout=15), 0)
        self.assertLess(time.monotonic() - t0, 10, "shutdown must not wait for each job in turn")
        for pid in before:
            self.assertFalse(os.path.exists(f"/proc/{pid}") and
                             open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] != "Z",
                             f"process {pid} survived the shutdown")

    def test_sigint_and_sigquit_are_graceful_too(self):
        for sig in (signal.SIGINT, signal.SIGQUIT):
            d = self.daemon("[process:a]\ncmd = sleep 1000\n").start()
            wait_for(lambda: len(d.children()) == 1, what="1 process")
            d.signal(sig)
            self.assertEqual(d.proc.wait(timeout=15), 0)
            wait_for(lambda: not d.children(), what="no process left")

    def test_flapping_gives_up(self):
        d = self.daemon("[process:crash]\ncmd = false\n"
                        "flapping = 2, 1., 0.2, 2\n", extra_args=["-v"]).start()
        # attempts=2 in 1 s is flapping; 2 retries after 0.2 s, then the job stays stopped:
        # 3 flapping periods of 2 spawns each.
        wait_for(lambda: "flapping did not stop" in d.output(), timeout=15, what="flapping to give up")
        spawns = d.output().count("spawn process with pid")
        self.assertEqual(spawns, 6)
        # The console prints events on the loop's next turn, after the give-up log line.
        wait_for(lambda: d.output().count("| flap default.crash") >= 3, what="3 flap events")
        self.assertEqual(d.output().count("| flap default.crash"), 3)
        time.sleep(1.0)
        self.assertEqual(d.output().count("spawn process with pid"), spawns, "no spawn after giving up")
        self.assertEqual(d.request("GET", "/jobs/default/crash/state").body.strip(), b"0")
        # Starting it again resets the history: it flaps anew.
        self.assertEqual(d.request("POST", "/jobs/default/crash/state", body="1").status, 202)
        wait_for(lambda: d.output().count("spawn process with pid") > spawns, what="spawn after start")

    def test_priority_order(self):
        cfg = ("[process:last]\ncmd = sleep 1000\npriority = 30\n"
               "[process:first]\ncmd = sleep 1000\npriority = 1\n"
               "[process:middle]\ncmd = sleep 1000\npriority = 10\n")
        d = self.daemon(cfg).start()
        wait_for(lambda: len(d.get_json("/pids")["pids"]) == 3, what="3 pids")
        self.assertEqual(d.get_json("/jobs")["jobs"], ["default.first", "default.middle", "default.last"])
        self.assertEqual(d.get_json("/1")["name"], "default.first")
        self.assertEqual(d.get_json("/3")["name"], "default.last")

    def test_sighup_applies_only_the_difference(self):
        d = self.daemon("[process:keep]\ncmd = sleep 1000\n"
                        "[process:change]\ncmd = sleep 1000\n"
                        "[process:remove]\ncmd = sleep 1000\n").start()
        wait_for(lambda: len(d.get_json("/pids")["pids"]) == 3, what="3 pids")
        keep_pid = d.get_json("/jobs/default/keep")["processes"]
        change_pid = d.get_json("/jobs/default/change")["processes"]
        d.write_config("[process:keep]\ncmd = sleep 1000\n"
                       "[process:change]\ncmd = sleep 999\n"
                       "[process:added]\ncmd = sleep 1000\nnumprocesses = 2\n"
                       "[process:notstarted]\ncmd = sleep 1000\nstart = false\n")
        d.signal(signal.SIGHUP)
        wait_for(lambda: set(d.get_json("/jobs")["jobs"]) ==
                 {"default.keep", "default.change", "default.added", "default.notstarted"}, what="new job set")
        self.assertEqual(d.get_json("/jobs/default/keep")["processes"], keep_pid, "unchanged job untouched")
        info = wait_for(lambda: (lambda i: i if i["processes"] and i["processes"] != change_pid else None)(
            d.get_json("/jobs/default/change")), what="changed job replaced")
        self.assertEqual(d.get_json(f"/{info['processes'][0]}")["args"], ["999"])
        self.assertEqual(len(d.get_json("/jobs/default/added")["processes"]), 2)
        self.assertEqual(d.get_json("/jobs/default/notstarted")["processes"], [])

    def test_broken_config_refuses_to_start_with_file_and_line(self):
        d = self.daemon("[gaffer]\n\n[process:a]\ncmd = sleep 1\nnumprocesses = lots\n")
        d.start(wait=False)
        rc = d.proc.wait(timeout=10)
        self.assertNotEqual(rc, 0)
        self.assertRegex(d.output(), r"gafferd\.ini:5")

    def test_broken_config_on_sighup_keeps_running_config(self):
        d = self.daemon("[process:a]\ncmd = sleep 1000\n").start()
        wait_for(lambda: len(d.get_json("/pids")["pids"]) == 1, what="1 pid")
        d.write_config("[process:a]\ncmd = sleep 1000\nflapping = x y z\n[process:b]\ncmd = sleep 1\n")
        d.signal(signal.SIGHUP)
        wait_for(lambda: "keeping the running one" in d.output(), what="reload error logged")
        self.assertEqual(d.get_json("/jobs")["jobs"], ["default.a"])
        self.assertEqual(d.get_json("/pids")["pids"], [1])
        self.assertIsNone(d.proc.poll())

    def test_config_directory_and_positional_file(self):
        d = self.daemon("[process:a]\ncmd = sleep 1000\n")
        d.extra_args = []
        d.config = d.dir  # a directory holding gafferd.ini
        d.start()
        wait_for(lambda: d.get_json("/jobs")["jobs"] == ["default.a"], what="job from the directory")

    def test_pidfile(self):
        d = self.daemon("")
        pidfile = os.path.join(d.dir, "gafferd.pid")
        d.extra_args = ["--pidfile", pidfile]
        d.start()
        with open(pidfile) as f:
            self.assertEqual(f.read(), f"{d.proc.pid}\n")
        self.assertEqual(oct(os.stat(pidfile).st_mode & 0o777), "0o644")
        # A second daemon refuses to start on a live pid file.
        d2 = self.daemon("", extra_args=["--pidfile", pidfile])
        d2.sock = os.path.join(d2.dir, "other.sock")
        d2.start(wait=False)
        self.assertEqual(d2.proc.wait(timeout=10), 1)
        self.assertIn("Already running on PID", d2.output())
        self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.exists(pidfile))

    def test_console_output_with_vv(self):
        d = self.daemon("[process:talker]\ncmd = sh -c 'echo hello-from-child; echo oops >&2; sleep 1000'\n"
                        "redirect_output = out, err\n", extra_args=["-vv"]).start()
        wait_for(lambda: "hello-from-child" in d.output() and "oops" in d.output(), what="child output")
        out = d.output()
        self.assertRegex(out, r"\d\d:\d\d:\d\d default\.talker\.1 \| hello-from-child")
        self.assertRegex(out, r"default\.talker \| spawn process with pid 1")

    def test_console_that_nobody_reads_never_stops_the_daemon(self):
        # gafferd -vv with stdout a pipe nobody reads and a job flooding it: the API still
        # answers (the console never writes blocking on the loop; it drops and says so).
        d = Daemon("[process:flood]\ncmd = yes 0123456789012345678901234567890123456789\n"
                   "redirect_output = out\n", extra_args=["-vv"])
        d.proc = subprocess.Popen(d.args(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=d.env, cwd=d.dir,
                                  stdin=subprocess.DEVNULL)
        try:
            wait_for(d.ping, timeout=15, what="gafferd to listen")
            time.sleep(1.0)  # the pipe to us is full by now
            for _ in range(5):
                self.assertEqual(d.request("GET", "/jobs/default/flood", timeout=5).status, 200)
            out = b""
            deadline = time.monotonic() + 20
            while b"not shown: the terminal did not keep up" not in out:
                self.assertLess(time.monotonic(), deadline)
                out = (out + os.read(d.proc.stdout.fileno(), 1 << 20))[-(1 << 20):]
        finally:
            d.proc.kill()
            d.proc.wait()
            d.cleanup()

    def test_log_files_rotate_without_losing_or_tearing_lines(self):
        d = self.daemon("")
        logdir = os.path.join(d.dir, "logs")
        os.mkdir(logdir)
        d.write_config("[job:app:writer]\n"
                       "cmd = sh -c 'i=0; while [ $i -lt 2000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; "
                       "i=$((i+1)); done; echo done >&2; sleep 1000'\n"
                       "redirect_output = out, err\n"
                       f"log_dir = {logdir}\nlog_max_bytes = 4096\nlog_backups = 100\n")
        d.start()
        base = os.path.join(logdir, "app.writer.out.log")
        wait_for(lambda: os.path.exists(os.path.join(logdir, "app.writer.err.log")) and
                 open(os.path.join(logdir, "app.writer.err.log")).read() == "done\n", what="stderr log")
        files = sorted((f for f in os.listdir(logdir) if f.startswith("app.writer.out.log")),
                       key=lambda f: -int(f.rsplit(".", 1)[1]) if f[-1].isdigit() else 0)
        self.assertGreater(len(files), 5, "the log rotated")
        text = "".join(open(os.path.join(logdir, f)).read() for f in files)
        lines = text.splitlines()
        self.assertEqual(lines, [f"line-{i}-xxxxxxxxxxxxxxxxxxxxxxxx" for i in range(2000)])
        for f in files:
            self.assertLessEqual(os.path.getsize(os.path.join(logdir, f)), 4096)
            self.assertTrue(open(os.path.join(logdir, f)).read().endswith("\n"), f"{f} ends mid-line")
        del base

    def test_exec_failure_is_reported_and_does_not_spin(self):
        d = self.daemon("[process:ghost]\ncmd = /nonexistent/binary\n", extra_args=["-v"]).start()
        wait_for(lambda: "spawn_error" in d.output(), what="spawn_error on the console")
        time.sleep(1.0)
        self.assertIsNone(d.proc.poll(), "the daemon survives")
        self.assertLess(d.output().count("spawn_error"), 15, "exec failures are retried with a back-off")
        self.assertIn("exec stage", d.output())

    def test_idle_daemon_makes_no_reads_and_no_wakeups(self):
        # 200 children and nobody watching: no stat sampling, no timers, no wake-ups.
        d = self.daemon("[process:idle]\ncmd = sleep 1000\nnumprocesses = 200\n").start()
        wait_for(lambda: len(d.get_json("/pids")["pids"]) == 200, timeout=30, what="200 processes")
        wait_for(lambda: len(d.children()) == 200, timeout=30, what="200 OS processes")
        time.sleep(0.5)

        def counters():
            with open(f"/proc/{d.proc.pid}/io") as f:
                io = dict(line.split(": ") for line in f.read().splitlines())
            with open(f"/proc/{d.proc.pid}/status") as f:
                st = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
            return int(io["syscr"]), int(st["voluntary_ctxt_switches"].strip())

        before = counters()
        time.sleep(2.0)
        after = counters()
        self.assertEqual(after, before, "(read syscalls, wake-ups) of an idle daemon must not change")

    def test_memory_max_oom_kill_is_reported(self):
        d = self.daemon("[process:hog]\n"
                        "cmd = python3 -c 'b = bytearray(256 * 1024 * 1024); import time; time.sleep(100)'\n"
                        "memory_max = 32M\nflapping = 2 1 30 1\n").start()
        wait_for(lambda: "out of memory" in d.output(), timeout=20, what="the OOM kill in the log")
        self.assertRegex(d.output(), r"exited: status 0, signal 9 \(out of memory\)")

    def test_version_and_help(self):
        out = subprocess.run([GAFFERD, "--version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, r"gafferd \S+ \(loop: (io_uring|epoll), cgroup: (v2|hybrid|none)\)")
        forced = subprocess.run([GAFFERD, "--version"], capture_output=True, text=True, timeout=10,
                                env=dict(os.environ, GAFFER_LOOP="epoll"))
        self.assertIn("loop: epoll", forced.stdout)
        h = subprocess.run([GAFFERD, "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(h.returncode, 0)
        for opt in ("--bind", "--pidfile", "--daemon", "--backlog", "--certfile", "--keyfile", "--version"):
            self.assertIn(opt, h.stdout)
        bad = subprocess.run([GAFFERD, "--backlog", "x"], capture_output=True, text=True, timeout=10)
        self.assertEqual(bad.returncode, 2)


if __name__ == "__main__":
    unittest.main()
