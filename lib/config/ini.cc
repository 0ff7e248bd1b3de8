// SPDX-License-Identifier: MIT
// gafferd.ini reader (see ini.h). Three stages:
//   1. parse_file(): libinih over our own line reader → RawFile (sections and options,
//      each with its file and line). The reader mirrors libinih's classification of
//      every line, so it knows whether the handler call that follows is a new option or
//      a continuation line, which section it belongs to (libinih truncates long section
//      and option names in its own buffers) and which delimiter the option used.
//   2. Loader: merges files (the main file, then its includes, depth first) into one
//      RawConfig; an option given twice takes the last value.
//   3. build(): RawConfig → DaemonConfig; each job section becomes a JSON job config that
//      goes through job_from_json, errors mapped back to the line of the option at fault.
#include "lib/config/ini.h"

#include <glob.h>
#include <ini.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "lib/base/log.h"
#include "lib/base/strutil.h"
#include "lib/base/unique_fd.h"
#include "lib/config/job_json.h"
#include "lib/json/json.h"

namespace gaffer::config {

namespace {

constexpr size_t kMaxFileBytes = 4u << 20;
constexpr int kMaxIncludeDepth = 16;
constexpr size_t kMaxFiles = 1024;
constexpr const char* kListSeparators = ", \t\n";
// Our bugs, not the user's: never EINVAL, so that a fuzzer can tell them apart.
constexpr int kInternal = ENOTRECOVERABLE;

// ---------------------------------------------------------------------------------------
// Locations and errors

struct Location {
    std::string file;
    int line = 0;
};

std::string where(const Location& loc) {
    return loc.file + ":" + std::to_string(loc.line);
}

Unexpected bad_at(const Location& loc, std::string_view what) {
    return fail(Error{EINVAL, where(loc) + ": " + std::string(what)});
}

// 'value' for messages, shortened.
std::string quote_value(std::string_view v) {
    std::string s(v.substr(0, 60));
    if (v.size() > 60)
        s += "...";
    for (auto& c : s)
        if (c == '\n')
            c = ' ';
    return "'" + s + "'";
}

// ---------------------------------------------------------------------------------------
// Stage 1: one file → RawFile

struct RawOption {
    std::string name;  // as written; inline env is "env:NAME"
    std::string value;
    Location loc;
};

struct RawSection {
    std::string name;  // between the brackets, trimmed
    Location loc;
    std::vector<RawOption> options;
};

struct RawFile {
    std::vector<RawSection> sections;  // a repeated header starts a new entry
};

enum class LineKind { kNone, kOption, kContinuation };

// libinih's find_chars_or_comment(): the first char of `chars`, or an inline ';' comment
// (a ';' right after whitespace), or the end.
size_t find_chars_or_comment(std::string_view s, std::string_view chars) {
    bool was_space = false;
    for (size_t i = 0; i < s.size(); ++i) {
        if (chars.find(s[i]) != std::string_view::npos)
            return i;
        if (was_space && s[i] == ';')
            return i;
        was_space = is_ascii_space(s[i]);
    }
    return s.size();
}

enum class SectionKind { kOther, kGaffer, kSsl, kLookupSsl, kWebhooks, kJob, kEnv, kEndpoint };

struct SectionName {
    SectionKind kind = SectionKind::kOther;
    std::string rest;  // after the prefix, trimmed
    std::string key;   // for merging: case-insensitive prefix, case kept after it
};

SectionName classify_section(std::string_view name) {
    std::string lower = to_lower(name);
    SectionName out;
    out.key = std::string(name);
    static const struct {
        const char* prefix;
        SectionKind kind;
    } kPrefixes[] = {{"job:", SectionKind::kJob},
                     {"process:", SectionKind::kJob},
                     {"env:", SectionKind::kEnv},
                     {"endpoint:", SectionKind::kEndpoint}};
    for (const auto& p : kPrefixes) {
        if (starts_with(lower, p.prefix)) {
            size_t n = strlen(p.prefix);
            out.kind = p.kind;
            out.rest = std::string(trim(name.substr(n)));
            out.key = std::string(p.prefix) + out.rest;
            return out;
        }
    }
    if (lower == "gaffer")
        out.kind = SectionKind::kGaffer;
    if (lower == "ssl")
        out.kind = SectionKind::kSsl;
    if (lower == "lookup_ssl")
        out.kind = SectionKind::kLookupSsl;
    if (lower == "webhooks")
        out.kind = SectionKind::kWebhooks;
    if (out.kind != SectionKind::kOther)
        out.key = lower;
    return out;
}

struct ParseState {
    std::string_view text;
    size_t pos = 0;
    int lineno = 0;
    std::string file;
    // Mirror of libinih's state: is there a previous option name (continuation lines
    // are possible), and what is the line being handed over.
    bool prev_name = false;
    LineKind kind = LineKind::kNone;
    char delim = '=';
    std::string raw_section;  // between the brackets, untrimmed (as libinih keeps it)
    bool in_section = false;
    std::optional<Error> error;
    RawFile out;

