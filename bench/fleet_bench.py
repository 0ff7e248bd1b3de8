#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The fleet bench (issue 15): how long `gafferctl fleet ps` takes for N nodes that each
answer after a delay D (a slow network or a busy node), against the two bounds that
matter: asking one node after the other (N x 2 requests x D) and the ideal of its
bounded parallelism (ceil(2N / 64) x D: two requests a node, at most 64 in flight).

Everything is one local stdlib HTTP server (threads): GET /nodes as a lookupd answers
it (§13.3), and per node `/<node>/processes?full=1` and `/<node>/stats` as gafferd
answers them, each after D; the node origins are `http://127.0.0.1:<port>/<node>`. Rows:
N = 10, 100, 300 (10, 50 with --quick), D = 100 ms; the median of 3 runs of the real
gafferctl binary, process start included.

    python3 bench/fleet_bench.py --build build [--quick] [--delay 0.1]
"""
import argparse
import http.server
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

PROCESSES = {"processes": [{"pid": 1, "os_pid": 4242, "name": "default.web", "state": "running",
                            "create_time": 1.0, "commited": False, "restarts": 0, "slot": 1}]}
STATS = [{"name": "web", "stats": [{"id": 1, "pid": 4242, "cpu": 0.5, "mem": 1.5}]}]


def serve(nodes, delay):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.path == "/nodes":
                body = {"nodes": [{"name": n, "origin": f"http://127.0.0.1:{port}/{n}", "version": "0.1"}
                                  for n in nodes]}
            else:
                time.sleep(delay)
                body = PROCESSES if self.path.endswith("/processes?full=1") else STATS
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 256
        daemon_threads = True

    srv = Server(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, port


def run(gafferctl, port, n):
    t0 = time.monotonic()
    r = subprocess.run([gafferctl, "--lookupd", f"http://127.0.0.1:{port}", "fleet", "ps"], capture_output=True,
                       text=True, timeout=600, stdin=subprocess.DEVNULL)
    took = time.monotonic() - t0
    rows = r.stdout.splitlines()[1:]
    if r.returncode != 0 or len(rows) != n or any("unreachable" in x for x in rows):
        raise SystemExit(f"fleet ps failed for N={n}: rc {r.returncode}, {len(rows)} rows\n{r.stderr}")
    return took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--delay", type=float, default=0.1)
    args = ap.parse_args()
    gafferctl = os.path.join(args.build, "ctl", "gafferctl", "gafferctl")
    sizes = [10, 50] if args.quick else [10, 100, 300]
    print(f"| nodes | D (ms) | fleet ps, median of 3 (s) | one node after the other (s) | ideal, 64 in flight (s) |")
    print("|---|---|---|---|---|")
    for n in sizes:
        srv, port = serve([f"n{i:03d}" for i in range(n)], args.delay)
        try:
            times = [run(gafferctl, port, n) for _ in range(3)]
        finally:
            srv.shutdown()
            srv.server_close()
        serial = n * 2 * args.delay
        ideal = math.ceil(2 * n / 64) * args.delay
        print(f"| {n} | {args.delay * 1000:.0f} | {statistics.median(times):.2f} | {serial:.1f} | {ideal:.2f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
