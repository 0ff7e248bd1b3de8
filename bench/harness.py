#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gafferd benchmarks against raw, supervisord, PM2 and s6, side by side in one run.

Driver and report writer (Python standard library only). bench/run.sh calls it after
installing the peers; bench/README.md explains the scenarios, the metrics and how the
ratios are computed.

    python3 bench/harness.py --build BUILD_DIR [--quick] [--runs N] [--peers raw,gafferd,...]
                             [--out bench/results] [--readme README.md]

Every peer starts fresh in its own temporary directory, listens on unix sockets or
127.0.0.1 only, and is torn down with everything it started. The harness makes itself a
child subreaper, so that daemons which double-fork (PM2) stay below it: teardown kills
only processes below the harness.
"""
import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peers.base import (Unsupported, alive_procs, cpu_ns, descendants, kill_pids, pid_alive,  # noqa: E402
                        reap_orphans, rss_pss_kib, running_procs, wait_until)
from peers.gafferd import GafferdPeer  # noqa: E402
from peers.pm2 import Pm2Peer  # noqa: E402
from peers.raw import RawPeer  # noqa: E402
from peers.s6 import S6Peer  # noqa: E402
from peers.supervisord import SupervisordPeer  # noqa: E402

PEERS = {"raw": RawPeer, "gafferd": GafferdPeer, "supervisord": SupervisordPeer, "pm2": Pm2Peer, "s6": S6Peer}
ORDER = ["raw", "gafferd", "supervisord", "pm2", "s6"]
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))

# Repetitions stop early once a scenario has used its budget (rep_budget_s, after the
# first repetition; sample_budget_s for latency samples), so that a slow peer on a busy
# machine cannot stretch the run: the report gives the count of samples it got.
FULL = dict(n_small=200, n_big=1000, spawn_reps=3, spawn_big_reps=2, status_samples=200, status_big_samples=20,
            cli_samples=10, idle_s=30, stop_cap_s=20, restart_samples=30, ignore_reps=2, ignore_cap_s=20, scale_reps=2,
            out_bytes=200_000_000, out_reps=2, wrk_s=5, spawn_timeout=240, rep_budget_s=45, sample_budget_s=10,
            guessers=6, guess_samples=1000, runs=2)
QUICK = dict(n_small=50, n_big=100, spawn_reps=2, spawn_big_reps=1, status_samples=40, status_big_samples=10,
             cli_samples=3, idle_s=3, stop_cap_s=8, restart_samples=8, ignore_reps=1, ignore_cap_s=6, scale_reps=1,
             out_bytes=20_000_000, out_reps=1, wrk_s=1, spawn_timeout=90, rep_budget_s=10, sample_budget_s=3,
             guessers=6, guess_samples=500, runs=1)

NO_HTTP = {"raw": "no HTTP API (a one-line protocol on a unix socket)",
           "supervisord": "no HTTP GET routes (XML-RPC over HTTP POST only)",
           "pm2": "no HTTP API (axon RPC over unix sockets)",
           "s6": "no API server (status files and control fifos)"}


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(samples, q):
    s = sorted(samples)
    if not s:
        return None
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


class Ctx:
    def __init__(self, build_dir, raw_bin, quick, cfg):
        self.build_dir = build_dir
        self.bench_dir = BENCH_DIR
        self.raw_bin = raw_bin
        self.quick = quick
        self.cfg = cfg


# ------------------------------------------------------------------ result rows

class Rows:
    """The rows of one run, in a fixed order, every peer present in every row."""

    def __init__(self, peers):
        self.peers = peers
        self.rows = {}

    def declare(self, key, metric, unit, better):
        if key not in self.rows:
            self.rows[key] = {"metric": metric, "unit": unit, "better": better,
                              "values": {p: None for p in ORDER}, "why": {}, "spread": {}, "samples": {}}
        return key

    def set(self, key, peer, value, spread=None, samples=None):
        r = self.rows[key]
        r["values"][peer] = value
        r["why"].pop(peer, None)
        if spread is not None:
            r["spread"][peer] = spread
        if samples is not None:
            r["samples"][peer] = samples

    def note(self, key, peer, text):
        """A remark on a measured value (shown as a footnote)."""
        self.rows[key].setdefault("note", {})[peer] = text

    def null(self, key, peer, why):
        r = self.rows[key]
        if r["values"][peer] is None:
            r["why"][peer] = why

    def finish(self):
        out = []
        for r in self.rows.values():
            for p in ORDER:
                if r["values"][p] is None and p not in r["why"]:
                    r["why"][p] = "not in this run's peer list" if p not in self.peers else "not measured"
            if not r["spread"]:
                del r["spread"]
            if not r["samples"]:
                del r["samples"]
            if not r["why"]:
                del r["why"]
            out.append(r)
        return out


def declare_rows(rows, cfg):
    n, nb = cfg["n_small"], cfg["n_big"]
    d = rows.declare
    k = {}
    k["spawn"] = d("spawn_n", f"spawn N={n}: request → all running", "s", "lower")
    k["spawn_big"] = d("spawn_nb", f"spawn N={nb}: request → all running", "s", "lower")
    k["restart50"] = d("restart_p50", f"restart after SIGKILL, p50 ({cfg['restart_samples']} samples)", "ms", "lower")
    k["restart99"] = d("restart_p99", "restart after SIGKILL, p99", "ms", "lower")
    k["api50"] = d("status_api_p50", f"status of N={n} via API, p50", "ms", "lower")
    k["api99"] = d("status_api_p99", f"status of N={n} via API, p99", "ms", "lower")
    k["tcp50"] = d("status_tcp_p50", f"status of N={n} via API over TCP, p50", "ms", "lower")
    k["tcp99"] = d("status_tcp_p99", f"status of N={n} via API over TCP, p99", "ms", "lower")
    k["apib50"] = d("status_api_big_p50", f"status of N={nb} via API, p50", "ms", "lower")
    k["apib99"] = d("status_api_big_p99", f"status of N={nb} via API, p99", "ms", "lower")
    k["cli50"] = d("status_cli_p50", f"status of N={n} via CLI, p50", "ms", "lower")
    k["cli99"] = d("status_cli_p99", f"status of N={n} via CLI, p99", "ms", "lower")
    k["rss0"] = d("rss_0", "daemon RSS, 0 children", "MiB", "lower")
    k["pss0"] = d("pss_0", "daemon PSS, 0 children", "MiB", "lower")
    k["rss"] = d("rss_n", f"daemon RSS, N={n} children", "MiB", "lower")
    k["pss"] = d("pss_n", f"daemon PSS, N={n} children", "MiB", "lower")
    k["rssb"] = d("rss_nb", f"daemon RSS, N={nb} children", "MiB", "lower")
    k["pssb"] = d("pss_nb", f"daemon PSS, N={nb} children", "MiB", "lower")
    k["idle"] = d("idle_cpu", f"daemon CPU over {cfg['idle_s']} s idle, N={n} children", "ms", "lower")
    k["out_ratio"] = d("output_ratio", f"output {cfg['out_bytes'] // 1_000_000} MB captured: throughput ÷ unsupervised",
                       "ratio", "higher")
    k["out_mbs"] = d("output_mbs", "output captured: throughput", "MB/s", "higher")
    k["stop"] = d("stop_n", f"stop-all N={n} well-behaved", "s", "lower")
    k["stop_big"] = d("stop_nb", f"stop-all N={nb} well-behaved", "s", "lower")
    k["stop_ign"] = d("stop_ignore", f"stop-all N={n} ignoring SIGTERM, grace 2 s", "s", "lower")
    k["scale"] = d("scale", f"scale 10 → {n}: request → all running", "s", "lower")
    k["scale_kept"] = d("scale_kept", "scale keeps the first 10 running (1 = yes)", "bool", "higher")
    g = cfg["guessers"]
    k["guess_idle50"] = d("auth_ping_idle_p50", "GET /ping over TCP, keys required, idle: p50", "ms", "lower")
    k["guess_idle99"] = d("auth_ping_idle_p99", "GET /ping over TCP, keys required, idle: p99", "ms", "lower")
    k["guess50"] = d("auth_ping_guess_p50", f"GET /ping while {g} clients guess passwords on /auth: p50", "ms", "lower")
    k["guess99"] = d("auth_ping_guess_p99", f"GET /ping while {g} clients guess passwords: p99", "ms", "lower")
    k["guess_ratio50"] = d("auth_ping_ratio_p50", "/ping p50 while guessing ÷ idle", "ratio", "lower")
    k["guess_ratio99"] = d("auth_ping_ratio_p99", "/ping p99 while guessing ÷ idle", "ratio", "lower")
    k["dbus_list50"] = d("dbus_list_p50", f"D-Bus ListProcesses, N={n}, kept connection: p50", "ms", "lower")
    k["dbus_list95"] = d("dbus_list_p95", f"D-Bus ListProcesses, N={n}: p95", "ms", "lower")
    k["dbus_listb50"] = d("dbus_list_big_p50", f"D-Bus ListProcesses, N={nb}: p50", "ms", "lower")
    k["dbus_listb95"] = d("dbus_list_big_p95", f"D-Bus ListProcesses, N={nb}: p95", "ms", "lower")
    k["dbus_getjob50"] = d("dbus_getjob_p50", "D-Bus GetJob + property read: p50", "ms", "lower")
    k["dbus_getjob95"] = d("dbus_getjob_p95", "D-Bus GetJob + property read: p95", "ms", "lower")
    k["dbus_rss_on"] = d("dbus_rss_on", f"daemon RSS with D-Bus on, N={nb} children", "MiB", "lower")
    k["dbus_rss_off"] = d("dbus_rss_off", f"daemon RSS with --no-dbus, N={nb} children", "MiB", "lower")
    k["dbus_rss_delta"] = d("dbus_rss_delta", f"daemon RSS, D-Bus on − off, N={nb} children", "MiB", "lower")
    for path in ("/ping", "/jobs", "/pids"):
        k[f"wrk{path}"] = d(f"wrk{path}", f"HTTP GET {path} (wrk, N={n} children): throughput", "req/s", "higher")
        k[f"wrk99{path}"] = d(f"wrk99{path}", f"HTTP GET {path}: latency p99", "ms", "lower")
    return k


# ------------------------------------------------------------------ scenarios

class ScenarioFailed(Exception):
    pass


def poll_pause(call_s):
    """Pause between two status polls: 1 ms, or twice the last call's duration, so that
    polling a slow single-threaded peer takes at most a third of its time."""
    return max(0.001, 2 * call_s)


def wait_count(peer, group, n, timeout):
    """Poll the peer's own status until n processes of group are running."""
    deadline = time.monotonic() + timeout
    while True:
        t0 = time.perf_counter()
        procs = peer.status(group)
        if len(running_procs(procs)) >= n:
            return procs
        if time.monotonic() > deadline:
            raise ScenarioFailed(f"only {len(running_procs(procs))}/{n} running after {timeout} s")
        time.sleep(poll_pause(time.perf_counter() - t0))


