// SPDX-License-Identifier: MIT
// gafferctl: the admin command-line client of gafferd over its HTTP API.
//
// main() only parses the command line (getopt_long, twice: the global options before the
// command, then the command's own options, among which the global ones are accepted
// again so that `gafferctl ps --json` works), picks the endpoint, builds the HttpClient and
// runs one entry of the command table (commands.h). Exit status: 0 success, 1 failure,
// 2 usage error.
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ctl/client/http_client.h"
#include "ctl/gafferctl/commands.h"
#include "gaffer_config.h"
#include "lib/base/strutil.h"

namespace gaffer::ctl {
namespace {

struct GlobalOptions {
    std::optional<std::string> endpoint;
    std::optional<std::string> api_key;
    std::vector<std::string> lookupds;
    std::string certfile, keyfile, cacert;
    bool insecure = false;
    bool json = false;
    double timeout = 0;  // seconds, 0 = none
    bool help = false;
    bool version = false;
};

// Global options: {long name, arg name or nullptr, short, help}.
struct GlobalSpec {
    const char* name;
    const char* arg;
    char short_name;
    const char* help;
};
constexpr GlobalSpec kGlobal[] = {
    {"endpoint", "URL", 0, "daemon address: http://HOST:PORT, https://HOST:PORT or unix:/PATH"},
    {"connect", "URL", 0, "same as --endpoint (gafferctl 0.4 name)"},
    {"api-key", "KEY", 0, "API key, sent as X-Api-Key (default: $GAFFER_API_KEY)"},
    {"lookupd", "URL", 0, "a gaffer_lookupd for the fleet commands (repeatable)"},
    {"certfile", "FILE", 0, "TLS client certificate (PEM)"},
    {"keyfile", "FILE", 0, "TLS client private key (PEM)"},
    {"cacert", "FILE", 0, "CA certificates to verify the daemon with (PEM)"},
    {"insecure", nullptr, 0, "do not verify the daemon's TLS certificate"},
    {"json", nullptr, 0, "print the daemon's JSON answers as they are"},
    {"timeout", "SECS", 0, "give up on a request after SECS seconds (default: no limit)"},
    {"version", nullptr, 'v', "print gafferctl's version and exit"},
    {"help", nullptr, 'h', "print this help and exit"},
};

constexpr const char* kDefaultTcp = "http://127.0.0.1:5000";

void print_version() {
    printf("gafferctl (version %s)\n", GAFFER_VERSION);
}

// Word-wraps `text` at `width` columns with `indent` spaces before each line.
std::string wrap(std::string_view text, size_t width, size_t indent) {
    std::string out, line;
    for (const auto& word : split_any(text, " ")) {
        if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
            out += std::string(indent, ' ') + line + "\n";
            line.clear();
        }
        if (!line.empty())
            line += ' ';
        line += word;
    }
    if (!line.empty())
        out += std::string(indent, ' ') + line + "\n";
    return out;
}

void print_usage(FILE* f) {
    fputs(
        "usage: gafferctl [--endpoint URL] [--api-key KEY] [--json] [--timeout SECS] [--lookupd URL]...\n"
        "                 [--certfile FILE] [--keyfile FILE] [--cacert FILE] [--insecure]\n"
        "                 [--version] [--help] <command> [<args>]\n\n",
        f);
    fputs("Options:\n", f);
    for (const auto& g : kGlobal) {
        std::string left =
            g.short_name ? std::string("-") + g.short_name + ", --" + g.name : std::string("    --") + g.name;
        if (g.arg)
            left += std::string(" ") + g.arg;
        fprintf(f, "  %-24s %s\n", left.c_str(), g.help);
    }
    fputs("\nCommands:\n", f);
    size_t w = 0;
    for (const auto& c : command_table()) w = std::max(w, strlen(c.name));
    for (const auto& c : command_table()) fprintf(f, "  %-*s  %s\n", static_cast<int>(w), c.name, c.summary);
    fprintf(f, "  %-*s  %s\n", static_cast<int>(w), "help", "show the help of a command");
    fputs(
        "\nA job is named sid.job (or sid/job). For start, stop, kill, pids, status and the other\n"
        "0.4 commands, a bare name uses the 0.4 routes (job default.<name>), while sid.job or a\n"
        "number (internal pid) uses the HEAD routes. Run 'gafferctl help <command>' for details.\n",
        f);
}

void print_command_help(FILE* f, const Command& cmd) {
    fprintf(f, "usage: %s\n\n", usage_line(cmd).c_str());
    fputs(wrap(cmd.help, 78, 0).c_str(), f);
    if (!cmd.options.empty()) {
        fputs("\nOptions:\n", f);
        for (const auto& o : cmd.options) {
            std::string left =
                o.short_name ? std::string("-") + o.short_name + ", --" + o.name : std::string("    --") + o.name;
            if (o.arg_name)
                left += std::string(" ") + o.arg_name;
            fprintf(f, "  %-28s %s\n", left.c_str(), o.help);
        }
    }
    fputs("\nGlobal options (gafferctl --help) are accepted after the command as well.\n", f);
}

int usage_fail(const std::string& message) {
    fprintf(stderr, "gafferctl: %s\nRun 'gafferctl --help' for usage.\n", message.c_str());
    return kExitUsage;
}

// Applies one global option; false (with a message printed) on a bad value.
bool apply_global(GlobalOptions& g, std::string_view name, const char* value) {
    if (name == "endpoint" || name == "connect") {
        g.endpoint = value;
    } else if (name == "api-key") {
        g.api_key = value;
    } else if (name == "lookupd") {
        g.lookupds.emplace_back(value);
    } else if (name == "certfile") {
        g.certfile = value;
    } else if (name == "keyfile") {
        g.keyfile = value;
    } else if (name == "cacert") {
        g.cacert = value;
    } else if (name == "insecure") {
        g.insecure = true;
    } else if (name == "json") {
        g.json = true;
    } else if (name == "timeout") {
        auto d = parse_double(value);
        if (!d || *d <= 0 || *d > 86400) {
            usage_fail(std::string("invalid timeout '") + value + "' (seconds, > 0)");
            return false;
        }
        g.timeout = *d;
    } else if (name == "version") {
        g.version = true;
    } else if (name == "help") {
        g.help = true;
    }
    return true;
}

// The text of an option that getopt refused.
std::string bad_option_text(char* const* argv) {
    if (optopt > 0 && optopt < 256)
        return std::string("-") + static_cast<char>(optopt);
    return optind > 0 ? argv[optind - 1] : "?";
}

// getopt_long tables built from a list of (name, has_arg, short).
struct OptTable {
    std::vector<std::string> names;
    std::vector<bool> has_arg;
    std::vector<char> shorts;
    std::vector<struct option> longopts;
    std::string optstring;

