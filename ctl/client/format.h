// SPDX-License-Identifier: MIT
// Text output helpers of the command-line tools (gafferctl, gaffer): aligned tables,
// "key: value" listings of JSON objects and uptimes. Pure functions of their input (the clock is passed in), so they
// are easy to test; nothing here talks to the daemon.
#pragma once

#include <jansson.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace gaffer::client {

// Left-aligned columns separated by two spaces; the last column is not padded.
class Table {
public:
    explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
    void add_row(std::vector<std::string> row) { rows_.push_back({std::move(row), false}); }
    // A row whose last cell may run past the columns (a message: "unreachable (...)"):
    // it does not widen its column.
    void add_spanning_row(std::vector<std::string> row) { rows_.push_back({std::move(row), true}); }
    bool empty() const { return rows_.empty(); }
    std::string render() const;

private:
    std::vector<std::string> header_;
    struct Row {
        std::vector<std::string> cells;
        bool spanning = false;
    };
    std::vector<Row> rows_;
};

// A JSON value as one line of text: strings without quotes, integers in decimal, reals in
// their shortest form ("0.4", "1380000000.25"), true/false, null and [] as "-", arrays of
// scalars joined with ", ", anything nested as compact JSON.
std::string scalar_text(const json_t* v);
// One "key: value" line per member of `obj` (insertion order), prefixed by `indent`; a
// non-empty nested object becomes "key:" followed by its own lines, indented 4 more.
std::string object_lines(const json_t* obj, const std::string& indent = "");
// Indented JSON (4 spaces, members in the order received) with a final newline.
std::string pretty_json(const json_t* v);

// A duration for a table cell: "42s", "5m02s", "3h04m", "2d03h". Negative or non-finite
// input gives "-".
std::string format_uptime(double seconds);
// `now - create_time` as format_uptime(), or "-" when create_time is not a number.
std::string uptime_since(const json_t* create_time, double now);

}  // namespace gaffer::client
