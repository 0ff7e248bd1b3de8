// SPDX-License-Identifier: MIT
// gafferd: wiring only. Parses the command line (reference §10.1/§10.2), reads the INI
// config, creates the loop, the event bus, the manager and the HTTP server, handles
// signals (TERM/INT/QUIT: graceful shutdown, exit 0; HUP: apply the config
// difference) and runs the loop until the last process is gone.
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/init.h"
#include "daemon/process.h"
#include "daemon/service.h"
#include "gaffer_config.h"
#include "lib/announce/announcer.h"
#include "lib/auth/store.h"
#include "lib/base/log.h"
#include "lib/base/strutil.h"
#include "lib/base/unique_fd.h"
#include "lib/cgroup/cgroup.h"
#include "lib/config/ini.h"
#include "lib/console/event_console.h"
#include "lib/dbus/connection.h"
#include "lib/dbus/service.h"
#include "lib/etcd/codec.h"
#include "lib/etcd/registrar.h"
#include "lib/events/event_bus.h"
#include "lib/http/server.h"
#include "lib/loop/loop.h"
#include "lib/loop/signals.h"
#include "lib/manager/config_sync.h"
#include "lib/manager/exec_plan.h"
#include "lib/manager/manager.h"
#include "lib/ops/policy.h"
#include "lib/webhook/dispatcher.h"

extern char** environ;