    Location here() const { return Location{file, lineno}; }
    void set_error(std::string_view what, int code = EINVAL) {
        if (!error)
            error = Error{code, where(here()) + ": " + std::string(what)};
    }
};

// Classifies one physical line exactly as libinih r55 will (ini_parse_stream), before it
// sees it. Sets the error for lines libinih would reject.
void classify(ParseState* st, std::string_view line) {
    st->kind = LineKind::kNone;
    size_t offset = 0;
    if (st->lineno == 1 && line.size() >= 3 && line.substr(0, 3) == "\xEF\xBB\xBF")
        offset = 3;  // BOM
    std::string_view rest = line.substr(offset);
    std::string_view t = trim(rest);
    bool indented = offset > 0 || (!rest.empty() && is_ascii_space(rest.front()));
    if (t.empty() || t.front() == ';' || t.front() == '#')
        return;
    if (st->prev_name && indented) {
        st->kind = LineKind::kContinuation;
        return;
    }
    if (t.front() == '[') {
        std::string_view inner = t.substr(1);
        size_t end = find_chars_or_comment(inner, "]");
        if (end == inner.size() || inner[end] != ']') {
            st->set_error("section header without a closing ']'");
            return;
        }
        st->raw_section = std::string(inner.substr(0, end));
        st->prev_name = false;
        st->in_section = true;
        st->out.sections.push_back(RawSection{std::string(trim(st->raw_section)), st->here(), {}});
        return;
    }
    size_t end = find_chars_or_comment(t, "=:");
    if (end == t.size() || (t[end] != '=' && t[end] != ':')) {
        st->set_error("expected 'name = value', a [section] header or a comment, got " + quote_value(t));
        return;
    }
    st->kind = LineKind::kOption;
    st->delim = t[end];
    st->prev_name = !trim(t.substr(0, end)).empty();
}

// libinih reader: hands over one physical line at a time (without its line break), so
// that our line count is libinih's and over-long lines are refused instead of split.
char* read_line(char* str, int num, void* stream) {
    auto* st = static_cast<ParseState*>(stream);
    if (st->error || st->pos >= st->text.size())
        return nullptr;
    size_t nl = st->text.find('\n', st->pos);
    size_t end = nl == std::string_view::npos ? st->text.size() : nl;
    std::string_view line = st->text.substr(st->pos, end - st->pos);
    st->pos = nl == std::string_view::npos ? st->text.size() : nl + 1;
    st->lineno++;
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    if (line.find('\0') != std::string_view::npos) {
        st->set_error("NUL byte in line");
        return nullptr;
    }
    if (num < 2 || line.size() > static_cast<size_t>(num - 1)) {
        st->set_error("line longer than " + std::to_string(num > 1 ? num - 1 : 0) +
                      " bytes; continue long values on indented lines");
        return nullptr;
    }
    memcpy(str, line.data(), line.size());
    str[line.size()] = '\0';
    classify(st, line);
    return st->error ? nullptr : str;
}

bool is_job_section(std::string_view raw) {
    return classify_section(trim(raw)).kind == SectionKind::kJob;
}

int on_option(void* user, const char* section, const char* name, const char* value) {
    auto* st = static_cast<ParseState*>(user);
    if (st->error)
        return 0;
    LineKind kind = std::exchange(st->kind, LineKind::kNone);
    if (kind == LineKind::kContinuation) {
        if (st->out.sections.empty() || st->out.sections.back().options.empty()) {
            st->set_error("internal error: continuation line without an option", kInternal);
            return 0;
        }
        // This libinih build keeps inline comments on continuation lines; drop them as
        // on the first line of the value.
        std::string_view v = value;
        v = trim(v.substr(0, find_chars_or_comment(v, "")));
        RawOption& opt = st->out.sections.back().options.back();
        opt.value += '\n';
        opt.value += v;
        return 1;
    }
    if (kind != LineKind::kOption || !starts_with(st->raw_section, section)) {
        st->set_error("internal error: INI line tracking out of step with libinih", kInternal);
        return 0;
    }
    std::string opt_name = name;
    if (!st->in_section) {
        st->set_error("option " + quote_value(opt_name) + " is outside of any [section]");
        return 0;
    }
    if (opt_name.empty()) {
        st->set_error("option without a name");
        return 0;
    }
    std::string opt_value = value;
    // `env:NAME = value`: libinih (like configparser) splits at the first ':', giving the
    // option "env" and the value "NAME = value".
    if (st->delim == ':' && to_lower(opt_name) == "env" && is_job_section(st->raw_section)) {
        size_t eq = opt_value.find_first_of("=:");
        if (eq == std::string::npos) {
            st->set_error("inline environment variable needs a value: env:NAME = value");
            return 0;
        }
        std::string var(trim(std::string_view(opt_value).substr(0, eq)));
        if (var.empty()) {
            st->set_error("inline environment variable without a name: env:NAME = value");
            return 0;
        }
        opt_name = "env:" + var;
        opt_value = std::string(trim(std::string_view(opt_value).substr(eq + 1)));
    }
    st->out.sections.back().options.push_back(RawOption{std::move(opt_name), std::move(opt_value), st->here()});
    return 1;
}

Result<RawFile> parse_file(std::string_view text, const std::string& file) {
    ParseState st;
    st.text = text;
    st.file = file;
    int rc = ini_parse_stream(read_line, &st, on_option, &st);
    if (st.error)
        return fail(*st.error);
    if (rc == -2)
        return fail(Error{ENOMEM, "parse '" + file + "'"});
    if (rc != 0)
        return bad_at(Location{file, rc}, "syntax error");
    for (auto& sec : st.out.sections)
        for (auto& opt : sec.options) opt.value = std::string(trim(opt.value));
    return std::move(st.out);
}

// ---------------------------------------------------------------------------------------
// Stage 2: merging files

struct Section {
    std::string name;
    SectionName sn;
    Location loc;  // first header
    std::vector<RawOption> options;
    std::map<std::string, size_t> by_key;
};

std::string option_key(SectionKind kind, const std::string& name) {
    if (kind == SectionKind::kWebhooks)
        return name;  // event names are case-sensitive
    if (kind == SectionKind::kJob && starts_with(name, "env:"))
        return name;
    return to_lower(name);
}

struct RawConfig {
    std::vector<Section> sections;
    std::map<std::string, size_t> by_key;

