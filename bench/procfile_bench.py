#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Procfile bench (issue 14): `gaffer start` against foreman (Debian's ruby-foreman)
and node-foreman (npm `foreman`, its `nf`, in bench/.node).

A temporary app folder gets a Procfile of N process types (50; 20 with --quick), each a
bench/paced_writer: one line at once, then lines of LINE_LEN bytes at a rate such that
the N of them write RATE bytes/s in total (10 MB/s), each line with its own write(2).
Each tool runs `start` in that folder with its stdout on a pipe that this script reads
as fast as it can. Measured, per tool and repetition:

  1. all-up: seconds from launching the tool to the first line of every process read
     from the tool's stdout (every line carries "BL <type> <seq> ", so the count does
     not depend on the tool's prefix or colours);
  2. CPU: user+system time of the tool's own process(es) - the tool's pid and whatever
     it runs that is not a writer (a shell in between, a helper) - over a WINDOW-second
     streaming window that starts 1 s after all are up, as % of one CPU;
  3. what reached the pipe in that window: MB/s and payload lines/s (against the
     offered rate), and over the whole run the lines the writers wrote (each writes its
     count when it stops) against the lines that arrived intact: lost lines;
  4. stop: SIGINT to the tool's process group, as Ctrl-C in a terminal does (--stop=pid:
     to the tool's pid only, as kill -INT does), seconds until its stdout closes and it
     exits, and how many processes were left running.

The script is a child subreaper; after each tool it kills whatever is still below it
(its process group first), so nothing outlives a run. Repetitions alternate the peer
order; the report gives the median of each metric and its spread (min, max).

    python3 bench/procfile_bench.py --build build [--quick] [--out bench/results]
"""
import argparse
import datetime
import json
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import become_subreaper, interrupted, kill_all_below_me, loadavg  # noqa: E402
from peers.base import comm, cpu_ns, descendants  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
PEERS = ["gaffer", "foreman", "nf"]
PEER_TITLE = {"gaffer": "gaffer start", "foreman": "foreman (ruby)", "nf": "node-foreman (nf)"}
LINE_RE = re.compile(rb"BL (p\d+) (\d+) ")
WRITER_COMM = "paced_writer"
READ_MAX = 1 << 20
UP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def log(msg):
    print(f"[procfile-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------- the peers

def nf_script():
    return os.path.join(BENCH_DIR, ".node", "node_modules", "foreman", "nf.js")


def peer_argv(peer, build):
    """(argv, why): the command that runs `start` in the app folder (the cwd), or None
    and why the peer is missing."""
    if peer == "gaffer":
        exe = os.path.join(build, "ctl", "gaffer", "gaffer")
        if not os.access(exe, os.X_OK):
            return None, f"{exe} is not built"
        return [exe, "start", "--no-color"], None
    if peer == "foreman":
        exe = shutil.which("foreman")
        if not exe:
            return None, "foreman not installed (apt-get install ruby-foreman)"
        # foreman is a ruby script: run it through ruby so that the pid is the ruby process.
        ruby = shutil.which("ruby")
        return ([ruby, exe] if ruby else [exe]) + ["start", "-f", "Procfile"], None
    if peer == "nf":
        node = shutil.which("node")
        if not node or not os.path.isfile(nf_script()):
            return None, "node-foreman not installed (npm install --prefix bench/.node foreman)"
        return [node, nf_script(), "start", "-j", "Procfile"], None
    raise ValueError(peer)


def peer_version(peer, build):
    try:
        if peer == "gaffer":
            r = subprocess.run([os.path.join(build, "ctl", "gaffer", "gaffer"), "--version"],
                               capture_output=True, timeout=10)
            return (r.stdout or r.stderr).decode(errors="replace").strip().splitlines()[0]
        if peer == "foreman":
            r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "ruby-foreman"],
                               capture_output=True, timeout=10)
            return "ruby-foreman " + r.stdout.decode().strip()
        if peer == "nf":
            with open(os.path.join(os.path.dirname(nf_script()), "package.json")) as f:
                return "foreman (npm) " + json.load(f)["version"]
    except (OSError, ValueError, KeyError, IndexError, subprocess.SubprocessError):
        return None
    return None


def build_writer(tmp):
    out = os.path.join(tmp, "paced_writer")
    cc = shutil.which("cc") or shutil.which("gcc")
    subprocess.run([cc, "-O2", "-Wall", "-o", out, os.path.join(BENCH_DIR, "paced_writer.c")], check=True)
    return out


# --------------------------------------------------------------------- one run

class Reader:
    """Reads the tool's stdout (non-blocking) and counts lines per process type."""

    def __init__(self, fd, tee=None):
        self.fd = fd
        self.tee = tee          # a file that gets a copy of everything read (--keep)
        os.set_blocking(fd, False)
        self.carry = b""
        self.bytes = 0
        self.lines = 0          # every line on the pipe (the tools' own lines included)
        self.count = {}         # type -> payload lines received
        self.last = {}          # type -> last seq seen
        self.first = {}         # type -> monotonic time its first line was read
        self.eof = False
        self.buf = bytearray(READ_MAX)  # reused: no 1 MiB allocation (an mmap) per read
        self.view = memoryview(self.buf)

    def pump(self, timeout):
        """Reads what is there (waiting at most timeout s for something); False at EOF."""
        if self.eof:
            return False
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return True
        while True:
            try:
                n = os.readv(self.fd, [self.buf])
            except BlockingIOError:
                return True
            data = bytes(self.view[:n])
            now = time.monotonic()
            if not data:
                self.eof = True
                self._take(self.carry + b"\n", now)
                self.carry = b""
                return False
            self.bytes += len(data)
            if self.tee:
                self.tee.write(data)
            buf = self.carry + data
            cut = buf.rfind(b"\n") + 1
            self.carry = buf[cut:]
            if cut:
                self._take(buf[:cut], now)
            if len(data) < READ_MAX:
                return True

    def _take(self, chunk, now):
        self.lines += chunk.count(b"\n")
        matches = LINE_RE.findall(chunk)
        if not matches:
            return
        count = self.count
        for name, _ in matches:
            count[name] = count.get(name, 0) + 1
        last = dict(matches)
        for name in last:
            if name not in self.first:
                self.first[name] = now
        self.last.update(last)