def timed_spawn(peer, group, n, kind, grace, timeout):
    peer.prepare_group(group, n, kind, grace)
    t0 = time.perf_counter()
    peer.start_group(group, n, kind, grace)
    procs = wait_count(peer, group, n, timeout)
    return time.perf_counter() - t0, procs


def timed_stop(peer, group, procs, timeout):
    """Request a stop of group; time until the peer reports none alive and the OS pids
    are gone. Returns (seconds, None) or (None, why)."""
    pids = [p.ospid for p in procs if p.ospid > 0]
    t0 = time.perf_counter()
    peer.stop_group(group)
    deadline = time.monotonic() + timeout
    while True:
        t1 = time.perf_counter()
        st = peer.status(group)
        if not alive_procs(st) and not any(pid_alive(p) for p in pids):
            return time.perf_counter() - t0, None
        if time.monotonic() > deadline:
            gone = sum(1 for p in pids if not pid_alive(p))
            note = f"; {peer.slow_stop_note}" if peer.slow_stop_note else ""
            return None, f"not finished in {timeout} s ({gone}/{len(pids)} processes gone){note}"
        time.sleep(poll_pause(time.perf_counter() - t1))


def cleanup_group(peer, group, procs=None):
    """Remove group; if its processes outlive that (bounded), kill them: they are ours."""
    try:
        peer.remove_group(group)
    except Exception as e:  # noqa: BLE001 - best effort, logged
        log(f"  {peer.name}: remove {group}: {e}")
    if procs:
        left = [p.ospid for p in procs if p.ospid > 0 and pid_alive(p.ospid)]
        if left and not wait_until(lambda: not any(pid_alive(p) for p in left), 15, 0.02):
            log(f"  {peer.name}: {len(left)} processes of {group} survived their removal; killing them")
            kill_pids([p for p in left if p in peer.all_started()])