    void add(const char* name, bool arg, char short_name) {
        names.emplace_back(name);
        has_arg.push_back(arg);
        shorts.push_back(short_name);
    }
    // `prefix` is "+" (stop at the first positional) or "" (permute).
    void build(const char* prefix) {
        longopts.clear();
        optstring = std::string(prefix) + ":";
        for (size_t i = 0; i < names.size(); ++i) {
            longopts.push_back(
                {names[i].c_str(), has_arg[i] ? required_argument : no_argument, nullptr, static_cast<int>(1000 + i)});
            if (shorts[i]) {
                optstring += shorts[i];
                if (has_arg[i])
                    optstring += ':';
            }
        }
        longopts.push_back({nullptr, 0, nullptr, 0});
    }
    // Index of the option getopt returned, or -1.
    int index_of(int c) const {
        if (c >= 1000 && c < 1000 + static_cast<int>(names.size()))
            return c - 1000;
        for (size_t i = 0; i < shorts.size(); ++i)
            if (shorts[i] && shorts[i] == c)
                return static_cast<int>(i);
        return -1;
    }
    // Whether token `t` is an option that takes its value from the next token.
    bool wants_next(std::string_view t) const {
        if (starts_with(t, "--")) {
            if (t.find('=') != std::string_view::npos)
                return false;
            std::string_view n = t.substr(2);
            for (size_t i = 0; i < names.size(); ++i)
                if (has_arg[i] && names[i] == n)
                    return true;
            return false;
        }
        if (t.size() == 2 && t[0] == '-')
            for (size_t i = 0; i < shorts.size(); ++i)
                if (has_arg[i] && shorts[i] == t[1])
                    return true;
        return false;
    }
};

bool is_negative_number(std::string_view s) {
    return s.size() >= 2 && s[0] == '-' && s.find_first_not_of("0123456789", 1) == std::string_view::npos;
}

std::string default_endpoint() {
    std::string sock;
    if (geteuid() == 0) {
        sock = "/run/gaffer/gafferd.sock";
    } else if (const char* x = getenv("XDG_RUNTIME_DIR"); x && x[0] == '/') {
        sock = std::string(x) + "/gaffer/gafferd.sock";
    }
    struct stat st;
    if (!sock.empty() && stat(sock.c_str(), &st) == 0)
        return "unix:" + sock;
    return kDefaultTcp;
}

int run(int argc, char** argv) {
    GlobalOptions g;

    // Phase 1: global options, up to the command name.
    OptTable global;
    for (const auto& s : kGlobal) global.add(s.name, s.arg != nullptr, s.short_name);
    global.build("+");
    opterr = 0;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, global.optstring.c_str(), global.longopts.data(), nullptr)) != -1) {
        if (c == '?')
            return usage_fail("unrecognized option '" + bad_option_text(argv) + "'");
        if (c == ':')
            return usage_fail("option '" + bad_option_text(argv) + "' needs a value");
        int i = global.index_of(c);
        if (i < 0)
            return usage_fail("unrecognized option");
        if (!apply_global(g, global.names[static_cast<size_t>(i)], optarg))
            return kExitUsage;
    }
    if (g.version) {
        print_version();
        return kExitOk;
    }
    if (g.help && optind >= argc) {
        print_usage(stdout);
        return kExitOk;
    }
    if (optind >= argc) {
        print_usage(stderr);
        return kExitUsage;
    }

    std::string name = argv[optind];
    std::vector<std::string> rest(argv + optind + 1, argv + argc);
    // `--help cmd` and `help [cmd]`.
    if (g.help || name == "help") {
        std::string topic = g.help ? name : (rest.empty() ? "" : rest[0]);
        if (topic.empty()) {
            print_usage(stdout);
            return kExitOk;
        }
        const Command* cmd = find_command(topic);
        if (!cmd)
            return usage_fail("unknown command '" + topic + "'");
        print_command_help(stdout, *cmd);
        return kExitOk;
    }
    const Command* cmd = find_command(name);
    if (!cmd) {
        // gafferctl 0.4 lower-cased command names.
        cmd = find_command(to_lower(name));
        if (!cmd)
            return usage_fail("unknown command '" + name + "'");
    }

    // Phase 2: the command's options plus the global ones, anywhere among its arguments.
    OptTable local;
    for (const auto& o : cmd->options) local.add(o.name, o.arg_name != nullptr, o.short_name);
    size_t first_global = local.names.size();
    for (const auto& s : kGlobal)
        if (std::string_view(s.name) != "version")
            local.add(s.name, s.arg != nullptr, s.short_name);
    local.build("");

    // Negative numbers ("scale web -2") are positionals, not options: keep them out of
    // getopt and merge them back by position.
    std::vector<bool> forced(rest.size(), false);
    std::vector<char*> av;
    av.push_back(argv[0]);
    bool after_dashdash = false;
    for (size_t i = 0; i < rest.size(); ++i) {
        bool value_of_prev = i > 0 && !after_dashdash && local.wants_next(rest[i - 1]) && !forced[i - 1];
        if (cmd->negative_args && !value_of_prev && is_negative_number(rest[i])) {
            forced[i] = true;
            continue;
        }
        if (rest[i] == "--")
            after_dashdash = true;
        av.push_back(rest[i].data());
    }
    int ac = static_cast<int>(av.size());
    av.push_back(nullptr);

    Invocation inv;
    optind = 0;
    while ((c = getopt_long(ac, av.data(), local.optstring.c_str(), local.longopts.data(), nullptr)) != -1) {
        Context ectx;
        if (c == '?')
            return usage_error(ectx, *cmd, "unrecognized option '" + bad_option_text(av.data()) + "'");
        if (c == ':')
            return usage_error(ectx, *cmd, "option '" + bad_option_text(av.data()) + "' needs a value");
        int i = local.index_of(c);
        if (i < 0)
            return usage_error(ectx, *cmd, "unrecognized option");
        const std::string& oname = local.names[static_cast<size_t>(i)];
        if (static_cast<size_t>(i) >= first_global) {
            if (!apply_global(g, oname, optarg))
                return kExitUsage;
            continue;
        }
        const OptionSpec& spec = cmd->options[static_cast<size_t>(i)];
        if (!spec.repeatable && inv.has(oname))
            return usage_error(ectx, *cmd, "option '--" + oname + "' given twice");
        inv.options.emplace_back(oname, optarg ? optarg : "");
    }
    if (g.help) {
        print_command_help(stdout, *cmd);
        return kExitOk;
    }
    // Positionals in their original order.
    std::vector<size_t> order;
    for (int k = optind; k < ac; ++k) {
        for (size_t i = 0; i < rest.size(); ++i)
            if (!forced[i] && rest[i].data() == av[static_cast<size_t>(k)])
                order.push_back(i);
    }
    for (size_t i = 0; i < rest.size(); ++i)
        if (forced[i])
            order.push_back(i);
    std::sort(order.begin(), order.end());
    for (size_t i : order) inv.args.push_back(rest[i]);

    {
        Context ectx;
        int n = static_cast<int>(inv.args.size());
        if (n < cmd->min_args)
            return usage_error(ectx, *cmd, "missing argument");
        if (cmd->max_args >= 0 && n > cmd->max_args)
            return usage_error(ectx, *cmd,
                               "unexpected argument '" + inv.args[static_cast<size_t>(cmd->max_args)] + "'");
    }

    // Endpoint: option, then $GAFFERCTL_ENDPOINT, then the default socket or TCP address.
    std::string ep_text;
    if (g.endpoint) {
        ep_text = *g.endpoint;
    } else if (const char* e = getenv("GAFFERCTL_ENDPOINT"); e && *e) {
        ep_text = e;
    } else {
        ep_text = default_endpoint();
    }
    auto ep = client::Endpoint::parse(ep_text);
    if (!ep)
        return usage_fail(ep.error().context);

    client::ClientOptions opts;
    opts.endpoint = std::move(*ep);
    opts.tls = {g.certfile, g.keyfile, g.cacert, g.insecure};
    if (g.api_key) {
        opts.api_key = *g.api_key;
    } else if (const char* k = getenv("GAFFER_API_KEY"); k && *k) {
        opts.api_key = k;
    }
    opts.timeout = std::chrono::milliseconds(static_cast<long long>(g.timeout * 1000));
    if (g.timeout > 0 && opts.timeout < opts.connect_timeout)
        opts.connect_timeout = opts.timeout;
    opts.user_agent = std::string("gafferctl/") + GAFFER_VERSION;

    auto global_curl = client::CurlGlobal::init();
    if (!global_curl) {
        fprintf(stderr, "gafferctl: %s\n", global_curl.error().message().c_str());
        return kExitFailure;
    }
    auto http = client::HttpClient::create(std::move(opts));
    if (!http)
        return usage_fail(http.error().message());

    Context ctx;
    ctx.http = &*http;
    ctx.json = g.json;
    ctx.lookupds = std::move(g.lookupds);
    return cmd->run(ctx, *cmd, inv);
}

}  // namespace
}  // namespace gaffer::ctl

int main(int argc, char** argv) {
    // A closed stdout or a dropped connection must give an error, not a silent death.
    signal(SIGPIPE, SIG_IGN);
    int rc = gaffer::ctl::run(argc, argv);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gafferctl: cannot write the output: %s\n", strerror(errno));
        return gaffer::ctl::kExitFailure;
    }
    return rc;
}