def tool_pids(root):
    """The tool's own processes: its pid and every descendant that is not a writer."""
    return [root] + [p for p in descendants(root) if comm(p) != WRITER_COMM]


def write_app(appdir, writer, ntypes, rate_lines, line_len, counts):
    with open(os.path.join(appdir, "Procfile"), "w") as f:
        for i in range(1, ntypes + 1):
            f.write(f"p{i:02d}: {writer} p{i:02d} {rate_lines} {line_len} {counts}\n")


def run_one(peer, argv, cfg, tmp, rep):
    appdir = tempfile.mkdtemp(prefix=f"{peer}-{rep}-", dir=tmp)
    counts = os.path.join(appdir, "counts")
    os.mkdir(counts)
    write_app(appdir, cfg["writer"], cfg["types"], cfg["rate_lines"], cfg["line_len"], counts)
    env = dict(os.environ)
    env["NO_COLOR"] = "1"
    env.pop("PORT", None)
    errf = open(os.path.join(appdir, "stderr.log"), "wb")
    res = {"load_before": loadavg()[0]}
    t0 = time.monotonic()
    # The tool and its writers run cfg["tool_nice"] steps below the bench, so that the
    # bench's reader drains the pipe whenever there is something to read: the tool, not the
    # reader, is what is measured (on a loaded machine an equal-priority reader among 50
    # busy writers falls behind, and a tool that writes its stdout blocking then stalls).
    tool_nice = cfg["tool_nice"]
    proc = subprocess.Popen(argv, cwd=appdir, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=errf, start_new_session=True,
                            preexec_fn=(lambda: os.nice(tool_nice)) if tool_nice else None)
    errf.close()
    reader = Reader(proc.stdout.fileno(), open(os.path.join(appdir, "stdout.log"), "wb") if cfg["keep"] else None)
    try:
        # 1. all up: the first line of every type.
        deadline = t0 + UP_TIMEOUT
        while len(reader.first) < cfg["types"] and time.monotonic() < deadline:
            if not reader.pump(0.05):
                break
        if len(reader.first) < cfg["types"]:
            raise RuntimeError(f"only {len(reader.first)} of {cfg['types']} processes printed a line "
                               f"within {UP_TIMEOUT:.0f} s (exit status {proc.poll()})")
        res["all_up_s"] = max(reader.first.values()) - t0
        res["first_up_s"] = min(reader.first.values()) - t0
        # 2. settle 1 s, then the streaming window.
        settle_end = time.monotonic() + cfg["settle"]
        while time.monotonic() < settle_end:
            reader.pump(0.05)
        pids = tool_pids(proc.pid)
        b0, l0, p0 = reader.bytes, reader.lines, sum(reader.count.values())
        me0 = os.times()
        c0, w0 = cpu_ns(pids), time.monotonic()
        w_end = w0 + cfg["window"]
        while time.monotonic() < w_end:
            if not reader.pump(min(0.05, max(0.0, w_end - time.monotonic()))):
                raise RuntimeError(f"the tool exited while streaming (status {proc.poll()})")
        c1, w1 = cpu_ns(pids), time.monotonic()
        me1 = os.times()
        secs = w1 - w0
        res["tool_pids"] = [f"{p}:{comm(p)}" for p in pids]
        res["cpu_pct"] = (c1 - c0) / 1e9 / secs * 100
        res["bench_cpu_pct"] = ((me1.user - me0.user) + (me1.system - me0.system)) / secs * 100
        res["mb_s"] = (reader.bytes - b0) / secs / 1e6
        res["cpu_ms_per_mb"] = (c1 - c0) / 1e6 / ((reader.bytes - b0) / 1e6) if reader.bytes > b0 else None
        res["lines_s"] = (sum(reader.count.values()) - p0) / secs
        res["all_lines_s"] = (reader.lines - l0) / secs
        res["offered_pct"] = res["lines_s"] / (cfg["rate_lines"] * cfg["types"]) * 100
        # 3. stop: SIGINT to the tool's pid, read until its stdout closes.
        t_stop = time.monotonic()
        if cfg["stop"] == "group":
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the foreground group
        else:
            os.kill(proc.pid, signal.SIGINT)  # kill -INT <pid>: only the tool
        stop_deadline = t_stop + STOP_TIMEOUT
        while time.monotonic() < stop_deadline and reader.pump(0.05):
            pass
        try:
            proc.wait(timeout=max(0.1, stop_deadline - time.monotonic()))
            res["stop_s"] = time.monotonic() - t_stop
            res["exit_status"] = proc.returncode
        except subprocess.TimeoutExpired:
            res["stop_s"] = None
            res["stop_s_why"] = f"still running {STOP_TIMEOUT:.0f} s after SIGINT (then killed by the bench)"
            res["exit_status"] = None
        # Whatever is left below the bench now was left by the tool.
        time.sleep(0.2)
        left = [p for p in descendants(os.getpid()) if comm(p) and not _zombie(p)]
        res["left_running"] = len(left)
        res["left_what"] = sorted({comm(p) for p in left})
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        kill_all_below_me()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        while reader.pump(0):
            pass
        proc.stdout.close()
        if reader.tee:
            reader.tee.close()
    # 4. loss: lines written (each writer's count file) against lines received intact.
    written, files = 0, 0
    for name in os.listdir(counts):
        try:
            with open(os.path.join(counts, name)) as f:
                written += int(f.read().split()[0])
                files += 1
        except (OSError, ValueError, IndexError):
            pass
    received = sum(reader.count.values())
    res["written_lines"] = written
    res["received_lines"] = received
    res["count_files"] = files
    res["lost_lines"] = written - received if files == cfg["types"] else None
    if res["lost_lines"] is None:
        res["lost_lines_why"] = (f"only {files} of {cfg['types']} writers stopped on the tool's signal "
                                 "(the others were killed by the bench, their counts unknown)")
    res["gap_lines"] = sum(int(reader.last[n]) + 1 - reader.count[n] for n in reader.count)
    res["load_after"] = loadavg()[0]
    if cfg["keep"]:
        res["kept"] = appdir
    else:
        shutil.rmtree(appdir, ignore_errors=True)
    return res


