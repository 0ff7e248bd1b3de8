# SPDX-License-Identifier: MIT
"""gafferd over its HTTP API: the unix socket for everything, plus a loopback TCP
endpoint (port 0, read back from the log) for the TCP rows and wrk.

Jobs live in session "bench": a group g is job bench.g. The output child is a committed
process (POST .../commit: run once, never restarted) of a job with numprocesses 0 whose
stdout_file is the capture file."""
import base64
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from .base import (SLEEP_ARGV, HttpConn, HttpError, Peer, Proc, Unsupported, rss_pss_kib, timed_rounds,
                   wait_until)

# The integration tests' private-bus fixture (standard library only).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "integration"))
from gafferlib import DBusDaemon  # noqa: E402

SESSION = "bench"
STATE = {"running": "running", "starting": "starting", "stopping": "stopping"}


class GafferdPeer(Peer):
    name = "gafferd"

    def start(self):
        self.bin = os.path.join(self.ctx.build_dir, "daemon", "gafferd")
        self.ctl_bin = os.path.join(self.ctx.build_dir, "ctl", "gafferctl", "gafferctl")
        for b in (self.bin, self.ctl_bin):
            if not os.access(b, os.X_OK):
                raise Unsupported(f"{b} is not built")
        self.sock_path = os.path.join(self.dir, "gafferd.sock")
        self.log_path = os.path.join(self.dir, "gafferd.log")
        ini = os.path.join(self.dir, "gafferd.ini")
        with open(ini, "w") as f:
            f.write("[gaffer]\n")
        env = {"PATH": "/usr/bin:/bin", "HOME": self.dir}
        self.spawn_daemon([self.bin, "--bind", f"unix:{self.sock_path}", "--bind", "127.0.0.1:0",
                           "--state-dir", os.path.join(self.dir, "state"), "--error-log", self.log_path, ini],
                          env=env, log_name="gafferd.stderr")
        self.port = wait_until(self._port_from_log, 15, 0.01)
        if not self.port:
            raise RuntimeError("gafferd did not report its TCP port")
        self.http = HttpConn(self.sock_path)
        self.tcp = HttpConn(("127.0.0.1", self.port))
        if not wait_until(lambda: self._ping(), 15, 0.01):
            raise RuntimeError("gafferd does not answer /ping")

    def _port_from_log(self):
        try:
            with open(self.log_path) as f:
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
            return int(m.group(1)) if m else None
        except OSError:
            return None

    def _ping(self):
        try:
            return self.http.request("GET", "/ping")[0] == 200
        except OSError:
            return False

    def _call(self, method, path, body=b"", ok=(200, 201, 202)):
        status, data = self.http.request(method, path, body, "application/json" if body else None)
        if status not in ok:
            raise RuntimeError(f"gafferd {method} {path}: {status} {data[:200]!r}")
        return data

    # --- groups
    def prepare_group(self, group, n, kind, grace):
        argv = self.argv_of(kind)
        cfg = {"name": group, "cmd": argv[0], "args": argv[1:], "numprocesses": 0 if kind == "writer" else n,
               "graceful_timeout": grace}
        if kind == "writer":
            cfg.update({"redirect_output": ["out"], "stdout_file": self.writer_log})
        return json.dumps(cfg).encode()

    def start_group(self, group, n, kind, grace):
        body = self.prepare_group(group, n, kind, grace)
        self._call("POST", f"/jobs/{SESSION}", body)
        if kind == "writer":
            self._call("POST", f"/jobs/{SESSION}/{group}/commit", b"{}")

    def _parse(self, data, group):
        out = []
        for p in json.loads(data)["processes"]:
            sid, _, job = p["name"].partition(".")
            if group and job != group:
                continue
            out.append(Proc(job, str(p["pid"]), int(p.get("os_pid") or 0), STATE.get(p["state"], "down")))
        return out

    def _path(self, group):
        return f"/jobs/{SESSION}/{group}/processes" if group else "/processes?full=1"

    def status_probe(self, group=None):
        return self.http.request("GET", self._path(group))

    def status(self, group=None):
        status, data = self.http.request("GET", self._path(group))
        if status == 404:
            return []
        if status != 200:
            raise RuntimeError(f"gafferd status: {status} {data[:200]!r}")
        return self._parse(data, group)

    def time_status_tcp(self, group, count, budget):
        return timed_rounds(lambda: self.tcp.request("GET", self._path(group)), count, budget)

    def stop_group(self, group):
        self._call("POST", f"/jobs/{SESSION}/{group}/state", b"0")

    def remove_group(self, group):
        self._call("DELETE", f"/jobs/{SESSION}/{group}", ok=(200, 404))
        wait_until(lambda: not self.status(group), 60, 0.005)

    def scale(self, group, n):
        self._call("POST", f"/jobs/{SESSION}/{group}/numprocesses", json.dumps({"scale": f"={n}"}).encode())

    @contextlib.contextmanager
    def side_daemon(self, name, args):
        """A second gafferd of this peer beside the main one (its own directory, unix socket
        and loopback TCP endpoint, `args` added), stopped and reaped on leaving the block.
        Yields (process, HttpConn on its unix socket, its TCP port)."""
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        sock, log_path, ini = os.path.join(d, "gafferd.sock"), os.path.join(d, "gafferd.log"), os.path.join(d, "g.ini")
        with open(ini, "w") as f:
            f.write("[gaffer]\n")
        proc = subprocess.Popen([self.bin, "--bind", f"unix:{sock}", "--bind", "127.0.0.1:0", *args,
                                 "--state-dir", os.path.join(d, "state"), "--error-log", log_path, ini],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=d, env={"PATH": "/usr/bin:/bin", "HOME": d}, start_new_session=True)
        self.started_pids.add(proc.pid)
        unix = None
        try:
            def port():
                try:
                    with open(log_path) as f:
                        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", f.read())
                    return int(m.group(1)) if m else None
                except OSError:
                    return None
            # -1: it exited before it listened.
            tcp_port = wait_until(lambda: port() or (proc.poll() is not None and -1), 15, 0.01)
            if not tcp_port or tcp_port < 0:
                raise RuntimeError(f"the {name} gafferd ({' '.join(args)}) did not start: exit {proc.poll()}")
            unix = HttpConn(sock)
            wait_until(lambda: unix.request("GET", "/ping")[0] == 200, 15, 0.01)
            yield proc, unix, tcp_port
        finally:
            if unix:
                unix.close()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            self.started_pids.discard(proc.pid)

    def password_guessing(self, clients, samples, budget):
        # A second gafferd with keys required (GET /auth exists only then).
        stop = multiprocessing.Event()
        guessers = []
        with self.side_daemon("auth", ["--require-key"]) as (_, unix, tcp_port):
            try:
                status, _ = unix.request("POST", "/users", json.dumps({"username": "admin", "password": "right"}),
                                         "application/json")
                if status != 200:
                    raise RuntimeError(f"POST /users: {status}")
                ping = HttpConn(("127.0.0.1", tcp_port), host=f"127.0.0.1:{tcp_port}")
                for _ in range(20):
                    ping.request("GET", "/ping")
                idle = timed_rounds(lambda: ping.request("GET", "/ping"), samples, budget)
                counts = multiprocessing.Array("l", 3 * clients)
                for i in range(clients):
                    g = multiprocessing.Process(target=_guess, args=(tcp_port, i, stop, counts))
                    g.start()
                    guessers.append(g)
                time.sleep(0.5)  # let them get going
                t0 = time.monotonic()
                busy = timed_rounds(lambda: ping.request("GET", "/ping"), samples, budget)
                elapsed = time.monotonic() - t0
                stop.set()
                for g in guessers:
                    g.join(10)
                ping.close()
                tot = [sum(counts[3 * i + j] for i in range(clients)) for j in range(3)]
                info = {"guesses": tot[0] + tot[1] + tot[2], "answered_401": tot[0], "answered_429": tot[1],
                        "other": tot[2], "seconds": elapsed}
                return idle, busy, info
            finally:
                stop.set()
                for g in guessers:
                    if g.is_alive():
                        g.kill()
                        g.join()

    def dbus_bench(self, n_small, n_big, samples, budget):
        """Issue 13: org.gaffer1 on a private dbus-daemon, measured by gaffer-dbus-client
        (sd-bus, one kept connection): ListProcesses round trips with n_small and n_big
        processes, GetJob + a property read, and the RSS of a gafferd with D-Bus on and of
        one with --no-dbus, each with n_big sleeps. Both are side daemons: the main one
        keeps its own configuration for the other rows."""
        client = os.path.join(self.ctx.build_dir, "tests", "helpers", "gaffer-dbus-client")
        if not os.access(client, os.X_OK):
            raise Unsupported(f"{client} is not built")
        if not shutil.which("dbus-daemon"):
            raise Unsupported("dbus-daemon is not installed (Debian package dbus)")
        out = {}
        with DBusDaemon() as bus:
            with self.side_daemon("dbus", ["--dbus-address=" + bus.address]) as (proc, unix, _):
                if not wait_until(lambda: _client(client, "bench-list", bus.address, 1, 1, check=False), 15, 0.05):
                    raise RuntimeError("gafferd --dbus-address never answered ListProcesses on the private bus")
                _load_sleeps(unix, "d", n_small)
                out["list_small"] = _client(client, "bench-list", bus.address, samples, budget)
                _load_sleeps(unix, "d", n_big)
                out["list_big"] = _client(client, "bench-list", bus.address, samples, budget)
                out["getjob"] = _client(client, "bench-getjob", bus.address, f"{SESSION}.d", samples, budget)
                time.sleep(0.5)
                out["rss_on"] = rss_pss_kib([proc.pid])[0] / 1024.0
        with self.side_daemon("nodbus", ["--no-dbus"]) as (proc, unix, _):
            _load_sleeps(unix, "d", n_big)
            time.sleep(0.5)
            out["rss_off"] = rss_pss_kib([proc.pid])[0] / 1024.0
        for key, n in (("list_small", n_small), ("list_big", n_big)):
            if out[key]["entries"] != n:
                raise RuntimeError(f"ListProcesses gave {out[key]['entries']} processes, not {n}")
        return out

    def cli_status(self):
        return [self.ctl_bin, "--endpoint", f"unix:{self.sock_path}", "ps"], None

    def http_url(self):
        return f"http://127.0.0.1:{self.port}"

    def teardown(self):
        for c in (getattr(self, "http", None), getattr(self, "tcp", None)):
            if c:
                c.close()
        self.kill_everything(grace=20)