namespace gaffer::daemon {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
// A critical job gave up: 128+n if its last process died of signal n, else its exit
// status, else this.
constexpr int kExitCriticalJob = 3;

struct Args : ProcessOptions {
    std::string config;  // file or directory; empty = discover
    std::vector<std::string> binds;
    std::vector<std::string> cors_origins;
    std::vector<std::string> allowed_hosts;
    int verbosity = 0;
    std::optional<int> backlog;
    std::string certfile, keyfile;
    bool require_key = false;
    std::string plugin_dir;
    bool init = false;
    bool subreaper = false;
    std::string dbus_address;  // --dbus-address; empty: [gaffer] dbus_address, else the default
    bool no_dbus = false;
    // Registration with gaffer_lookupd (lib/announce) and in etcd (lib/etcd).
    std::vector<std::string> lookupd_addresses;
    std::string broadcast_address, lookupd_key, node_name, registry;
    std::optional<double> lookupd_heartbeat;
    std::string cacert, client_certfile, client_keyfile;
    std::string env_lookupd_key;  // $GAFFER_LOOKUPD_KEY, taken out of the environment
};

void usage(FILE* out) {
    fprintf(out,
            "Usage: gafferd [OPTIONS] [CONFIG]\n"
            "\n"
            "Control, watch and launch applications and jobs over HTTP.\n"
            "CONFIG is a gafferd.ini file, or a directory holding gafferd.ini.\n"
            "\n"
            "Options:\n"
            "  -c, --config=PATH        configuration file or directory\n"
            "      --bind=ADDRESS       HTTP endpoint: host:port, [v6]:port, host, unix:/path\n"
            "                           (repeatable; replaces the defaults: the unix socket\n"
            "                           /run/gaffer/gafferd.sock as root, else\n"
            "                           $XDG_RUNTIME_DIR/gaffer/gafferd.sock, and 127.0.0.1:5000)\n"
            "      --backlog=N          listen backlog (default 128)\n"
            "      --certfile=FILE      TLS certificate for TCP endpoints\n"
            "      --keyfile=FILE       TLS private key for TCP endpoints\n"
            "      --require-key        require API keys on TCP endpoints\n"
            "      --cors-origin=ORIGIN allow browser requests from ORIGIN (repeatable)\n"
            "      --allowed-host=NAME  a further name the Host header may give for the TCP\n"
            "                           endpoints (repeatable; their addresses, and localhost\n"
            "                           on loopback, are always accepted)\n"
            "      --state-dir=DIR      where keys and users are kept\n"
            "      --dbus-address=BUS   D-Bus control (org.gaffer1): system, user or an address\n"
            "                           (default: the system bus as root when it exists, else the\n"
            "                           user bus when DBUS_SESSION_BUS_ADDRESS is set, else none)\n"
            "      --no-dbus            no D-Bus interface\n"
            "      --lookupd-address=URL  register with the gaffer_lookupd at URL (http:// or\n"
            "                           https://host:port[/prefix]; repeatable; replaces the\n"
            "                           config's lookupd_address* options)\n"
            "      --registry=etcd://HOST:PORT[,HOST:PORT...]\n"
            "                           register this node, its jobs and pids in etcd (one\n"
            "                           lease of 3 heartbeats, kept alive every heartbeat)\n"
            "      --broadcast-address=URL  the URL this node is reached at, announced to the\n"
            "                           lookupds and etcd (default http[s]://<fqdn>:<first TCP port>)\n"
            "      --node-name=NAME     the name this node registers under (default: FQDN)\n"
            "      --lookupd-key=KEY    API key sent to the lookupds (else $GAFFER_LOOKUPD_KEY)\n"
            "      --lookupd-heartbeat=SECONDS\n"
            "                           registration heartbeat: PING period on lookupd links,\n"
            "                           etcd lease period / 3 (default 15; decimals allowed)\n"
            "      --cacert=FILE        CA certificates for https lookupds\n"
            "      --client-certfile=FILE, --client-keyfile=FILE\n"
            "                           client certificate and key for https lookupds\n"
            "  -p, --plugin-dir=DIR     plugin directory\n"
            "      --daemon             detach and run in the background\n"
            "      --pidfile=FILE       write the daemon's pid to FILE\n"
            "      --error-log=FILE     log to FILE ('-' = stderr)\n"
            "      --log-level=LEVEL    critical, error, warning, info or debug (default info)\n"
            "  -v, -vv                  print process events (-v), all events and output (-vv)\n"
            "      --init               act as init: reap orphans, forward SIGUSR1/SIGUSR2\n"
            "                           (automatic when running as PID 1)\n"
            "      --subreaper          become a child subreaper and reap orphans\n"
            "      --create-admin-user  create an admin user and key, print the key, exit\n"
            "      --username=USER      with --create-admin-user\n"
            "      --password=PASSWORD  with --create-admin-user\n"
            "      --list-admins        print the admin users, exit\n"
            "      --version            print the version, loop backend and cgroup mode\n"
            "  -h, --help               print this help\n"
            "\n"
            "Environment: GAFFERD_CONFIG (config when none is given), GAFFER_LOOP=io_uring|epoll,\n"
            "GAFFER_LOOKUPD_KEY (the key for the lookupds when no --lookupd-key or lookupd_key).\n"
            "Signals: TERM, INT, QUIT stop every job gracefully and exit 0; HUP re-reads the\n"
            "config and applies only what changed.\n");
}

// The D-Bus address to serve on: --dbus-address, else [gaffer] dbus_address, else the
// system bus as root when it exists, else the user bus when DBUS_SESSION_BUS_ADDRESS is
// set; nullopt for none (--no-dbus, or nothing found: said once).
Result<std::optional<std::string>> dbus_address_of(const Args& args, const config::DaemonConfig& cfg) {
    if (args.no_dbus)
        return std::optional<std::string>();
    std::string spec = !args.dbus_address.empty() ? args.dbus_address : cfg.dbus_address;
    bool chosen = !spec.empty();
    if (!chosen) {
        const char* sys = getenv("DBUS_SYSTEM_BUS_ADDRESS");
        const char* user = getenv("DBUS_SESSION_BUS_ADDRESS");
        if (geteuid() == 0 && ((sys && *sys) || access("/run/dbus/system_bus_socket", F_OK) == 0))
            spec = "system";
        else if (user && *user)
            spec = "user";
    }
    if (spec.empty()) {
        log_info("D-Bus: no bus to serve on (no system bus, DBUS_SESSION_BUS_ADDRESS unset): off");
        return std::optional<std::string>();
    }
    auto address = dbus::resolve_address(spec);
    if (!address) {
        if (chosen)
            return fail(address.error());
        log_warning("D-Bus: %s: off", address.error().context.c_str());
        return std::optional<std::string>();
    }
    return std::optional<std::string>(*address);
}

// This host's fully qualified name (getaddrinfo's canonical name of gethostname()), else
// the plain host name. Called once at start-up, before the loop runs: it may wait on NSS.
std::string fqdn() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0)
        return "localhost";
    struct addrinfo hints = {};
    hints.ai_flags = AI_CANONNAME;
    struct addrinfo* res = nullptr;
    std::string name = host;
    if (getaddrinfo(host, nullptr, &hints, &res) == 0) {
        if (res && res->ai_canonname && *res->ai_canonname)
            name = res->ai_canonname;
        freeaddrinfo(res);
    }
    return name;
}

