// SPDX-License-Identifier: MIT
// Local mode: `gaffer start` / `dev:start` run the Procfile with the engine in-process
// (loop, manager, HTTP API on the app's control socket), `run` / `dev:run` a one-off
// command with the project's environment.
//
// start: one job per Procfile type (lib/config/app_plan.h) in session <app>, output on
// the console (lib/console/app_console.h). SIGINT, SIGTERM, SIGHUP or SIGQUIT stop every
// process gracefully (each with its process group and cgroup; -t seconds, then SIGKILL)
// and end with status 0; a second one kills at once. While it runs, the gafferd HTTP API
// is served on <root>/.gaffer/gaffer.sock (0600, the directory 0700) for `gaffer ps`,
// `gaffer restart web` and gafferctl --endpoint unix:... . With --exit-on-fail, a process
// that exits non-zero or by a signal (not one gaffer or an API call was stopping) stops
// everything and gaffer exits with its status (128+n for signal n).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <set>

#include "ctl/gaffer/cli.h"
#include "gaffer_config.h"
#include "lib/base/log.h"
#include "lib/base/strutil.h"
#include "lib/base/unique_fd.h"
#include "lib/config/job_json.h"
#include "lib/console/app_console.h"
#include "lib/console/event_console.h"
#include "lib/events/event_bus.h"
#include "lib/http/server.h"
#include "lib/json/json.h"
#include "lib/loop/loop.h"
#include "lib/loop/signals.h"
#include "lib/manager/manager.h"

