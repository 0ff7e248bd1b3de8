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
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
import uuid
import xml.etree.ElementTree as ET

GAFFERD = os.environ.get("GAFFERD")
# `make sanitize` sets this: under ASan, RSS measures its quarantine, not gafferd.
SANITIZED = os.environ.get("GAFFER_SANITIZED") == "1"
GAFFERCTL = os.environ.get("GAFFERCTL")
# The `gaffer` Procfile tool (ctl/gaffer).
GAFFER = os.environ.get("GAFFER")


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


def self_signed_cert(directory):
    """(cert, key) paths of a fresh self-signed certificate for 127.0.0.1 made with `openssl req`."""
    openssl = shutil.which("openssl")
    if not openssl:
        raise AssertionError("openssl is missing: it is needed to make the test's self-signed certificate")
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
                    cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


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
        self.send_frame(0x1, text.encode())

    def send_frame(self, opcode, data):
        """One masked frame of any opcode and length."""
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            head = bytes([0x80 | opcode, 0x80 | n])
        elif n < 65536:
            head = bytes([0x80 | opcode, 0x80 | 126]) + struct.pack(">H", n)
        else:
            head = bytes([0x80 | opcode, 0x80 | 127]) + struct.pack(">Q", n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def recv_frame(self):
        """The next frame as (opcode, payload); raises EOFError at the end of the stream."""
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
        return op, payload

    def recv(self):
        """The next text message; None once the server closed."""
        try:
            while True:
                op, payload = self.recv_frame()
                if op == 8:
                    return None
                if op == 1:
                    return payload.decode()
        except (EOFError, ConnectionResetError):
            return None

    def close_code(self):
        """The code of the server's close frame (read up to it); None when the stream ends without one."""
        try:
            while True:
                op, payload = self.recv_frame()
                if op == 8:
                    return struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 1005
        except (EOFError, ConnectionResetError):
            return None

    def close(self):
        self.sock.close()


# ------------------------------------------------------------------ D-Bus (issue 13)

# A session-like bus of our own: everyone may connect (other uids too, for the rights
# tests), own any name, send to and receive from anyone, and eavesdrop (busctl monitor).
_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
  <limit name="max_incoming_unix_fds">1024</limit>
  <limit name="max_outgoing_unix_fds">1024</limit>
  <limit name="reply_timeout">10000</limit>
</busconfig>
"""

NOBODY = 65534


def end_by_pid(proc, grace=5):
    """SIGTERM to a child we started (by its pid), SIGKILL after grace seconds; reaped."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


class DBusDaemon:
    """A private dbus-daemon on unix:path=<tmp>/bus, started with --nofork and ended by its
    pid. `address` is what it printed (with the bus's guid, which a client then checks);
    `path_address` names only the socket, so it still fits a bus restarted on the same
    path (end_process() then start() again). Usable as a context manager."""

    def __init__(self):
        self.tmp = None
        self.proc = None
        self.address = None

    def start(self, timeout=10):
        binary = shutil.which("dbus-daemon")
        if not binary:
            raise RuntimeError("dbus-daemon is not installed (Debian package dbus; ./contrib/install-deps.sh)")
        if not self.tmp:
            self.tmp = tempfile.mkdtemp(prefix="gafferd-bus-")
            # Other uids (the rights tests run busctl as nobody) must reach the socket.
            os.chmod(self.tmp, 0o755)
            self.socket = os.path.join(self.tmp, "bus")
            self.path_address = "unix:path=" + self.socket
            self.config = os.path.join(self.tmp, "bus.conf")
            with open(self.config, "w") as f:
                f.write(_BUS_CONFIG.format(socket=self.socket))
            self.log_path = os.path.join(self.tmp, "dbus-daemon.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([binary, "--config-file=" + self.config, "--nofork", "--print-address=1"],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
        line = b""
        deadline = time.monotonic() + timeout
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise AssertionError(f"dbus-daemon printed no address within {timeout}s: {line!r}")
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    continue
                line += chunk
        self.address = line.decode().strip()
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def end_process(self):
        """Ends the bus (SIGTERM to the pid we started, SIGKILL if it lingers) and keeps its
        directory: every client sees the bus go away."""
        if self.proc:
            end_by_pid(self.proc)
            self.proc.stdout.close()
            self.proc = None
        if self.tmp:
            try:
                os.unlink(self.socket)  # dbus-daemon removes it itself only on a clean exit
            except FileNotFoundError:
                pass

    def stop(self):
        """end_process(), then the temp dir goes too."""
        self.end_process()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class BusReply:
    """One busctl run: exit code, parsed --json=short output (None when there is none),
    and, for a failed call, the D-Bus error name and message (from sd-bus's debug log:
    busctl itself prints only the message)."""

    def __init__(self, argv, rc, stdout, stderr):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.error_name = None
        self.error_message = None
        errors = re.findall(r"^Got message type=error .*? error-name=(\S+) error-message=(.*)$", stderr, re.M)
        if errors:
            self.error_name, self.error_message = errors[-1]
        try:
            self.json = json.loads(stdout) if stdout.strip() else None
        except ValueError:
            self.json = None

    @property
    def ok(self):
        return self.rc == 0

    @property
    def data(self):
        """The reply's values (busctl call/get-property: {"type": sig, "data": [...]})."""
        if not isinstance(self.json, dict) or "data" not in self.json:
            raise AssertionError(f"busctl {' '.join(self.argv[1:])}: no reply data: {self!r}")
        return self.json["data"]

    def __repr__(self):
        return (f"<BusReply rc={self.rc} error={self.error_name} {self.error_message!r} "
                f"out={self.stdout[:300]!r} err={self.stderr[-300:]!r}>")


class Busctl:
    """The real busctl on one bus address. `uid` runs it as that user (and group) through
    setpriv. Every call is bounded (busctl's own --timeout plus a subprocess timeout)."""

    def __init__(self, address, uid=None, timeout=5):
        self.address = address
        self.uid = uid
        self.timeout = timeout

    def argv(self, *args, json_mode=True):
        a = ["busctl", "--address=" + self.address, f"--timeout={self.timeout}"]
        if json_mode:
            a.append("--json=short")
        a += list(args)
        if self.uid is not None:
            a = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups"] + a
        return a

    def run(self, *args, json_mode=True):
        argv = self.argv(*args, json_mode=json_mode)
        env = dict(os.environ, SYSTEMD_LOG_LEVEL="debug", SYSTEMD_COLORS="0", SYSTEMD_PAGER="cat")
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=self.timeout + 10)
        return BusReply(argv, p.returncode, p.stdout.decode("utf-8", "replace"),
                        p.stderr.decode("utf-8", "replace"))

    def call(self, dest, path, iface, method, signature="", *args):
        # "--" first: busctl needs it before a negative argument (ScaleJob ss web -1).
        sig = [signature] if signature else []
        return self.run("--", "call", dest, path, iface, method, *sig, *[str(a) for a in args])

    def name_has_owner(self, name):
        """Whether some connection owns name on the bus (org.freedesktop.DBus.NameHasOwner)."""
        r = self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner", "s",
                      name)
        if not r.ok:
            raise AssertionError(f"NameHasOwner {name}: {r!r}")
        return r.data == [True]

    def name_owner_pid(self, name):
        """The pid of the process that owns name on the bus, None while nobody does."""
        r = self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                      "GetConnectionUnixProcessID", "s", name)
        if r.error_name == "org.freedesktop.DBus.Error.NameHasNoOwner":
            return None
        if not r.ok:
            raise AssertionError(f"GetConnectionUnixProcessID {name}: {r!r}")
        return r.data[0]

    def get_property(self, dest, path, iface, prop):
        return self.run("--", "get-property", dest, path, iface, prop)

    def list_names(self):
        r = self.run("list")
        if not r.ok or not isinstance(r.json, list):
            raise AssertionError(f"busctl list: {r!r}")
        return r.json

    def introspect(self, dest, path):
        """The object's introspection XML as an ElementTree element (the <node>)."""
        r = self.run("--xml-interface", "introspect", dest, path, json_mode=False)
        if not r.ok:
            raise AssertionError(f"busctl introspect {dest} {path}: {r!r}")
        return ET.fromstring(r.stdout)

    def tree(self, dest):
        """Every object path of dest, as `busctl tree --list` prints them."""
        r = self.run("tree", "--list", dest, json_mode=False)
        if not r.ok:
            raise AssertionError(f"busctl tree {dest}: {r!r}")
        return [line.strip() for line in r.stdout.splitlines() if line.strip().startswith("/")]

    def monitor(self, *names, match=None):
        return BusMonitor(self, names, match)


