# SPDX-License-Identifier: MIT
"""What every peer adapter shares: the Peer interface, a small keep-alive HTTP client for
unix and TCP sockets, and /proc helpers (descendants, RSS/PSS, CPU time, liveness).

An adapter drives one supervisor through its own API. The harness (bench/harness.py)
does the timing and never talks to a peer except through these methods:

    start()                          start the daemon fresh in self.dir, wait until it answers
    daemon_pids()                    the pids that make up "the daemon" (footprint, idle CPU)
    prepare_group(g, n, kind, grace) write whatever config a start needs (not timed)
    start_group(g, n, kind, grace)   the request: start n processes of kind (timed)
    status(g=None)                   [Proc] of group g (or of every group), parsed
    status_probe(g=None)             one status request, unparsed (what the latency rows time)
    time_status(g, count)            count status round trips, in seconds
    stop_group(g)                    request a stop of every process of g (returns at once)
    remove_group(g)                  stop and unload g, wait until the peer forgot it
    prepare_scale(g, n) / scale(g, n)
    cli_status()                     (argv, env) of the status command an admin would type
    teardown()                       stop the daemon and everything it started

kind is "sleep" (/bin/sleep 3600), "ignore_term" (a sleep that ignores SIGTERM) or
"writer" (the output scenario's child: self.writer_args, stdout captured into
self.writer_log, never restarted). A method a peer cannot do raises Unsupported(why).
"""
import os
import signal
import socket
import subprocess
import time
from typing import NamedTuple, Optional

SLEEP_ARGV = ["/bin/sleep", "3600"]
IGNORE_TERM_SCRIPT = "trap '' TERM; exec /bin/sleep 3600"
IGNORE_TERM_ARGV = ["/bin/sh", "-c", IGNORE_TERM_SCRIPT]



def timed_rounds(call, count, budget):
    """Durations (s) of up to count calls of call(); fewer once budget s have passed, at
    least 5."""
    out = []
    t_end = time.monotonic() + budget
    for i in range(count):
        if i >= 5 and time.monotonic() > t_end:
            break
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out

class Unsupported(Exception):
    """The peer has no way to do this; the message says why (it lands in the report)."""


class Proc(NamedTuple):
    group: str
    id: str       # the peer's own id of the process (internal pid, name, index)
    ospid: int    # 0 when the peer reports none
    state: str    # running | starting | stopping | down


def alive_procs(procs):
    return [p for p in procs if p.state != "down" and p.ospid > 0]


def running_procs(procs):
    return [p for p in procs if p.state == "running" and p.ospid > 0]


# ---------------------------------------------------------------- /proc helpers