def footprint(peer):
    rss, pss = rss_pss_kib(peer.daemon_pids())
    return rss / 1024.0, pss / 1024.0


def lat_rows(rows, k50, k99, peer, samples):
    ms = [s * 1000.0 for s in samples]
    rows.set(k50, peer, pct(ms, 0.5), samples=len(ms))
    rows.set(k99, peer, pct(ms, 0.99), samples=len(ms))


def run_cli(argv, env, count, expect_lines, budget):
    times = []
    t_end = time.monotonic() + budget
    for i in range(count):
        if i >= 3 and time.monotonic() > t_end:
            break
        t0 = time.perf_counter()
        r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        times.append(time.perf_counter() - t0)
        if i == 0:
            lines = r.stdout.decode(errors="replace").count("\n")
            if r.returncode != 0 or lines < expect_lines:
                raise ScenarioFailed(f"CLI exit {r.returncode}, {lines} lines: {r.stderr[:200]!r}")
    return times


def run_wrk(url, secs):
    wrk = shutil.which("wrk")
    if not wrk:
        raise Unsupported("wrk is not installed")
    r = subprocess.run([wrk, "-t2", "-c32", f"-d{secs}s", "--latency", url], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=secs + 60)
    out = r.stdout.decode(errors="replace")
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if not m or not p99:
        raise ScenarioFailed(f"wrk output not understood: {out[-300:]!r}")
    if non2xx:
        raise ScenarioFailed(f"{non2xx.group(1)} non-2xx answers")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return float(m.group(1)), float(p99.group(1)) * scale


def median_spread(values):
    return statistics.median(values), ([min(values), max(values)] if len(values) > 1 else None)


