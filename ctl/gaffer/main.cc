// SPDX-License-Identifier: MIT
// gaffer: the Procfile tool (man/gaffer.1). main() parses the command line (cli.h: global
// options before or after the command), finds the command in the tables of local.cc,
// tools.cc, node.cc and lookup.cc, and runs it.
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ctl/gaffer/cli.h"
#include "gaffer_config.h"
#include "lib/base/strutil.h"

namespace gaffer::cli {
namespace {

const Option kGlobal[] = {
    {"procfile", 'f', "FILE", "the Procfile (default: ./Procfile)"},
    {"root", 'd', "DIR", "the app root (default: the Procfile's directory)"},
    {"directory", 0, "DIR", "same as --root (0.4 name)"},
    {"env", 'e', "FILE", "an env file, after <root>/.env (repeatable; default: ./.env)", true},
    {"gafferd-http-address", 'g', "URL", "the gafferd node: http(s)://HOST:PORT or unix:/PATH"},
    {"endpoint", 0, "URL", "same as --gafferd-http-address (0.4 name)"},
    {"api-key", 0, "KEY", "API key for the node (default: $GAFFER_API_KEY, then the settings file)"},
    {"certfile", 0, "FILE", "TLS client certificate"},
    {"keyfile", 0, "FILE", "TLS client key"},
    {"cacert", 0, "FILE", "CA bundle to verify the node"},
    {"insecure", 0, nullptr, "do not verify the node's TLS certificate"},
    {"help", 'h', nullptr, "show help"},
    {"version", 0, nullptr, "show the version"},
};

struct Table {
    std::vector<const Command*> all;
    const Command* find(std::string_view name) const {
        for (const Command* c : all)
            if (name == c->name)
                return c;
        return nullptr;
    }
};

Table command_table() {
    Table t;
    for (auto span : {local_commands(), tool_commands(), node_commands(), lookup_commands()})
        for (const Command& c : span) t.all.push_back(&c);
    return t;
}

void print_options(FILE* f, std::span<const Option> opts) {
    for (const Option& o : opts) {
        std::string left =
            o.short_name ? std::string("-") + o.short_name + ", --" + o.name : std::string("    --") + o.name;
        if (o.arg_name)
            left += std::string(" ") + o.arg_name;
        fprintf(f, "  %-30s %s\n", left.c_str(), o.help);
    }
}

void usage(FILE* f, const Table& t) {
    fputs(
        "usage: gaffer [options] <command> [<args>]\n\n"
        "Runs a Procfile app locally (foreman style) or on a gafferd node.\n\nCommands:\n",
        f);
    for (const Command* c : t.all) fprintf(f, "  %-16s %s\n", c->name, c->summary);
    fputs("\nOptions (before or after the command):\n", f);
    print_options(f, kGlobal);
    fputs("\n'gaffer help <command>' shows a command's options. See gaffer(1).\n", f);
}

void command_help(FILE* f, const Command& c) {
    fprintf(f, "usage: gaffer %s %s\n\n%s\n", c.name, c.usage, c.summary);
    if (!c.options.empty()) {
        fputs("\nOptions:\n", f);
        print_options(f, c.options);
    }
    fputs("\nGlobal options: see 'gaffer --help'.\n", f);
}

int usage_fail(const std::string& message) {
    fprintf(stderr, "gaffer: %s\nRun 'gaffer --help' for usage.\n", message.c_str());
    return kExitFailure;
}

const Option* find_long(std::span<const Option> opts, std::string_view name) {
    for (const Option& o : opts)
        if (name == o.name)
            return &o;
    return nullptr;
}

const Option* find_short(std::span<const Option> opts, char c) {
    for (const Option& o : opts)
        if (o.short_name && o.short_name == c)
            return &o;
    return nullptr;
}

bool is_negative_number(std::string_view s) {
    return s.size() >= 2 && s[0] == '-' && s.find_first_not_of("0123456789", 1) == std::string_view::npos;
}

struct Parsed {
    Globals globals;
    bool help = false, version = false;
};

void apply_global(Parsed& p, const Option& o, const std::string& v) {
    std::string_view n = o.name;
    if (n == "procfile")
        p.globals.procfile = v;
    else if (n == "root" || n == "directory")
        p.globals.root = v;
    else if (n == "env")
        p.globals.env_files.push_back(v);
    else if (n == "gafferd-http-address" || n == "endpoint")
        p.globals.endpoint = v;
    else if (n == "api-key")
        p.globals.api_key = v;
    else if (n == "certfile")
        p.globals.certfile = v;
    else if (n == "keyfile")
        p.globals.keyfile = v;
    else if (n == "cacert")
        p.globals.cacert = v;
    else if (n == "insecure")
        p.globals.insecure = true;
    else if (n == "help")
        p.help = true;
    else if (n == "version")
        p.version = true;
}

// Parses argv[i..] as options of `cmd` (null: before the command, global options only)
// and positionals. Stops at the first positional when `cmd` is null; returns its index
// then, else argc. -1 on a usage error (printed).
int parse(int argc, char** argv, int i, const Command* cmd, Parsed& p, Invocation& inv) {
    std::span<const Option> mine = cmd ? cmd->options : std::span<const Option>();
    bool only_args = false;
    for (; i < argc; ++i) {
        std::string t = argv[i];
        if (cmd && cmd->args_verbatim && !inv.args.empty())
            only_args = true;
        if (only_args || t.size() < 2 || t[0] != '-' || is_negative_number(t)) {
            if (!cmd)
                return i;
            inv.args.push_back(t);
            continue;
        }
        if (t == "--") {
            only_args = true;
            if (!cmd)
                return i + 1 < argc ? i + 1 : argc;
            continue;
        }
        const Option* o = nullptr;
        bool global = false;
        std::optional<std::string> value;
        std::string shown;
        if (t[1] == '-') {
            std::string name = t.substr(2);
            if (size_t eq = name.find('='); eq != std::string::npos) {
                value = name.substr(eq + 1);
                name.resize(eq);
            }
            shown = "--" + name;
            o = find_long(mine, name);
            if (!o && (o = find_long(kGlobal, name)))
                global = true;
        } else {
            shown = t.substr(0, 2);
            o = find_short(mine, t[1]);
            if (!o && (o = find_short(kGlobal, t[1])))
                global = true;
            if (o && t.size() > 2) {
                if (!o->arg_name) {
                    usage_fail("option '" + shown + "' takes no value");
                    return -1;
                }
                value = t.substr(2);
            }
        }
        if (!o) {
            usage_fail(std::string("unrecognized option '") + shown + "'" +
                       (cmd ? std::string(" for '") + cmd->name + "'" : ""));
            return -1;
        }
        if (o->arg_name && !value) {
            if (i + 1 >= argc) {
                usage_fail("option '" + shown + "' needs a value (" + o->arg_name + ")");
                return -1;
            }
            value = argv[++i];
        } else if (!o->arg_name && value) {
            usage_fail("option '" + shown + "' takes no value");
            return -1;
        }
        if (global) {
            apply_global(p, *o, value.value_or(""));
        } else {
            if (!o->repeatable && inv.has(o->name)) {
                usage_fail(std::string("option '--") + o->name + "' given twice");
                return -1;
            }
            inv.options.emplace_back(o->name, value.value_or(""));
        }
    }
    return argc;
}

int run(int argc, char** argv) {
    Table table = command_table();
    Parsed p;
    Invocation none;
    int at = parse(argc, argv, 1, nullptr, p, none);
    if (at < 0)
        return kExitFailure;
    if (p.version && at >= argc) {
        printf("gaffer (version %s)\n", GAFFER_VERSION);
        return kExitOk;
    }
    if (at >= argc) {
        usage(p.help ? stdout : stderr, table);
        return p.help ? kExitOk : kExitFailure;
    }
    std::string name = argv[at];
    if (name == "help") {
        if (at + 1 < argc) {
            const Command* c = table.find(argv[at + 1]);
            if (!c)
                return usage_fail(std::string("unknown command '") + argv[at + 1] + "'");
            command_help(stdout, *c);
        } else {
            usage(stdout, table);
        }
        return kExitOk;
    }
    const Command* cmd = table.find(name);
    if (!cmd) {
        usage(stderr, table);
        return usage_fail("unknown command '" + name + "'");
    }
    Invocation inv;
    if (parse(argc, argv, at + 1, cmd, p, inv) < 0)
        return kExitFailure;
    if (p.help) {
        command_help(stdout, *cmd);
        return kExitOk;
    }
    if (p.version) {
        printf("gaffer (version %s)\n", GAFFER_VERSION);
        return kExitOk;
    }
    int n = static_cast<int>(inv.args.size());
    if (n < cmd->min_args)
        return usage_fail(std::string(cmd->name) + ": missing argument (usage: gaffer " + cmd->name + " " + cmd->usage +
                          ")");
    if (cmd->max_args >= 0 && n > cmd->max_args)
        return usage_fail(std::string(cmd->name) + ": unexpected argument '" +
                          inv.args[static_cast<size_t>(cmd->max_args)] + "'");
    Session s;
    s.globals = std::move(p.globals);
    s.command = cmd;
    return cmd->run(s, inv);
}

}  // namespace
}  // namespace gaffer::cli

int main(int argc, char** argv) {
    // A closed stdout or a dropped connection must give an error, not a silent death.
    signal(SIGPIPE, SIG_IGN);
    int rc = gaffer::cli::run(argc, argv);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gaffer: cannot write the output: %s\n", strerror(errno));
        return gaffer::cli::kExitFailure;
    }
    return rc;
}