def _stat_fields(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read().decode("ascii", "replace")
    # comm may contain spaces and parentheses: split after the last ')'.
    rest = data[data.rindex(")") + 2:].split()
    return rest  # rest[0] = state (field 3), rest[1] = ppid (field 4)


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        return _stat_fields(pid)[0] != "Z"
    except (OSError, ValueError, IndexError):
        return False


def children_map():
    """ppid -> [pid] for every process on the machine."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(name)[1])
        except (OSError, ValueError, IndexError):
            continue
        out.setdefault(ppid, []).append(int(name))
    return out


def descendants(root):
    """Every live descendant of root (not root itself)."""
    cmap = children_map()
    out, todo = [], [root]
    while todo:
        for child in cmap.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def rss_pss_kib(pids):
    """(sum of Rss, sum of Pss) in KiB over pids, from smaps_rollup."""
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def cpu_ns(pids):
    """CPU time (user+system) of pids and all their threads, in ns. Uses schedstat
    (ns resolution) summed over the threads, else utime+stime from stat (ticks)."""
    total = 0
    hz = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        got = False
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
                got = True
        except (OSError, ValueError):
            got = False
        if not got:
            try:
                rest = _stat_fields(pid)
                total += (int(rest[11]) + int(rest[12])) * 1_000_000_000 // hz
            except (OSError, ValueError, IndexError):
                pass
    return total


def kill_pids(pids, sig=signal.SIGKILL):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def reap_orphans():
    """The harness is a child subreaper: daemons that double-fork (PM2) end up as its
    children. Reap the zombies among them without touching Popen-owned children."""
    me = os.getpid()
    for pid in children_map().get(me, []):
        try:
            if _stat_fields(pid)[0] == "Z":
                os.waitpid(pid, os.WNOHANG)
        except (OSError, ValueError, IndexError):
            pass


def wait_until(pred, timeout, interval=0.001):
    """Poll pred() until it returns a truthy value or timeout seconds pass; returns the
    value, or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


# ---------------------------------------------------------------- HTTP client

class HttpError(Exception):
    pass


class HttpConn:
    """A minimal HTTP/1.1 client with keep-alive, over a unix socket (address = path
    string) or TCP (address = (host, port)). Small enough that the time measured is the
    server's, not the client library's."""

    def __init__(self, address, host="localhost", timeout=60.0):
        self.address = address
        self.host = host
        self.timeout = timeout
        self.sock = None
        self.buf = b""

    def _connect(self):
        if isinstance(self.address, str):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(self.timeout)
        s.connect(self.address)
        self.sock = s
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None

    def _recv(self):
        data = self.sock.recv(262144)
        if not data:
            raise HttpError("connection closed")
        self.buf += data

    def request(self, method, path, body=b"", content_type=None, headers=None):
        """Returns (status, body bytes). Retries once on a connection the server closed."""
        if isinstance(body, str):
            body = body.encode()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        for k, v in (headers or {}).items():
            head += f"{k}: {v}\r\n"
        if body or method in ("POST", "PUT"):
            head += f"Content-Length: {len(body)}\r\n"
        if content_type:
            head += f"Content-Type: {content_type}\r\n"
        req = head.encode() + b"\r\n" + body
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self._connect()
                self.sock.sendall(req)
                return self._response(method)
            except (OSError, HttpError):
                self.close()
                if attempt:
                    raise
        raise HttpError("unreachable")

    def _response(self, method):
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        http10 = parts[0] == "HTTP/1.0"
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        close = headers.get("connection", "").lower() == "close" or (
            http10 and headers.get("connection", "").lower() != "keep-alive")
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                self._recv()
            body, self.buf = self.buf[:n], self.buf[n:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._recv()
                size_line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    self._recv()
                body += self.buf[:size]
                self.buf = self.buf[size + 2:]
                if size == 0:
                    break
        else:  # until the server closes
            try:
                while True:
                    self._recv()
            except HttpError:
                pass
            body, self.buf = self.buf, b""
            close = True
        if close:
            self.close()
        return status, body


# ---------------------------------------------------------------- the base class

class Peer:
    name = "?"
    # Appended to the "why" of a stop that did not finish within its cap.
    slow_stop_note = ""

    def __init__(self, ctx, workdir):
        self.ctx = ctx          # harness context: build dir, bench dir, raw binary, quick
        self.dir = workdir      # a fresh temporary directory of this peer's own
        self.popen: Optional[subprocess.Popen] = None
        self.started_pids = set()
        self.writer_args = None  # argv of the output child, set by the harness
        self.writer_log = None   # where its stdout is to be captured

    # --- to override
    def start(self):
        raise NotImplementedError

    def daemon_pids(self):
        return [self.popen.pid] if self.popen else []

    def prepare_group(self, group, n, kind, grace):
        return None

    def start_group(self, group, n, kind, grace):
        raise NotImplementedError

    def status(self, group=None):
        raise NotImplementedError

    def status_probe(self, group=None):
        return self.status(group)

    def time_status(self, group, count, budget):
        """count status round trips (fewer once budget s have passed, at least 5)."""
        return timed_rounds(lambda: self.status_probe(group), count, budget)

    def time_status_tcp(self, group, count, budget):
        raise Unsupported("the bench drives this peer over its unix socket only")

    def stop_group(self, group):
        raise NotImplementedError

    def remove_group(self, group):
        raise NotImplementedError

    def remove_groups(self, groups):
        for g in groups:
            self.remove_group(g)

    def prepare_scale(self, group, n):
        return None

    def scale(self, group, n):
        raise NotImplementedError

    def password_guessing(self, clients, samples, budget):
        """/ping round trips (s) over TCP idle, then while `clients` processes guess a
        user's password: (idle, guessing, info)."""
        raise Unsupported("no password login over HTTP")

    def dbus_bench(self, n_small, n_big, samples, budget):
        """Issue 13's D-Bus rows: {"list_small", "list_big", "getjob": {"entries",
        "samples_us"}, "rss_on", "rss_off" (MiB)}."""
        raise Unsupported("no D-Bus interface")

    def cli_status(self):
        raise Unsupported("no CLI")

    def http_url(self):
        raise Unsupported("no HTTP API")

    # --- shared
    def argv_of(self, kind):
        if kind == "sleep":
            return list(SLEEP_ARGV)
        if kind == "ignore_term":
            return list(IGNORE_TERM_ARGV)
        if kind == "writer":
            return list(self.writer_args)
        raise ValueError(kind)

    def spawn_daemon(self, argv, env=None, log_name="daemon.log", cwd=None):
        log = open(os.path.join(self.dir, log_name), "ab")
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                      cwd=cwd or self.dir, env=env, start_new_session=True)
        log.close()
        self.started_pids.add(self.popen.pid)
        return self.popen

    def all_started(self):
        """Every live process this peer started: the daemon(s) and their descendants."""
        out = set()
        for pid in list(self.started_pids) + self.daemon_pids():
            if pid_alive(pid):
                out.add(pid)
                out.update(descendants(pid))
        return out

    def kill_everything(self, grace=10.0):
        """SIGTERM the daemon(s), wait up to grace s, then SIGKILL whatever is left of
        the trees it started. Only pids below the ones this peer started are touched."""
        tree = self.all_started()
        kill_pids([p for p in self.started_pids if pid_alive(p)], signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(pid_alive(p) for p in self.started_pids):
            reap_orphans()
            if self.popen:
                self.popen.poll()
            time.sleep(0.05)
        for _ in range(20):  # the tree may still fork while dying: bounded
            tree |= self.all_started()
            live = [p for p in tree if pid_alive(p)]
            if not live:
                break
            kill_pids(live)
            time.sleep(0.05)
            reap_orphans()
        if self.popen:
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def teardown(self):
        self.kill_everything()
