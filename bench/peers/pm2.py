# SPDX-License-Identifier: MIT
"""PM2 (npm package pm2, installed into bench/.node) through its programmatic API.

A Node helper (pm2_driver.js) holds the pm2 client; this adapter sends it one JSON line
per call. PM2_HOME is a fresh directory, so the God daemon, its unix sockets, pid files
and logs all live there. A group g is one app started with instances = n in fork mode,
interpreter none, logs to /dev/null (merge_logs, so no per-instance suffix) and vizion
off (no VCS probing)."""
import json
import os
import select
import shutil
import subprocess
import time

from .base import Peer, Proc, Unsupported, pid_alive, wait_until

STATE = {"online": "running", "launching": "starting", "stopping": "stopping"}


class Pm2Peer(Peer):
    name = "pm2"
    slow_stop_note = ("PM2 stops an app's processes 2 at a time (PM2_CONCURRENT_ACTIONS), each one "
                      "polled until it is gone")

    def start(self):
        self.node = shutil.which("node")
        self.node_dir = os.path.join(self.ctx.bench_dir, ".node")
        self.pm2_bin = os.path.join(self.node_dir, "node_modules", "pm2", "bin", "pm2")
        if not self.node or not os.path.exists(self.pm2_bin):
            raise Unsupported("PM2 is not installed (npm install --prefix bench/.node pm2)")
        self.home = os.path.join(self.dir, "pm2home")
        os.makedirs(self.home)
        self.env = {"PATH": os.path.dirname(self.node) + ":/usr/bin:/bin", "HOME": self.dir, "PM2_HOME": self.home,
                    "BENCH_NODE_DIR": self.node_dir, "PM2_SILENT": "true", "PM2_DISABLE_VERSION_CHECK": "true"}
        driver = os.path.join(os.path.dirname(__file__), "pm2_driver.js")
        err = open(os.path.join(self.dir, "driver.stderr"), "ab")
        self.popen = subprocess.Popen([self.node, driver], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=err, cwd=self.dir, env=self.env, start_new_session=True)
        err.close()
        self.started_pids.add(self.popen.pid)
        self.buf = b""
        self.next_id = 0
        self.call("connect", timeout=60)
        self.god = wait_until(self._god_pid, 30, 0.02)
        if not self.god:
            raise RuntimeError("the PM2 daemon did not write its pid file")
        self.started_pids.add(self.god)

    def _god_pid(self):
        try:
            with open(os.path.join(self.home, "pm2.pid")) as f:
                pid = int(f.read().strip())
            return pid if pid_alive(pid) else None
        except (OSError, ValueError):
            return None

    def call(self, op, timeout=120, **args):
        self.next_id += 1
        msg = dict(args, id=self.next_id, op=op)
        self.popen.stdin.write(json.dumps(msg).encode() + b"\n")
        self.popen.stdin.flush()
        deadline = time.monotonic() + timeout
        fd = self.popen.stdout.fileno()
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                if not line.startswith(b"@@bench "):
                    continue
                ans = json.loads(line[8:])
                if ans.get("id") != self.next_id:
                    continue
                if "error" in ans:
                    raise RuntimeError(f"pm2 {op}: {ans['error']}")
                return ans
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"pm2 {op}: no answer in {timeout} s")
            r, _, _ = select.select([fd], [], [], left)
            if r:
                data = os.read(fd, 1 << 20)
                if not data:
                    raise RuntimeError("the PM2 driver exited")
                self.buf += data

    def daemon_pids(self):
        return [self.god] if getattr(self, "god", None) else []

    # --- groups
    def prepare_group(self, group, n, kind, grace):
        argv = self.argv_of(kind)
        writer = kind == "writer"
        return {"name": group, "script": argv[0], "args": argv[1:], "interpreter": "none", "exec_mode": "fork",
                "instances": n, "autorestart": not writer, "kill_timeout": int(grace * 1000),
                "out_file": self.writer_log if writer else "/dev/null", "error_file": "/dev/null",
                "merge_logs": True, "vizion": False, "cwd": self.dir}

    def start_group(self, group, n, kind, grace):
        self.call("start", opts=self.prepare_group(group, n, kind, grace))

    def _parse(self, procs):
        return [Proc(p["name"], str(p["pm_id"]), int(p["pid"] or 0), STATE.get(p["status"], "down")) for p in procs]

    def status(self, group=None):
        return self._parse(self.call("list", name=group)["procs"])

    def time_status(self, group, count, budget):
        return [ms / 1000.0 for ms in self.call("time_list", count=count, budget_ms=budget * 1000, timeout=600)["ms"]]

    def stop_group(self, group):
        self.call("stop", name=group, nowait=True)

    def remove_group(self, group):
        self.call("delete", name=group, timeout=600)
        wait_until(lambda: not self.status(group), 60, 0.01)

    def scale(self, group, n):
        self.call("scale", name=group, n=n, timeout=600)

    def cli_status(self):
        env = {k: v for k, v in self.env.items() if k != "PM2_SILENT"}  # silent would print nothing
        return [self.node, self.pm2_bin, "ls"], env

    def teardown(self):
        try:
            self.call("kill", timeout=60)
        except (OSError, RuntimeError, TimeoutError, AttributeError):
            pass
        try:
            self.popen.stdin.close()
            self.popen.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, AttributeError):
            pass
        self.kill_everything()