    void merge(RawFile&& file) {
        for (auto& rs : file.sections) {
            SectionName sn = classify_section(rs.name);
            auto [it, inserted] = by_key.emplace(sn.key, sections.size());
            if (inserted)
                sections.push_back(Section{rs.name, sn, rs.loc, {}, {}});
            Section& sec = sections[it->second];
            for (auto& opt : rs.options) {
                std::string key = option_key(sn.kind, opt.name);
                auto [oit, new_opt] = sec.by_key.emplace(key, sec.options.size());
                if (new_opt) {
                    sec.options.push_back(std::move(opt));
                } else {
                    sec.options[oit->second] = std::move(opt);  // last value wins, first position kept
                }
            }
        }
    }

    const Section* find(const std::string& key) const {
        auto it = by_key.find(key);
        return it == by_key.end() ? nullptr : &sections[it->second];
    }
};

bool has_glob_magic(std::string_view s) {
    return s.find_first_of("*?[") != std::string_view::npos;
}

std::string resolve(const std::string& dir, const std::string& p) {
    if (!p.empty() && p.front() == '/')
        return p;
    if (dir.empty() || dir == ".")
        return p;
    return dir + "/" + p;
}

std::optional<std::string> canonical_path(const std::string& path) {
    char* r = realpath(path.c_str(), nullptr);
    if (!r)
        return std::nullopt;  // errno set by realpath
    std::string s(r);
    free(r);
    return s;
}

class Loader {
public:
    explicit Loader(const IniOptions& options) : options_(options) {}

    RawConfig raw;

    // Marks a file as read (the top-level file, so that it cannot include itself).
    void mark_seen(const std::string& path) {
        if (auto c = canonical_path(path))
            seen_.insert(*c);
    }

    Status load_text(std::string_view text, const std::string& file, const std::string& dir, int depth) {
        if (++files_ > kMaxFiles)
            return fail(Error{EINVAL, file + ": more than " + std::to_string(kMaxFiles) + " config files"});
        GAFFER_TRY(RawFile rf, parse_file(text, file));
        // This file's own includes, before merging can overwrite them.
        std::vector<std::pair<RawOption, bool>> includes;  // option, is_dir
        for (const auto& sec : rf.sections) {
            if (classify_section(sec.name).kind != SectionKind::kGaffer)
                continue;
            for (const auto& opt : sec.options) {
                std::string n = to_lower(opt.name);
                if (n == "include" || n == "include_dir")
                    includes.emplace_back(opt, n == "include_dir");
            }
        }
        raw.merge(std::move(rf));
        if (!options_.follow_includes)
            return ok();
        for (const auto& [opt, is_dir] : includes) {
            for (const auto& item : split_any(opt.value, " \t\n")) {
                Target t{item, resolve(dir, item), opt.loc};
                if (is_dir) {
                    GAFFER_RETURN_IF_ERROR(include_dir(t, depth));
                } else {
                    GAFFER_RETURN_IF_ERROR(include(t, depth));
                }
            }
        }
        return ok();
    }

private:
    // One include item: as written, resolved, and where it was written.
    struct Target {
        std::string written;
        std::string path;
        Location from;