class PeerRun:
    """Runs every scenario against one peer and fills the rows."""

    def __init__(self, peer, rows, keys, cfg, workdir):
        self.p = peer
        self.rows = rows
        self.k = keys
        self.cfg = cfg
        self.workdir = workdir
        self.name = peer.name

    def reps(self, count, what):
        """range(count), cut short once rep_budget_s has passed (at least one rep)."""
        t0 = time.monotonic()
        for rep in range(count):
            if rep and time.monotonic() - t0 > self.cfg["rep_budget_s"]:
                log(f"  {self.name}: {what}: {rep} repetition(s) used the {self.cfg['rep_budget_s']} s budget")
                return
            yield rep

    def guard(self, keys, fn):
        """Run one scenario; on a missing feature or an error, its rows get null + why."""
        only = self.cfg.get("only")
        if only and fn.__name__ not in only:
            for k in keys:
                self.rows.null(self.k[k], self.name, "not in this run's scenario list (--only)")
            return
        t0 = time.monotonic()
        try:
            fn()
        except Unsupported as e:
            for k in keys:
                self.rows.null(self.k[k], self.name, str(e))
            log(f"  {self.name}: skipped {keys[0]}...: {e}")
        except Exception as e:  # noqa: BLE001 - the report says what failed
            why = f"{type(e).__name__}: {e}"
            for k in keys:
                self.rows.null(self.k[k], self.name, why)
            log(f"  {self.name}: FAILED {keys[0]}...: {why}")
            traceback.print_exc(file=sys.stderr)
        finally:
            log(f"  {self.name}: {keys[0]}... done in {time.monotonic() - t0:.1f} s")
            reap_orphans()

    def run(self):
        c = self.cfg
        time.sleep(1.0)  # let the fresh daemon settle
        self.guard(["rss0", "pss0"], self.footprint0)
        self.guard(["spawn", "rss", "pss", "api50", "api99", "tcp50", "tcp99", "cli50", "cli99", "idle", "stop"]
                   + [f"wrk{x}" for x in ("/ping", "/jobs", "/pids")]
                   + [f"wrk99{x}" for x in ("/ping", "/jobs", "/pids")], self.spawn_small)
        self.guard(["spawn_big", "rssb", "pssb", "apib50", "apib99", "stop_big"], self.spawn_big)
        self.guard(["restart50", "restart99"], self.restart)
        self.guard(["stop_ign"], self.stop_ignore)
        self.guard(["scale", "scale_kept"], self.scale)
        self.guard(["out_ratio", "out_mbs"], self.output)
        self.guard(["guess_idle50", "guess_idle99", "guess50", "guess99", "guess_ratio50", "guess_ratio99"],
                   self.password_guessing)
        self.guard(["dbus_list50", "dbus_list95", "dbus_listb50", "dbus_listb95", "dbus_getjob50", "dbus_getjob95",
                    "dbus_rss_on", "dbus_rss_off", "dbus_rss_delta"], self.dbus)

    # --- 10: D-Bus (issue 13)
    def dbus(self):
        c = self.cfg
        r = self.p.dbus_bench(c["n_small"], c["n_big"], c["status_samples"], c["sample_budget_s"])
        for key, part in (("dbus_list", "list_small"), ("dbus_listb", "list_big"), ("dbus_getjob", "getjob")):
            ms = [us / 1000.0 for us in r[part]["samples_us"]]
            self.rows.set(self.k[key + "50"], self.name, pct(ms, 0.5), samples=len(ms))
            self.rows.set(self.k[key + "95"], self.name, pct(ms, 0.95), samples=len(ms))
            log(f"  {self.name}: D-Bus {part}: p50 {pct(ms, 0.5):.3f} ms, p95 {pct(ms, 0.95):.3f} ms "
                f"({len(ms)} samples)")
        self.rows.set(self.k["dbus_rss_on"], self.name, r["rss_on"])
        self.rows.set(self.k["dbus_rss_off"], self.name, r["rss_off"])
        self.rows.set(self.k["dbus_rss_delta"], self.name, r["rss_on"] - r["rss_off"])
        log(f"  {self.name}: RSS with D-Bus {r['rss_on']:.2f} MiB, without {r['rss_off']:.2f} MiB")

    # --- 9: API latency under password guessing (issue 11 §6)
    def password_guessing(self):
        c = self.cfg
        idle, busy, info = self.p.password_guessing(c["guessers"], c["guess_samples"], c["sample_budget_s"])
        i50, i99, b50, b99 = (pct(idle, 0.5) * 1e3, pct(idle, 0.99) * 1e3, pct(busy, 0.5) * 1e3, pct(busy, 0.99) * 1e3)
        for key, v, n in (("guess_idle50", i50, len(idle)), ("guess_idle99", i99, len(idle)),
                          ("guess50", b50, len(busy)), ("guess99", b99, len(busy))):
            self.rows.set(self.k[key], self.name, v, samples=n)
        self.rows.set(self.k["guess_ratio50"], self.name, b50 / i50 if i50 else None)
        self.rows.set(self.k["guess_ratio99"], self.name, b99 / i99 if i99 else None)
        note = (f"{info['guesses']} guesses in {info['seconds']:.1f} s: {info['answered_401']} checked (401), "
                f"{info['answered_429']} refused unchecked (429), {info['other']} other")
        self.rows.note(self.k["guess50"], self.name, note)
        log(f"  {self.name}: /ping idle p50 {i50:.3f} p99 {i99:.3f} ms; guessing p50 {b50:.3f} p99 {b99:.3f} ms; {note}")

    def footprint0(self):
        rss0, pss0 = footprint(self.p)
        self.rows.set(self.k["rss0"], self.name, rss0)
        self.rows.set(self.k["pss0"], self.name, pss0)

    # --- 1, 3, 4, 6, 8: spawn N, status, footprint, idle CPU, HTTP, stop
    def spawn_reps(self, n, reps, prefix, first_rep, k_spawn, k_stop):
        """reps × (timed spawn of n sleeps, [first_rep's measurements], timed stop,
        removal). A stop over the cap is reported as such and not timed again."""
        c = self.cfg
        spawn_t, stop_t, stop_why = [], [], None
        spent = 0.0  # time of the repetitions, without first_rep's measurements
        for rep in range(reps):
            if rep and spent > c["rep_budget_s"]:
                log(f"  {self.name}: spawn N={n}: {rep} repetition(s) used the {c['rep_budget_s']} s budget")
                break
            r0 = time.monotonic()
            group = f"{prefix}{rep}"
            t, procs = timed_spawn(self.p, group, n, "sleep", 2.0, c["spawn_timeout"])
            spawn_t.append(t)
            log(f"  {self.name}: spawn N={n} rep {rep + 1}: {t:.3f} s")
            if rep == 0:
                f0 = time.monotonic()
                first_rep(group, n)
                procs = self.p.status(group)
                r0 += time.monotonic() - f0
            if stop_why is None:
                st, stop_why = timed_stop(self.p, group, procs, c["stop_cap_s"])
                if st is not None:
                    stop_t.append(st)
                    log(f"  {self.name}: stop-all N={n} rep {rep + 1}: {st:.3f} s")
                else:  # finish the job ourselves: they are our processes
                    kill_pids([p.ospid for p in procs if p.ospid > 0 and p.ospid in self.p.all_started()])
            cleanup_group(self.p, group, procs)
            spent += time.monotonic() - r0
        v, sp = median_spread(spawn_t)
        self.rows.set(self.k[k_spawn], self.name, v, sp, samples=len(spawn_t))
        if stop_t:
            v, sp = median_spread(stop_t)
            self.rows.set(self.k[k_stop], self.name, v, sp)
        else:
            self.rows.null(self.k[k_stop], self.name, stop_why)

    def spawn_small(self):
        self.spawn_reps(self.cfg["n_small"], self.cfg["spawn_reps"], "s", self.after_spawn_small, "spawn", "stop")

    def spawn_big(self):
        self.spawn_reps(self.cfg["n_big"], self.cfg["spawn_big_reps"], "b", self.after_spawn_big, "spawn_big",
                        "stop_big")

    def after_spawn_big(self, group, n):
        time.sleep(0.5)
        rss, pss = footprint(self.p)
        self.rows.set(self.k["rssb"], self.name, rss)
        self.rows.set(self.k["pssb"], self.name, pss)
        self.p.status_probe(None)
        lat_rows(self.rows, self.k["apib50"], self.k["apib99"], self.name,
                 self.p.time_status(None, self.cfg["status_big_samples"], self.cfg["sample_budget_s"]))

    def after_spawn_small(self, group, n):
        c = self.cfg
        time.sleep(0.5)
        rss, pss = footprint(self.p)
        self.rows.set(self.k["rss"], self.name, rss)
        self.rows.set(self.k["pss"], self.name, pss)
        # API status of all processes (the only group loaded).
        for _ in range(3):
            self.p.status_probe(None)
        lat_rows(self.rows, self.k["api50"], self.k["api99"], self.name, self.p.time_status(None, c["status_samples"], c["sample_budget_s"]))
        try:
            lat_rows(self.rows, self.k["tcp50"], self.k["tcp99"], self.name,
                     self.p.time_status_tcp(None, c["status_samples"], c["sample_budget_s"]))
        except Unsupported as e:
            self.rows.null(self.k["tcp50"], self.name, str(e))
            self.rows.null(self.k["tcp99"], self.name, str(e))
        try:
            argv, env = self.p.cli_status()
            lat_rows(self.rows, self.k["cli50"], self.k["cli99"], self.name,
                     run_cli(argv, env, c["cli_samples"], n, c["sample_budget_s"]))
        except (Unsupported, ScenarioFailed) as e:
            self.rows.null(self.k["cli50"], self.name, str(e))
            self.rows.null(self.k["cli99"], self.name, str(e))
        # Idle CPU with N children.
        time.sleep(1.0)
        pids = self.p.daemon_pids()
        c0 = cpu_ns(pids)
        time.sleep(c["idle_s"])
        c1 = cpu_ns(pids)
        self.rows.set(self.k["idle"], self.name, (c1 - c0) / 1e6)
        log(f"  {self.name}: idle CPU over {c['idle_s']} s: {(c1 - c0) / 1e6:.3f} ms")
        # HTTP throughput (peers with an HTTP API).
        try:
            url = self.p.http_url()
        except Unsupported:
            for x in ("/ping", "/jobs", "/pids"):
                self.rows.null(self.k[f"wrk{x}"], self.name, NO_HTTP.get(self.name, "no HTTP API"))
                self.rows.null(self.k[f"wrk99{x}"], self.name, NO_HTTP.get(self.name, "no HTTP API"))
            return
        for x in ("/ping", "/jobs", "/pids"):
            try:
                rps, p99 = run_wrk(url + x, c["wrk_s"])
                self.rows.set(self.k[f"wrk{x}"], self.name, rps)
                self.rows.set(self.k[f"wrk99{x}"], self.name, p99)
                log(f"  {self.name}: wrk {x}: {rps:.0f} req/s, p99 {p99:.2f} ms")
            except (Unsupported, ScenarioFailed) as e:
                self.rows.null(self.k[f"wrk{x}"], self.name, str(e))
                self.rows.null(self.k[f"wrk99{x}"], self.name, str(e))

    # --- 2: restart latency
    def restart(self):
        c = self.cfg
        groups = [f"r{i}" for i in range(c["restart_samples"])]
        try:
            for g in groups:
                self.p.prepare_group(g, 1, "sleep", 2.0)
                self.p.start_group(g, 1, "sleep", 2.0)
            for g in groups:
                wait_count(self.p, g, 1, 60)
            time.sleep(1.5)  # past s6's 1 s restart throttle and PM2's min_uptime
            samples = []
            for g in groups:
                old = running_procs(self.p.status(g))[0].ospid
                os.kill(old, signal.SIGKILL)
                t0 = time.perf_counter()
                deadline = time.monotonic() + 10
                while True:
                    new = [p for p in running_procs(self.p.status(g)) if p.ospid != old]
                    if new:
                        samples.append(time.perf_counter() - t0)
                        break
                    if time.monotonic() > deadline:
                        raise ScenarioFailed(f"{g}: no new pid within 10 s of SIGKILL")
                    time.sleep(0.0002)
                time.sleep(0.02)
            lat_rows(self.rows, self.k["restart50"], self.k["restart99"], self.name, samples)
            log(f"  {self.name}: restart p50 {pct(samples, 0.5) * 1000:.2f} ms")
        finally:
            try:
                self.p.remove_groups(groups)
            except Exception as e:  # noqa: BLE001 - best effort, logged
                log(f"  {self.name}: remove restart groups: {e}")

    # --- 6: stop-all with processes that ignore SIGTERM
    def stop_ignore(self):
        c, n = self.cfg, self.cfg["n_small"]
        times, why = [], None
        for rep in self.reps(c["ignore_reps"], "stop-all ignoring SIGTERM"):
            group = f"i{rep}"
            _, procs = timed_spawn(self.p, group, n, "ignore_term", 2.0, c["spawn_timeout"])
            time.sleep(1.0)  # every sh has run its trap and exec'd sleep
            procs = self.p.status(group)
            t, why = timed_stop(self.p, group, procs, c["ignore_cap_s"])
            if t is None:  # over the cap: kill them ourselves so the next step starts clean
                kill_pids([p.ospid for p in procs if p.ospid > 0 and p.ospid in self.p.all_started()])
            cleanup_group(self.p, group, procs)
            if t is None:
                break
            times.append(t)
            log(f"  {self.name}: stop-all ignoring SIGTERM rep {rep + 1}: {t:.3f} s")
        if times:
            v, sp = median_spread(times)
            self.rows.set(self.k["stop_ign"], self.name, v, sp)
        else:
            self.rows.null(self.k["stop_ign"], self.name, why)

    # --- 7: scale 10 -> N
    def scale(self):
        c, n = self.cfg, self.cfg["n_small"]
        times, kept_all = [], True
        for rep in self.reps(c["scale_reps"], "scale"):
            group = f"c{rep}"
            self.p.prepare_group(group, 10, "sleep", 2.0)
            self.p.start_group(group, 10, "sleep", 2.0)
            first = {p.ospid for p in running_procs(wait_count(self.p, group, 10, 60))}
            time.sleep(0.5)
            self.p.prepare_scale(group, n)
            t0 = time.perf_counter()
            self.p.scale(group, n)
            procs = running_procs(wait_count(self.p, group, n, c["spawn_timeout"]))
            times.append(time.perf_counter() - t0)
            kept = first <= {p.ospid for p in procs} and all(pid_alive(p) for p in first)
            kept_all = kept_all and kept
            log(f"  {self.name}: scale 10 → {n}: {times[-1]:.3f} s, first 10 kept: {kept}")
            cleanup_group(self.p, group, self.p.status(group))
        v, sp = median_spread(times)
        self.rows.set(self.k["scale"], self.name, v, sp)
        self.rows.set(self.k["scale_kept"], self.name, 1 if kept_all else 0)

    # --- 5: output throughput
    def output(self):
        c = self.cfg
        nbytes = c["out_bytes"]
        ratios, mbs = [], []
        for rep in self.reps(c["out_reps"], "output"):
            res0 = os.path.join(self.workdir, f"base{rep}.txt")
            subprocess.run([self.p.ctx.raw_bin, "writer", str(nbytes), res0], stdout=subprocess.DEVNULL, check=True,
                           timeout=600)
            base = read_writer_result(res0)
            res = os.path.join(self.p.dir, f"writer{rep}.txt")
            self.p.writer_args = [self.p.ctx.raw_bin, "writer", str(nbytes), res]
            self.p.writer_log = os.path.join(self.p.dir, f"out{rep}.log")
            group = f"o{rep}"
            self.p.prepare_group(group, 1, "writer", 2.0)
            self.p.start_group(group, 1, "writer", 2.0)
            if not wait_until(lambda: read_writer_result(res), 600, 0.02):
                raise ScenarioFailed("the writer did not finish in 600 s")
            cap = read_writer_result(res)
            got = self.wait_captured(cap[0])
            cleanup_group(self.p, group)
            self.remove_captured()
            if got < cap[0] * 0.99:
                raise ScenarioFailed(f"lost output: {got} of {cap[0]} bytes reached the capture file (the writer "
                                     f"itself ran at {cap[0] / cap[1] / 1e6:.0f} MB/s)")
            if got < cap[0]:
                for k in ("out_ratio", "out_mbs"):
                    self.rows.note(self.k[k], self.name, f"lost output: the last {cap[0] - got} of {cap[0]} bytes "
                                                         f"never reached the capture file")
            ratios.append(base[1] / cap[1])
            mbs.append(cap[0] / cap[1] / 1e6)
            log(f"  {self.name}: output: unsupervised {base[0] / base[1] / 1e6:.0f} MB/s, "
                f"captured {mbs[-1]:.0f} MB/s, ratio {ratios[-1]:.2f}")
        v, sp = median_spread(ratios)
        self.rows.set(self.k["out_ratio"], self.name, v, sp)
        v, sp = median_spread(mbs)
        self.rows.set(self.k["out_mbs"], self.name, v, sp)

    def wait_captured(self, want):
        """Bytes in the capture file once it holds want bytes, or once it stopped
        growing for 3 s (bounded: 60 s)."""
        deadline = time.monotonic() + 60
        last, since = -1, time.monotonic()
        while True:
            got = self.captured_bytes()
            now = time.monotonic()
            if got >= want or now > deadline or now - since > 3:
                return got
            if got != last:
                last, since = got, now
            time.sleep(0.05)

    def captured_files(self):
        """The capture file and its rotated siblings (out0.log, out0.log.1, ...)."""
        d, base = os.path.split(self.p.writer_log)
        try:
            return [os.path.join(d, n) for n in os.listdir(d) if n == base or n.startswith(base + ".")]
        except OSError:
            return []

    def captured_bytes(self):
        if hasattr(self.p, "captured_bytes"):
            return self.p.captured_bytes()
        total = 0
        for path in self.captured_files():
            try:
                total += os.path.getsize(path)
            except OSError:
                pass
        return total

    def remove_captured(self):
        if hasattr(self.p, "remove_captured"):
            self.p.remove_captured()
        else:
            for path in self.captured_files():
                try:
                    os.unlink(path)
                except OSError:
                    pass


