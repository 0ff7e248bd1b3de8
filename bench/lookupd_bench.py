#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The lookupd bench (issue 15): gaffer_lookupd holding 1000 jobs x 5 processes registered
by 10 nodes.

The nodes are simulated by this script: one websocket per node on `/ws`, speaking the
reference §13.2 protocol (IDENTIFY, REGISTER_JOB, REGISTER_PROCESS, ...) with messages
pipelined (a window of messages in flight per node, as a gafferd node sends them when it
registers a whole configuration). Measured, per repetition:

  1. registration: seconds from the first IDENTIFY to the last reply of the 6,010
     messages of the 10 nodes (10 x (1 + 100 jobs + 500 processes)), and messages/s;
  2. sustained churn: for CHURN seconds every node unregisters and registers processes
     (pairs of messages, a window of 64 in flight per node): replies/s over the window;
  3. the query API with the full registry: `GET /jobs` (1000 jobs, 10 sources each...)
     and `GET /findJob?name=` latency, p50/p99 over keep-alive requests, and body size;
  4. lookupd memory: RSS and USS (smaps_rollup Private_*) idle, and with the registry full;
  5. death to removal: on a second lookupd started with `--heartbeat 1`, a node registers
     100 jobs x 5 processes and then goes silent without closing its socket (a SIGSTOPped
     or partitioned gafferd): seconds from its last message to the `remove_node` event on
     a raw `/lookup/websocket` feed (target: <= 3 heartbeats + 1 s), and from a socket
     close to the event.

nsqlookupd (the peer the issue names) is not packaged by Debian 12 (`apt-cache policy nsq`
is empty), so the lookupd is reported alone.

    python3 bench/lookupd_bench.py --build build [--quick] [--out bench/results]
"""
import argparse
import base64
import datetime
import http.client
import json
import os
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

NODES = 10
JOBS_PER_NODE = 100  # 1000 jobs in all
PROCS_PER_JOB = 5
WINDOW = 64  # messages in flight per node


def log(msg):
    print(f"[lookupd-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def mem_kib(pid):
    rss = uss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                uss += int(line.split()[1])
    return rss, uss


class Ws:
    """A websocket client for the bench: masked text frames, replies parsed from a buffer."""

    def __init__(self, port, path):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError(f"handshake of {path} refused: {self.buf!r}")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"handshake of {path}: {head!r}")
        self.out = b""

    @staticmethod
    def frame(text):
        data = text.encode()
        n = len(data)
        mask = os.urandom(4)
        reps = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(data, "big") ^ int.from_bytes(reps, "big")).to_bytes(n, "big") if n else b""
        if n < 126:
            head = bytes([0x81, 0x80 | n])
        elif n < 65536:
            head = bytes([0x81, 0x80 | 126]) + struct.pack(">H", n)
        else:
            head = bytes([0x81, 0x80 | 127]) + struct.pack(">Q", n)
        return head + mask + masked

    def queue(self, text):
        self.out += self.frame(text)

    def flush_some(self):
        if self.out:
            try:
                n = self.sock.send(self.out, socket.MSG_DONTWAIT)
                self.out = self.out[n:]
            except BlockingIOError:
                pass

    def send(self, text):
        self.sock.sendall(self.frame(text))

    def read_messages(self, block=True):
        """Reads what is there (waits for something when block) and returns the messages."""
        try:
            chunk = self.sock.recv(1 << 20, 0 if block else socket.MSG_DONTWAIT)
        except BlockingIOError:
            chunk = b""
        else:
            if not chunk:
                raise EOFError
        self.buf += chunk
        msgs = []
        while len(self.buf) >= 2:
            op, n = self.buf[0] & 0x0F, self.buf[1] & 0x7F
            off = 2
            if n == 126:
                if len(self.buf) < 4:
                    break
                n, off = struct.unpack(">H", self.buf[2:4])[0], 4
            elif n == 127:
                if len(self.buf) < 10:
                    break
                n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
            if len(self.buf) < off + n:
                break
            payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
            if op == 8:
                raise EOFError
            if op == 1:
                msgs.append(payload.decode())
        return msgs

    def close(self):
        self.sock.close()


_msgid = [0]


def msg(kind, **kw):
    _msgid[0] += 1
    return json.dumps({"type": kind, "msgid": f"{_msgid[0]:032x}", **kw})


def job_name(node, j):
    """1000 distinct jobs: 10 sessions, 100 jobs of each node."""
    return f"s{j % 10}.n{node:02d}job{j:03d}"


def node_script(i):
    name = f"node{i:02d}"
    msgs = [msg("IDENTIFY", name=name, origin=f"http://10.0.0.{i + 1}:5000", version="0.1")]
    for j in range(JOBS_PER_NODE):
        job = job_name(i, j)
        msgs.append(msg("REGISTER_JOB", job_name=job))
        for p in range(PROCS_PER_JOB):
            msgs.append(msg("REGISTER_PROCESS", job_name=job, pid=1000 * i + j * PROCS_PER_JOB + p + 1))
    return name, msgs


def pump(conns, scripts, window, deadline):
    """Sends each connection's script with `window` messages in flight; returns replies seen
    and errors. Stops at the deadline (then what is left is unsent)."""
    sent = [0] * len(conns)
    got = [0] * len(conns)
    errors = 0
    while any(got[k] < len(scripts[k]) for k in range(len(conns))):
        if time.monotonic() > deadline:
            break
        for k, c in enumerate(conns):
            while sent[k] < len(scripts[k]) and sent[k] - got[k] < window:
                c.queue(scripts[k][sent[k]])
                sent[k] += 1
            c.flush_some()
        waiting = [c.sock for k, c in enumerate(conns) if got[k] < sent[k]]
        r, _, _ = select.select(waiting, [], [], 1.0)
        for sock in r:
            k = next(i for i, c in enumerate(conns) if c.sock is sock)
            for m in conns[k].read_messages(block=False):
                got[k] += 1
                if '"ok"' not in m:
                    errors += 1
    return sum(got), errors


def wait_removed(feed, name, timeout):
    """The monotonic time the feed announced remove_node for `name`, None after timeout s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([feed.sock], [], [], 0.5)
        if r:
            for m in feed.read_messages(block=False):
                ev = json.loads(m)
                if ev.get("event") == "remove_node" and ev.get("name") == name:
                    return time.monotonic()
    return None


