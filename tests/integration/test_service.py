#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gafferd under a service manager and as PID 1: sd_notify messages (this test plays
the service manager), socket activation through systemd-socket-activate, job readiness
(`notify = true`), and init duties under `unshare --pid --fork --mount-proc`."""
import array
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from gafferlib import Daemon, DaemonTestCase, UnixHTTPConnection, GAFFERD, kill_tagged, kill_cgroup_tree, wait_for  # noqa: E402
import json  # noqa: E402


class NotifyTest(DaemonTestCase):
    def test_ready_reloading_stopping_watchdog(self):
        d = Daemon("[process:a]\ncmd = sleep 1000\n")
        self.daemons.append(d)
        path = os.path.join(d.dir, "notify.sock")
        mgr = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        mgr.bind(path)
        mgr.settimeout(10)
        d.env["NOTIFY_SOCKET"] = path
        d.env["WATCHDOG_USEC"] = "400000"
        d.start(wait=False)
        msgs = []

        def recv_until(pred, what):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                m = mgr.recv(4096).decode()
                msgs.append(m)
                if pred(m):
                    return m
            raise AssertionError(f"no {what}; got {msgs}")

        ready = recv_until(lambda m: "READY=1" in m, "READY=1")
        self.assertIn("STATUS=", ready)
        # READY=1 comes once the endpoints listen and the start-up jobs are spawned.
        self.assertEqual(d.get_json("/jobs/default/a")["running"], 1)
        recv_until(lambda m: m == "WATCHDOG=1", "WATCHDOG=1")
        t0 = time.monotonic()
        recv_until(lambda m: m == "WATCHDOG=1", "a second WATCHDOG=1")
        self.assertLess(time.monotonic() - t0, 0.4, "watchdog pings at half WATCHDOG_USEC")
        d.signal(signal.SIGHUP)
        recv_until(lambda m: "RELOADING=1" in m, "RELOADING=1")
        recv_until(lambda m: "READY=1" in m, "READY=1 after the reload")
        d.signal(signal.SIGTERM)
        recv_until(lambda m: "STOPPING=1" in m, "STOPPING=1")
        self.assertEqual(d.proc.wait(timeout=15), 0)
        order = [m.split("\n")[0] for m in msgs if "WATCHDOG" not in m]
        self.assertEqual([o for o in order if o in ("READY=1", "RELOADING=1", "STOPPING=1")],
                         ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"])
        mgr.close()


class SocketActivationTest(unittest.TestCase):
    def test_http_on_an_activated_unix_socket(self):
        if not shutil.which("systemd-socket-activate"):
            self.fail("systemd-socket-activate is missing (package systemd)")
        d = Daemon("[process:a]\ncmd = sleep 1000\n")
        try:
            sock = os.path.join(d.dir, "activated.sock")
            args = ["systemd-socket-activate", "-l", sock, "-E", f"GAFFER_TEST_TAG={d.tag}",
                    "-E", "GAFFER_LOOP=" + os.environ.get("GAFFER_LOOP", ""),
                    GAFFERD, "--state-dir", os.path.join(d.dir, "state"), d.config]
            log = open(d.log_path, "wb")
            d.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=d.env, cwd=d.dir)
            wait_for(lambda: os.path.exists(sock), what="the activation socket")

            def ping():
                c = UnixHTTPConnection(sock, timeout=5)
                c.request("GET", "/jobs")
                r = c.getresponse()
                body = r.read()
                c.close()
                return r.status == 200 and json.loads(body)["jobs"] == ["default.a"]

            wait_for(ping, timeout=15, what="gafferd answering on the activated socket")
            # The default endpoints must not be opened when sockets are passed in.
            self.assertFalse(os.path.exists(os.path.join(d.dir, "gafferd.sock")))
            log.close()
        finally:
            d.cleanup()


class ReadinessTest(unittest.TestCase):
    SENDER = textwrap.dedent("""
        import os, socket, sys, time, array
        addr = os.environ["NOTIFY_SOCKET"]
        if addr.startswith("@"):
            addr = "\\0" + addr[1:]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        trigger = sys.argv[1]
        # Malformed datagrams first: none of them may change anything.
        s.sendto(b"", addr)
        s.sendto(b"\\x00\\xff garbage without equals", addr)
        s.sendto(b"READY=1" + b"x" * 5000, addr)
        r, w = os.pipe()
        s.sendmsg([b"READY=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))], 0, addr)
        open(trigger + ".sent", "w").close()
        while not os.path.exists(trigger):
            time.sleep(0.02)
        s.sendto(b"STATUS=serving\\nREADY=1", addr)
        time.sleep(1000)
    """)

    def setUp(self):
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.cleanup()

    def test_ready_only_after_ready_1_and_malformed_datagrams_change_nothing(self):
        d = self.d = Daemon("")
        script = os.path.join(d.dir, "sender.py")
        with open(script, "w") as f:
            f.write(self.SENDER)
        trigger = os.path.join(d.dir, "go")
        d.write_config(f"[process:svc]\ncmd = python3 {script} {trigger}\nnotify = true\n")
        d.start()
        wait_for(lambda: os.path.exists(trigger + ".sent"), what="the malformed datagrams")
        time.sleep(0.3)
        procs = d.get_json("/jobs/default/svc/processes")["processes"]
        self.assertEqual(len(procs), 1)
        self.assertEqual(procs[0]["state"], "starting")
        # A READY=1 from outside the process's tree is refused.
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.sendto(b"READY=1", "\0gaffer-notify-" + str(d.proc.pid))
        time.sleep(0.3)
        self.assertEqual(d.get_json("/jobs/default/svc/processes")["processes"][0]["state"], "starting")
        open(trigger, "w").close()
        wait_for(lambda: d.get_json("/jobs/default/svc/processes")["processes"][0]["state"] == "running",
                 what="running after READY=1")
        self.assertIsNone(d.proc.poll())

    def test_never_ready_is_restarted_after_ready_timeout(self):
        d = self.d = Daemon("[process:mute]\ncmd = sleep 1000\nnotify = true\nready_timeout = 0.5\n",
                            extra_args=["-v"])
        d.start()
        first = d.get_json("/jobs/default/mute/processes")["processes"][0]
        self.assertEqual(first["state"], "starting")
        wait_for(lambda: any(p["pid"] != first["pid"] for p in
                             d.get_json("/jobs/default/mute/processes")["processes"]),
                 timeout=10, what="a replacement after ready_timeout")
        self.assertIn("did not send READY=1", d.output())

    def test_missed_watchdog_restarts_the_process(self):
        d = self.d = Daemon("", extra_args=["-v"])
        script = os.path.join(d.dir, "once.py")
        with open(script, "w") as f:
            f.write(textwrap.dedent("""
                import os, socket, time
                addr = os.environ["NOTIFY_SOCKET"]
                assert os.environ["WATCHDOG_USEC"] == "300000", os.environ.get("WATCHDOG_USEC")
                addr = "\\0" + addr[1:] if addr.startswith("@") else addr
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.sendto(b"READY=1", addr)
                for _ in range(3):          # pings for a while, then hangs
                    time.sleep(0.1)
                    s.sendto(b"WATCHDOG=1", addr)
                time.sleep(1000)
            """))
        d.write_config(f"[process:wd]\ncmd = python3 {script}\nnotify = true\nwatchdog_sec = 0.3\n")
        d.start()
        first = wait_for(lambda: [p for p in d.get_json("/jobs/default/wd/processes")["processes"]
                                  if p["state"] == "running"], what="ready")[0]["pid"]
        wait_for(lambda: "missed its watchdog" in d.output(), timeout=10, what="the missed watchdog")
        wait_for(lambda: any(p["pid"] != first and p["state"] == "running"
                             for p in d.get_json("/jobs/default/wd/processes")["processes"]),
                 what="a ready replacement")


def unshare_available():
    try:
        return subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class Pid1Test(unittest.TestCase):
    def setUp(self):
        if not unshare_available():
            self.fail("unshare --pid --fork --mount-proc does not work here (needs root)")
        self.tmp = tempfile.TemporaryDirectory(prefix="gafferd-pid1-")
        self.sock = os.path.join(self.tmp.name, "gafferd.sock")
        self.log_path = os.path.join(self.tmp.name, "log")
        self.proc = None
        self.tag = os.urandom(8).hex()

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        kill_tagged(self.tag)
        self.tmp.cleanup()

    def start(self, config, extra=()):
        cfg = os.path.join(self.tmp.name, "gafferd.ini")
        with open(cfg, "w") as f:
            f.write(config)
        env = dict(os.environ, GAFFER_TEST_TAG=self.tag)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", GAFFERD, "-v", "--bind",
                                      "unix:" + self.sock, "--state-dir", os.path.join(self.tmp.name, "st"),
                                      *extra, cfg], stdout=self.log, stderr=subprocess.STDOUT, env=env)
        wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, timeout=15,
                 what="the socket")
        self.assertIsNone(self.proc.poll(), self.output())
        self.pid1 = wait_for(lambda: self.children_of(self.proc.pid), what="gafferd under unshare")[0]

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    @staticmethod
    def children_of(ppid):
        out = []
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    with open(f"/proc/{p}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    if int(fields[1]) == ppid:
                        out.append(int(p))
                except (OSError, IndexError):
                    pass
        return out

    @staticmethod
    def state(pid):
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]

    def get(self, path):
        c = UnixHTTPConnection(self.sock, timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body

    def test_orphans_are_reaped_no_zombies(self):
        # Each run leaves two orphans that exit soon after: as PID 1 gafferd adopts them.
        self.start("[process:orphans]\ncmd = sh -c '(sleep 0.2 &) && (sleep 0.3 &) && sleep 0.5'\n")
        time.sleep(2.5)  # several generations of orphans have come and gone
        zombies = [p for p in self.children_of(self.pid1) if self.state(p) == "Z"]
        self.assertEqual(zombies, [], "orphans left as zombies")
        os.kill(self.pid1, signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=15), 0)

    def test_sigusr1_is_forwarded_and_sigterm_from_outside_shuts_down(self):
        mark = os.path.join(self.tmp.name, "usr1")
        armed = os.path.join(self.tmp.name, "armed")
        # The job says when its trap is set: a SIGUSR1 before that would kill sh (default
        # action) and the test would race the shell's start-up instead of testing forwarding.
        self.start(f"[process:trap]\ncmd = sh -c 'trap \"touch {mark}\" USR1; touch {armed}; "
                   "while true; do sleep 0.05; done'\n"
                   "graceful_timeout = 1\n")
        wait_for(lambda: os.path.exists(armed), what="the job's trap is set")
        os.kill(self.pid1, signal.SIGUSR1)
        wait_for(lambda: os.path.exists(mark), what="SIGUSR1 forwarded to the job")
        self.assertIsNone(self.proc.poll(), "SIGUSR1 must not stop gafferd")
        t0 = time.monotonic()
        os.kill(self.pid1, signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=15), 0)
        self.assertLess(time.monotonic() - t0, 5)

    def test_critical_job_exit_code_is_128_plus_signal(self):
        self.start("[process:dies]\ncmd = sh -c 'kill -9 $$$$'\nflapping = 2 1 0.1 1\ncritical = true\n"
                   "[process:other]\ncmd = sleep 1000\n")
        rc = self.proc.wait(timeout=60)  # 3 flapping periods; generous for a loaded 2-core CI
        self.assertEqual(rc, 128 + 9, self.output())
        self.assertIn("critical job default.dies gave up", self.output())


if __name__ == "__main__":
    unittest.main()