class BusMonitor:
    """`busctl monitor --json=short` in the background; a reader thread parses each message
    (one JSON object a line) into `messages`. stop() ends it by its pid."""

    def __init__(self, busctl, names=(), match=None):
        args = ["monitor"] + (["--match=" + match] if match else []) + list(names)
        self.argv = busctl.argv(*args)
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.messages = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=self._read_err, daemon=True)
        self.err_reader.start()
        if not self.ready.wait(10):
            self.stop()
            raise AssertionError("busctl monitor did not start monitoring within 10s")

    def _read_err(self):
        for line in self.proc.stderr:
            if b"Monitoring bus message stream" in line:
                self.ready.set()

    def _read(self):
        for line in self.proc.stdout:
            try:
                m = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.messages.append(m)

    def snapshot(self):
        with self.lock:
            return list(self.messages)

    def signals(self, member=None, interface=None, path=None):
        out = []
        for m in self.snapshot():
            if m.get("type") != "signal":
                continue
            if member and m.get("member") != member:
                continue
            if interface and m.get("interface") != interface:
                continue
            if path and m.get("path") != path:
                continue
            out.append(m)
        return out

    def wait_signal(self, pred, timeout=10, what="a signal"):
        """The first signal message for which pred(message) is true, waiting at most timeout."""
        return wait_for(lambda: next((m for m in self.signals() if pred(m)), None), timeout=timeout, what=what)

    def stop(self):
        end_by_pid(self.proc)
        self.reader.join(5)
        self.err_reader.join(5)
        self.proc.stdout.close()
        self.proc.stderr.close()