def _zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


# --------------------------------------------------------------------- report

ROWS = [
    # key, metric, unit, better, digits
    ("all_up_s", "first line of every process on the tool's stdout", "s", "lower", 3),
    ("first_up_s", "first line of the first process", "s", "lower", 3),
    ("cpu_pct", "tool CPU while streaming", "% of 1 CPU", "lower", 1),
    ("cpu_ms_per_mb", "tool CPU per MB delivered", "ms/MB", "lower", 0),
    ("mb_s", "bytes reaching the reader while streaming", "MB/s", "higher", 2),
    ("offered_pct", "payload lines delivered / offered while streaming", "%", "higher", 1),
    ("lost_lines", "lines written but never delivered intact (whole run)", "lines", "lower", 0),
    ("gap_lines", "of which lost in the middle of the stream", "lines", "lower", 0),
    ("stop_s", "SIGINT to exit", "s", "lower", 2),
    ("left_running", "processes left running once the tool exited (or 10 s after SIGINT)", "count", "lower", 0),
]


def summarize(results, peers):
    rows = []
    for key, metric, unit, better, digits in ROWS:
        row = {"key": key, "metric": metric, "unit": unit, "better": better, "values": {},
               "spread": {}, "samples": {}, "why": {}, "ratio_gaffer_to": {}}
        for peer in peers:
            runs = results[peer]
            vals = [r[key] for r in runs if isinstance(r, dict) and r.get(key) is not None]
            if not vals:
                whys = [r["error"] if "error" in r else r.get(key + "_why", "no value") for r in runs]
                row["values"][peer] = None
                row["why"][peer] = whys[0] if whys else "no value"
                continue
            row["values"][peer] = statistics.median(vals)
            row["spread"][peer] = [min(vals), max(vals)]
            row["samples"][peer] = len(vals)
        g = row["values"].get("gaffer")
        for peer in peers:
            v = row["values"].get(peer)
            if peer != "gaffer" and g is not None and v:
                row["ratio_gaffer_to"][peer] = g / v
        rows.append(row)
    return rows


