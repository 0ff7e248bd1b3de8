// SPDX-License-Identifier: MIT
// Text output helpers for the command-line tools (gafferctl, gaffer) (see format.h).
#include "ctl/client/format.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace gaffer::client {

namespace {

std::string dump_compact(const json_t* v) {
    char* s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (!s)
        return "null";
    std::string r(s);
    free(s);
    return r;
}

std::string real_text(double d) {
    if (!std::isfinite(d))
        return "-";
    // The shortest of %.1f .. %.17g that reads back as the same value, so 0.4 prints as
    // "0.4" and a create_time keeps its fraction.
    char buf[64];
    if (d == std::floor(d) && std::fabs(d) < 1e15) {
        snprintf(buf, sizeof buf, "%.1f", d);
        return buf;
    }
    for (int prec = 1; prec <= 17; ++prec) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, nullptr) == d)
            break;
    }
    return buf;
}

bool is_scalar(const json_t* v) {
    return v && !json_is_object(v) && !json_is_array(v);
}

}  // namespace

std::string Table::render() const {
    size_t ncols = header_.size();
    for (const auto& r : rows_) ncols = std::max(ncols, r.cells.size());
    std::vector<size_t> width(ncols, 0);
    auto measure = [&](const std::vector<std::string>& row, size_t n) {
        for (size_t i = 0; i < n; ++i) width[i] = std::max(width[i], row[i].size());
    };
    measure(header_, header_.size());
    for (const auto& r : rows_) measure(r.cells, r.spanning && !r.cells.empty() ? r.cells.size() - 1 : r.cells.size());
    std::string out;
    auto emit = [&](const std::vector<std::string>& row) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size())
                line.append(width[i] - row[i].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line;
        out += '\n';
    };
    if (!header_.empty())
        emit(header_);
    for (const auto& r : rows_) emit(r.cells);
    return out;
}

std::string scalar_text(const json_t* v) {
    if (!v || json_is_null(v))
        return "-";
    if (json_is_string(v))
        return std::string(json_string_value(v), json_string_length(v));
    if (json_is_integer(v))
        return std::to_string(static_cast<long long>(json_integer_value(v)));
    if (json_is_real(v))
        return real_text(json_real_value(v));
    if (json_is_true(v))
        return "true";
    if (json_is_false(v))
        return "false";
    if (json_is_array(v)) {
        std::string out;
        if (json_array_size(v) == 0)
            return "-";
        size_t i;
        json_t* e;
        json_array_foreach(v, i, e) {
            if (!is_scalar(e))
                return dump_compact(v);
        }
        json_array_foreach(v, i, e) {
            if (i)
                out += ", ";
            out += scalar_text(e);
        }
        return out;
    }
    return dump_compact(v);
}

std::string object_lines(const json_t* obj, const std::string& indent) {
    std::string out;
    if (!json_is_object(obj))
        return indent + scalar_text(obj) + "\n";
    const char* key;
    json_t* v;
    json_object_foreach(const_cast<json_t*>(obj), key, v) {
        out += indent;
        out += key;
        if (json_is_object(v) && json_object_size(v) > 0) {
            // Nested objects (a job's config, a key's permissions) as an indented block.
            out += ":\n";
            out += object_lines(v, indent + "    ");
            continue;
        }
        std::string text = scalar_text(v);
        if (!text.empty()) {
            out += ": ";
            out += text;
        } else {
            out += ':';
        }
        out += '\n';
    }
    return out;
}

std::string pretty_json(const json_t* v) {
    char* s = json_dumps(v, JSON_INDENT(4) | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (!s)
        return "null\n";
    std::string r(s);
    free(s);
    r += '\n';
    return r;
}

std::string format_uptime(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0)
        return "-";
    auto s = static_cast<long long>(seconds);
    char buf[48];
    if (s < 60) {
        snprintf(buf, sizeof buf, "%llds", s);
    } else if (s < 3600) {
        snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
    } else if (s < 86400) {
        snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
    } else {
        snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
    }
    return buf;
}

std::string uptime_since(const json_t* create_time, double now) {
    if (!json_is_number(create_time))
        return "-";
    double d = now - json_number_value(create_time);
    // A clock step between the daemon's sample and ours must not print "-".
    if (d < 0 && d > -5)
        d = 0;
    return format_uptime(d);
}

}  // namespace gaffer::client
