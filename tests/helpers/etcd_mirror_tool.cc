// SPDX-License-Identifier: MIT
// etcd-mirror-tool: a lookup::Registry fed by lib/etcd's EtcdMirror, without the lookupd's
// HTTP front end, for tests/integration/test_etcd.py (the full `gaffer_lookupd --etcd`
// is tested where that binary lives).
//
//   etcd-mirror-tool --etcd=URL[,URL...] [--heartbeat=SECONDS]
//
// Prints each §13.4 event as a line "event <json>". Reads commands on stdin, one a line,
// and answers each with one line "answer <json>": `nodes`, `jobs`, `sessions`,
// `status` ({"watching", "ranges", "events", "failures", "connections"}). Exits 0 at the
// end of stdin.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "lib/base/strutil.h"
#include "lib/etcd/mirror.h"
#include "lib/json/json.h"
#include "lib/lookup/registry.h"
#include "lib/loop/loop.h"

using namespace gaffer;

namespace {

void print(const char* kind, const json_t* j) {
    printf("%s %s\n", kind, json::dump(j).c_str());
    fflush(stdout);
}

json::JsonPtr status(const etcd::EtcdMirror& mirror, const lookup::Registry& registry) {
    json::JsonPtr o = json::take(json_object());
    json::set(o.get(), "watching", json::take(json_boolean(mirror.watching())));
    json::set(o.get(), "ranges", json::take(json_integer(static_cast<json_int_t>(mirror.stats().ranges))));
    json::set(o.get(), "events", json::take(json_integer(static_cast<json_int_t>(mirror.stats().events))));
    json::set(o.get(), "failures", json::take(json_integer(static_cast<json_int_t>(mirror.stats().failures))));
    json::set(o.get(), "connections", json::take(json_integer(static_cast<json_int_t>(registry.connections()))));
    return o;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> urls;
    double heartbeat = 1.0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.starts_with("--etcd=")) {
            urls.push_back(a.substr(7));
        } else if (a.starts_with("--heartbeat=")) {
            auto d = parse_double(a.substr(12));
            if (!d || *d <= 0) {
                fprintf(stderr, "etcd-mirror-tool: bad --heartbeat\n");
                return 2;
            }
            heartbeat = *d;
        } else {
            fprintf(stderr, "usage: etcd-mirror-tool --etcd=URL[,URL...] [--heartbeat=SECONDS]\n");
            return 2;
        }
    }
    auto loop_r = loop::Loop::create();
    if (!loop_r) {
        fprintf(stderr, "etcd-mirror-tool: %s\n", loop_r.error().message().c_str());
        return 1;
    }
    loop::Loop& loop = **loop_r;
    lookup::Registry registry;
    registry.set_event_sink([](json::JsonPtr ev) { print("event", ev.get()); });
    auto mirror_r = etcd::EtcdMirror::create(loop, registry, urls,
                                             std::chrono::milliseconds(static_cast<long long>(heartbeat * 1000)));
    if (!mirror_r) {
        fprintf(stderr, "etcd-mirror-tool: %s\n", mirror_r.error().message().c_str());
        return 2;
    }
    std::unique_ptr<etcd::EtcdMirror> mirror = std::move(mirror_r).value();

    (void)fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    std::string pending;
    auto watch = loop.watch(0, POLLIN, [&](uint32_t) {
        char buf[4096];
        ssize_t n = read(0, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            loop.stop();
            return;
        }
        if (n < 0)
            return;
        pending.append(buf, static_cast<size_t>(n));
        size_t nl;
        while ((nl = pending.find('\n')) != std::string::npos) {
            std::string cmd = pending.substr(0, nl);
            pending.erase(0, nl + 1);
            if (cmd == "nodes")
                print("answer", registry.nodes().get());
            else if (cmd == "jobs")
                print("answer", registry.jobs().get());
            else if (cmd == "sessions")
                print("answer", registry.sessions(std::nullopt).get());
            else if (cmd == "status")
                print("answer", status(*mirror, registry).get());
            else
                fprintf(stderr, "etcd-mirror-tool: unknown command '%s'\n", cmd.c_str());
        }
    });
    if (!watch) {
        fprintf(stderr, "etcd-mirror-tool: %s\n", watch.error().message().c_str());
        return 1;
    }
    if (auto r = loop.run(); !r) {
        fprintf(stderr, "etcd-mirror-tool: %s\n", r.error().message().c_str());
        return 1;
    }
    loop.unwatch(*watch);
    mirror.reset();
    return 0;
}