// The etcd registration (--registry / [gaffer] registry): nullptr when not asked for.
// It announces the identity the lookupd links announce (announce_options(): the name is
// --node-name / node_name, else the FQDN; the origin the broadcast address, else
// <scheme>://<FQDN>:<first TCP port>).
Result<std::unique_ptr<etcd::Registrar>> start_registry(const Args& args, const config::DaemonConfig& cfg,
                                                        loop::Loop& loop, events::EventBus& bus,
                                                        const manager::Manager& manager,
                                                        const announce::Identity& identity) {
    std::string spec = !args.registry.empty() ? args.registry : cfg.registry;
    if (spec.empty())
        return std::unique_ptr<etcd::Registrar>();
    etcd::RegistrarOptions ropts;
    GAFFER_TRY(ropts.endpoints, etcd::parse_endpoints(spec));
    ropts.info = {identity.name, identity.origin, etcd::kProtocolVersion};
    double heartbeat = args.lookupd_heartbeat.value_or(cfg.lookupd_heartbeat.value_or(15.0));
    ropts.heartbeat = std::chrono::milliseconds(static_cast<long long>(heartbeat * 1000));
    return etcd::Registrar::create(loop, bus, manager, std::move(ropts));
}

int parse_args(int argc, char** argv, Args& a) {
    enum {
        kBind = 256,
        kBacklog,
        kCert,
        kKey,
        kRequireKey,
        kCors,
        kVersion,
        kInit,
        kSubreaper,
        kAllowedHost,
        kDbusAddress,
        kNoDbus,
        kLookupdAddress,
        kBroadcastAddress,
        kLookupdKey,
        kCacert,
        kClientCert,
        kClientKey,
        kRegistry,
        kNodeName,
        kLookupdHeartbeat,
    };
    static const std::vector<struct option> opts = option_table({
        {"config", required_argument, nullptr, 'c'},
        {"plugin-dir", required_argument, nullptr, 'p'},
        {"bind", required_argument, nullptr, kBind},
        {"backlog", required_argument, nullptr, kBacklog},
        {"certfile", required_argument, nullptr, kCert},
        {"keyfile", required_argument, nullptr, kKey},
        {"require-key", no_argument, nullptr, kRequireKey},
        {"cors-origin", required_argument, nullptr, kCors},
        {"allowed-host", required_argument, nullptr, kAllowedHost},
        {"dbus-address", required_argument, nullptr, kDbusAddress},
        {"no-dbus", no_argument, nullptr, kNoDbus},
        {"registry", required_argument, nullptr, kRegistry},
        {"node-name", required_argument, nullptr, kNodeName},
        {"lookupd-heartbeat", required_argument, nullptr, kLookupdHeartbeat},
        {"version", no_argument, nullptr, kVersion},
        {"init", no_argument, nullptr, kInit},
        {"subreaper", no_argument, nullptr, kSubreaper},
        {"lookupd-address", required_argument, nullptr, kLookupdAddress},
        {"broadcast-address", required_argument, nullptr, kBroadcastAddress},
        {"lookupd-key", required_argument, nullptr, kLookupdKey},
        {"cacert", required_argument, nullptr, kCacert},
        {"client-certfile", required_argument, nullptr, kClientCert},
        {"client-keyfile", required_argument, nullptr, kClientKey},
        {"help", no_argument, nullptr, 'h'},
    });
    int c;
    while ((c = getopt_long(argc, argv, "c:p:vh", opts.data(), nullptr)) != -1) {
        switch (c) {
            case 'c':
                a.config = optarg;
                break;
            case 'p':
                a.plugin_dir = optarg;
                break;
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
                    fprintf(stderr, "gafferd: --backlog: '%s' is not a positive integer\n", optarg);
                    return kExitUsage;
                }
                a.backlog = static_cast<int>(*n);
                break;
            }
            case kCert:
                a.certfile = optarg;
                break;
            case kKey:
                a.keyfile = optarg;
                break;
            case kRequireKey:
                a.require_key = true;
                break;
            case kCors:
                a.cors_origins.push_back(optarg);
                break;
            case kAllowedHost:
                a.allowed_hosts.push_back(optarg);
                break;
            case kDbusAddress:
                a.dbus_address = optarg;
                break;
            case kNoDbus:
                a.no_dbus = true;
                break;
            case kRegistry:
                a.registry = optarg;
                break;
            case kNodeName:
                if (!etcd::valid_node_name(optarg)) {
                    fprintf(stderr, "gafferd: --node-name: '%s' is empty or holds a '/'\n", optarg);
                    return kExitUsage;
                }
                a.node_name = optarg;
                break;
            case kLookupdHeartbeat: {
                auto d = parse_double(optarg);
                if (!d || *d < 0.1 || *d > 3600) {
                    fprintf(stderr,
                            "gafferd: --lookupd-heartbeat: '%s' is not a number of seconds between 0.1 and 3600\n",
                            optarg);
                    return kExitUsage;
                }
                a.lookupd_heartbeat = *d;
                break;
            }
            case kInit:
                a.init = true;
                break;
            case kSubreaper:
                a.subreaper = true;
                break;
            case kLookupdAddress:
                a.lookupd_addresses.push_back(optarg);
                break;
            case kBroadcastAddress:
                a.broadcast_address = optarg;
                break;
            case kLookupdKey:
                a.lookupd_key = optarg;
                break;
            case kCacert:
                a.cacert = optarg;
                break;
            case kClientCert:
                a.client_certfile = optarg;
                break;
            case kClientKey:
                a.client_keyfile = optarg;
                break;
            case kVersion: {
                auto loop = loop::Loop::create();
                if (!loop) {
                    fprintf(stderr, "gafferd: %s\n", loop.error().message().c_str());
                    return kExitUsage;
                }
                printf("gafferd %s (loop: %s, cgroup: %s)\n", GAFFER_VERSION, (*loop)->backend_name(),
                       cgroup::to_string(cgroup::detect_mode()));
                return kExitOk;
            }
            default:
                if (apply_process_option(c, optarg, a))
                    break;
                usage(stderr);
                return kExitUsage;
        }
    }
    if (optind < argc) {
        if (!a.config.empty() || argc - optind > 1) {
            fprintf(stderr, "gafferd: only one configuration may be given\n");
            return kExitUsage;
        }
        a.config = argv[optind];
    }
    return -1;  // go on
}

