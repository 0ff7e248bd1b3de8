// SPDX-License-Identifier: MIT
// gaffer_lookupd: wiring only (reference §13). Parses the command line, creates the loop,
// the registry (lib/lookup) and the HTTP server serving the lookupd site (lib/lookupd),
// handles signals (TERM/INT/QUIT: stop, exit 0; HUP: ignored) and runs the loop.
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/process.h"
#include "daemon/service.h"
#include "gaffer_config.h"
#include "lib/base/log.h"
#include "lib/base/strutil.h"
#include "lib/etcd/codec.h"
#include "lib/etcd/mirror.h"
#include "lib/http/server.h"
#include "lib/lookup/registry.h"
#include "lib/lookupd/site.h"
#include "lib/loop/loop.h"
#include "lib/loop/signals.h"

namespace gaffer::daemon {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr const char* kProg = "gaffer_lookupd";
constexpr const char* kDefaultBind = "127.0.0.1:5010";
// --heartbeat bounds: below 10 ms the expiry timer would only burn the CPU.
constexpr double kMinHeartbeat = 0.01;
constexpr double kMaxHeartbeat = 86400;

struct Args : ProcessOptions {
    std::vector<std::string> binds;
    std::vector<std::string> cors_origins;
    std::vector<std::string> etcd;
    std::chrono::milliseconds heartbeat{15000};
    bool require_key = false;
    std::string certfile, keyfile, cacert;
    std::optional<int> backlog;
    int verbosity = 0;
    lookup::RegistryLimits limits;
};

void usage(FILE* out) {
    fprintf(out,
            "Usage: gaffer_lookupd [OPTIONS]\n"
            "\n"
            "Registry of gafferd nodes: nodes register over a websocket (/ws), clients query\n"
            "the nodes, sessions and jobs (/nodes, /sessions, /jobs, /findJob, /findSession)\n"
            "and follow the changes (SockJS /lookup, raw /lookup/websocket).\n"
            "\n"
            "Options:\n"
            "      --bind=ADDRESS       endpoint: host:port, [v6]:port, host, unix:/path\n"
            "                           (repeatable; default 127.0.0.1:5010; a non-loopback\n"
            "                           address needs --require-key)\n"
            "      --backlog=N          listen backlog (default 128)\n"
            "      --heartbeat=SECONDS  the nodes' PING period (default 15, decimals allowed);\n"
            "                           a node silent for 3 periods is dropped\n"
            "      --require-key        require API keys on TCP endpoints; registering on /ws\n"
            "                           needs a key with a `register` right\n"
            "      --state-dir=DIR      where keys and users are kept (default\n"
            "                           /var/lib/gaffer-lookupd as root, else\n"
            "                           $XDG_STATE_HOME/gaffer-lookupd or\n"
            "                           ~/.local/state/gaffer-lookupd)\n"
            "      --cors-origins=LIST  allow browser requests from these origins\n"
            "                           (comma-separated; repeatable)\n"
            "      --certfile=FILE      TLS certificate for TCP endpoints\n"
            "      --keyfile=FILE       TLS private key for TCP endpoints\n"
            "      --cacert=FILE        refused: client certificates are not verified; use\n"
            "                           --require-key\n"
            "      --max-nodes=N        node connections at most (default 256)\n"
            "      --max-jobs-per-node=N  jobs one node may register (default 1024)\n"
            "      --etcd=URL[,URL...]  mirror an etcd registry (--registry=etcd:// of gafferd)\n"
            "      --daemon             detach and run in the background\n"
            "      --pidfile=FILE       write the daemon's pid to FILE\n"
            "      --error-log=FILE     log to FILE ('-' = stderr)\n"
            "      --log-level=LEVEL    critical, error, warning, info or debug (default info)\n"
            "  -v                       log at debug level\n"
            "      --create-admin-user  create an admin user and key in the state directory,\n"
            "                           print the key, exit\n"
            "      --username=USER      with --create-admin-user\n"
            "      --password=PASSWORD  with --create-admin-user\n"
            "      --list-admins        print the admin users, exit\n"
            "      --version            print the version\n"
            "  -h, --help               print this help\n"
            "\n"
            "Signals: TERM, INT, QUIT stop and exit 0; HUP is ignored.\n");
}

// "0.5" → 500 ms; nullopt unless a finite number in [kMinHeartbeat, kMaxHeartbeat].
std::optional<std::chrono::milliseconds> parse_seconds(const char* text) {
    errno = 0;
    char* end = nullptr;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !std::isfinite(v) || v < kMinHeartbeat || v > kMaxHeartbeat)
        return std::nullopt;
    return std::chrono::milliseconds(static_cast<int64_t>(std::llround(v * 1000)));
}

std::optional<size_t> parse_count(const char* text) {
    auto n = parse_int(text);
    if (!n || *n <= 0 || *n > 1000000)
        return std::nullopt;
    return static_cast<size_t>(*n);
}

