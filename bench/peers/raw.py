# SPDX-License-Identifier: MIT
"""raw: bench/raw_supervisor.c, the physical baseline (posix_spawn + pidfd + epoll),
driven over its one-line unix-socket protocol."""
import os
import socket
from urllib.parse import quote

from .base import Peer, Proc, wait_until


class RawPeer(Peer):
    name = "raw"

    def start(self):
        self.sock_path = os.path.join(self.dir, "raw.sock")
        self.spawn_daemon([self.ctx.raw_bin, "serve", self.sock_path])
        self.conn = None
        if not wait_until(lambda: os.path.exists(self.sock_path), 10, 0.005):
            raise RuntimeError("raw_supervisor did not create its socket")
        self._cmd("ping")

    def _connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        s.connect(self.sock_path)
        self.conn, self.buf = s, b""

    def _send(self, line):
        if self.conn is None:
            self._connect()
        self.conn.sendall(line.encode() + b"\n")

    def _read_answer(self):
        while b"\n.\n" not in self.buf:
            data = self.conn.recv(262144)
            if not data:
                raise RuntimeError("raw_supervisor closed the connection")
            self.buf += data
        ans, _, self.buf = self.buf.partition(b"\n.\n")
        return ans

    def _cmd(self, *words):
        self._send(" ".join(quote(w, safe="/=:.,-_") for w in words))
        ans = self._read_answer().decode()
        lines = ans.split("\n")
        if lines[0] != "ok":
            raise RuntimeError(f"raw_supervisor: {lines[0]}")
        return lines[1:]

    def start_group(self, group, n, kind, grace):
        out = self.writer_log if kind == "writer" else "-"
        restart = "never" if kind == "writer" else "always"
        self._cmd("add", group, str(n), str(int(grace * 1000)), out, restart, *self.argv_of(kind))

    def status_probe(self, group=None):
        self._send("status" + (f" {group}" if group else ""))
        return self._read_answer()

    def status(self, group=None):
        out = []
        for line in self._cmd(*(["status", group] if group else ["status"])):
            if not line:
                continue
            g, pid_id, ospid, state = line.split(" ")
            out.append(Proc(g, pid_id, int(ospid), state))
        return out

    def stop_group(self, group):
        self._cmd("stop", group)

    def remove_group(self, group):
        self._cmd("remove", group)
        wait_until(lambda: not self.status(group), 30, 0.005)

    def scale(self, group, n):
        self._cmd("scale", group, str(n))

    def cli_status(self):
        return [self.ctx.raw_bin, "ctl", self.sock_path, "status"], None

    def teardown(self):
        try:
            if self.conn:
                self._cmd("quit")
                wait_until(lambda: self.popen.poll() is not None, 10, 0.01)
        except (OSError, RuntimeError):
            pass
        if self.conn:
            self.conn.close()
        self.kill_everything()