def start_lookupd(build, heartbeat, tmp, tag):
    port = free_port()
    binary = os.path.join(build, "daemon", "gaffer_lookupd")
    args = [binary, f"--bind=127.0.0.1:{port}", f"--heartbeat={heartbeat}"]
    logf = open(os.path.join(tmp, f"lookupd-{tag}.log"), "wb")
    proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/ping")
            if c.getresponse().status == 200:
                c.close()
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("gaffer_lookupd did not answer /ping")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def get_latency(port, path, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    samples = []
    size = 0
    for _ in range(n):
        t = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        samples.append((time.perf_counter() - t) * 1000)
        size = len(body)
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status}")
    c.close()
    return samples, size, body


def repetition(build, tmp, quick, rep):
    res = {}
    proc, port = start_lookupd(build, 15, tmp, f"main{rep}")
    try:
        time.sleep(0.3)
        res["rss_idle_kib"], res["uss_idle_kib"] = mem_kib(proc.pid)
        scripts = [node_script(i)[1] for i in range(NODES)]
        conns = [Ws(port, "/ws") for _ in range(NODES)]
        total = sum(len(s) for s in scripts)
        t0 = time.monotonic()
        got, errors = pump(conns, scripts, WINDOW, t0 + 120)
        dt = time.monotonic() - t0
        if got != total or errors:
            raise RuntimeError(f"registration: {got}/{total} replies, {errors} errors")
        res["register_s"] = dt
        res["register_msgs_per_s"] = total / dt
        # The registry must hold exactly what was registered.
        _, _, body = get_latency(port, "/jobs", 1)
        jobs = json.loads(body)
        res["jobs_listed"] = jobs["nb_jobs"]
        res["sources_listed"] = sum(len(j["sources"]) for j in jobs["jobs"])
        if res["jobs_listed"] != NODES * JOBS_PER_NODE:
            raise RuntimeError(f"registry lists {res['jobs_listed']} jobs")
        res["pids_listed"] = sum(len(s["pids"]) for j in jobs["jobs"] for s in j["sources"])
        if res["pids_listed"] != NODES * JOBS_PER_NODE * PROCS_PER_JOB:
            raise RuntimeError(f"registry lists {res['pids_listed']} pids")
        res["rss_full_kib"], res["uss_full_kib"] = mem_kib(proc.pid)

        # Sustained churn: pairs UNREGISTER_PROCESS + REGISTER_PROCESS of the same pid.
        churn_s = 2.0 if quick else 5.0
        churn = []
        for i in range(NODES):
            s = []
            for k in range(40000):
                j = k % JOBS_PER_NODE
                job = job_name(i, j)
                pid = 1000 * i + j * PROCS_PER_JOB + 1
                s.append(msg("UNREGISTER_PROCESS", job_name=job, pid=pid))
                s.append(msg("REGISTER_PROCESS", job_name=job, pid=pid))
            churn.append(s)
        t0 = time.monotonic()
        got, errors = pump(conns, churn, WINDOW, t0 + churn_s)
        dt = time.monotonic() - t0
        if errors:
            raise RuntimeError(f"churn: {errors} error replies")
        res["churn_msgs_per_s"] = got / dt
        # Drain the replies still in flight so that the queries below see a quiet lookupd.
        end = time.monotonic() + 5
        while time.monotonic() < end:
            r, _, _ = select.select([c.sock for c in conns], [], [], 0.3)
            if not r:
                break
            for sock in r:
                next(c for c in conns if c.sock is sock).read_messages(block=False)

        n = 50 if quick else 200
        lat, size, _ = get_latency(port, "/jobs", n)
        res["jobs_p50_ms"], res["jobs_p99_ms"], res["jobs_body_bytes"] = pct(lat, 50), pct(lat, 99), size
        lat, size, _ = get_latency(port, "/findJob?name=s3.n03job003", n * 5)
        res["findjob_p50_ms"], res["findjob_p99_ms"] = pct(lat, 50), pct(lat, 99)
        lat, size, _ = get_latency(port, "/nodes", n * 5)
        res["nodes_p50_ms"], res["nodes_p99_ms"] = pct(lat, 50), pct(lat, 99)
        for c in conns:
            c.close()
    finally:
        stop(proc)

    # Death to removal, heartbeat 1 s.
    proc, port = start_lookupd(build, 1, tmp, f"expiry{rep}")
    try:
        feed = Ws(port, "/lookup/websocket")
        node = Ws(port, "/ws")
        name, script = node_script(0)
        got, errors = pump([node], [script], WINDOW, time.monotonic() + 60)
        last = time.monotonic()  # the node's last message: from now on it is silent
        removed = wait_removed(feed, name, 10)
        res["silent_to_removed_s"] = (removed - last) if removed else None
        node.close()
        # A closed socket: the removal is immediate.
        node = Ws(port, "/ws")
        pump([node], [script], WINDOW, time.monotonic() + 60)
        t = time.monotonic()
        node.close()
        removed = wait_removed(feed, name, 5)
        res["closed_to_removed_ms"] = (removed - t) * 1000 if removed else None
        feed.close()
    finally:
        stop(proc)
    return res


