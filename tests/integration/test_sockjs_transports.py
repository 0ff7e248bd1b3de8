#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration test of the SockJS jsonp, jsonp_send and htmlfile transports of /channel
(reference §5.2, SockJS protocol 0.3) against the real gafferd ($GAFFERD), driven with
the standard library's urllib as a browser's script tags and forms would: the callback
parameter, Content-Types, cache headers and the JSESSIONID cookie; jsonp_send with a
form-encoded `d=` and with a raw body; the /channel protocol over them (CMD answers,
SUB events, process output that is not UTF-8), one receiver per session, and the Origin
check that keeps other sites from posting commands.
"""
import json
import os
import re
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_channel import daemon_with_cat, load_bytes_job  # noqa: E402

NO_CACHE = "no-store, no-cache, must-revalidate, max-age=0"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def text(self):
        return self.body.decode("utf-8")


def jsonp_frames(body, callback):
    """The SockJS frames of a jsonp answer: `<callback>("<frame>");\\r\\n` each."""
    frames = []
    for line in body.decode("utf-8").split("\r\n")[:-1]:
        m = re.fullmatch(re.escape(callback) + r'\((".*")\);', line, re.S)
        assert m, f"not a jsonp frame: {line!r}"
        frames.append(json.loads(m.group(1)))
    return frames


def messages_of(frames):
    """The application messages (JSON objects) of SockJS `a[...]` frames."""
    out = []
    for f in frames:
        if f.startswith("a"):
            out.extend(json.loads(m) for m in json.loads(f[1:]))
    return out


SCRIPT_RE = re.compile(r'<script>\np\((".*?")\);\n</script>\r\n', re.S)


class HtmlfileStream:
    """An open htmlfile response read as it arrives (chunked)."""

    def __init__(self, resp):
        self.resp = resp
        self.buf = ""
        self.last_raw = ""  # the last frame as it was written

    def read_prelude(self):
        while "\r\n\r\n" not in self.buf:
            self._more()
        end = self.buf.index("\r\n\r\n") + 4
        prelude, self.buf = self.buf[:end], self.buf[end:]
        return prelude

    def _more(self):
        chunk = self.resp.read1(65536)
        if not chunk:
            raise EOFError("htmlfile response ended")
        self.buf += chunk.decode("utf-8")

    def next_frame(self):
        while True:
            m = SCRIPT_RE.match(self.buf)
            if m:
                self.last_raw = m.group(0)
                self.buf = self.buf[m.end():]
                return json.loads(m.group(1))
            if self.buf and not "<script>\np(".startswith(self.buf[:11]):
                raise AssertionError(f"not an htmlfile frame: {self.buf[:200]!r}")
            self._more()

    def close(self):
        self.resp.close()


class SockjsTransportsTest(unittest.TestCase):
    UTF8_PARTS = [b"x\xff\xe2\x82", b"\xac \xed\xa0\x80 \xf0\x9f", b"\x98\x80 \xe2\x82"]

    @classmethod
    def setUpClass(cls):
        cls.d = daemon_with_cat()
        cls.base = f"http://127.0.0.1:{cls.d.tcp_port}/channel"

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    # -- HTTP

    def http(self, method, path, body=None, headers=None, timeout=30):
        data = body.encode() if isinstance(body, str) else body
        if method == "POST" and data is None:
            data = b""
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Reply(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Reply(e.code, e.headers, e.read())

    def session(self):
        return f"/000/{uuid.uuid4().hex}"

    def assert_not_cached(self, r):
        self.assertEqual(r.headers["Cache-Control"], NO_CACHE)
        self.assertIsNone(r.headers["Expires"])
        self.assertIsNone(r.headers["Last-Modified"])

    def assert_content_type(self, r, ctype):
        self.assertEqual(r.headers["Content-Type"].replace(" ", ""), ctype)

    def assert_cookie(self, r, value="dummy"):
        parts = [p.strip() for p in r.headers["Set-Cookie"].split(";")]
        self.assertEqual(parts[0], f"JSESSIONID={value}")
        self.assertEqual(parts[1].lower(), "path=/")

    def jsonp_send(self, sid, *messages, form=True):
        payload = json.dumps([m if isinstance(m, str) else json.dumps(m) for m in messages])
        if form:
            r = self.http("POST", sid + "/jsonp_send", "d=" + urllib.parse.quote(payload), FORM)
        else:
            r = self.http("POST", sid + "/jsonp_send", payload, {"Content-Type": "text/plain"})
        self.assertEqual((r.status, r.body), (200, b"ok"), r.body)
        return r

    def poll_until(self, sid, done, callback="cb", timeout=20):
        """jsonp polls until done(messages) holds; returns every message seen."""
        seen = []
        deadline = time.monotonic() + timeout
        while not done(seen):
            self.assertLess(time.monotonic(), deadline, f"timed out; seen {seen}")
            r = self.http("GET", f"{sid}/jsonp?c={callback}")
            self.assertEqual(r.status, 200, r.body)
            frames = jsonp_frames(r.body, callback)
            self.assertFalse([f for f in frames if f.startswith("c")], frames)
            seen.extend(messages_of(frames))
        return seen

    def cat_pid(self):
        return self.d.get_json("/jobs/default/cat/pids")["pids"][0]

    def open_htmlfile(self, sid, callback="callback"):
        req = urllib.request.Request(f"{self.base}{sid}/htmlfile?c={callback}")
        return urllib.request.urlopen(req, timeout=30)

    # -- the SockJS protocol

    def test_callback_required_and_checked(self):
        for transport in ("jsonp", "htmlfile"):
            r = self.http("GET", f"/a/a/{transport}")
            self.assertEqual(r.status, 500)
            self.assertIn('"callback" parameter required', r.text())
            for bad in ("%20", "*", "abc(", "abc%28", "a%22b", "x%3Balert(1)"):
                r = self.http("GET", f"/a/a/{transport}?c={bad}")
                self.assertEqual(r.status, 500, bad)
                self.assertIn('invalid "callback" parameter', r.text())
            # Neither refusal made a session: jsonp_send to it is a 404.
            self.assertEqual(self.http("POST", "/a/a/jsonp_send", 'd=["x"]', FORM).status, 404)

    def test_jsonp_polling_and_jsonp_send(self):
        sid = self.session()
        r = self.http("GET", sid + "/jsonp?c=%63allback")  # %63 = "c": the value is decoded
        self.assertEqual(r.status, 200)
        self.assert_content_type(r, "application/javascript;charset=UTF-8")
        self.assert_not_cached(r)
        self.assert_cookie(r)
        self.assertEqual(r.body, b'callback("o");\r\n')

        r = self.http("POST", sid + "/jsonp_send", "d=%5B%22x%22%5D", FORM)
        self.assertEqual((r.status, r.body), (200, b"ok"))
        self.assert_content_type(r, "text/plain;charset=UTF-8")
        self.assert_not_cached(r)
        self.assert_cookie(r)

        # Broken payloads: 500 with the protocol's texts, the session left alone.
        r = self.http("POST", sid + "/jsonp_send", "d=%5B%22x", FORM)
        self.assertEqual(r.status, 500)
        self.assertIn("Broken JSON encoding.", r.text())
        for data in ("", "d=", "p=p"):
            r = self.http("POST", sid + "/jsonp_send", data, FORM)
            self.assertEqual(r.status, 500, data)
            self.assertIn("Payload expected.", r.text())
        # A raw body (not form-encoded) is the JSON itself: %61 stays as it is.
        r = self.http("POST", sid + "/jsonp_send", '["%61bc"]', {"Content-Type": "text/plain"})
        self.assertEqual((r.status, r.body), (200, b"ok"))
        # The session is not a /channel message sink for junk: the app answers both.
        seen = self.poll_until(sid, lambda s: len(s) >= 2, callback="x")
        self.assertEqual([m["data"]["reason"] for m in seen], ["invalid_json", "invalid_json"])

        # Unknown session: 404; GET is not a send method.
        self.assertEqual(self.http("POST", "/000/nosuch/jsonp_send", "d=%5B%22x%22%5D", FORM).status, 404)
        self.assertEqual(self.http("GET", sid + "/jsonp_send").status, 405)
        self.assertEqual(self.http("POST", sid + "/htmlfile?c=cb").status, 405)

    def test_cookie_is_echoed(self):
        sid = self.session()
        r = self.http("GET", sid + "/jsonp?c=cb", headers={"Cookie": "a=b; JSESSIONID=abcdef"})
        self.assertEqual(r.body, b'cb("o");\r\n')
        self.assert_cookie(r, "abcdef")
        r = self.http("POST", sid + "/jsonp_send", "d=%5B%5D", {**FORM, "Cookie": "JSESSIONID=abcdef"})
        self.assertEqual(r.body, b"ok")
        self.assert_cookie(r, "abcdef")

    def test_channel_over_jsonp(self):
        pid = self.cat_pid()
        sid = self.session()
        self.assertEqual(self.http("GET", sid + "/jsonp?c=cb").body, b'cb("o");\r\n')
        # SUB form-encoded, CMD as a raw body.
        self.jsonp_send(sid, {"event": "SUB", "data": {"topic": f"STREAM:{pid}"}})
        self.jsonp_send(sid, {"event": "CMD", "data": {"identity": "c1", "name": "send",
                                                      "args": [pid, "over jsonp \u00e9\n"]}}, form=False)
        seen = self.poll_until(sid, lambda s: any(m["event"] == "gaffer:event" for m in s))
        by_event = {m["event"]: m for m in seen}
        self.assertEqual(by_event["gaffer:subscription_success"]["topic"], f"STREAM:{pid}")
        self.assertEqual(by_event["gaffer:command_success"]["data"], {"id": "c1", "result": {"ok": True}})
        ev = by_event["gaffer:event"]["data"]
        self.assertEqual((ev["event"], ev["topic"], ev["pid"], ev["data"]),
                         ("stdout", f"STREAM:{pid}", pid, "over jsonp \u00e9\n"))

    def test_stream_output_not_utf8_over_jsonp(self):
        # Invalid bytes and characters split across two writes reach a SockJS client as the
        # WHATWG decoder's text (U+FFFD for each maximal subpart), never as nothing.
        try:
            pid = load_bytes_job(self.d, "bytes", self.UTF8_PARTS)
            want = b"".join(self.UTF8_PARTS).decode("utf-8", "replace")
            sid = self.session()
            self.assertEqual(self.http("GET", sid + "/jsonp?c=cb").status, 200)
            self.jsonp_send(sid, {"event": "SUB", "data": {"topic": f"STREAM:{pid}"}},
                            {"event": "CMD", "data": {"identity": "go", "name": "send", "args": [pid, "go\n"]}})

            def text(seen):
                return "".join(m["data"]["data"] for m in seen if m["event"] == "gaffer:event")
            seen = self.poll_until(sid, lambda s: len(text(s)) >= len(want))
            self.assertEqual(text(seen), want)
            self.assertTrue(want.endswith(" \ufffd") and "\u20ac" in want and "\U0001f600" in want)
        finally:
            self.d.request("DELETE", "/jobs/default/bytes")

    def test_channel_over_htmlfile(self):
        sid = self.session()
        resp = self.open_htmlfile(sid, "%63allback")
        s = HtmlfileStream(resp)
        try:
            self.assertEqual(resp.status, 200)
            h = Reply(resp.status, resp.headers, b"")
            self.assert_content_type(h, "text/html;charset=UTF-8")
            self.assert_not_cached(h)
            self.assert_cookie(h)
            prelude = s.read_prelude()
            # The page calls into the parent's callback and is padded past 1 KiB (browsers
            # render nothing before that much of a document).
            self.assertGreater(len(prelude), 1024)
            self.assertTrue(prelude.lstrip().lower().startswith("<!doctype html>"))
            self.assertIn("var c = parent.callback;", prelude)
            self.assertIn("function p(d) {c.message(d);};", prelude)
            self.assertEqual(s.next_frame(), "o")

            # A second receiver is turned away while this one is attached.
            r = self.http("GET", sid + "/jsonp?c=cb")
            self.assertEqual(r.body, b'cb("c[2010,\\"Another connection still open\\"]");\r\n')

            self.jsonp_send(sid, {"event": "SUB", "data": {"topic": "EVENTS:load"}})
            self.jsonp_send(sid, {"event": "CMD", "data": {"identity": "L", "name": "load",
                                                          "args": [{"name": "viahtml", "cmd": "sleep",
                                                                    "args": ["100"]}]}})
            seen = []
            while not (any(m["event"] == "gaffer:event" for m in seen)
                       and any(m["event"] == "gaffer:command_success" for m in seen)):
                f = s.next_frame()
                self.assertNotEqual(f[:1], "c", f)
                seen.extend(messages_of([f]))
            by_event = {m["event"]: m for m in seen}
            self.assertEqual(by_event["gaffer:subscription_success"]["topic"], "EVENTS:load")
            self.assertEqual(by_event["gaffer:command_success"]["data"], {"id": "L", "result": {"ok": True}})
            ev = by_event["gaffer:event"]["data"]
            self.assertEqual((ev["event"], ev["topic"]), ("load", "EVENTS:load"))
            # Text the server echoes (a topic, process output) cannot end the frame's
            # <script> element: '<' is written as \u003c inside the string literal.
            topic = "</script><script>alert(1)</script><!--"
            self.jsonp_send(sid, {"event": "SUB", "data": {"topic": topic}})
            f = s.next_frame()
            self.assertEqual(messages_of([f])[0]["topic"], topic)
            self.assertEqual(s.last_raw.count("<"), 2, s.last_raw)  # <script> and </script>
        finally:
            s.close()
            self.d.request("DELETE", "/jobs/default/viahtml")

    def test_other_origins_are_refused(self):
        sid = self.session()
        evil = {"Origin": "http://evil.example"}
        r = self.http("GET", sid + "/jsonp?c=cb", headers=evil)
        self.assertEqual(r.status, 403)
        self.assertEqual(self.http("GET", sid + "/htmlfile?c=cb", headers=evil).status, 403)
        # The daemon's own origin and requests without an Origin are served.
        own = {"Origin": f"http://127.0.0.1:{self.d.tcp_port}"}
        self.assertEqual(self.http("GET", sid + "/jsonp?c=cb", headers=own).body, b'cb("o");\r\n')
        # A form posted from another site cannot drive the channel.
        cmd = json.dumps([json.dumps({"event": "CMD", "data": {"identity": "k", "name": "unload",
                                                                "args": ["default.cat"]}})])
        r = self.http("POST", sid + "/jsonp_send", "d=" + urllib.parse.quote(cmd), {**FORM, **evil})
        self.assertEqual(r.status, 403)
        self.assertEqual(self.d.request("GET", "/jobs/default/cat").status, 200)
        self.jsonp_send(sid, {"event": "NOP"})


if __name__ == "__main__":
    unittest.main()
