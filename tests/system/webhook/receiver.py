#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A webhook receiver for tests/system/webhook: an HTTP/1.1 server on 127.0.0.1 (port chosen
# by the kernel) that checks each POST's X-Gaffer-Signature independently of gafferd's code
# (Python's hmac module) and reports every request as one JSON line on stdout, before
# answering it. The first line is "PORT <n>".
#
# The path picks the answer:
#   /hang...        never answers (the request thread sleeps)
#   /slow...        answers 200 after 20 ms
#   /fail-once...   500 to the first request on that path, 200 afterwards
#   /status/<n>...  answers <n>
#   anything else   200
# Usage: receiver.py [secret]
import hashlib
import hmac
import http.server
import json
import sys
import threading
import time

SECRET = sys.argv[1].encode() if len(sys.argv) > 1 and sys.argv[1] else b""
lock = threading.Lock()
counts = {}


def report(record):
    line = json.dumps(record, sort_keys=True)
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        ts = self.headers.get("X-Gaffer-Timestamp")
        sig = self.headers.get("X-Gaffer-Signature")
        sig_ok = None
        if SECRET:
            sig_ok = False
            if ts is not None and sig is not None and ts.isdigit():
                expected = "sha256=" + hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                sig_ok = hmac.compare_digest(expected, sig) and abs(time.time() - int(ts)) < 300
        with lock:
            n = counts[self.path] = counts.get(self.path, 0) + 1
        report({
            "path": self.path,
            "n": n,
            "body": body.decode("utf-8", "replace"),
            "content_type": self.headers.get("Content-Type"),
            "user_agent": self.headers.get("User-Agent"),
            "timestamp": ts,
            "signature": sig,
            "sig_ok": sig_ok,
        })
        if self.path.startswith("/hang"):
            time.sleep(3600)
            return
        if self.path.startswith("/slow"):
            time.sleep(0.02)
        status = 200
        if self.path.startswith("/fail-once"):
            status = 500 if n == 1 else 200
        elif self.path.startswith("/status/"):
            status = int(self.path.split("/")[2])
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    server = Server(("127.0.0.1", 0), Handler)
    report_port = "PORT %d\n" % server.server_address[1]
    sys.stdout.write(report_port)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