namespace gaffer::cli {

namespace {

constexpr double kDefaultTimeout = 5.0;

const Option kStartOptions[] = {
    {"concurrency", 'c', "TYPE=N,...", "instances per process type; all=N; 0 disables a type (repeatable)", true},
    {"port", 'p', "PORT", "port base (default: $PORT, else 5000); +100 per type, +1 per instance"},
    {"timeout", 't', "SECS", "graceful stop timeout before SIGKILL (default 5)"},
    {"pty", 0, nullptr, "give each process a pseudo-terminal for stdout and stderr (no block buffering)"},
    {"no-color", 0, nullptr, "no colours (also when stdout is not a terminal)"},
    {"no-prefix", 0, nullptr, "print output lines without the time and name prefix"},
    {"no-timestamp", 0, nullptr, "no time in the prefix"},
    {"exit-on-fail", 0, nullptr, "stop everything when a process fails; exit with its status"},
    {"strict", 0, nullptr, "a malformed Procfile line is an error"},
    {"app", 0, "APP", "the app (session) name (default: the root directory's name)"},
};

const Option kDevStartOptions[] = {
    {"verbose", 'v', nullptr, "show process output"},
    {"concurrency", 'c', "TYPE=N", "instances per process type (repeatable)", true},
    {"port", 'p', "PORT", "port base (default: $PORT, else 5000)"},
    {"timeout", 't', "SECS", "graceful stop timeout before SIGKILL (default 5)"},
    {"app", 0, "APP", "the app (session) name"},
};

const Option kRunOptions[] = {
    {"concurrency", 'c', "N", "run N copies (0.4)"},
    {"verbose", 'v', nullptr, "accepted for compatibility: the output is always shown"},
};

Result<double> timeout_of(const Invocation& inv) {
    auto t = inv.get("timeout");
    if (!t)
        return kDefaultTimeout;
    auto d = parse_double(*t);
    if (!d || *d < 0 || *d > 86400)
        return fail(Error::make(EINVAL, "invalid timeout '%s' (seconds, 0 to 86400)", t->c_str()));
    return *d;
}

// <root>/.gaffer: created 0700 if missing, with a .gitignore so it is never committed.
Status make_control_dir(const std::string& root) {
    std::string dir = control_dir(root);
    if (mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST)
        return fail(Error::from_errno("mkdir '%s'", dir.c_str()));
    struct stat st {};
    if (lstat(dir.c_str(), &st) < 0)
        return fail(Error::from_errno("%s", dir.c_str()));
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        return fail(Error::make(EPERM, "'%s' is not a directory of this user", dir.c_str()));
    if ((st.st_mode & 077) && chmod(dir.c_str(), 0700) < 0)
        return fail(Error::from_errno("chmod '%s'", dir.c_str()));
    std::string ignore = dir + "/.gitignore";
    UniqueFd fd(open(ignore.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (fd) {
        static const char kText[] = "# gaffer start's control socket (gaffer(1))\n*\n";
        if (write(fd.get(), kText, sizeof kText - 1) < 0)
            return fail(Error::from_errno("write '%s'", ignore.c_str()));
    }
    return {};
}

// The engine in-process: a loop, its event bus and a manager for the project's jobs
// (processes in the project root, the inherited environment for os_env jobs, cgroups
// named <cgroup_name>-<pid>).
struct Engine {
    std::unique_ptr<loop::Loop> loop;
    events::EventBus bus;
    manager::Manager manager;

    Engine(std::unique_ptr<loop::Loop> l, const Project& p, const char* cgroup_name, unsigned fd_reserve)
        : loop(std::move(l)), bus(*loop), manager(*loop, bus, options(p, cgroup_name, fd_reserve)) {}

    static manager::Options options(const Project& p, const char* cgroup_name, unsigned fd_reserve) {
        manager::Options o;
        o.default_cwd = p.root;
        o.daemon_env = p.inherited;
        o.cgroup_name = cgroup_name;
        o.fd_reserve = fd_reserve;
        return o;
    }
    static Result<std::unique_ptr<Engine>> create(const Project& p, const char* cgroup_name, unsigned fd_reserve) {
        auto l = loop::Loop::create();
        if (!l)
            return fail(l.error());
        return std::make_unique<Engine>(std::move(*l), p, cgroup_name, fd_reserve);
    }
};

// What `start` and `dev:start` share.
struct StartMode {
    bool dev = false;
};

int start_app(Session& s, const Invocation& inv, StartMode mode) {
    auto timeout = timeout_of(inv);
    if (!timeout)
        return s.fail(timeout.error().context);
    auto pr = s.project(true, inv.has("strict"), inv.get("app"));
    if (!pr)
        return s.fail(pr.error().context);
    const Project& p = **pr;
    if (p.procfile.entries.empty())
        return s.fail(p.procfile_path + ": no process types");

    // start <type>: the other types are loaded with no instance (scale them up later).
    Invocation planned = inv;
    if (!inv.args.empty()) {
        const std::string& only = inv.args[0];
        if (!p.procfile.find(only))
            return s.fail("no process type '" + only + "' in " + p.procfile_path);
        for (const auto& e : p.procfile.entries)
            if (e.name != only)
                planned.options.emplace_back("concurrency", e.name + "=0");
    }
    json::JsonPtr defaults = json::take(json_object());
    json::set(defaults.get(), "redirect_output", json::strings({"out", "err"}));
    json::set(defaults.get(), "graceful_timeout", json::take(json_real(*timeout)));
    // A type that keeps failing is retried under gafferd's flapping rules, then given up
    // (and reported) while the others run.
    json::JsonPtr flapping = json::take(json_object());
    model::Flapping rules;
    json::set(flapping.get(), "attempts", json::take(json_integer(rules.attempts)));
    json::set(flapping.get(), "window", json::take(json_real(rules.window)));
    json::set(flapping.get(), "retry_in", json::take(json_real(rules.retry_in)));
    json::set(flapping.get(), "max_retry", json::take(json_integer(rules.max_retry)));
    json::set(defaults.get(), "flapping", std::move(flapping));
    if (inv.has("pty"))
        json::set(defaults.get(), "pty", json::take(json_true()));
    auto plan = s.plan(p, planned, Session::PlanEnv::kLocal, defaults.get());
    if (!plan)
        return s.fail(plan.error().context);

    if (auto st = make_control_dir(p.root); !st)
        return s.fail(st.error());

    // The engine's own log: warnings and errors only (the console tells the rest).
    if (!inv.has("verbose"))
        log::set_level(log::Level::kWarning);
    auto engine = Engine::create(p, "gaffer-start", http::kApiFdReserve);
    if (!engine)
        return s.fail(engine.error());
    loop::Loop& loop = *(*engine)->loop;
    events::EventBus& bus = (*engine)->bus;
    manager::Manager& manager = (*engine)->manager;

    // Signals are queued on the signalfd from here on and handled once the loop runs.
    std::function<void(int)> on_stop_signal;
    auto signals = loop::SignalSource::create(loop, {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE},
                                              [&](const struct signalfd_siginfo& si) {
                                                  if (si.ssi_signo != SIGPIPE && on_stop_signal)
                                                      on_stop_signal(static_cast<int>(si.ssi_signo));
                                              });
    if (!signals)
        return s.fail(signals.error());

    std::unique_ptr<console::AppConsole> app_console;
    std::unique_ptr<console::EventConsole> event_console;
    auto say = [&](const std::string& text) {
        if (app_console)
            app_console->system(text);
        else
            fprintf(s.err, "gaffer: %s\n", text.c_str());
    };
    if (mode.dev) {
        event_console = std::make_unique<console::EventConsole>(loop, bus, manager, inv.has("verbose") ? 2 : 1);
    } else {
        console::AppConsoleStyle style;
        style.colour = !inv.has("no-color") && isatty(STDOUT_FILENO) == 1 && !getenv("NO_COLOR");
        style.prefix = !inv.has("no-prefix");
        style.timestamp = !inv.has("no-timestamp");
        std::vector<std::string> types, names;
        for (const auto& e : p.procfile.entries) types.push_back(e.name);
        for (const auto& proc : plan->processes) names.push_back(proc.name);
        app_console = std::make_unique<console::AppConsole>(loop, bus, manager, style, fileno(s.out), types, names);
    }

    http::ServerOptions hopts;
    std::string sock = control_socket(p.root);
    hopts.binds = {"unix:" + sock};
    hopts.unix_socket_mode = 0600;
    hopts.state_dir = control_dir(p.root);
    auto server = http::Server::create(loop, manager, bus, hopts);
    if (!server) {
        if (server.error().code == EADDRINUSE)
            return s.fail("another gaffer is running this app (" + sock + " answers); stop it or use 'gaffer ps'");
        return s.fail(server.error());
    }

    bool stopping = false;
    int exit_code = kExitOk;
    auto stop_all = [&](const std::string& why) {
        stopping = true;
        say(why + ": stopping all processes");
        manager.shutdown([&loop] { loop.stop(); });
    };
    on_stop_signal = [&](int sig) {
        std::string name = std::string("SIG") + (sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
        if (stopping) {
            say(name + " again: killing all processes now");
            manager.kill_all_now();
            return;
        }
        stop_all(name + " received");
    };

    // --exit-on-fail: exits of processes nobody was stopping.
    std::set<int> being_stopped;
    events::EventBus::SubId exit_sub = 0;
    if (inv.has("exit-on-fail")) {
        exit_sub = bus.subscribe(".", [&](const std::string& type, const json_t* msg) {
            int pid = static_cast<int>(json_integer_value(json_object_get(msg, "pid")));
            if (type == "stop_process") {
                being_stopped.insert(pid);
                return;
            }
            if (type != "exit")
                return;
            bool ours = being_stopped.erase(pid) > 0;
            if (stopping || ours)
                return;
            int status = static_cast<int>(json_integer_value(json_object_get(msg, "exit_status")));
            int sig = static_cast<int>(json_integer_value(json_object_get(msg, "term_signal")));
            if (!status && !sig)
                return;
            exit_code = sig ? 128 + sig : status;
            const char* name = json_string_value(json_object_get(msg, "name"));
            stop_all(std::string(name ? name : "a process") + " failed (--exit-on-fail)");
        });
    }
    manager.set_give_up_handler([&](const model::JobSpec& spec, int status, int sig) {
        say(spec.name.job + " gave up: restarted too often (last exit: " +
            (sig ? std::string("signal ") + std::to_string(sig) : "status " + std::to_string(status)) +
            "); 'gaffer ps:start " + spec.name.job + "' tries again");
    });

    for (auto& spec : plan->jobs) {
        std::string name = spec.name.job;
        if (auto st = manager.load(std::move(spec)); !st) {
            say("cannot start " + name + ": " + st.error().message());
            exit_code = kExitFailure;
            stop_all("start-up failed");
            break;
        }
    }
    if (!stopping)
        say(std::string("gaffer ") + GAFFER_VERSION + ": app '" + p.app + "', " +
            std::to_string(plan->processes.size()) + " process(es); control socket " + sock);

    auto r = loop.run();
    if (exit_sub)
        bus.unsubscribe(exit_sub);
    if (!r) {
        say("event loop failed: " + r.error().message());
        return kExitFailure;
    }
    say("all processes stopped");
    return exit_code;
}

int cmd_start(Session& s, const Invocation& inv) {
    return start_app(s, inv, StartMode{false});
}

int cmd_dev_start(Session& s, const Invocation& inv) {
    return start_app(s, inv, StartMode{true});
}

const Command kLocal[] = {
    {"start", "[options] [<type>]", "run the Procfile's processes here, foreman style (Ctrl-C stops them)",
     kStartOptions, 0, 1, cmd_start},
    {"dev:start", "[-v] [-c TYPE=N]... [<type>]", "run the Procfile here with gaffer's event console (§12.3)",
     kDevStartOptions, 0, 1, cmd_dev_start},
    {"dev:run", "[-c N] <command> [<args>...]", "a one-off local command with the app's environment", kRunOptions, 1,
     -1, run_locally, true},
};

}  // namespace

int run_locally(Session& s, const Invocation& inv) {
    auto pr = s.project(false, false, inv.get("app"));
    if (!pr)
        return s.fail(pr.error().context);
    const Project& p = **pr;
    int copies = 1;
    if (auto c = inv.get("concurrency")) {
        auto n = parse_int(*c);
        if (!n || *n < 1 || *n > config::kMaxInstances)
            return s.fail("invalid count '" + *c + "' (1.." + std::to_string(config::kMaxInstances) + ")");
        copies = static_cast<int>(*n);
    }
    model::Env env = p.merged();
    std::vector<std::string> argv = inv.args;
    // One argument holding a command line ("echo $HOME") is the shell's to run.
    if (argv.size() == 1 && (config::needs_shell(argv[0]) || argv[0].find_first_of(" \t$") != std::string::npos))
        argv = {"/bin/sh", "-c", argv[0]};
    if (copies == 1) {
        std::vector<std::string> envs;
        for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
        std::vector<char*> av, ev;
        for (auto& a : argv) av.push_back(a.data());
        av.push_back(nullptr);
        for (auto& e : envs) ev.push_back(e.data());
        ev.push_back(nullptr);
        if (p.root != "" && chdir(p.root.c_str()) < 0)
            return s.fail(Error::from_errno("chdir '%s'", p.root.c_str()));
        fflush(nullptr);
        execvpe(av[0], av.data(), ev.data());
        int err = errno;
        s.fail(argv[0] + ": " + strerror(err));
        return err == ENOENT ? 127 : 126;
    }

    // N copies: a job of no regular process, and N one-off (committed) processes.
    auto engine = Engine::create(p, "gaffer-run", 0);
    if (!engine)
        return s.fail(engine.error());
    loop::Loop& loop = *(*engine)->loop;
    events::EventBus& bus = (*engine)->bus;
    manager::Manager& manager = (*engine)->manager;
    std::string base = argv[0].substr(argv[0].rfind('/') + 1);
    std::string name;
    for (char c : base) name += (isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
    json::JsonPtr cfg = json::take(json_object());
    json::set(cfg.get(), "name", json::str(name.empty() ? "run" : name));
    json::set(cfg.get(), "cmd", json::str(model::shell_quote(argv[0])));
    json::set(cfg.get(), "args", json::strings(std::vector<std::string>(argv.begin() + 1, argv.end())));
    json::set(cfg.get(), "numprocesses", json::take(json_integer(0)));
    json::set(cfg.get(), "cwd", json::str(p.root));
    json::set(cfg.get(), "redirect_output", json::strings({"out", "err"}));
    json::JsonPtr jenv = json::take(json_object());
    for (const auto& [k, v] : env) json::set(jenv.get(), k.c_str(), json::str(v));
    json::set(cfg.get(), "env", std::move(jenv));
    auto spec = config::job_from_json(cfg.get(), p.app, config::JobJsonMode::kLoad);
    if (!spec)
        return s.fail(spec.error().context);
    model::JobName jn = spec->name;
    console::AppConsoleStyle style;
    style.colour = isatty(STDOUT_FILENO) == 1 && !getenv("NO_COLOR");
    console::AppConsole out(loop, bus, manager, style, fileno(s.out), {jn.job},
                            {jn.job + "." + std::to_string(copies)});
    if (auto st = manager.load(std::move(*spec)); !st)
        return s.fail(st.error());
    int left = copies, worst = 0;
    auto sub = bus.subscribe(".", [&](const std::string& type, const json_t* msg) {
        if (type != "exit")
            return;
        int status = static_cast<int>(json_integer_value(json_object_get(msg, "exit_status")));
        int sig = static_cast<int>(json_integer_value(json_object_get(msg, "term_signal")));
        worst = std::max(worst, sig ? 128 + sig : status);
        if (--left == 0)
            manager.shutdown([&loop] { loop.stop(); });
    });
    auto signals =
        loop::SignalSource::create(loop, {SIGINT, SIGTERM, SIGHUP, SIGQUIT}, [&](const struct signalfd_siginfo&) {
            if (manager.shutting_down())
                manager.kill_all_now();
            else
                manager.shutdown([&loop] { loop.stop(); });
        });
    if (!signals)
        return s.fail(signals.error());
    for (int i = 0; i < copies; ++i)
        if (auto pid = manager.commit(jn, std::nullopt, {}); !pid)
            return s.fail(pid.error());
    auto r = loop.run();
    bus.unsubscribe(sub);
    if (!r)
        return s.fail(r.error());
    return worst;
}

std::span<const Command> local_commands() {
    return kLocal;
}

}  // namespace gaffer::cli