def fmt(v, digits):
    if v is None:
        return "—"
    if digits == 0:
        return f"{v:.0f}"
    return f"{v:.{digits}f}"


def markdown(doc):
    peers = doc["peers"]
    cfg = doc["config"]
    out = [f"# Procfile bench: `gaffer start` against foreman and node-foreman, {doc['date']}"
           + (" (quick)" if cfg["quick"] else ""), ""]
    out.append(f"{cfg['types']} process types, each a `bench/paced_writer` (first line at once, then "
               f"{cfg['rate_lines']} lines/s of {cfg['line_len']} bytes, one write(2) each): "
               f"{cfg['rate_bytes'] / 1e6:.0f} MB/s offered in total. Streaming window {cfg['window']:g} s "
               f"(after all up + {cfg['settle']:g} s), {cfg['reps']} repetition(s), peers alternating; "
               f"values are medians, [min–max] over the repetitions. The tool's stdout is a pipe "
               f"read by the bench; stopped with SIGINT to "
               + ("the tool's process group (what Ctrl-C in a terminal does)" if cfg["stop"] == "group"
                  else "the tool's pid only (kill -INT)")
               + f". Niceness of the bench {cfg['nice']}, of the tools and their processes "
                 f"{cfg['nice']} + {cfg['tool_nice']}"
               + (" (the bench's reader at the same priority as the tool, as a terminal would be)."
                  if not cfg["tool_nice"] else "."))
    out.append("")
    head = "| metric | unit | " + " | ".join(PEER_TITLE[p] for p in peers)
    others = [p for p in peers if p != "gaffer"]
    if "gaffer" in peers:
        head += " | " + " | ".join(f"gaffer/{p}" for p in others)
    out.append(head + " |")
    out.append("|" + "---|" * (2 + len(peers) + (len(others) if "gaffer" in peers else 0)))
    digits = {k: d for k, _, _, _, d in ROWS}
    for row in doc["rows"]:
        d = digits[row["key"]]
        cells = []
        for p in peers:
            v = row["values"].get(p)
            c = fmt(v, d)
            sp = row["spread"].get(p)
            if sp and doc["config"]["reps"] > 1 and sp[0] != sp[1]:
                c += f" [{fmt(sp[0], d)}–{fmt(sp[1], d)}]"
            n = row["samples"].get(p)
            if n and n < doc["config"]["reps"]:
                c += f" (n={n})"
            cells.append(c)
        line = f"| {row['metric']} ({row['better']} is better) | {row['unit']} | " + " | ".join(cells)
        if "gaffer" in peers:
            line += " | " + " | ".join(
                (f"{row['ratio_gaffer_to'][p]:.2f}×" if p in row["ratio_gaffer_to"] else "—") for p in others)
        out.append(line + " |")
    whys = [(row["metric"], p, w) for row in doc["rows"] for p, w in row["why"].items()]
    if whys:
        out.append("")
        seen = set()
        for metric, p, w in whys:
            if (p, w) in seen:
                continue
            seen.add((p, w))  # one line per distinct reason
            out.append(f"* {PEER_TITLE[p]}, {metric}: no value: {w}")
    out.append("")
    out.append("Per repetition (load average before → after, the bench's own CPU while reading, "
               "the tool's processes):")
    out.append("")
    for rep in doc["reps"]:
        for p in rep["order"]:
            r = rep["results"][p]
            if "error" in r:
                out.append(f"* rep {rep['rep']} {p}: error: {r['error']}")
                continue
            out.append(f"* rep {rep['rep']} {p}: all up {r['all_up_s']:.3f} s, CPU {r['cpu_pct']:.1f} %, "
                       f"{r['mb_s']:.2f} MB/s ({r['offered_pct']:.1f} % of offered), "
                       f"lost {r['lost_lines']}, stop {fmt(r['stop_s'], 2)} s (exit {r['exit_status']}), "
                       f"left {r['left_running']}; load {r['load_before']:.1f} → {r['load_after']:.1f}, "
                       f"bench CPU {r['bench_cpu_pct']:.0f} %; pids {' '.join(r['tool_pids'])}")
    out.append("")
    out.append("Versions: " + ", ".join(f"{PEER_TITLE[p]}: {doc['versions'].get(p)}" for p in peers) + ".")
    if doc.get("notes"):
        out.append("")
        out.extend(doc["notes"])
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results"))
    ap.add_argument("--quick", action="store_true", help="20 types, 3 s window, 1 repetition")
    ap.add_argument("--types", type=int)
    ap.add_argument("--window", type=float)
    ap.add_argument("--reps", type=int)
    ap.add_argument("--rate", type=float, default=10e6, help="bytes/s offered in total (10e6)")
    ap.add_argument("--line-len", type=int, default=100)
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--stop", choices=["group", "pid"], default="group",
                    help="SIGINT to the tool's process group, as Ctrl-C in a terminal (default), or to its pid only")
    ap.add_argument("--tool-nice", type=int, default=0,
                    help="niceness of the tool (and so its processes) relative to the bench (0)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary app folders")
    ap.add_argument("--no-write", action="store_true", help="print the table, write no results file")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    types = a.types or (20 if a.quick else 50)
    window = a.window or (3.0 if a.quick else 10.0)
    reps = a.reps or (1 if a.quick else 3)
    if not 1 <= types <= 99 or window <= 0 or not 1 <= reps <= 20 or not 40 <= a.line_len <= 4000 or a.rate <= 0:
        ap.error("out of range: --types 1..99, --window > 0, --reps 1..20, --line-len 40..4000, --rate > 0")
    peers = [p.strip() for p in a.peers.split(",") if p.strip()]
    for p in peers:
        if p not in PEERS:
            ap.error(f"unknown peer {p!r} (known: {', '.join(PEERS)})")
    rate_lines = max(1, round(a.rate / a.line_len / types))

    become_subreaper()
    signal.signal(signal.SIGTERM, interrupted)
    tmp = tempfile.mkdtemp(prefix="procfile-bench-")
    cfg = {"types": types, "window": window, "reps": reps, "settle": 0.5 if a.quick else 1.0,
           "rate_bytes": rate_lines * a.line_len * types, "rate_lines": rate_lines,
           "line_len": a.line_len, "quick": a.quick, "stop": a.stop, "keep": a.keep, "nice": os.nice(0),
           "tool_nice": a.tool_nice}
    try:
        cfg["writer"] = build_writer(tmp)
        argvs, results, rep_docs = {}, {p: [] for p in peers}, []
        for p in peers:
            argvs[p], why = peer_argv(p, build)
            if argvs[p] is None:
                log(f"{p}: missing: {why}")
                results[p] = [{"error": why}]
        live = [p for p in peers if argvs[p] is not None]
        for rep in range(1, reps + 1):
            order = live if rep % 2 else list(reversed(live))
            rep_doc = {"rep": rep, "order": order, "results": {}}
            for p in order:
                log(f"rep {rep}/{reps}: {p} ({types} types, load {loadavg()[0]:.1f})")
                try:
                    r = run_one(p, argvs[p], cfg, tmp, rep)
                    log(f"  all up {r['all_up_s']:.3f} s, CPU {r['cpu_pct']:.1f} %, {r['mb_s']:.2f} MB/s "
                        f"({r['offered_pct']:.1f} %), lost {r['lost_lines']}, stop {fmt(r['stop_s'], 2)} s, "
                        f"left {r['left_running']}")
                except Exception as e:  # noqa: BLE001 - a failed run is a null with its why
                    kill_all_below_me()
                    r = {"error": f"{type(e).__name__}: {e}"}
                    log(f"  error: {r['error']}")
                results[p].append(r)
                rep_doc["results"][p] = r
            rep_docs.append(rep_doc)
    finally:
        kill_all_below_me()
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    cfg.pop("writer", None)
    cfg.pop("keep", None)
    doc = {"date": datetime.date.today().isoformat(), "config": cfg, "peers": peers,
           "versions": {p: peer_version(p, build) for p in peers},
           "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release},
           "rows": summarize(results, peers), "reps": rep_docs}
    md = markdown(doc)
    print(md)
    if not a.no_write:
        os.makedirs(a.out, exist_ok=True)
        base = os.path.join(a.out, f"{doc['date']}-procfile" + ("-quick" if a.quick else ""))
        with open(base + ".json", "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        with open(base + ".md", "w") as f:
            f.write(md)
        log(f"wrote {base}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