void split_list(const char* text, std::vector<std::string>& out) {
    for (const auto& part : split_any(text, ",")) {
        std::string_view t = trim(part);
        if (!t.empty())
            out.emplace_back(t);
    }
}

int parse_args(int argc, char** argv, Args& a) {
    enum {
        kBind = 256,
        kBacklog,
        kHeartbeat,
        kRequireKey,
        kCors,
        kCert,
        kKey,
        kCacert,
        kMaxNodes,
        kMaxJobs,
        kEtcd,
        kVersion,
    };
    static const std::vector<struct option> opts = option_table({
        {"bind", required_argument, nullptr, kBind},
        {"backlog", required_argument, nullptr, kBacklog},
        {"heartbeat", required_argument, nullptr, kHeartbeat},
        {"require-key", no_argument, nullptr, kRequireKey},
        {"cors-origins", required_argument, nullptr, kCors},
        {"cors-origin", required_argument, nullptr, kCors},  // gafferd's spelling
        {"certfile", required_argument, nullptr, kCert},
        {"keyfile", required_argument, nullptr, kKey},
        {"cacert", required_argument, nullptr, kCacert},
        {"max-nodes", required_argument, nullptr, kMaxNodes},
        {"max-jobs-per-node", required_argument, nullptr, kMaxJobs},
        {"etcd", required_argument, nullptr, kEtcd},
        {"version", no_argument, nullptr, kVersion},
        {"help", no_argument, nullptr, 'h'},
    });
    int c;
    while ((c = getopt_long(argc, argv, "vh", opts.data(), nullptr)) != -1) {
        switch (c) {
            case 'v':
                ++a.verbosity;
                break;
            case 'h':
                usage(stdout);
                return kExitOk;
            case kBind:
                a.binds.push_back(optarg);
                break;
            case kBacklog: {
                auto n = parse_int(optarg);
                if (!n || *n <= 0 || *n > 65535) {
                    fprintf(stderr, "%s: --backlog: '%s' is not a positive integer\n", kProg, optarg);
                    return kExitUsage;
                }
                a.backlog = static_cast<int>(*n);
                break;
            }
            case kHeartbeat: {
                auto hb = parse_seconds(optarg);
                if (!hb) {
                    fprintf(stderr, "%s: --heartbeat: '%s' is not a number of seconds between %g and %g\n", kProg,
                            optarg, kMinHeartbeat, kMaxHeartbeat);
                    return kExitUsage;
                }
                a.heartbeat = *hb;
                break;
            }
            case kRequireKey:
                a.require_key = true;
                break;
            case kCors:
                split_list(optarg, a.cors_origins);
                break;
            case kCert:
                a.certfile = optarg;
                break;
            case kKey:
                a.keyfile = optarg;
                break;
            case kCacert:
                a.cacert = optarg;
                break;
            case kMaxNodes:
            case kMaxJobs: {
                auto n = parse_count(optarg);
                if (!n) {
                    fprintf(stderr, "%s: --%s: '%s' is not an integer between 1 and 1000000\n", kProg,
                            c == kMaxNodes ? "max-nodes" : "max-jobs-per-node", optarg);
                    return kExitUsage;
                }
                (c == kMaxNodes ? a.limits.max_nodes : a.limits.max_jobs_per_node) = *n;
                break;
            }
            case kEtcd:
                split_list(optarg, a.etcd);
                if (a.etcd.empty()) {
                    fprintf(stderr, "%s: --etcd: no URL given\n", kProg);
                    return kExitUsage;
                }
                break;
            case kVersion:
                printf("gaffer_lookupd %s\n", GAFFER_VERSION);
                return kExitOk;
            default:
                if (apply_process_option(c, optarg, a))
                    break;
                usage(stderr);
                return kExitUsage;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", kProg, argv[optind]);
        return kExitUsage;
    }
    return -1;  // go on
}

bool exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

// The TLS rules of reference §13.1 (its messages), checked before anything starts.
std::optional<std::string> tls_error(const Args& a) {
    if (!a.cacert.empty())
        return "--cacert: gaffer_lookupd does not verify client certificates; use --require-key and API keys";
    if (a.certfile.empty() && !a.keyfile.empty())
        return "missing key \"certfile\" in ssl_options";
    if (!a.certfile.empty() && !exists(a.certfile))
        return "certfile \"" + a.certfile + "\" does not exist";
    if (!a.keyfile.empty() && !exists(a.keyfile))
        return "keyfile \"" + a.keyfile + "\" does not exist";
    if (!a.certfile.empty() && a.keyfile.empty())
        return "missing key \"keyfile\" in ssl_options";
    return std::nullopt;
}

int run(int argc, char** argv) {
    Args args;
    if (int rc = parse_args(argc, argv, args); rc >= 0)
        return rc;

    std::string level_text = !args.log_level.empty() ? args.log_level : (args.verbosity > 0 ? "debug" : "");
    if (!level_text.empty()) {
        log::Level lv;
        if (!log::parse_level(level_text, &lv)) {
            fprintf(stderr, "%s: unknown log level '%s'\n", kProg, level_text.c_str());
            return kExitUsage;
        }
        log::set_level(lv);
    }
    if (auto e = tls_error(args)) {
        fprintf(stderr, "%s: %s\n", kProg, e->c_str());
        return kExitUsage;
    }
    for (const std::string& url : args.etcd) {
        if (auto e = etcd::parse_endpoints(url); !e) {
            fprintf(stderr, "%s: --etcd: %s\n", kProg, e.error().message().c_str());
            return kExitUsage;
        }
    }
    std::string state_dir = !args.state_dir.empty() ? args.state_dir : default_state_dir("gaffer-lookupd");
    if (args.create_admin || args.list_admins)
        return admin_command(kProg, state_dir, args.list_admins, args.username, args.password);
    if (!args.error_log.empty()) {
        if (auto r = log::set_file(args.error_log); !r) {
            fprintf(stderr, "%s: %s\n", kProg, r.error().message().c_str());
            return kExitFailure;
        }
    }

    // The key store: with --require-key (keys are needed) or an explicit --state-dir.
    bool with_store = args.require_key || !args.state_dir.empty();
    if (with_store) {
        if (auto r = mkdir_parents(state_dir, 0700); !r) {
            fprintf(stderr, "%s: %s\n", kProg, r.error().message().c_str());
            return kExitFailure;
        }
    }

    Daemonizer daemonizer;
    if (args.daemonize) {
        if (auto r = daemonizer.detach(); !r)
            return (void)log_error(r.error(), "cannot daemonize"), kExitFailure;
    }
    PidFile pidfile;
    if (!args.pidfile.empty()) {
        if (auto r = pidfile.create(args.pidfile); !r) {
            fprintf(stderr, "%s: %s\n", kProg, r.error().context.c_str());
            return kExitFailure;
        }
    }

    auto loop_r = loop::Loop::create();
    if (!loop_r)
        return (void)log_error(loop_r.error(), "cannot create the event loop"), kExitFailure;
    auto& loop = **loop_r;
    ServiceNotifier notifier(loop);

    bool stopping = false;
    auto signals = loop::SignalSource::create(loop, {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGPIPE},
                                              [&](const struct signalfd_siginfo& si) {
                                                  int sig = static_cast<int>(si.ssi_signo);
                                                  if (sig == SIGHUP) {
                                                      log_info("SIGHUP ignored");
                                                      return;
                                                  }
                                                  if (sig == SIGPIPE || stopping)
                                                      return;
                                                  stopping = true;
                                                  log_info("%s: stopping", strsignal(sig));
                                                  notifier.stopping("stopping");
                                                  loop.stop();
                                              });
    if (!signals)
        return (void)log_error(signals.error(), "cannot set up signals"), kExitFailure;

    args.limits.heartbeat = args.heartbeat;
    lookup::Registry registry(args.limits);

    http::ServerOptions hopts;
    hopts.binds = args.binds.empty() ? std::vector<std::string>{kDefaultBind} : args.binds;
    if (args.backlog)
        hopts.backlog = *args.backlog;
    hopts.certfile = args.certfile;
    hopts.keyfile = args.keyfile;
    hopts.cors_origins = args.cors_origins;
    hopts.require_key = args.require_key;
    if (with_store)
        hopts.state_dir = state_dir;
    for (auto& [fd, name] : take_listen_fds()) hopts.inherited_fds.push_back(fd);
    auto server = http::Server::create(loop, std::move(hopts), lookupd::site_factory(registry));
    if (!server) {
        log_error(server.error(), "cannot start the HTTP server");
        return kExitFailure;
    }
    // After the server, so that it goes first: its last events still reach the feed.
    std::unique_ptr<etcd::EtcdMirror> mirror;
    if (!args.etcd.empty()) {
        auto m = etcd::EtcdMirror::create(loop, registry, args.etcd, args.heartbeat);
        if (!m) {
            log_error(m.error(), "--etcd");
            return kExitFailure;
        }
        mirror = std::move(m).value();
    }
    std::string where;
    for (const auto& e : (*server)->endpoints()) where += (where.empty() ? "" : ", ") + e;
    log_info("gaffer_lookupd %s listening on %s (heartbeat %lld ms)", GAFFER_VERSION, where.c_str(),
             static_cast<long long>(args.heartbeat.count()));
    notifier.ready("listening on " + where);
    daemonizer.started();

    auto r = loop.run();
    int exit_code = kExitOk;
    if (!r) {
        log_error(r.error(), "event loop failed");
        exit_code = kExitFailure;
    }
    log_info("gaffer_lookupd stopped");
    return exit_code;
}

}  // namespace
}  // namespace gaffer::daemon

int main(int argc, char** argv) {
    return gaffer::daemon::run(argc, argv);
}
