// SPDX-License-Identifier: MIT
// Answers of the gafferd HTTP API as the command-line tools (gafferctl, gaffer) show them,
// and the input they read: the one-line text of a failed answer, event lines of the
// /watch feed, a permissions object from `+a`/`TARGET+rwm` words, writes to a process's
// stdin, files or stdin read whole (bounded), secrets read without echo. Nothing here
// prints; the callers decide where a text goes.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ctl/client/http_client.h"
#include "lib/base/result.h"
#include "lib/json/json.h"

namespace gaffer::client {

// The one-line reason of a failed HTTP answer: "404 not_found", "400 bad_request (invalid
// process config)", "405 Method Not Allowed", or the fixed 401/403 sentences of reference
// §11.1 ("Unauthorized access. You need an API key", "Forbidden access. API key
// permissions aren't enough").
std::string http_error_text(const Response& r);
// Why a stream ended badly: the transport error, else http_error_text() of its answer.
std::string stream_end_text(const StreamEnd& e);

// A decimal internal pid ("12", at most 10 digits), as opposed to a job name.
bool is_pid(std::string_view s);
// A qualified job name: contains '.' or '/'.
bool is_qualified(std::string_view s);
// `<pid>[.<stream>]` split at its first '.': the pid text and the stream ("" if none).
std::pair<std::string, std::string> pid_and_stream(std::string_view arg);

// The local time of day, "HH:MM:SS".
std::string clock_text();
// One ANSI colour sequence per name, stable across runs.
const char* colour_for(std::string_view name);
// "HH:MM:SS <job> | <event> <job>\n" for a job event of the /watch feed (type `type`,
// JSON `data`); "... | <event> process with pid <pid>" for a process event, plus the exit
// status or signal of an exit and the signal of a kill. `colour`: the head in
// colour_for(<job>).
std::string event_line(const std::string& type, const std::string& data, bool colour);

// The permissions object of POST /keys from words: `+a` admin (and create_key,
// create_user), `+u` create_user, `+k` create_key, `+m` manage "*", `TARGET+rwm` (any
// subset of r, w, m), `uid=USER`, `register=NODE` (a node name the key may register as
// on gaffer_lookupd, "*" any). EINVAL naming the word on anything else.
Result<json::JsonPtr> permissions_from_words(const std::vector<std::string>& words);

// One write to the stdin of process `pid` (POST /streams/<pid>/stdin); a failure is an
// Error "<what>: <why>" with the usual cases spelt out (stdin not redirected, no such pid).
Status send_to_stdin(HttpClient& http, const std::string& what, const std::string& pid, std::string_view data);
// The `send` data: `words` joined with spaces and ended with a newline, one write; with
// the single word "-", each line of stdin until its end or a line ".", one write per line.
Status send_words(HttpClient& http, const std::string& what, const std::string& pid,
                  const std::vector<std::string>& words);

// A whole file, or stdin for "-", up to 16 MiB (EFBIG past that).
Result<std::string> read_input(const std::string& path);
// One line of stdin without its end, with the terminal's echo off and `prompt` on stderr
// when stdin is a terminal; an error at the end of input. SIGINT/SIGTERM/SIGHUP while the
// echo is off restore it before the process dies.
Result<std::string> read_secret_line(const char* prompt);

}  // namespace gaffer::client
