#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""[webhooks] in the real gafferd ($GAFFERD), which does not link libcurl but loads it at
run time (lib/webhook/curl_api.h): events are POSTed to a receiver on 127.0.0.1 from the
configuration at start-up and from a SIGHUP that adds the section; libcurl is mapped only
once hooks exist; without a usable libcurl, [webhooks] is a configuration error (exit 1)
naming the library."""
import contextlib
import http.server
import json
import os
import signal
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gafferlib import Daemon, wait_for  # noqa: E402


class Receiver:
    """An HTTP server on 127.0.0.1 recording every POST as (path, headers, JSON body)."""

    def __init__(self):
        self.posts = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer.lock:
                    outer.posts.append((self.path, dict(self.headers), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def events(self, path):
        with self.lock:
            return [b.get("event") for p, _, b in self.posts if p == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def libcurl_mapped(pid):
    with open(f"/proc/{pid}/maps") as f:
        return "libcurl" in f.read()


@contextlib.contextmanager
def unusable_libcurl():
    """A directory for LD_LIBRARY_PATH where every libcurl soname gafferd tries is a library
    that is not libcurl (this interpreter's libc): it loads fine and has no curl_* functions."""
    with open("/proc/self/maps") as f:
        libc = next(line.split()[-1] for line in f if "/libc.so" in line or "/libc-" in line)
    with tempfile.TemporaryDirectory(prefix="gafferd-nocurl-") as fake:
        for name in ("libcurl-gnutls.so.4", "libcurl.so.4"):
            os.symlink(libc, os.path.join(fake, name))
        yield fake


class WebhookTest(unittest.TestCase):
    def setUp(self):
        self.daemons = []
        self.receiver = Receiver()

    def tearDown(self):
        for d in self.daemons:
            d.cleanup()
        self.receiver.close()

    def daemon(self, config, **kw):
        d = Daemon(config, **kw)
        self.daemons.append(d)
        return d

    def test_delivers_events_with_libcurl_loaded_at_run_time(self):
        d = self.daemon(f"[webhooks]\nspawn = {self.receiver.url('/hook')}\n"
                        "[job:w]\ncmd = sleep 1000\nnumprocesses = 2\n").start()
        wait_for(lambda: self.receiver.events("/hook").count("spawn") == 2, what="two spawn POSTs")
        path, headers, body = self.receiver.posts[0]
        self.assertEqual(headers.get("Content-Type"), "application/json")
        self.assertTrue(headers.get("User-Agent", "").startswith("gafferd/"))
        self.assertEqual(body["event"], "spawn")
        self.assertTrue(libcurl_mapped(d.proc.pid))

    def test_libcurl_is_loaded_only_once_a_reload_adds_webhooks(self):
        d = self.daemon("[job:a]\ncmd = sleep 1000\n").start()
        wait_for(lambda: len(d.children()) == 1, what="job a running")
        self.assertFalse(libcurl_mapped(d.proc.pid), "libcurl mapped without [webhooks]")
        d.write_config(f"[webhooks]\nspawn = {self.receiver.url('/late')}\n"
                       "[job:a]\ncmd = sleep 1000\n[job:b]\ncmd = sleep 1000\n")
        d.signal(signal.SIGHUP)
        wait_for(lambda: "spawn" in self.receiver.events("/late"), what="a spawn POST after SIGHUP")
        self.assertTrue(libcurl_mapped(d.proc.pid))
        self.assertIsNone(d.proc.poll())

    def test_refuses_to_start_when_libcurl_cannot_be_loaded(self):
        with unusable_libcurl() as fake:
            d = self.daemon(f"[webhooks]\nspawn = {self.receiver.url('/never')}\n"
                            "[job:a]\ncmd = sleep 1000\n", env={"LD_LIBRARY_PATH": fake})
            d.start(wait=False)
            self.assertEqual(d.proc.wait(timeout=15), 1)
        out = d.output()
        self.assertIn("[webhooks]", out)
        self.assertIn("webhooks need libcurl", out)
        self.assertIn("libcurl-gnutls.so.4", out)
        self.assertEqual(d.children(), [])

    def test_a_bad_url_is_refused_with_its_line(self):
        d = self.daemon(f"[webhooks]\nspawn = {self.receiver.url('/ok')}\nexit = ftp://example.com/x\n"
                        "[job:a]\ncmd = sleep 1000\n")
        d.start(wait=False)
        self.assertEqual(d.proc.wait(timeout=15), 1)
        out = d.output()
        self.assertRegex(out, r"gafferd\.ini:3: \[webhooks\]: webhook 'exit = ftp://example\.com/x'")
        self.assertEqual(d.children(), [])

    def test_without_webhooks_libcurl_is_not_needed(self):
        # The same unusable libcurl does not matter to a configuration without [webhooks].
        with unusable_libcurl() as fake:
            d = self.daemon("[webhooks]\n[job:a]\ncmd = sleep 1000\n", env={"LD_LIBRARY_PATH": fake}).start()
            wait_for(lambda: len(d.children()) == 1, what="job a running")
            self.assertFalse(libcurl_mapped(d.proc.pid))


if __name__ == "__main__":
    unittest.main()