def read_writer_result(path):
    try:
        with open(path) as f:
            parts = f.read().split()
        if len(parts) == 2:
            return int(parts[0]), float(parts[1])
    except (OSError, ValueError):
        pass
    return None


# ------------------------------------------------------------------ machine, report

def machine_info(build_dir):
    info = {"kernel": platform.release(), "cpus": os.cpu_count(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.+)", f.read())
            info["cpu"] = m.group(1).strip() if m else "?"
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass

    def cmd(argv):
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
            return r.stdout.decode(errors="replace").strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return None

    versions = {"gafferd": cmd([os.path.join(build_dir, "daemon", "gafferd"), "--version"]),
                "supervisord": cmd(["supervisord", "--version"]),
                "s6": cmd(["dpkg-query", "-W", "-f=${Version}", "s6"]),
                "wrk": cmd(["dpkg-query", "-W", "-f=${Version}", "wrk"])}
    try:
        with open(os.path.join(BENCH_DIR, ".node", "node_modules", "pm2", "package.json")) as f:
            versions["pm2"] = json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        versions["pm2"] = None
    versions["node"] = cmd(["node", "--version"])
    root = os.path.dirname(BENCH_DIR)
    head = cmd(["git", "-C", root, "rev-parse", "--short", "HEAD"])
    dirty = cmd(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"])
    if head:
        versions["gafferd_source"] = ("work tree at run time: " + head +
                                      (" + uncommitted changes" if dirty else ""))
    try:
        mtime = os.path.getmtime(os.path.join(build_dir, "daemon", "gafferd"))
        versions["gafferd_built"] = datetime.datetime.fromtimestamp(mtime).isoformat(timespec="minutes")
    except OSError:
        pass
    info["versions"] = versions
    info["nice"] = os.nice(0)
    return info


def fmt(v):
    if v is None:
        return "—"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 100):
        return f"{int(v)}"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a >= 0.01:
        return f"{v:.3f}"
    if a == 0:
        return "0"
    return f"{v:.2g}"


def ratios(row):
    vals = {p: v for p, v in row["values"].items() if v is not None}
    raw = vals.get("raw")
    if not vals:
        return {}, {}
    best = min(vals.values()) if row["better"] == "lower" else max(vals.values())
    to_raw = {p: (v / raw if raw else None) for p, v in vals.items()}
    to_best = {p: (v / best if best else None) for p, v in vals.items()}
    return to_raw, to_best


def add_ratios(run):
    for row in run["rows"]:
        to_raw, to_best = ratios(row)
        row["ratio_to_raw"] = {p: to_raw.get(p) for p in ORDER}
        row["ratio_to_best"] = {p: to_best.get(p) for p in ORDER}


def table(run):
    lines = ["| metric | unit | better | " + " | ".join(ORDER) + " |",
             "|---|---|---|" + "---|" * len(ORDER)]
    notes = []
    for row in run["rows"]:
        cells = []
        for p in ORDER:
            v = row["values"][p]
            if v is None:
                why = row.get("why", {}).get(p, "")
                if why not in notes:
                    notes.append(why)
                cells.append(f"— [{notes.index(why) + 1}]")
                continue
            note = row.get("note", {}).get(p)
            if note and note not in notes:
                notes.append(note)
            mark = f" [{notes.index(note) + 1}]" if note else ""
            if row["unit"] == "bool":
                s = "yes" if v else "**no**"
            else:
                s = fmt(v)
                rr, rb = row["ratio_to_raw"][p], row["ratio_to_best"][p]
                extra = []
                if rr is not None and p != "raw":
                    extra.append(f"{fmt(rr)}×raw")
                if rb is not None and len([x for x in row["values"].values() if x is not None]) > 1:
                    extra.append("**best**" if abs(rb - 1.0) < 1e-12 else f"{fmt(rb)}×best")
                if extra:
                    s += " (" + ", ".join(extra) + ")"
            cells.append(s + mark)
        lines.append(f"| {row['metric']} | {row['unit']} | {row['better']} | " + " | ".join(cells) + " |")
    lines.append("")
    for i, why in enumerate(notes, 1):
        lines.append(f"[{i}] {why}  ")
    return "\n".join(lines)


TARGETS = [
    ("spawn N={nb} within 1.2× of raw", "spawn_nb", lambda r: r["ratio_to_raw"]["gafferd"], lambda x: x <= 1.2, "×raw"),
    ("spawn N={nb} at least 5× faster than supervisord", "spawn_nb",
     lambda r: (r["values"]["supervisord"] / r["values"]["gafferd"]) if r["values"]["supervisord"] else None,
     lambda x: x >= 5, "× faster"),
    ("restart p50 under 2 ms", "restart_p50", lambda r: r["values"]["gafferd"], lambda x: x < 2, "ms"),
    ("status of {n} processes under 1 ms p50", "status_api_p50", lambda r: r["values"]["gafferd"],
     lambda x: x < 1, "ms"),
    ("daemon RSS under 8 MiB with {n} children", "rss_n", lambda r: r["values"]["gafferd"], lambda x: x < 8, "MiB"),
    ("zero idle CPU (under 0.1 ms over the idle window)", "idle_cpu", lambda r: r["values"]["gafferd"],
     lambda x: x < 0.1, "ms"),
    ("output throughput at least 0.8× of unsupervised", "output_ratio", lambda r: r["values"]["gafferd"],
     lambda x: x >= 0.8, "×"),
    ("D-Bus ListProcesses of {n} under 1 ms p50", "dbus_list_p50", lambda r: r["values"]["gafferd"], lambda x: x < 1,
     "ms"),
    ("D-Bus ListProcesses of {nb} under 3 ms p50", "dbus_list_big_p50", lambda r: r["values"]["gafferd"],
     lambda x: x < 3, "ms"),
    ("D-Bus GetJob + property read under 0.2 ms p50", "dbus_getjob_p50", lambda r: r["values"]["gafferd"],
     lambda x: x < 0.2, "ms"),
    ("D-Bus on costs under 0.5 MiB of RSS with {nb} children", "dbus_rss_delta", lambda r: r["values"]["gafferd"],
     lambda x: x < 0.5, "MiB"),
]


def targets(runs, cfg):
    """The issue's targets, checked on gafferd's values of each run (the issue states
    them for N=200 and N=1000; a quick run checks its own N)."""
    out = []
    for label, key, get, ok, unit in TARGETS:
        label = label.format(n=cfg["n_small"], nb=cfg["n_big"])
        per_run = []
        for run in runs:
            row = next((r for r in run["rows"] if r["key"] == key), None)
            try:
                v = get(row) if row else None
            except (TypeError, ZeroDivisionError, KeyError):
                v = None
            per_run.append({"value": v, "met": (ok(v) if v is not None else None)})
        out.append({"target": label, "metric": key, "unit": unit, "runs": per_run})
    return out


def markdown(doc):
    m = doc["machine"]
    v = m.get("versions", {})
    out = [f"# Benchmarks {doc['date']}{' (quick)' if doc['quick'] else ''}", "",
           f"Machine: {m.get('cpu', '?')}, {m.get('cpus')} CPUs, {m.get('mem_gib')} GiB, kernel {m.get('kernel')}; "
           f"harness at nice {m.get('nice')}.  ",
           "Peers: " + ", ".join(f"{k} {v[k].removeprefix(k).strip()}"
                                 for k in ("gafferd", "supervisord", "pm2", "s6", "wrk", "node") if v.get(k)) + f" (gafferd binary built {v.get('gafferd_built', '?')}; "
                                                f"{v.get('gafferd_source', '?')}).  ",
           "Each cell: value (value ÷ raw's, value ÷ the row's best). Medians over repetitions; latencies are "
           "p50/p99 over samples. See bench/README.md.", ""]
    for i, run in enumerate(doc["runs"], 1):
        ld = run["load"]
        out.append(f"## Run {i} of {len(doc['runs'])}: load average {ld['before'][0]:.1f} at start, "
                   f"{ld['after'][0]:.1f} at end (1-min; min {ld['min']:.1f}, max {ld['max']:.1f} during), "
                   f"{run['elapsed_s']:.0f} s, peer order {', '.join(run['order'])}")
        out.append("")
        out.append(table(run))
        out.append("")
    out.append("## Targets (gafferd, same run)")
    out.append("")
    out.append("| target | " + " | ".join(f"run {i}" for i in range(1, len(doc["runs"]) + 1)) + " |")
    out.append("|---|" + "---|" * len(doc["runs"]))
    for t in doc["targets"]:
        cells = []
        for r in t["runs"]:
            if r["value"] is None:
                cells.append("not measured")
            else:
                cells.append(f"{fmt(r['value'])} {t['unit']}: {'met' if r['met'] else '**missed**'}")
        out.append(f"| {t['target']} | " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)


def update_readme(readme, doc, md_name):
    """Replace (or append) the '## Performance' section at the end of README.md."""
    with open(readme) as f:
        text = f.read()
    last = doc["runs"][-1]
    lines = ["## Performance", "",
             f"`make bench` runs gafferd against a raw posix_spawn + pidfd loop, supervisord, PM2 and s6 "
             f"(bench/README.md). Latest run: {doc['date']}{' (quick)' if doc['quick'] else ''}, "
             f"{doc['machine'].get('cpus')} shared vCPUs, load average {last['load']['before'][0]:.1f}–"
             f"{last['load']['after'][0]:.1f}; run {len(doc['runs'])} of {len(doc['runs'])} below, all runs "
             f"and the targets in [bench/results/{md_name}](bench/results/{md_name}).", "",
             "Each cell: value (value ÷ raw's, value ÷ the row's best).", "", table(last), ""]
    section = "\n".join(lines)
    idx = text.find("\n## Performance\n")
    if idx >= 0:
        nxt = text.find("\n## ", idx + 1)
        text = text[:idx + 1] + section + ("\n" + text[nxt + 1:] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(readme, "w") as f:
        f.write(text.rstrip("\n") + "\n")


# ------------------------------------------------------------------ main

def interrupted(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def become_subreaper():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except OSError:
        pass


def kill_all_below_me():
    """Kill whatever is still running below the harness (all of it started by the bench:
    the harness is a subreaper), then reap the orphans among its children."""
    me = os.getpid()
    for _ in range(40):
        left = [p for p in descendants(me) if pid_alive(p)]
        if left:
            kill_pids(left)
        time.sleep(0.05)
        reap_orphans()
        if not left and not descendants(me):
            break


def build_raw(tmp):
    out = os.path.join(tmp, "raw_supervisor")
    cc = shutil.which("cc") or shutil.which("gcc")
    subprocess.run([cc, "-O2", "-Wall", "-o", out, os.path.join(BENCH_DIR, "raw_supervisor.c")], check=True)
    return out


def run_once(ctx, peers, order, tmp, run_no):
    cfg = ctx.cfg
    rows = Rows(peers)
    keys = declare_rows(rows, cfg)
    for k, row in rows.rows.items():
        row["key"] = k
    started = time.time()
    loads = [loadavg()]
    for name in order:
        if name not in peers:
            continue
        log(f"run {run_no}: {name} (load {loads[-1][0]:.1f})")
        workdir = tempfile.mkdtemp(prefix=f"{name}-", dir=tmp)
        peer = PEERS[name](ctx, workdir)
        try:
            try:
                peer.start()
            except Unsupported as e:
                for key in keys.values():
                    rows.null(key, name, str(e))
                log(f"  {name}: skipped: {e}")
                continue
            except Exception as e:  # noqa: BLE001
                for key in keys.values():
                    rows.null(key, name, f"did not start: {e}")
                log(f"  {name}: did not start: {e}")
                traceback.print_exc(file=sys.stderr)
                continue
            PeerRun(peer, rows, keys, cfg, workdir).run()
        finally:
            try:
                peer.teardown()
            except Exception as e:  # noqa: BLE001
                log(f"  {name}: teardown: {e}")
            kill_all_below_me()
            if not os.environ.get("BENCH_KEEP"):
                shutil.rmtree(workdir, ignore_errors=True)
            loads.append(loadavg())
    flat = [l[0] for l in loads]
    run = {"started": datetime.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
           "elapsed_s": round(time.time() - started, 1), "order": [p for p in order if p in peers],
           "load": {"before": loads[0], "after": loads[-1], "min": min(flat), "max": max(flat),
                    "per_peer": loads}, "rows": rows.finish()}
    add_ratios(run)
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=False, help="meson build directory holding daemon/gafferd")
    ap.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--peers", default=",".join(ORDER))
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results"))
    ap.add_argument("--render", default=None, metavar="JSON",
                    help="only rewrite the .md (and --readme) from an existing results .json")
    ap.add_argument("--only", default="", help="comma-separated scenario methods of PeerRun (debugging)")
    ap.add_argument("--readme", default=None, help="README.md whose Performance section to replace")
    args = ap.parse_args()

    if args.render:
        with open(args.render) as f:
            doc = json.load(f)
        doc["targets"] = targets(doc["runs"], doc["config"])
        with open(args.render, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        base = os.path.splitext(os.path.basename(args.render))[0]
        with open(os.path.join(os.path.dirname(args.render), base + ".md"), "w") as f:
            f.write(markdown(doc))
        if args.readme:
            update_readme(args.readme, doc, base + ".md")
        return

    cfg = dict(QUICK if args.quick else FULL)
    if args.runs:
        cfg["runs"] = args.runs
    if args.only:
        cfg["only"] = args.only.split(",")
    if not args.build:
        ap.error("--build is required")
    peers = [p for p in args.peers.split(",") if p]
    for p in peers:
        if p not in PEERS:
            ap.error(f"unknown peer {p}")
    become_subreaper()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)
    tmp = tempfile.mkdtemp(prefix="gafferd-bench-")
    t_start = time.time()
    try:
        ctx = Ctx(os.path.abspath(args.build), build_raw(tmp), args.quick, cfg)
        doc = {"date": datetime.date.today().isoformat(), "machine": machine_info(ctx.build_dir),
               "quick": args.quick, "config": cfg, "runs": []}
        for i in range(cfg["runs"]):
            order = ORDER if i % 2 == 0 else list(reversed(ORDER))
            doc["runs"].append(run_once(ctx, peers, order, tmp, i + 1))
        doc["targets"] = targets(doc["runs"], cfg)
        doc["elapsed_s"] = round(time.time() - t_start, 1)
    finally:
        kill_all_below_me()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(args.out, exist_ok=True)
    base = doc["date"] + ("-quick" if args.quick else "")
    with open(os.path.join(args.out, base + ".json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    md = markdown(doc)
    with open(os.path.join(args.out, base + ".md"), "w") as f:
        f.write(md)
    if args.readme:
        update_readme(args.readme, doc, base + ".md")
    print(md)
    log(f"done in {doc['elapsed_s']:.0f} s: {os.path.join(args.out, base)}.{{md,json}}")


if __name__ == "__main__":
    main()
