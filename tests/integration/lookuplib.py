# SPDX-License-Identifier: MIT
"""Lookupds for the client tests (test_lookup_cli.py, test_fleet.py).

LOOKUPD is the class the tests use: StandInLookupd, a small stdlib HTTP server that keeps
a registry and answers the reference §13.3 query routes and the §13.4 event feed over
SockJS xhr_streaming; or, when $GAFFER_LOOKUPD names the real gaffer_lookupd binary,
RealLookupd, which runs it and registers nodes over its /ws protocol (§13.2). Both have
the same interface:

    lk = LOOKUPD(); lk.start(); lk.url
    node = lk.connect(name, origin, version="0.1")   # IDENTIFY (events add_node, identify)
    node.register_job("app.web"); node.register_process("app.web", 3)
    node.unregister_process(...); node.unregister_job(...); node.close()
    lk.stop()

Only the stand-in records the requests it got (`requests`: (method, path, headers)) and
has test hooks (`response_limit`: messages per xhr_streaming response before it ends it,
so that the client must resume the session; `broken_routes`: paths answered with a body
that is not JSON).
"""
import http.server
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gafferlib  # noqa: E402


class _Registry:
    """Nodes in connection order, jobs in first-registration order (§13.3)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.nodes = []  # dicts: name, origin, version, jobs: {job: [pids]}
        self.listeners = []  # queues of event dicts

    def emit(self, event):
        for q in list(self.listeners):
            q.put(event)

    def info(self, n):
        return {"name": n["name"], "origin": n["origin"], "version": n["version"]}

    def source(self, n, job):
        return {"name": n["name"], "pids": list(n["jobs"][job]), "node_info": self.info(n)}

    def jobs(self, nodes=None):
        order = []
        for n in nodes if nodes is not None else self.nodes:
            for job in n["jobs"]:
                if job not in order:
                    order.append(job)
        return [{"name": j, "sources": [self.source(n, j) for n in (nodes if nodes is not None else self.nodes)
                                        if j in n["jobs"]]} for j in order]

    def sessions(self, nodes):
        out = []
        for job in self.jobs(nodes):
            sid = job["name"].split(".", 1)[0]
            s = next((x for x in out if x["sessionid"] == sid), None)
            if not s:
                s = {"sessionid": sid, "jobs": {}}
                out.append(s)
            s["jobs"][job["name"]] = job["sources"]
        return out


class _StandInNode:
    def __init__(self, reg, name, origin, version):
        self.reg = reg
        self.n = {"name": name, "origin": origin, "version": version, "jobs": {}}
        with reg.lock:
            reg.nodes.append(self.n)
        reg.emit({"event": "add_node", "name": None, "origin": None, "version": None})
        reg.emit(dict(event="identify", **reg.info(self.n)))

    def register_job(self, job):
        with self.reg.lock:
            self.n["jobs"][job] = []
        self.reg.emit({"event": "add_job", "node": self.reg.info(self.n), "job_name": job})

    def unregister_job(self, job):
        with self.reg.lock:
            del self.n["jobs"][job]
        self.reg.emit({"event": "remove_job", "node": self.reg.info(self.n), "job_name": job})

    def register_process(self, job, pid):
        with self.reg.lock:
            self.n["jobs"][job].append(pid)
        self.reg.emit({"event": "add_process", "node": self.reg.info(self.n), "job_name": job, "pid": pid})

    def unregister_process(self, job, pid):
        with self.reg.lock:
            self.n["jobs"][job].remove(pid)
        self.reg.emit({"event": "remove_process", "node": self.reg.info(self.n), "job_name": job, "pid": pid})

    def close(self):
        with self.reg.lock:
            self.reg.nodes.remove(self.n)
        self.reg.emit(dict(event="remove_node", **self.reg.info(self.n)))


class _Session:
    """A SockJS session: its queue of messages outlives one xhr_streaming response."""

    def __init__(self):
        self.queue = queue.Queue()
        self.opened = False
        self.attached = threading.Lock()


class StandInLookupd:
    records_requests = True

    def __init__(self, port=None, response_limit=None):
        self.port = port or gafferlib.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.reg = _Registry()
        self.sessions = {}
        self.requests = []
        self.response_limit = response_limit
        self.broken_routes = set()
        self.server = None
        self.thread = None

    def start(self):
        lk = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *a):
                pass

            def reply(self, status, obj):
                body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                lk.requests.append(("GET", self.path, dict(self.headers)))
                u = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(u.query)
                if u.path in lk.broken_routes:
                    return self.reply(200, b"<html>not json</html>")
                reg = lk.reg
                with reg.lock:
                    if u.path == "/nodes":
                        return self.reply(200, {"nodes": [reg.info(n) for n in reg.nodes]})
                    if u.path == "/jobs":
                        jobs = reg.jobs()
                        return self.reply(200, {"nb_jobs": len(jobs), "jobs": jobs})
                    if u.path == "/sessions" or u.path.startswith("/sessions/"):
                        nodes = reg.nodes
                        if u.path.startswith("/sessions/"):
                            name = urllib.parse.unquote(u.path[len("/sessions/"):])
                            nodes = [n for n in nodes if n["name"] == name]
                        s = reg.sessions(nodes)
                        return self.reply(200, {"nb_sessions": len(s), "sessions": s})
                    if u.path == "/findJob":
                        if "name" not in q:
                            return self.reply(400, {"error": "bad_request", "errno": 400})
                        jobs = [j for j in reg.jobs() if j["name"] == q["name"][0]]
                        return self.reply(200, {"sources": jobs[0]["sources"] if jobs else []})
                    if u.path == "/findSession":
                        sid = q.get("sessionid", [""])[0]
                        jobs = [j for j in reg.jobs() if j["name"].split(".", 1)[0] == sid]
                        return self.reply(200, {"nb_jobs": len(jobs), "jobs": jobs})
                return self.reply(404, {"error": "not_found", "errno": 404})

            def do_POST(self):
                lk.requests.append(("POST", self.path, dict(self.headers)))
                m = re.fullmatch(r"/lookup/[^/.]+/([^/.]+)/xhr_streaming", self.path)
                if not m:
                    return self.reply(404, {"error": "not_found", "errno": 404})
                s = lk.sessions.setdefault(m.group(1), _Session())
                if not s.attached.acquire(blocking=False):
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"h" * 2048 + b"\n" + b'c[2010,"Another connection still open"]\n')
                    return
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/javascript; charset=UTF-8")
                    self.end_headers()
                    self.wfile.write(b"h" * 2048 + b"\n")
                    if not s.opened:
                        s.opened = True
                        lk.reg.listeners.append(s.queue)
                        self.wfile.write(b"o\n")
                    self.wfile.flush()
                    sent = 0
                    while lk.server is not None:
                        if lk.response_limit is not None and sent >= lk.response_limit:
                            return  # the response ends; the session stays
                        try:
                            ev = s.queue.get(timeout=0.2)
                        except queue.Empty:
                            continue
                        frame = "a" + json.dumps([json.dumps(ev)]) + "\n"
                        self.wfile.write(frame.encode())
                        self.wfile.flush()
                        sent += 1
                except OSError:
                    pass
                finally:
                    s.attached.release()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def connect(self, name, origin, version="0.1"):
        return _StandInNode(self.reg, name, origin, version)

    def feeds(self):
        """Number of feed sessions opened so far."""
        return len(self.reg.listeners)

    def stop(self):
        if self.server:
            srv, self.server = self.server, None
            srv.shutdown()
            srv.server_close()
            # Streaming handlers see self.server None within 0.2 s and return.
            time.sleep(0.3)
            self.reg.listeners.clear()
            self.sessions.clear()


class _RealNode:
    def __init__(self, lk, name, origin, version):
        self.ws = gafferlib.WebSocket(lk.port, "/ws")
        self.call({"type": "IDENTIFY", "name": name, "origin": origin, "version": version})

    def call(self, msg):
        msg = dict(msg, msgid=uuid.uuid4().hex)
        self.ws.send(json.dumps(msg))
        reply = json.loads(self.ws.recv())
        if not reply.get("ok"):
            raise AssertionError(f"{msg['type']}: {reply}")
        return reply

    def register_job(self, job):
        self.call({"type": "REGISTER_JOB", "job_name": job})

    def unregister_job(self, job):
        self.call({"type": "UNREGISTER_JOB", "job_name": job})

    def register_process(self, job, pid):
        self.call({"type": "REGISTER_PROCESS", "job_name": job, "pid": pid})

    def unregister_process(self, job, pid):
        self.call({"type": "UNREGISTER_PROCESS", "job_name": job, "pid": pid})

    def close(self):
        self.ws.close()


class RealLookupd:
    """The real gaffer_lookupd ($GAFFER_LOOKUPD) on a free loopback port."""
    records_requests = False

    def __init__(self, port=None, response_limit=None):
        self.port = port or gafferlib.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([os.environ["GAFFER_LOOKUPD"], "--bind", f"127.0.0.1:{self.port}"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return self.proc.poll() is not None
        gafferlib.wait_for(up, timeout=15, what="gaffer_lookupd to listen")
        if self.proc.poll() is not None:
            raise AssertionError(f"gaffer_lookupd exited with {self.proc.returncode}")
        return self

    def connect(self, name, origin, version="0.1"):
        return _RealNode(self, name, origin, version)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


LOOKUPD = RealLookupd if os.environ.get("GAFFER_LOOKUPD") else StandInLookupd