bool is_dir(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// §10.1: --config, $GAFFERD_CONFIG, then the usual directories. Returns the INI file to
// read ("" = none: run without jobs) and the configuration directory.
std::pair<std::string, std::string> locate_config(const std::string& given) {
    std::vector<std::string> candidates;
    if (!given.empty()) {
        candidates.push_back(given);
    } else if (const char* env = getenv("GAFFERD_CONFIG"); env && *env) {
        candidates.push_back(env);
    } else if (geteuid() == 0) {
        candidates = {std::string(GAFFER_SYSCONFDIR) + "/gaffer", "/etc/gaffer"};
    } else {
        candidates = {home_dir() + "/.gaffer"};
    }
    for (const auto& c : candidates) {
        if (is_file(c)) {
            size_t slash = c.rfind('/');
            return {c, slash == std::string::npos ? "." : c.substr(0, slash)};
        }
        if (is_dir(c)) {
            // gaffer.ini was the name the maintainer once gave (§14.27); accept both.
            for (const char* name : {"gafferd.ini", "gaffer.ini"})
                if (is_file(c + "/" + name))
                    return {c + "/" + name, c};
            return {"", c};
        }
    }
    return {"", ""};
}

// Where the [webhooks] entry a Dispatcher refused is written ("file:line"), or the file.
std::string webhook_location(const config::DaemonConfig& cfg, const std::string& ini_path, size_t bad) {
    return bad < cfg.webhook_locations.size() ? cfg.webhook_locations[bad] : ini_path;
}

// [gaffer] max_jobs and max_config_bytes over the manager's defaults.
manager::Limits limits_of(const config::DaemonConfig& cfg) {
    manager::Limits limits;
    if (cfg.max_jobs)
        limits.max_jobs = static_cast<size_t>(*cfg.max_jobs);
    if (cfg.max_config_bytes)
        limits.max_config_bytes = static_cast<size_t>(*cfg.max_config_bytes);
    return limits;
}

std::string current_dir() {
    char buf[PATH_MAX];
    if (!getcwd(buf, sizeof buf))
        return "/";
    // §7.1: $PWD when it names the same directory (keeps symlinked paths readable).
    const char* pwd = getenv("PWD");
    struct stat a, b;
    if (pwd && stat(pwd, &a) == 0 && stat(buf, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return pwd;
    return buf;
}

// Raises the soft RLIMIT_NOFILE to the hard limit, as systemd does for itself: a
// supervisor holds descriptors for every process it runs and every client it serves.
// Returns the soft limit it started with, which the children get back (systemd resets
// it for services too: select() breaks with descriptors above 1024).
std::optional<uint64_t> raise_nofile_limit() {
    struct rlimit rl {};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return std::nullopt;
    const rlim_t original = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            log_warning("cannot raise the open-file limit from %llu to %llu: %s",
                        static_cast<unsigned long long>(original), static_cast<unsigned long long>(rl.rlim_max),
                        strerror(errno));
            return std::nullopt;
        }
        log_debug("open-file limit raised from %llu to %llu (children keep %llu)",
                  static_cast<unsigned long long>(original), static_cast<unsigned long long>(rl.rlim_max),
                  static_cast<unsigned long long>(original));
    }
    return original;
}

// The lookupd options (reference §10.1, §13.2): the command line over the config, the key
// also from $GAFFER_LOOKUPD_KEY. The default broadcast address is the scheme, the FQDN and
// the port of the first TCP endpoint.
Result<announce::Options> announce_options(const Args& args, const config::DaemonConfig& cfg,
                                           const std::vector<std::string>& endpoints, bool tls) {
    announce::Options o;
    o.addresses = !args.lookupd_addresses.empty() ? args.lookupd_addresses : cfg.lookupd_addresses;
    announce::LinkOptions& l = o.link;
    l.key = !args.lookupd_key.empty()  ? args.lookupd_key
            : !cfg.lookupd_key.empty() ? cfg.lookupd_key
                                       : args.env_lookupd_key;
    double heartbeat = args.lookupd_heartbeat.value_or(cfg.lookupd_heartbeat.value_or(15.0));
    l.heartbeat = std::chrono::milliseconds(static_cast<int64_t>(heartbeat * 1000));
    l.tls.cacert = !args.cacert.empty() ? args.cacert : cfg.lookup_cacert;
    l.tls.certfile = !args.client_certfile.empty() ? args.client_certfile : cfg.lookup_certfile;
    l.tls.keyfile = !args.client_keyfile.empty() ? args.client_keyfile : cfg.lookup_keyfile;
    std::string name = !args.node_name.empty() ? args.node_name : cfg.node_name;
    std::string origin = !args.broadcast_address.empty() ? args.broadcast_address : cfg.broadcast_address;
    if (!origin.empty())
        GAFFER_RETURN_IF_ERROR(announce::check_broadcast_address(origin));
    std::string host = name.empty() || origin.empty() ? fqdn() : name;
    if (origin.empty()) {
        origin = std::string(tls ? "https://" : "http://") + host;
        for (const auto& ep : endpoints) {
            if (starts_with(ep, "unix:"))
                continue;
            size_t colon = ep.rfind(':');
            if (colon != std::string::npos)
                origin += ep.substr(colon);
            break;
        }
    }
    l.identity = {name.empty() ? host : name, origin};
    return o;
}

// The host of a broadcast address ("http://node1:5000/x" -> "node1", "[::1]" kept whole).
std::string url_host(std::string_view url) {
    size_t sep = url.find("://");
    std::string_view rest = sep == std::string_view::npos ? url : url.substr(sep + 3);
    rest = rest.substr(0, rest.find('/'));
    if (starts_with(rest, "["))
        return std::string(rest.substr(0, rest.find(']') + 1));
    return std::string(rest.substr(0, rest.find(':')));
}

// Clients that follow the broadcast address (gafferctl fleet ps) send its host in the Host
// header; the TCP endpoints accept only their own address (localhost on loopback) and the
// allowed_hosts (security-defaults.md, DNS rebinding). Said once at start-up.
void warn_unreachable_broadcast(const announce::Options& o, const std::vector<std::string>& endpoints,
                                const std::vector<std::string>& allowed_hosts) {
    if (o.addresses.empty())
        return;
    std::string host = to_lower(url_host(o.link.identity.origin));
    for (const auto& h : allowed_hosts)
        if (to_lower(trim(h)) == host)
            return;
    for (const auto& ep : endpoints) {
        if (starts_with(ep, "unix:"))
            continue;
        std::string ep_host = url_host(ep);
        if (ep_host == host || (host == "localhost" && (starts_with(ep_host, "127.") || ep_host == "[::1]")))
            return;
    }
    log_warning(
        "broadcast address %s: the TCP endpoints refuse requests for host '%s' (421); add it to "
        "allowed_hosts (--allowed-host) for clients that follow the lookupds to this node",
        o.link.identity.origin.c_str(), host.c_str());
}

int run(int argc, char** argv) {
    Args args;
    // A secret: read once and removed, so that no job inherits it (os_env).
    if (const char* k = getenv("GAFFER_LOOKUPD_KEY")) {
        args.env_lookupd_key = k;
        (void)unsetenv("GAFFER_LOOKUPD_KEY");
    }
    int rc = parse_args(argc, argv, args);
    if (rc >= 0)
        return rc;

    auto [ini_path, config_dir] = locate_config(args.config);
    const char* env_config = getenv("GAFFERD_CONFIG");
    std::string asked = !args.config.empty() ? args.config : env_config && *env_config ? env_config : "";
    if (!asked.empty() && ini_path.empty() && config_dir.empty()) {
        fprintf(stderr, "gafferd: %s: no such configuration file or directory\n", asked.c_str());
        return kExitFailure;
    }
    config::DaemonConfig cfg;
    if (!ini_path.empty()) {
        auto r = config::load_ini_file(ini_path);
        if (!r) {
            fprintf(stderr, "gafferd: %s\n", r.error().context.c_str());
            return kExitFailure;
        }
        cfg = std::move(r).value();
    }

    // Command line wins over the file.
    std::string level_text = !args.log_level.empty() ? args.log_level : cfg.log_level;
    if (!level_text.empty()) {
        log::Level lv;
        if (!log::parse_level(level_text, &lv)) {
            fprintf(stderr, "gafferd: unknown log level '%s'\n", level_text.c_str());
            return kExitUsage;
        }
        log::set_level(lv);
    }
    std::string state_dir = !args.state_dir.empty()  ? args.state_dir
                            : !cfg.state_dir.empty() ? cfg.state_dir
                                                     : default_state_dir("gaffer");

    if (args.create_admin || args.list_admins)
        return admin_command("gafferd", state_dir, args.list_admins, args.username, args.password);

    std::string error_log = !args.error_log.empty() ? args.error_log : cfg.error_log;
    if (!error_log.empty()) {
        if (auto r = log::set_file(error_log); !r) {
            fprintf(stderr, "gafferd: %s\n", r.error().message().c_str());
            return kExitFailure;
        }
    }
    for (const auto& w : cfg.warnings) log_warning("%s", w.c_str());

    std::string cwd = current_dir();
    Daemonizer daemonizer;
    int child_umask = -1;
    if (args.daemonize || cfg.daemonize.value_or(false)) {
        if (auto r = daemonizer.detach(); !r)
            return (void)log_error(r.error(), "cannot daemonize"), kExitFailure;
        // §10.1: the daemon runs with umask 0; its jobs keep the caller's umask.
        child_umask = static_cast<int>(umask(0));
    }
    PidFile pidfile;
    std::string pidpath = !args.pidfile.empty() ? args.pidfile : cfg.pidfile;
    if (!pidpath.empty()) {
        if (auto r = pidfile.create(pidpath); !r) {
            fprintf(stderr, "gafferd: %s\n", r.error().context.c_str());
            return kExitFailure;
        }
    }

    std::optional<uint64_t> child_nofile = raise_nofile_limit();

    auto loop_r = loop::Loop::create();
    if (!loop_r)
        return (void)log_error(loop_r.error(), "cannot create the event loop"), kExitFailure;
    auto& loop = **loop_r;
    events::EventBus bus(loop);

    manager::Options mopts;
    mopts.default_cwd = cwd;
    mopts.daemon_env = manager::job_visible_environment(environ);
    mopts.child_umask = child_umask;
    mopts.limits = limits_of(cfg);
    mopts.child_nofile_soft = child_nofile;
    mopts.fd_reserve = http::kApiFdReserve;
    manager::Manager manager(loop, bus, mopts);

    webhook::Options wopts;
    wopts.secret = cfg.webhook_secret;
    auto wh = webhook::Dispatcher::create(loop, bus, std::move(wopts));
    if (!wh)
        return (void)log_error(wh.error(), "cannot start webhooks"), kExitFailure;
    std::unique_ptr<webhook::Dispatcher> webhooks = std::move(wh).value();
    size_t bad_hook = SIZE_MAX;
    if (auto st = webhooks->set_hooks(cfg.webhooks, &bad_hook); !st) {
        fprintf(stderr, "gafferd: %s: [webhooks]: %s\n", webhook_location(cfg, ini_path, bad_hook).c_str(),
                st.error().message().c_str());
        return kExitFailure;
    }

    ServiceNotifier notifier(loop);
    bool pid1 = getpid() == 1;
    std::unique_ptr<InitDuties> init;
    if (pid1 || args.init || args.subreaper)
        init = std::make_unique<InitDuties>(manager, pid1);

    // Signals are blocked and queued on the signalfd from here on, before any job or
    // endpoint exists; they are read only once the loop runs, when `dispatch_signal` is
    // set, so a TERM or HUP during start-up is handled, never fatal.
    std::function<void(const struct signalfd_siginfo&)> dispatch_signal;
    auto forward_signal = [&](const struct signalfd_siginfo& si) {
        if (dispatch_signal)
            dispatch_signal(si);
    };
    auto signals =
        init ? loop::SignalSource::create(loop, {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2},
                                          forward_signal)
             : loop::SignalSource::create(loop, {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGPIPE, SIGUSR1, SIGUSR2},
                                          forward_signal);
    if (!signals)
        return (void)log_error(signals.error(), "cannot set up signals"), kExitFailure;

    std::unique_ptr<console::EventConsole> console;
    if (args.verbosity > 0)
        console = std::make_unique<console::EventConsole>(loop, bus, manager, args.verbosity);

    http::ServerOptions hopts;
    hopts.binds = args.binds;
    if (hopts.binds.empty()) {
        hopts.binds = cfg.binds;
        for (const auto& ep : cfg.endpoints) hopts.binds.insert(hopts.binds.end(), ep.binds.begin(), ep.binds.end());
    }
    hopts.backlog = args.backlog.value_or(cfg.backlog.value_or(128));
    if (cfg.max_connections_per_client)
        hopts.max_connections_per_client = static_cast<unsigned>(*cfg.max_connections_per_client);
    hopts.certfile = !args.certfile.empty() ? args.certfile : cfg.certfile;
    hopts.keyfile = !args.keyfile.empty() ? args.keyfile : cfg.keyfile;
    for (const auto& ep : cfg.endpoints) {
        if (hopts.certfile.empty() && !ep.certfile.empty())
            hopts.certfile = ep.certfile;
        if (hopts.keyfile.empty() && !ep.keyfile.empty())
            hopts.keyfile = ep.keyfile;
    }
    hopts.cors_origins = args.cors_origins.empty() ? cfg.cors_origins : args.cors_origins;
    hopts.allowed_hosts = args.allowed_hosts.empty() ? cfg.allowed_hosts : args.allowed_hosts;
    hopts.require_key = args.require_key || cfg.require_key.value_or(false);
    hopts.state_dir = state_dir;
    hopts.log_root = cfg.log_root;
    for (auto& [fd, name] : take_listen_fds()) hopts.inherited_fds.push_back(fd);
    auto server = http::Server::create(loop, manager, bus, hopts);
    if (!server) {
        log_error(server.error(), "cannot start the HTTP server");
        return kExitFailure;
    }

    // Before the jobs: the links register the manager's state whenever they come up.
    auto aopts = announce_options(args, cfg, (*server)->endpoints(), !hopts.certfile.empty());
    if (!aopts) {
        fprintf(stderr, "gafferd: %s\n", aopts.error().context.c_str());
        return kExitUsage;
    }
    warn_unreachable_broadcast(*aopts, (*server)->endpoints(), hopts.allowed_hosts);
    // The etcd registration announces the same identity.
    auto registry = start_registry(args, cfg, loop, bus, manager, aopts->link.identity);
    if (!registry) {
        fprintf(stderr, "gafferd: registry: %s\n", registry.error().message().c_str());
        return kExitUsage;
    }
    std::unique_ptr<etcd::Registrar> registrar = std::move(registry).value();
    auto announcer_r = announce::Announcer::create(loop, bus, manager, std::move(aopts).value());
    if (!announcer_r) {
        fprintf(stderr, "gafferd: lookupd: %s\n", announcer_r.error().message().c_str());
        return kExitFailure;
    }
    std::unique_ptr<announce::Announcer> announcer = std::move(announcer_r).value();

    manager::ConfigSync sync(manager);
    auto report = sync.apply(cfg.jobs);
    if (!report) {
        fprintf(stderr, "gafferd: %s: %s\n", ini_path.c_str(), report.error().context.c_str());
        return kExitFailure;
    }
    for (const auto& e : report->errors) log_warning("%s", e.c_str());
    log_info("gafferd %s started (loop %s, cgroup %s): %d job(s), listening on %s", GAFFER_VERSION, loop.backend_name(),
             manager.cgroup_mode(), report->loaded, join((*server)->endpoints(), ", ").c_str());

    auto summary = [&] {
        return std::to_string(manager.jobs().size()) + " jobs, " + std::to_string(manager.all_pids().size()) +
               " processes";
    };
    notifier.ready(summary());
    daemonizer.started();

    int exit_code = kExitOk;
    bool stopping = false;
    std::function<void(int)> shutdown;
    manager.set_give_up_handler([&](const model::JobSpec& spec, int status, int sig) {
        if (!spec.critical || stopping)
            return;
        int code = sig ? 128 + sig : status ? status : kExitCriticalJob;
        log_critical("critical job %s gave up (last exit: status %d, signal %d): stopping everything, exit %d",
                     spec.name.qualified().c_str(), status, sig, code);
        // Not from inside the manager's own exit handling: on the next turn.
        loop.post([&, code] {
            exit_code = code;
            shutdown(SIGTERM);
        });
    });
    shutdown = [&](int sig) {
        if (stopping) {
            // A second signal while stopping: do not wait for graceful timeouts.
            log_warning("second %s: killing every process now", strsignal(sig));
            manager.kill_all_now();
            return;
        }
        stopping = true;
        log_info("%s: stopping every job", strsignal(sig));
        notifier.stopping("stopping " + std::to_string(manager.process_count()) + " processes");
        manager.shutdown([&] {
            // Leave the registry first (revoking the lease removes the node at once).
            if (registrar)
                registrar->shutdown([&loop] { loop.stop(); });
            else
                loop.stop();
        });
    };
    auto reload = [&] {
        if (ini_path.empty()) {
            log_info("SIGHUP: no configuration file to re-read");
            return;
        }
        notifier.reloading();
        auto r = config::load_ini_file(ini_path);
        if (!r) {
            log_error(r.error(), "SIGHUP: the new configuration is broken, keeping the running one");
            notifier.ready("configuration error, running the previous one; " + summary());
            return;
        }
        for (const auto& w : r->warnings) log_warning("SIGHUP: %s", w.c_str());
        // The new limits first: the new file's jobs are checked against them.
        manager::Limits old_limits = manager.limits();
        manager.set_limits(limits_of(*r));
        if (auto st = sync.check(r->jobs); !st) {
            manager.set_limits(old_limits);
            log_warning("SIGHUP: %s: %s, keeping the running one", ini_path.c_str(), st.error().context.c_str());
            notifier.ready("configuration error, running the previous one; " + summary());
            return;
        }
        size_t bad = SIZE_MAX;
        if (auto st = webhooks->set_hooks(r->webhooks, &bad); !st) {
            log_error(st.error(), "SIGHUP: %s: [webhooks] not applied, keeping the previous ones",
                      webhook_location(*r, ini_path, bad).c_str());
        } else {
            webhooks->set_secret(r->webhook_secret);
        }
        // The lookupd addresses of the file, unless the command line named them. Links kept
        // follow the events of the job changes below.
        if (args.lookupd_addresses.empty()) {
            if (auto st = announcer->set_addresses(r->lookupd_addresses); !st)
                log_error(st.error(), "SIGHUP: lookupd_address not applied, keeping the previous ones");
        }
        auto rep = sync.apply(r->jobs);
        if (!rep) {
            // Checked above; only a broken invariant gets here.
            log_warning("SIGHUP: %s: %s", ini_path.c_str(), rep.error().context.c_str());
            notifier.ready(summary());
            return;
        }
        for (const auto& e : rep->errors) log_warning("SIGHUP: %s", e.c_str());
        log_info("SIGHUP: %d loaded, %d updated, %d unloaded, %d unchanged", rep->loaded, rep->updated, rep->unloaded,
                 rep->unchanged);
        notifier.ready(summary());
    };
    auto on_signal = [&](const struct signalfd_siginfo& si) {
        int sig = static_cast<int>(si.ssi_signo);
        switch (sig) {
            case SIGHUP:
                reload();
                break;
            case SIGCHLD:
                if (init)
                    init->on_sigchld();
                break;
            case SIGUSR1:
            case SIGUSR2:
                // Forwarded to every process (always: as PID 1 that is the documented
                // duty, elsewhere it beats dying of a stray USR1).
                manager.signal_all(sig);
                break;
            case SIGPIPE:
                break;
            default:
                shutdown(sig);
                break;
        }
    };
    dispatch_signal = on_signal;

    // D-Bus (org.gaffer1): never required; the HTTP API does not depend on it.
    std::unique_ptr<dbus::Service> dbus_service;
    ops::Policy dbus_policy{geteuid(), getegid(), cfg.log_root};
    auto dbus_address = dbus_address_of(args, cfg);
    if (!dbus_address) {
        fprintf(stderr, "gafferd: D-Bus: %s\n", dbus_address.error().context.c_str());
        return kExitUsage;
    }
    if (const auto& address = *dbus_address) {
        dbus::ServiceOptions dopts;
        dopts.version = GAFFER_VERSION;
        dopts.daemon_uid = geteuid();
        dopts.daemon_gid = getegid();
        dopts.reload = reload;
        dbus_service = std::make_unique<dbus::Service>(loop, bus, manager, dbus_policy, std::move(dopts));
        if (auto st = dbus_service->start(*address); !st) {
            log_error(st.error(), "D-Bus");
            return kExitFailure;
        }
    }

    // Children that exited before the signalfd existed (as PID 1: orphans) are reaped now.
    if (init)
        init->on_sigchld();
    auto r = loop.run();
    if (!r) {
        log_error(r.error(), "event loop failed");
        exit_code = kExitFailure;
    }
    log_info("gafferd stopped");
    return exit_code;
}

}  // namespace
}  // namespace gaffer::daemon

int main(int argc, char** argv) {
    return gaffer::daemon::run(argc, argv);
}
