// SPDX-License-Identifier: MIT
// .env files as docker compose documents them ("Syntax for environment files" and its
// interpolation rules), issue 14. Pure: text in, variables out. gaffer's own syntax,
// not the original's (§12.2 describes the original, which deleted every '"').
//
// Syntax, one assignment per line:
//   * blank lines and lines whose first non-blank byte is '#' are ignored;
//   * `[export ]KEY=value`, blanks allowed around KEY and '='; KEY is
//     [A-Za-z_][A-Za-z0-9_.-]*;
//   * unquoted value: up to the end of the line, or to a '#' preceded by a blank (an
//     inline comment; `VAL# x` keeps the '#'); blanks at both ends removed; interpolated;
//     backslashes are literal;
//   * 'single quoted': literal (no interpolation, `\t` stays two bytes) except `\'`,
//     which is a quote (compose's exception); may span lines;
//   * "double quoted": `\n` `\r` `\t` `\\` `\"` `\$` are escapes (any other backslash is
//     kept), interpolated, may span lines;
//   * after a closing quote only blanks and a `#` comment may follow;
//   * anything else (`KEY: value`, a word without '=', a bad KEY) is an error.
// Interpolation (unquoted and double-quoted values): `$$` is a '$'; `$NAME` and
// `${NAME}` (NAME [A-Za-z_][A-Za-z0-9_]*); `${NAME:-w}` w if NAME is unset or empty,
// `${NAME-w}` w if unset; `${NAME:+w}` w if set and non-empty, `${NAME+w}` w if set,
// else empty; `${NAME:?msg}` an error "<path>:<line>: NAME: msg" if unset or empty,
// `${NAME?msg}` if unset. w and msg are interpolated themselves (nesting, at most 16
// deep). An unset NAME is empty. A '$' before anything else is kept. `${` without its
// '}' or with a bad NAME is an error. NAME is looked up in `into` first (earlier keys of
// this file and of earlier files), then in `base` (the inherited environment).
//
// Bounds: the file at most kDotenvMaxBytes, no NUL byte; a value at most
// kDotenvMaxValue bytes after interpolation (execve's limit for one string); `into` at
// most kDotenvMaxTotal bytes of keys and values afterwards.
//
// Every error is Error{EINVAL, "<path>:<line>: <reason>"} (<line>: where the key is) and
// leaves `into` unchanged; on success later keys replace earlier ones in `into`.
#pragma once

#include <cstddef>
#include <string_view>

#include "lib/base/result.h"
#include "lib/model/job_spec.h"

namespace gaffer::config {

inline constexpr size_t kDotenvMaxBytes = size_t{1} << 20;
inline constexpr size_t kDotenvMaxValue = size_t{128} << 10;
inline constexpr size_t kDotenvMaxTotal = size_t{2} << 20;

Status parse_dotenv(std::string_view text, std::string_view path, const model::Env& base, model::Env& into);

// Reads the file at `path` (config::read_config_text) and parses it as above. A missing
// file (ENOENT) is an error when `required` (a file given with -e), else nothing.
Status load_dotenv(const std::string& path, bool required, const model::Env& base, model::Env& into);

}  // namespace gaffer::config