def _guess(port, i, stop, counts):
    """One password guesser: GET /auth with a wrong password, as fast as answers come."""
    conn = HttpConn(("127.0.0.1", port), host=f"127.0.0.1:{port}")
    n = 0
    while not stop.is_set():
        cred = base64.b64encode(f"admin:guess-{i}-{n}".encode()).decode()
        n += 1
        try:
            status, _ = conn.request("GET", "/auth", headers={"Authorization": "Basic " + cred})
        except (OSError, HttpError):
            continue
        slot = 0 if status == 401 else 1 if status == 429 else 2
        counts[3 * i + slot] += 1
    conn.close()


def _client(binary, *args, check=True):
    """One run of gaffer-dbus-client's bench commands: its JSON ({"entries", "samples_us"});
    with check=False, None when it failed (still starting)."""
    r = subprocess.run([binary, *[str(a) for a in args]], stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    if r.returncode != 0:
        if not check:
            return None
        raise RuntimeError(f"gaffer-dbus-client {args[0]}: exit {r.returncode}: {r.stderr[-300:]!r}")
    return json.loads(r.stdout)


def _load_sleeps(unix, group, n):
    """Loads (or scales) job bench.<group> to n sleeps on a side daemon and waits until
    all n run (bounded)."""
    status, data = unix.request("GET", f"/jobs/{SESSION}/{group}")
    if status == 404:
        cfg = {"name": group, "cmd": SLEEP_ARGV[0], "args": SLEEP_ARGV[1:], "numprocesses": n, "graceful_timeout": 2.0}
        status, data = unix.request("POST", f"/jobs/{SESSION}", json.dumps(cfg), "application/json")
    else:
        status, data = unix.request("POST", f"/jobs/{SESSION}/{group}/numprocesses", json.dumps({"scale": f"={n}"}),
                                    "application/json")
    if status != 200:
        raise RuntimeError(f"loading {n} sleeps: {status} {data[:200]!r}")

    def running():
        st, body = unix.request("GET", f"/jobs/{SESSION}/{group}/processes")
        return st == 200 and sum(1 for p in json.loads(body)["processes"] if p["state"] == "running") >= n
    if not wait_until(running, 240, 0.005):
        raise RuntimeError(f"{n} sleeps not running within 240 s")