        // "include 'x.ini': <reason> (looked for '/etc/gaffer/x.ini')"
        Unexpected bad(std::string_view option, std::string_view reason) const {
            std::string msg = std::string(option) + " '" + written + "'" + std::string(reason);
            if (path != written)
                msg += " (looked for '" + path + "')";
            return bad_at(from, msg);
        }
    };

    Status include(const Target& t, int depth) {
        if (!has_glob_magic(t.written))
            return load_file(t, depth, true);
        glob_t g{};
        int rc = glob(t.path.c_str(), 0, nullptr, &g);
        std::vector<std::string> matches;
        for (size_t i = 0; rc == 0 && i < g.gl_pathc; ++i) matches.emplace_back(g.gl_pathv[i]);
        globfree(&g);
        if (rc == GLOB_NOSPACE)
            return fail(Error{ENOMEM, "glob '" + t.path + "'"});
        if (rc != 0 && rc != GLOB_NOMATCH)
            return t.bad("include", ": cannot read a directory of the pattern");
        for (const auto& m : matches) GAFFER_RETURN_IF_ERROR(load_file(Target{m, m, t.from}, depth, false));
        return ok();
    }

    Status include_dir(const Target& t, int depth) {
        namespace fs = std::filesystem;
        std::error_code ec;
        if (!fs::is_directory(t.path, ec))
            return t.bad("include_dir", " is not a directory");
        std::vector<std::string> files;
        fs::recursive_directory_iterator it(t.path, fs::directory_options::skip_permission_denied, ec);
        if (ec)
            return t.bad("include_dir", ": " + ec.message());
        for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (ec)
                return t.bad("include_dir", ": " + ec.message());
            if (it.depth() >= kMaxIncludeDepth)
                it.disable_recursion_pending();
            std::string fname = it->path().filename().string();
            std::error_code ec2;
            if (fname.size() >= 4 && fname.compare(fname.size() - 4, 4, ".ini") == 0 && it->is_regular_file(ec2))
                files.push_back(it->path().string());
            if (files.size() > kMaxFiles)
                return t.bad("include_dir", ": too many files");
        }
        if (ec)
            return t.bad("include_dir", ": " + ec.message());
        std::sort(files.begin(), files.end());
        for (const auto& f : files) GAFFER_RETURN_IF_ERROR(load_file(Target{f, f, t.from}, depth, false));
        return ok();
    }

    // must_exist: a plain path (else a glob or directory match, which may vanish or be
    // something other than a file, and is then skipped).
    Status load_file(const Target& t, int depth, bool must_exist) {
        if (depth + 1 > kMaxIncludeDepth)
            return bad_at(t.from, "includes nested more than " + std::to_string(kMaxIncludeDepth) + " deep");
        auto canon = canonical_path(t.path);
        if (!canon) {
            int err = errno;
            if (!must_exist && err == ENOENT)
                return ok();
            return t.bad("include", std::string(": ") + strerror(err));
        }
        if (seen_.count(*canon))
            return ok();  // already read: diamonds and cycles
        struct stat sb;
        if (::stat(canon->c_str(), &sb) != 0)
            return t.bad("include", std::string(": ") + strerror(errno));
        if (!S_ISREG(sb.st_mode)) {
            if (!must_exist)
                return ok();
            return t.bad("include", " is not a regular file");
        }
        seen_.insert(*canon);
        auto text = read_file(*canon, kMaxFileBytes);
        if (!text)
            return t.bad("include", ": " + text.error().message());
        return load_text(*text, t.path, dir_of(t.path), depth + 1);
    }

