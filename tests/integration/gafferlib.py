# SPDX-License-Identifier: MIT
"""Shared harness for the integration tests: runs the real gafferd binary on a
temporary config, talks to it over its unix socket (and TCP when asked) with the
standard library's http.client, and cleans up every process it started.

Every daemon started here carries GAFFER_TEST_TAG=<uuid> in its environment; jobs
inherit it (INI jobs default to os_env = true), so teardown can find and kill any
straggler by scanning /proc/*/environ, even if the daemon itself crashed.
"""
import http.client
import base64
import json
import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import uuid

GAFFERD = os.environ.get("GAFFERD")
# `make sanitize` sets this: under ASan, RSS measures its quarantine, not gafferd.
SANITIZED = os.environ.get("GAFFER_SANITIZED") == "1"
GAFFERCTL = os.environ.get("GAFFERCTL")


def require_binaries():
    if not GAFFERD or not os.access(GAFFERD, os.X_OK):
        raise RuntimeError("GAFFERD must name the built gafferd binary (run through `make test`)")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


def free_port():
    """A loopback TCP port that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def proc_status_int(pid, field):
    """The first number of a field of /proc/<pid>/status ("VmRSS", "Uid"), or None."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def rss_kib(pid):
    """The resident set of a process in KiB (0 once it has none: a zombie)."""
    return proc_status_int(pid, "VmRSS") or 0


def wait_for(pred, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def kill_tagged(tag):
    """SIGKILLs every process whose environment carries GAFFER_TEST_TAG=tag."""
    needle = f"GAFFER_TEST_TAG={tag}".encode()
    killed = 0
    for _ in range(3):
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        os.kill(int(pid), signal.SIGKILL)
                        killed += 1
            except (OSError, ProcessLookupError):
                pass
        time.sleep(0.05)
    return killed


def tagged_pids(tag, exclude=()):
    needle = f"GAFFER_TEST_TAG={tag}".encode()
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) in exclude:
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    out.append(int(pid))
        except OSError:
            pass
    return out


def kill_cgroup_tree(daemon_pid):
    """Kills what is left in a (dead) daemon's own cgroup tree and removes it."""
    for mount in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        base = os.path.join(mount, f"gaffer-{daemon_pid}")
        if not os.path.isdir(base):
            continue
        for dirpath, _, _ in os.walk(base, topdown=False):
            try:
                with open(os.path.join(dirpath, "cgroup.procs")) as f:
                    for line in f:
                        try:
                            os.kill(int(line), signal.SIGKILL)
                        except (ValueError, OSError):
                            pass
            except OSError:
                pass
        for _ in range(50):
            for dirpath, _, _ in os.walk(base, topdown=False):
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
            if not os.path.exists(base):
                break
            time.sleep(0.02)


class Daemon:
    """One gafferd with a temp dir, a unix socket endpoint and an optional TCP one."""

    def __init__(self, config_text="", extra_args=(), tcp_port=None, env=None, config_name="gafferd.ini"):
        require_binaries()
        self.tmp = tempfile.TemporaryDirectory(prefix="gafferd-test-")
        self.dir = self.tmp.name
        self.sock = os.path.join(self.dir, "gafferd.sock")
        self.config = os.path.join(self.dir, config_name)
        self.write_config(config_text)
        self.tag = uuid.uuid4().hex
        self.tcp_port = tcp_port
        self.extra_args = list(extra_args)
        self.env = dict(os.environ)
        self.env["GAFFER_TEST_TAG"] = self.tag
        if env:
            self.env.update(env)
        self.proc = None
        self.log_path = os.path.join(self.dir, "gafferd.log")

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def args(self):
        a = [GAFFERD, "--bind", "unix:" + self.sock, "--state-dir", os.path.join(self.dir, "state")]
        if self.tcp_port:
            a += ["--bind", f"127.0.0.1:{self.tcp_port}"]
        return a + self.extra_args + [self.config]

    def start(self, wait=True):
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args(), stdout=self.log, stderr=subprocess.STDOUT, env=self.env,
                                     cwd=self.dir, stdin=subprocess.DEVNULL)
        if wait:
            wait_for(lambda: self.proc.poll() is not None or self.ping(), timeout=15, what="gafferd to listen")
            if self.proc.poll() is not None:
                raise AssertionError(f"gafferd exited early with {self.proc.returncode}:\n{self.output()}")
        return self

    def ping(self):
        try:
            return self.request("GET", "/ping").status == 200
        except OSError:
            return False

    def output(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def connection(self, tcp=False, timeout=10):
        if tcp:
            return http.client.HTTPConnection("127.0.0.1", self.tcp_port, timeout=timeout)
        return UnixHTTPConnection(self.sock, timeout=timeout)

    def request(self, method, path, body=None, headers=None, tcp=False, timeout=10):
        conn = self.connection(tcp=tcp, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            headers = dict(headers or {})
            if body and not any(k.lower() == "content-type" for k in headers):
                # As gafferctl does; a TCP endpoint refuses other bodies (415).
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            conn.close()

    def get_json(self, path, **kw):
        r = self.request("GET", path, **kw)
        if r.status != 200:
            raise AssertionError(f"GET {path}: {r}")
        return r.json()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def cleanup(self):
        try:
            self.stop(timeout=10)
        finally:
            kill_tagged(self.tag)
            if self.proc:
                kill_cgroup_tree(self.proc.pid)
            if getattr(self, "log", None):
                self.log.close()
            self.tmp.cleanup()

    def children(self):
        """OS pids of the daemon's live job processes (by tag), zombies excluded."""
        return tagged_pids(self.tag, exclude=(self.proc.pid,))


class DaemonTestCase(unittest.TestCase):
    """A test case whose daemons (made with self.daemon()) are cleaned up after each test."""

    def setUp(self):
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.cleanup()

    def daemon(self, config, **kw):
        d = Daemon(config, **kw)
        self.daemons.append(d)
        return d


class WebSocket:
    """The least websocket client that can talk to gafferd: text frames, masked."""

    def __init__(self, port, path, headers=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError(f"handshake of {path} refused: {self.buf!r}")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError(f"handshake of {path}: {head!r}")

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def recv(self):
        """The next text message; None once the server closed."""
        try:
            while True:
                self._need(2)
                op, n = self.buf[0] & 0x0F, self.buf[1] & 0x7F
                off = 2
                if n == 126:
                    self._need(4)
                    n, off = struct.unpack(">H", self.buf[2:4])[0], 4
                elif n == 127:
                    self._need(10)
                    n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
                self._need(off + n)
                payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
                if op == 8:
                    return None
                if op == 1:
                    return payload.decode()
        except (EOFError, ConnectionResetError):
            return None

    def close(self):
        self.sock.close()
