#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The etcd registry bench (issue 15, lib/etcd): gafferd --registry=etcd://... against a
real etcd (Debian's etcd-server, /usr/bin/etcd) on loopback ports, data in a temp dir.

Rows, per repetition:
  1. registration: a gafferd with JOBS jobs x PROCS `sleep` processes; seconds from its
     API answering to every key in etcd, and the etcd revisions (write requests) it took;
  2. churn: every job scaled +1 then -1 through the API, as fast as the API answers;
     seconds until etcd holds the final pids again, and the revisions that took;
  3. death to removal: the node SIGSTOPped (heartbeat 1 s, lease TTL 3 s): seconds
     until its keys are gone (target: <= 3 heartbeats + 1 s), and SIGCONT to back;
  4. clean stop to removal: SIGTERM to the node's keys gone (the lease is revoked);
  5. API latency with etcd SIGSTOPped (accepting connections, never answering) against
     etcd running: `GET /jobs/<sid>/<job>/pids` p50/p99 over keep-alive requests.

    python3 bench/etcd_bench.py --build build [--quick] [--out bench/results]
"""
import argparse
import base64
import datetime
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ETCD = "/usr/bin/etcd"
PREFIX = "/gaffer/v1/nodes/"


def log(msg):
    print(f"[etcd-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64(s):
    return base64.b64encode(s.encode()).decode()


def wait(pred, timeout, interval=0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except OSError:
            pass
        time.sleep(interval)
    return False


class Etcd:
    def __init__(self, tmp):
        self.dir = tmp
        self.port = free_port()
        self.peer = free_port()
        self.proc = None

    def start(self):
        url = f"http://127.0.0.1:{self.port}"
        peer = f"http://127.0.0.1:{self.peer}"
        self.proc = subprocess.Popen(
            [ETCD, "--name", "default", "--data-dir", os.path.join(self.dir, "etcd"), "--listen-client-urls", url,
             "--advertise-client-urls", url, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"default={peer}", "--log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait(lambda: self.revision() >= 0, 20):
            raise RuntimeError("etcd did not start")

    def post(self, path, body):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=json.dumps(body).encode())
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def revision(self):
        return int(self.post("/v3/kv/range", {"key": b64("x")})["header"]["revision"])

    def keys(self, prefix=PREFIX):
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        ans = self.post("/v3/kv/range", {"key": b64(prefix), "range_end": b64(end)})
        return {base64.b64decode(kv["key"]).decode(): json.loads(base64.b64decode(kv["value"]))
                for kv in ans.get("kvs", [])}

    def count(self, prefix=PREFIX):
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return int(self.post("/v3/kv/range", {"key": b64(prefix), "range_end": b64(end),
                                              "count_only": True}).get("count", "0"))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Node:
    def __init__(self, build, tmp, etcd, jobs, procs, heartbeat):
        self.port = free_port()
        cfg = os.path.join(tmp, "gafferd.ini")
        with open(cfg, "w") as f:
            for i in range(jobs):
                f.write(f"[job:bench.j{i}]\ncmd = sleep\nargs = 3600\nnumprocesses = {procs}\n\n")
        self.proc = subprocess.Popen(
            [os.path.join(build, "daemon", "gafferd"), "--no-dbus", "--bind", f"127.0.0.1:{self.port}",
             "--state-dir", os.path.join(tmp, "state"), "--registry", f"etcd://127.0.0.1:{etcd.port}",
             "--node-name", "bench", "--lookupd-heartbeat", str(heartbeat), cfg],
            stdout=open(os.path.join(tmp, "gafferd.log"), "wb"), stderr=subprocess.STDOUT, cwd=tmp)
        self.conn = None

    def request(self, method, path, body=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            r = self.conn.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise

    def up(self):
        return self.request("GET", "/ping")[0] == 200

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def pct(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def run_once(build, jobs, procs, samples):
    row = {}
    with tempfile.TemporaryDirectory(prefix="gaffer-etcd-bench-") as tmp:
        etcd = Etcd(tmp)
        etcd.start()
        node = None
        try:
            # 1. registration
            r0 = etcd.revision()
            node = Node(build, tmp, etcd, jobs, procs, 1)
            if not wait(node.up, 300):
                raise RuntimeError("gafferd did not start")
            t0 = time.monotonic()
            if not wait(lambda: etcd.count() == jobs + 1, 60):
                raise RuntimeError("the keys did not all appear")
            row["register_s"] = time.monotonic() - t0
            row["register_revisions"] = etcd.revision() - r0
            log(f"registration of {jobs} jobs x {procs}: {row['register_s']:.3f} s after the API, "
                f"{row['register_revisions']} revisions")

            # 2. churn
            r0 = etcd.revision()
            t0 = time.monotonic()
            for i in range(jobs):
                node.request("POST", f"/jobs/bench/j{i}/numprocesses", {"scale": "+1"})
            for i in range(jobs):
                node.request("POST", f"/jobs/bench/j{i}/numprocesses", {"scale": "-1"})
            api_s = time.monotonic() - t0
            want = {}
            for i in range(jobs):
                want[f"{PREFIX}bench/jobs/bench.j{i}"] = json.loads(node.request("GET", f"/jobs/bench/j{i}/pids")[1])

            def settled():
                got = etcd.keys(PREFIX + "bench/jobs/")
                return got == want
            if not wait(settled, 60, 0.05):
                raise RuntimeError("etcd did not settle after the churn")
            row["churn_s"] = time.monotonic() - t0
            row["churn_api_s"] = api_s
            row["churn_revisions"] = etcd.revision() - r0
            log(f"churn ({2 * jobs} scale requests, {api_s:.2f} s of API): etcd settled {row['churn_s']:.2f} s "
                f"after the first, {row['churn_revisions']} revisions")

            # 5. API latency, etcd running then stopped
            for label in ("etcd_running", "etcd_stopped"):
                if label == "etcd_stopped":
                    os.kill(etcd.proc.pid, signal.SIGSTOP)
                lat = []
                deadline = time.monotonic() + 10
                while len(lat) < samples and time.monotonic() < deadline:
                    t = time.monotonic()
                    node.request("GET", "/jobs/bench/j0/pids")
                    lat.append((time.monotonic() - t) * 1000)
                row[f"api_{label}_p50_ms"] = pct(lat, 50)
                row[f"api_{label}_p99_ms"] = pct(lat, 99)
                log(f"API with {label.replace('_', ' ')}: p50 {pct(lat, 50):.3f} ms, p99 {pct(lat, 99):.3f} ms "
                    f"({len(lat)} requests)")
            os.kill(etcd.proc.pid, signal.SIGCONT)
            if not wait(lambda: etcd.count() == jobs + 1, 30):
                raise RuntimeError("the node did not come back after etcd resumed")

            # 3. death to removal
            time.sleep(1.2)
            os.kill(node.proc.pid, signal.SIGSTOP)
            t0 = time.monotonic()
            gone = wait(lambda: etcd.count() == 0, 10)
            row["death_to_removal_s"] = time.monotonic() - t0 if gone else None
            os.kill(node.proc.pid, signal.SIGCONT)
            log(f"SIGSTOP to keys gone (heartbeat 1 s, TTL 3 s): {row['death_to_removal_s']}")
            t0 = time.monotonic()
            back = wait(lambda: etcd.count() == jobs + 1, 30)
            row["sigcont_to_back_s"] = time.monotonic() - t0 if back else None

            # 4. clean stop
            t0 = time.monotonic()
            node.proc.terminate()
            node.proc.wait(120)
            stopped = time.monotonic() - t0
            gone = etcd.count() == 0
            row["clean_stop_s"] = stopped
            row["clean_stop_keys_gone"] = gone
            log(f"SIGTERM: exited after {stopped:.2f} s, keys gone at exit: {gone}")
        finally:
            if node:
                node.stop()
            etcd.stop()
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if not os.access(ETCD, os.X_OK):
        log(f"{ETCD} is missing (Debian package etcd-server): nothing to measure")
        return 0
    jobs, procs, runs, samples = (100, 2, 1, 200) if args.quick else (500, 2, 2, 1000)
    rows = []
    for i in range(runs):
        log(f"run {i + 1}/{runs}: {jobs} jobs x {procs} processes")
        rows.append(run_once(os.path.abspath(args.build), jobs, procs, samples))
    result = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "jobs": jobs, "processes": procs,
              "etcd": subprocess.run([ETCD, "--version"], capture_output=True, text=True).stdout.split("\n")[0],
              "runs": rows}
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, f"etcd-{datetime.date.today().isoformat()}.json")
        with open(path, "w") as f:
            json.dump(result, f, indent=1)
        log(f"wrote {path}")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
