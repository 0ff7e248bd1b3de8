# SPDX-License-Identifier: MIT
"""s6 (Debian package s6): one s6-supervise per service under one s6-svscan.

A group g of n processes is n service directories svcs/g-<i>, linked into the scan
directory before the request; the request is `s6-svscanctl -a` (rescan), as s6-svlink
would do. Status is each service's supervise/status file, the file s6-svstat reads (35
bytes: the pid is big-endian at offset 24; 0 when down). Control goes through each
supervise/control fifo, as s6-svc writes it. Stopping uses timeout-kill (SIGKILL after
the grace period). The output child is a service started once (a `down` file, then
"o"), whose stdout goes through the s6-svscan pipe to an s6-log logger service."""
import errno
import os
import shutil
import subprocess
import time

from .base import Peer, Proc, Unsupported, comm, descendants, wait_until

EXECLINEB = shutil.which("execlineb") or "/bin/execlineb"


class S6Peer(Peer):
    name = "s6"

    def start(self):
        self.svscan = shutil.which("s6-svscan")
        self.svscanctl = shutil.which("s6-svscanctl")
        self.svstat = shutil.which("s6-svstat")
        self.s6log = shutil.which("s6-log")
        if not all((self.svscan, self.svscanctl, self.svstat, self.s6log)):
            raise Unsupported("s6 is not installed (Debian package s6)")
        self.scan = os.path.join(self.dir, "scan")
        self.svcs = os.path.join(self.dir, "svcs")
        os.makedirs(self.scan)
        os.makedirs(self.svcs)
        self.groups = {}  # group -> [service names]
        self.spawn_daemon([self.svscan, "-c", "8192", self.scan], env={"PATH": "/usr/bin:/bin"})
        ctl = os.path.join(self.scan, ".s6-svscan", "control")
        if not wait_until(lambda: os.path.exists(ctl), 10, 0.005):
            raise RuntimeError("s6-svscan did not create its control fifo")

    def daemon_pids(self):
        if not self.popen:
            return []
        sup = [p for p in descendants(self.popen.pid) if comm(p) == "s6-supervise"]
        return [self.popen.pid] + sorted(sup)

    def _rescan(self, nuke=False):
        subprocess.run([self.svscanctl, "-an" if nuke else "-a", self.scan], check=True)

    def _make_service(self, name, kind, grace):
        d = os.path.join(self.svcs, name)
        os.makedirs(d)
        if kind == "sleep":
            run = f"#!{EXECLINEB} -P\n/bin/sleep 3600\n"
        elif kind == "ignore_term":
            run = "#!/bin/sh\ntrap '' TERM\nexec /bin/sleep 3600\n"
        else:  # writer: once, stdout to the logger service
            run = "#!/bin/sh\nexec " + " ".join(self.writer_args) + "\n"
            open(os.path.join(d, "down"), "w").close()
            logdir = self._logdir()
            os.makedirs(os.path.join(d, "log"))
            os.makedirs(logdir, exist_ok=True)
            with open(os.path.join(d, "log", "run"), "w") as f:
                # -b: block rather than lose lines; one 100 MB file before rotating.
                f.write(f"#!{EXECLINEB} -P\n{self.s6log} -b n2 s100000000 {logdir}\n")
            os.chmod(os.path.join(d, "log", "run"), 0o755)
        with open(os.path.join(d, "run"), "w") as f:
            f.write(run)
        os.chmod(os.path.join(d, "run"), 0o755)
        with open(os.path.join(d, "timeout-kill"), "w") as f:
            f.write(f"{int(grace * 1000)}\n")
        os.symlink(d, os.path.join(self.scan, name))

    def prepare_group(self, group, n, kind, grace):
        names = [f"{group}-{i}" for i in range(n)]
        for name in names:
            self._make_service(name, kind, grace)
        self.groups[group] = {"names": names, "kind": kind, "grace": grace}

    def start_group(self, group, n, kind, grace):
        self._rescan()
        if kind == "writer":
            self._control(self.groups[group]["names"][0], b"o", timeout=10)

    def _control(self, name, cmd, timeout=5.0):
        """Write cmd to the service's control fifo, as s6-svc does. ENXIO: s6-supervise
        has not opened its fifo yet (just started): retry, bounded."""
        path = os.path.join(self.svcs, name, "supervise", "control")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno not in (errno.ENXIO, errno.ENOENT) or time.monotonic() > deadline:
                    raise
                time.sleep(0.001)
        try:
            os.write(fd, cmd)
        finally:
            os.close(fd)

    def _read(self, group, name):
        try:
            with open(os.path.join(self.svcs, name, "supervise", "status"), "rb") as f:
                b = f.read()
        except OSError:
            return Proc(group, name, 0, "down")
        if len(b) < 35:
            return Proc(group, name, 0, "down")
        pid = int.from_bytes(b[24:32], "big")
        want_up = bool(b[34] & 0x04)
        if not pid:
            return Proc(group, name, 0, "down")
        return Proc(group, name, pid, "running" if want_up else "stopping")

    def status(self, group=None):
        groups = [group] if group else list(self.groups)
        out = []
        for g in groups:
            for name in self.groups.get(g, {}).get("names", []):
                out.append(self._read(g, name))
        return out

    def stop_group(self, group):
        for name in self.groups[group]["names"]:
            try:
                self._control(name, b"d")
            except OSError:
                pass

    def _supervisors_of(self, names):
        """pids of the s6-supervise processes of these services (and of their loggers):
        s6-svscan runs them as `s6-supervise NAME` or `s6-supervise NAME/log`."""
        out = []
        for pid in self.daemon_pids()[1:]:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if len(argv) > 1 and argv[1].decode(errors="replace").split("/")[0] in names:
                out.append(pid)
        return out

    def remove_group(self, group):
        self.remove_groups([group])

    def remove_groups(self, groups):
        names = set()
        for group in groups:
            names.update(self.groups.get(group, {}).get("names", []))
        if not names:
            return
        for name in names:
            try:
                os.unlink(os.path.join(self.scan, name))
            except OSError:
                pass
        self._rescan(nuke=True)
        # s6-svscan SIGTERMs the supervisors whose directory left the scan directory;
        # each brings its service down (timeout-kill applies) and exits.
        wait_until(lambda: not self._supervisors_of(names), 60, 0.01)
        for name in names:
            shutil.rmtree(os.path.join(self.svcs, name), ignore_errors=True)
        for group in groups:
            self.groups.pop(group, None)

    def prepare_scale(self, group, n):
        g = self.groups[group]
        for i in range(len(g["names"]), n):
            name = f"{group}-{i}"
            self._make_service(name, g["kind"], g["grace"])
            g["names"].append(name)

    def scale(self, group, n):
        self._rescan()

    def _logdir(self):
        return os.path.join(self.dir, "s6log")

    def captured_bytes(self):
        total = 0
        try:
            for name in os.listdir(self._logdir()):
                if name == "current" or name.startswith("@"):
                    total += os.path.getsize(os.path.join(self._logdir(), name))
        except OSError:
            pass
        return total

    def remove_captured(self):
        shutil.rmtree(self._logdir(), ignore_errors=True)

    def cli_status(self):
        return ["/bin/sh", "-c", f'for s in {self.scan}/*; do {self.svstat} "$s"; done'], None

    def teardown(self):
        try:
            self.remove_groups(list(self.groups))
        except (OSError, subprocess.CalledProcessError):
            pass
        try:
            subprocess.run([self.svscanctl, "-t", self.scan], timeout=10)
            wait_until(lambda: self.popen.poll() is not None, 10, 0.02)
        except (OSError, subprocess.SubprocessError, AttributeError):
            pass
        self.kill_everything()
