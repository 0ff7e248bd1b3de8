# SPDX-License-Identifier: MIT
"""supervisord (Debian package supervisor) through XML-RPC on its unix socket.

A group g is a [program:g] section with numprocs = n in conf.d/g.conf. Starting it is
what `supervisorctl update` does for a new file: reloadConfig, then addProcessGroup (the
programs have autostart = true). startsecs = 0, so a process counts as RUNNING once
spawned. Scaling has no API: the file changes numprocs and the group is replaced as
`supervisorctl update` does (stop, remove, add), which restarts every process."""
import os
import shutil
import xmlrpc.client

from .base import HttpConn, Peer, Proc, Unsupported, wait_until

STATE = {"RUNNING": "running", "STARTING": "starting", "STOPPING": "stopping", "BACKOFF": "starting"}


class SupervisordPeer(Peer):
    name = "supervisord"

    def start(self):
        self.bin = shutil.which("supervisord")
        self.ctl_bin = shutil.which("supervisorctl")
        if not self.bin or not self.ctl_bin:
            raise Unsupported("supervisord is not installed (Debian package supervisor)")
        self.sock_path = os.path.join(self.dir, "supervisor.sock")
        self.confd = os.path.join(self.dir, "conf.d")
        os.makedirs(self.confd)
        os.makedirs(os.path.join(self.dir, "logs"))
        self.conf = os.path.join(self.dir, "supervisord.conf")
        with open(self.conf, "w") as f:
            f.write(f"""[unix_http_server]
file={self.sock_path}

[supervisord]
logfile={self.dir}/supervisord.log
pidfile={self.dir}/supervisord.pid
childlogdir={self.dir}/logs
nodaemon=true
minfds=1024
minprocs=200
user=root

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{self.sock_path}

[include]
files = {self.confd}/*.conf
""")
        self.spawn_daemon([self.bin, "-n", "-c", self.conf],
                          env={"PATH": "/usr/bin:/bin", "HOME": self.dir, "LANG": "C.UTF-8"})
        self.http = HttpConn(self.sock_path)
        if not wait_until(self._ready, 30, 0.02):
            raise RuntimeError("supervisord does not answer on its socket")
        self.groups = {}

    def _ready(self):
        try:
            return self.rpc("supervisor.getState")["statename"] == "RUNNING"
        except (OSError, RuntimeError):
            return False

    def _body(self, method, *params):
        return xmlrpc.client.dumps(params, method).encode()

    def _post(self, body):
        status, data = self.http.request("POST", "/RPC2", body, "text/xml")
        if status != 200:
            raise RuntimeError(f"supervisord: HTTP {status}")
        return data

    def rpc(self, method, *params):
        data = self._post(self._body(method, *params))
        try:
            return xmlrpc.client.loads(data)[0][0]
        except xmlrpc.client.Fault as e:
            raise RuntimeError(f"supervisord {method}: {e.faultString}") from e

    # --- groups
    def _write_conf(self, group, n, kind, grace):
        argv = self.argv_of(kind)
        command = " ".join(xmlrpc_quote(a) for a in argv)
        writer = kind == "writer"
        with open(os.path.join(self.confd, f"{group}.conf"), "w") as f:
            f.write(f"""[program:{group}]
command={command}
numprocs={n}
process_name=%(program_name)s_%(process_num)d
autostart=true
autorestart={'false' if writer else 'true'}
startsecs=0
stopwaitsecs={grace:g}
stdout_logfile={self.writer_log if writer else 'NONE'}
stdout_logfile_maxbytes={0 if writer else '50MB'}
stderr_logfile=NONE
""")
        self.groups[group] = (n, kind, grace)

    def prepare_group(self, group, n, kind, grace):
        self._write_conf(group, n, kind, grace)

    def start_group(self, group, n, kind, grace):
        self.rpc("supervisor.reloadConfig")
        self.rpc("supervisor.addProcessGroup", group)

    def _parse(self, infos, group):
        out = []
        for p in infos:
            if group and p["group"] != group:
                continue
            out.append(Proc(p["group"], p["name"], int(p["pid"]), STATE.get(p["statename"], "down")))
        return out

    def status_probe(self, group=None):
        # No per-group query exists: getAllProcessInfo is the status call.
        return self._post(self._status_body)

    @property
    def _status_body(self):
        if not hasattr(self, "_sb"):
            self._sb = self._body("supervisor.getAllProcessInfo")
        return self._sb

    def status(self, group=None):
        return self._parse(self.rpc("supervisor.getAllProcessInfo"), group)

    def stop_group(self, group):
        self.rpc("supervisor.stopProcessGroup", group, False)

    def remove_group(self, group):
        try:
            self.rpc("supervisor.stopProcessGroup", group, False)
        except RuntimeError:
            pass
        wait_until(lambda: not [p for p in self.status(group) if p.state != "down"], 60, 0.01)
        try:
            self.rpc("supervisor.removeProcessGroup", group)
        except RuntimeError:
            pass
        try:
            os.unlink(os.path.join(self.confd, f"{group}.conf"))
        except OSError:
            pass
        self.groups.pop(group, None)

    def prepare_scale(self, group, n):
        _, kind, grace = self.groups[group]
        self._write_conf(group, n, kind, grace)

    def scale(self, group, n):
        # What `supervisorctl update` does for a changed group.
        self.rpc("supervisor.reloadConfig")
        self.rpc("supervisor.stopProcessGroup", group, True)
        self.rpc("supervisor.removeProcessGroup", group)
        self.rpc("supervisor.addProcessGroup", group)

    def cli_status(self):
        return [self.ctl_bin, "-c", self.conf, "status"], None

    def teardown(self):
        try:
            self.rpc("supervisor.shutdown")
            wait_until(lambda: self.popen.poll() is not None, 30, 0.05)
        except (OSError, RuntimeError, AttributeError):
            pass
        if getattr(self, "http", None):
            self.http.close()
        self.kill_everything()


def xmlrpc_quote(word):
    """Quote one argv word for supervisord's shlex-based command parsing."""
    if word and all(c.isalnum() or c in "/._-=:" for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"