    IniOptions options_;
    std::set<std::string> seen_;
    size_t files_ = 0;
};

// ---------------------------------------------------------------------------------------
// Stage 3: RawConfig → DaemonConfig

std::vector<std::string> split_list(std::string_view v) {
    return split_any(v, kListSeparators);
}

Result<int> positive_int(const RawOption& o) {
    auto n = parse_int(o.value);
    if (!n || *n <= 0 || *n > INT_MAX)
        return bad_at(o.loc, to_lower(o.name) + ": " + quote_value(o.value) + " is not a positive integer");
    return static_cast<int>(*n);
}

Result<bool> boolean(const RawOption& o) {
    auto b = parse_bool(o.value);
    if (!b)
        return bad_at(o.loc, to_lower(o.name) + ": " + quote_value(o.value) +
                                 " is not a boolean (true/false, yes/no, on/off, 1/0)");
    return *b;
}

Status build_gaffer(const Section& sec, const RawConfig& raw, DaemonConfig* cfg) {
    std::string gaffer_cert, gaffer_key;
    for (const auto& o : sec.options) {
        std::string n = to_lower(o.name);
        if (n == "bind") {
            cfg->binds = split_list(o.value);
        } else if (n == "cors_origins") {
            cfg->cors_origins = split_list(o.value);
        } else if (n == "allowed_hosts") {
            cfg->allowed_hosts = split_list(o.value);
        } else if (n == "dbus_address") {
            if (o.value.empty())
                return bad_at(o.loc, "dbus_address: expected system, user or a D-Bus address");
            cfg->dbus_address = o.value;
        } else if (n == "backlog") {
            GAFFER_TRY(cfg->backlog, positive_int(o));
        } else if (n == "max_connections_per_client") {
            GAFFER_TRY(cfg->max_connections_per_client, positive_int(o));
        } else if (n == "daemonize") {
            GAFFER_TRY(cfg->daemonize, boolean(o));
        } else if (n == "require_key") {
            GAFFER_TRY(cfg->require_key, boolean(o));
        } else if (n == "pidfile") {
            cfg->pidfile = o.value;
        } else if (n == "error_log") {
            cfg->error_log = o.value;
        } else if (n == "log_level") {
            log::Level level;
            if (!log::parse_level(o.value, &level))
                return bad_at(o.loc, "log_level: " + quote_value(o.value) +
                                         " is not one of debug, info, warning, error, critical");
            cfg->log_level = o.value;
        } else if (n == "plugins_dir") {
            cfg->plugins_dir = o.value;
        } else if (n == "broadcast_address") {
            cfg->broadcast_address = o.value;
        } else if (n == "state_dir") {
            cfg->state_dir = o.value;
        } else if (n == "log_root") {
            if (o.value.empty() || o.value[0] != '/')
                return bad_at(o.loc, "log_root: " + quote_value(o.value) + " is not an absolute path");
            cfg->log_root = o.value;
            while (cfg->log_root.size() > 1 && cfg->log_root.back() == '/') cfg->log_root.pop_back();
        } else if (n == "webhook_secret") {
            cfg->webhook_secret = o.value;
        } else if (n == "max_jobs") {
            GAFFER_TRY(cfg->max_jobs, positive_int(o));
        } else if (n == "max_config_bytes") {
            cfg->max_config_bytes = parse_byte_size(o.value);
            if (!cfg->max_config_bytes)
                return bad_at(o.loc, "max_config_bytes: " + quote_value(o.value) +
                                         " is not a size (bytes, or with a K, M, G or T suffix)");
        } else if (n == "lookupd_key") {
            cfg->lookupd_key = o.value;
        } else if (n == "registry") {
            cfg->registry = o.value;
        } else if (n == "node_name") {
            if (o.value.empty() || o.value.find('/') != std::string::npos)
                return bad_at(o.loc, "node_name: " + quote_value(o.value) + " is empty or holds a '/'");
            cfg->node_name = o.value;
        } else if (n == "lookupd_heartbeat") {
            auto d = parse_double(o.value);
            if (!d || *d < 0.1 || *d > 3600)
                return bad_at(o.loc, "lookupd_heartbeat: " + quote_value(o.value) +
                                         " is not a number of seconds between 0.1 and 3600");
            cfg->lookupd_heartbeat = *d;
        } else if (starts_with(n, "lookupd_address")) {
            if (!o.value.empty())
                cfg->lookupd_addresses.push_back(o.value);
        } else if (n == "certfile") {
            gaffer_cert = o.value;
        } else if (n == "keyfile") {
            gaffer_key = o.value;
        } else if (n == "http_endpoints") {
            for (const auto& name : split_list(o.value)) {
                const Section* es = raw.find("endpoint:" + name);
                if (!es)
                    return bad_at(o.loc, "http_endpoints: no [endpoint:" + name + "] section");
                Endpoint ep;
                ep.name = name;
                for (const auto& eo : es->options) {
                    std::string en = to_lower(eo.name);
                    if (en == "bind") {
                        ep.binds = split_list(eo.value);
                    } else if (en == "backlog") {
                        GAFFER_TRY(ep.backlog, positive_int(eo));
                    } else if (en == "certfile") {
                        ep.certfile = eo.value;
                    } else if (en == "keyfile") {
                        ep.keyfile = eo.value;
                    }
                }
                if (ep.binds.empty())
                    return bad_at(es->loc, "[endpoint:" + name + "] has no bind address");
                cfg->endpoints.push_back(std::move(ep));
            }
        }
        // Anything else: a newer or older gafferd's option; ignored on purpose.
    }
    if (cfg->certfile.empty())
        cfg->certfile = gaffer_cert;
    if (cfg->keyfile.empty())
        cfg->keyfile = gaffer_key;
    return ok();
}

enum class OptType { kString, kInt, kNumber, kBool, kLabels, kWords, kFlapping, kId, kMemory };

struct JobOption {
    const char* name;
    OptType type;
};

constexpr JobOption kJobOptions[] = {
    {"cmd", OptType::kString},
    {"args", OptType::kString},
    {"cwd", OptType::kString},
    {"uid", OptType::kId},
    {"gid", OptType::kId},
    {"detach", OptType::kBool},
    {"shell", OptType::kBool},
    {"os_env", OptType::kBool},
    {"numprocesses", OptType::kInt},
    {"start", OptType::kBool},
    {"flapping", OptType::kFlapping},
    {"redirect_output", OptType::kLabels},
    {"redirect_input", OptType::kBool},
    {"graceful_timeout", OptType::kNumber},
    {"priority", OptType::kInt},
    {"stdout_file", OptType::kString},
    {"stderr_file", OptType::kString},
    {"log_dir", OptType::kString},
    {"log_max_bytes", OptType::kInt},
    {"log_backups", OptType::kInt},
    {"memory_max", OptType::kMemory},
    {"cpu_max", OptType::kNumber},
    {"pids_max", OptType::kInt},
    {"notify", OptType::kBool},
    {"ready_timeout", OptType::kNumber},
    {"watchdog_sec", OptType::kNumber},
    {"critical", OptType::kBool},
    {"capabilities", OptType::kWords},
    {"no_new_privs", OptType::kBool},
    {"instance_env", OptType::kBool},
    {"pty", OptType::kBool},
    {"custom_streams", OptType::kWords},
};

const JobOption* find_job_option(const std::string& name) {
    for (const auto& o : kJobOptions)
        if (name == o.name)
            return &o;
    return nullptr;
}

// JSON string from INI text; jansson wants UTF-8, and silently replacing bytes would
// change a command or a path.
Result<json::JsonPtr> utf8_string(std::string_view s, const Location& loc, std::string_view what) {
    json_t* j = json_stringn(s.data(), s.size());
    if (!j)
        return bad_at(loc, std::string(what) + ": value is not valid UTF-8");
    return json::JsonPtr(j);
}

Result<json::JsonPtr> number_value(const RawOption& o, const std::string& name) {
    if (auto i = parse_int(o.value))
        return json::take(json_integer(*i));
    if (auto d = parse_double(o.value))
        return json::take(json_real(*d));
    return bad_at(o.loc, name + ": " + quote_value(o.value) + " is not a number");
}

Result<json::JsonPtr> flapping_value(const RawOption& o) {
    std::vector<std::string> parts = split_any(o.value, kListSeparators);
    if (parts.empty() || parts.size() > 4)
        return bad_at(o.loc, "flapping: expected 1 to 4 values 'attempts window retry_in max_retry', got " +
                                 std::to_string(parts.size()));
    model::Flapping defaults;
    json::JsonPtr obj(json_object());
    static const char* kNames[] = {"attempts", "window", "retry_in", "max_retry"};
    for (size_t i = 0; i < 4; ++i) {
        json::JsonPtr v;
        if (i >= parts.size()) {
            v = json::take(i == 0   ? json_integer(defaults.attempts)
                           : i == 1 ? json_real(defaults.window)
                           : i == 2 ? json_real(defaults.retry_in)
                                    : json_integer(defaults.max_retry));
        } else if (i == 0 || i == 3) {
            auto n = parse_int(parts[i]);
            if (!n)
                return bad_at(
                    o.loc, std::string("flapping: ") + kNames[i] + " " + quote_value(parts[i]) + " is not an integer");
            v = json::take(json_integer(*n));
        } else if (auto n = parse_int(parts[i])) {
            v = json::take(json_integer(*n));
        } else if (auto d = parse_double(parts[i])) {
            v = json::take(json_real(*d));
        } else {
            return bad_at(o.loc,
                          std::string("flapping: ") + kNames[i] + " " + quote_value(parts[i]) + " is not a number");
        }
        json::set(obj.get(), kNames[i], std::move(v));
    }
    return obj;
}

Result<json::JsonPtr> strings_value(const std::vector<std::string>& items, const RawOption& o,
                                    const std::string& name) {
    json::JsonPtr arr(json_array());
    for (const auto& s : items) {
        GAFFER_TRY(auto v, utf8_string(s, o.loc, name));
        json_array_append_new(arr.get(), v.release());
    }
    return arr;
}

// One INI job option → its JSON member value.
Result<json::JsonPtr> option_value(const JobOption& def, const RawOption& o) {
    std::string name = def.name;
    switch (def.type) {
        case OptType::kString:
            return utf8_string(o.value, o.loc, name);
        case OptType::kInt: {
            auto n = parse_int(o.value);
            if (!n)
                return bad_at(o.loc, name + ": " + quote_value(o.value) + " is not an integer");
            return json::take(json_integer(*n));
        }
        case OptType::kNumber:
            return number_value(o, name);
        case OptType::kBool: {
            GAFFER_TRY(bool b, boolean(o));
            return json::take(json_boolean(b));
        }
        case OptType::kLabels: {
            // Comma-separated; an empty label stays (and is refused) rather than shifting
            // stderr's label onto stdout.
            std::vector<std::string> labels;
            if (!o.value.empty())
                for (std::string_view rest = o.value;;) {
                    size_t comma = rest.find(',');
                    labels.emplace_back(trim(rest.substr(0, comma)));
                    if (comma == std::string_view::npos)
                        break;
                    rest.remove_prefix(comma + 1);
                }
            return strings_value(labels, o, name);
        }
        case OptType::kWords:
            return strings_value(split_list(o.value), o, name);
        case OptType::kFlapping:
            return flapping_value(o);
        case OptType::kId:
        case OptType::kMemory:
            if (auto n = parse_int(o.value))
                return json::take(json_integer(*n));
            return utf8_string(o.value, o.loc, name);
    }
    return fail(Error{kInternal, where(o.loc) + ": internal error: option type"});
}

struct SectionJob {
    std::string session, job;
};

// NAME of [job:NAME]: "job", or session then job around the first '/', ':' or '.'.
SectionJob split_section_job(const std::string& rest) {
    size_t sep = rest.find_first_of("/:.");
    if (sep == std::string::npos)
        return {"default", rest};
    return {rest.substr(0, sep), rest.substr(sep + 1)};
}

struct EnvSource {
    std::vector<const Section*> sections;
};

Status build_job(const Section& sec, const std::map<std::string, EnvSource>& env_sections, DaemonConfig* cfg,
                 std::map<std::string, Location>* seen_jobs, std::set<std::string>* used_env) {
    const std::string header = "[" + sec.name + "]";
    auto cmd_it = sec.by_key.find("cmd");
    if (cmd_it == sec.by_key.end() || sec.options[cmd_it->second].value.empty()) {
        cfg->warnings.push_back(where(sec.loc) + ": " + header + " has no cmd; section ignored");
        return ok();
    }
    SectionJob jn = split_section_job(sec.sn.rest);
    std::string qualified = jn.session + "." + jn.job;

    json::JsonPtr obj(json_object());
    std::map<std::string, Location> member_loc;
    GAFFER_TRY(auto name_value, utf8_string(jn.job, sec.loc, "job name"));
    json::set(obj.get(), "name", std::move(name_value));

    // [env:NAME] replaces every inline env: option, wherever it appears.
    const EnvSource* env_sec = nullptr;
    if (auto it = env_sections.find(qualified); it != env_sections.end()) {
        env_sec = &it->second;
        used_env->insert(qualified);
    }
    // The env member goes where the first inline env: option was (or last).
    json::JsonPtr env;
    auto add_env = [&](const Location& loc) -> Status {
        if (env)
            return ok();
        env.reset(json_object());
        json_object_set(obj.get(), "env", env.get());
        member_loc["env"] = env_sec ? env_sec->sections.front()->loc : loc;
        if (!env_sec)
            return ok();
        for (const Section* es : env_sec->sections) {
            for (const auto& o : es->options) {
                GAFFER_TRY(auto v, utf8_string(o.value, o.loc, "env"));
                std::string var = to_upper(o.name);
                if (json_object_set_new(env.get(), var.c_str(), v.release()) != 0)
                    return bad_at(o.loc, "environment variable name " + quote_value(o.name) + " is not valid UTF-8");
            }
        }
        return ok();
    };

    bool have_os_env = false;
    for (const auto& o : sec.options) {
        std::string n = option_key(SectionKind::kJob, o.name);
        if (starts_with(n, "env:")) {
            GAFFER_RETURN_IF_ERROR(add_env(o.loc));
            if (env_sec)
                continue;
            std::string var = n.substr(4);
            GAFFER_TRY(auto v, utf8_string(o.value, o.loc, "env:" + var));
            if (json_object_set_new(env.get(), var.c_str(), v.release()) != 0)
                return bad_at(o.loc, "environment variable name " + quote_value(var) + " is not valid UTF-8");
            continue;
        }
        if (n == "env")
            return bad_at(o.loc, "inline environment variables are written env:NAME = value");
        if (n == "name") {
            cfg->warnings.push_back(where(o.loc) + ": option 'name' ignored; " + header + " names the job");
            continue;
        }
        const JobOption* def = find_job_option(n);
        json::JsonPtr value;
        if (def) {
            GAFFER_TRY(value, option_value(*def, o));
        } else {
            cfg->warnings.push_back(where(o.loc) + ": unknown option " + quote_value(n) + " in " + header +
                                    " (kept in the job config, not used)");
            GAFFER_TRY(value, utf8_string(o.value, o.loc, n));
        }
        if (n == "os_env")
            have_os_env = true;
        if (json_object_set_new(obj.get(), n.c_str(), value.release()) != 0)
            return bad_at(o.loc, "option name " + quote_value(n) + " is not valid UTF-8");
        member_loc[n] = o.loc;
    }
    if (env_sec)
        GAFFER_RETURN_IF_ERROR(add_env(sec.loc));
    // The INI default differs from the JSON one (§7.1).
    if (!have_os_env)
        json::set(obj.get(), "os_env", json::take(json_true()));

    std::string member;
    auto spec = job_from_json(obj.get(), jn.session, JobJsonMode::kLoad, &member);
    if (!spec) {
        if (member == "name" || member == "session" || member.empty()) {
            const char* what = member == "session" ? "session" : "job";
            std::string shown = member == "session" ? jn.session : jn.job;
            std::string reason = spec.error().context;
            if (size_t colon = reason.find(": "); !member.empty() && colon != std::string::npos)
                reason = reason.substr(colon + 2);
            return bad_at(sec.loc, header + ": " + what + " name " + quote_value(shown) + ": " + reason);
        }
        auto it = member_loc.find(member);
        return bad_at(it != member_loc.end() ? it->second : sec.loc, spec.error().context);
    }
    if (auto [it, inserted] = seen_jobs->emplace(qualified, sec.loc); !inserted)
        return bad_at(sec.loc, "job '" + qualified + "' is defined twice (first at " + where(it->second) + ")");
    cfg->jobs.push_back(std::move(*spec));
    return ok();
}

Result<DaemonConfig> build(const RawConfig& raw, const std::string& path, std::vector<std::string> warnings) {
    DaemonConfig cfg;
    cfg.path = path;
    cfg.warnings = std::move(warnings);

    std::map<std::string, EnvSource> env_sections;
    for (const auto& sec : raw.sections) {
        if (sec.sn.kind != SectionKind::kEnv)
            continue;
        SectionJob jn = split_section_job(sec.sn.rest);
        env_sections[jn.session + "." + jn.job].sections.push_back(&sec);
    }

    std::map<std::string, Location> seen_jobs;
    std::set<std::string> used_env;
    const Section* ssl = nullptr;
    for (const auto& sec : raw.sections) {
        switch (sec.sn.kind) {
            case SectionKind::kGaffer:
                GAFFER_RETURN_IF_ERROR(build_gaffer(sec, raw, &cfg));
                break;
            case SectionKind::kSsl:
                ssl = &sec;
                break;
            case SectionKind::kLookupSsl:
                for (const auto& o : sec.options) {
                    std::string n = to_lower(o.name);
                    if (n == "cacert" || n == "ca_certs")
                        cfg.lookup_cacert = o.value;
                    else if (n == "certfile")
                        cfg.lookup_certfile = o.value;
                    else if (n == "keyfile")
                        cfg.lookup_keyfile = o.value;
                }
                break;
            case SectionKind::kWebhooks:
                for (const auto& o : sec.options) {
                    if (o.value.empty())
                        return bad_at(o.loc, "webhook " + quote_value(o.name) + " has no URL");
                    cfg.webhooks.emplace_back(o.name, o.value);
                    cfg.webhook_locations.push_back(where(o.loc));
                }
                break;
            case SectionKind::kJob:
                GAFFER_RETURN_IF_ERROR(build_job(sec, env_sections, &cfg, &seen_jobs, &used_env));
                break;
            case SectionKind::kEnv:
            case SectionKind::kEndpoint:
            case SectionKind::kOther:
                break;
        }
    }
    // [ssl] wins over the [gaffer] spelling.
    if (ssl) {
        for (const auto& o : ssl->options) {
            std::string n = to_lower(o.name);
            if (n == "certfile")
                cfg.certfile = o.value;
            if (n == "keyfile")
                cfg.keyfile = o.value;
        }
    }
    for (const auto& [name, src] : env_sections) {
        if (!used_env.count(name))
            cfg.warnings.push_back(where(src.sections.front()->loc) + ": [" + src.sections.front()->name +
                                   "] matches no job with a cmd");
    }
    std::stable_sort(cfg.jobs.begin(), cfg.jobs.end(),
                     [](const model::JobSpec& a, const model::JobSpec& b) { return a.priority < b.priority; });
    return cfg;
}

}  // namespace

Result<DaemonConfig> parse_ini(std::string_view text, const std::string& filename, const std::string& base_dir,
                               const IniOptions& options) {
    Loader loader(options);
    if (options.follow_includes)
        loader.mark_seen(filename);
    GAFFER_RETURN_IF_ERROR(loader.load_text(text, filename, base_dir, 0));
    return build(loader.raw, filename, {});
}

Result<DaemonConfig> load_ini_file(const std::string& path) {
    struct stat sb;
    if (::stat(path.c_str(), &sb) != 0)
        return fail(Error::from_errno("stat '%s'", path.c_str()));
    if (S_ISDIR(sb.st_mode))
        return fail(Error{EISDIR, "read config '" + path + "'"});
    if (!S_ISREG(sb.st_mode))
        return fail(Error{EINVAL, "config '" + path + "' is not a regular file"});
    GAFFER_TRY(std::string text, read_file(path, kMaxFileBytes));
    return parse_ini(text, path, dir_of(path));
}

}  // namespace gaffer::config