ROWS = [
    ("register_msgs_per_s", "registration of 6,010 messages by 10 nodes, pipelined", "msgs/s", "higher"),
    ("register_s", "time to register 1000 jobs x 5 processes (10 nodes)", "s", "lower"),
    ("churn_msgs_per_s", "sustained UNREGISTER/REGISTER_PROCESS churn", "msgs/s", "higher"),
    ("jobs_p50_ms", "GET /jobs p50 (1000 jobs, 5000 pids)", "ms", "lower"),
    ("jobs_p99_ms", "GET /jobs p99", "ms", "lower"),
    ("jobs_body_bytes", "GET /jobs body", "bytes", "lower"),
    ("findjob_p50_ms", "GET /findJob p50", "ms", "lower"),
    ("findjob_p99_ms", "GET /findJob p99", "ms", "lower"),
    ("nodes_p50_ms", "GET /nodes p50", "ms", "lower"),
    ("rss_idle_kib", "lookupd RSS, empty", "KiB", "lower"),
    ("rss_full_kib", "lookupd RSS, 1000 jobs x 5 processes", "KiB", "lower"),
    ("uss_idle_kib", "lookupd USS (private), empty", "KiB", "lower"),
    ("uss_full_kib", "lookupd USS (private), 1000 jobs x 5 processes", "KiB", "lower"),
    ("silent_to_removed_s", "silent node to remove_node (heartbeat 1 s; target <= 4 s)", "s", "lower"),
    ("closed_to_removed_ms", "closed node socket to remove_node", "ms", "lower"),
]


def fmt(v):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}" if v < 10 else f"{v:.0f}"
    return str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=int, default=None)
    a = ap.parse_args()
    runs = a.runs or (1 if a.quick else 3)
    build = os.path.abspath(a.build)
    if not os.access(os.path.join(build, "daemon", "gaffer_lookupd"), os.X_OK):
        log(f"{build}/daemon/gaffer_lookupd is not built")
        return 1
    reps = []
    with tempfile.TemporaryDirectory(prefix="lookupd-bench-") as tmp:
        for rep in range(runs):
            log(f"repetition {rep + 1}/{runs}")
            reps.append(repetition(build, tmp, a.quick, rep))
            log(json.dumps(reps[-1]))
    day = datetime.date.today().isoformat()
    suffix = "-quick" if a.quick else ""
    os.makedirs(a.out, exist_ok=True)
    base = os.path.join(a.out, f"{day}-lookupd{suffix}")
    with open(base + ".json", "w") as f:
        json.dump({"date": day, "runs": reps}, f, indent=2)
    lines = [f"# lookupd bench: 1000 jobs x 5 processes registered by 10 nodes, {day}", "",
             f"{NODES} simulated nodes (one `/ws` websocket each, {WINDOW} messages in flight per node), "
             f"{runs} repetition(s); median [min–max]. nsqlookupd is not packaged by Debian 12, so the "
             "lookupd is reported alone.", "",
             "| metric | unit | gaffer_lookupd |", "|---|---|---|"]
    for key, label, unit, better in ROWS:
        vals = [r[key] for r in reps if r.get(key) is not None]
        if not vals:
            cell = "—"
        else:
            med = statistics.median(vals)
            cell = fmt(med) + (f" [{fmt(min(vals))}–{fmt(max(vals))}]" if len(vals) > 1 else "")
        lines.append(f"| {label} ({better} is better) | {unit} | {cell} |")
    lines.append("")
    lines.append("Listed after registration in every repetition: "
                 + ", ".join(f"{r['jobs_listed']} jobs / {r['pids_listed']} pids" for r in reps) + ".")
    with open(base + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
