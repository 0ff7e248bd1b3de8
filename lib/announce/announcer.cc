// SPDX-License-Identifier: MIT
#include "lib/announce/announcer.h"

#include <jansson.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "lib/base/log.h"
#include "lib/base/strutil.h"
#include "lib/manager/manager.h"
#include "lib/webhook/curl_api.h"

namespace gaffer::announce {

using namespace std::chrono_literals;

Status check_broadcast_address(std::string_view origin) {
    std::string_view rest;
    if (istarts_with(origin, "http://"))
        rest = origin.substr(7);
    else if (istarts_with(origin, "https://"))
        rest = origin.substr(8);
    else
        return fail(EINVAL, "broadcast_address '" + std::string(origin) + "' must start with http:// or https://");
    if (rest.empty() || std::any_of(rest.begin(), rest.end(),
                                    [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
        return fail(EINVAL, "broadcast_address '" + std::string(origin) +
                                "' needs a host and may hold no space or control character");
    return ok();
}

namespace {

// "127.0.0.1:5010", "[::1]", "localhost:5010": the host part names this machine.
bool is_loopback_host(std::string_view host_port) {
    std::string_view host = host_port;
    if (starts_with(host, "["))
        host = host.substr(1, host.find(']') - 1);
    else if (size_t colon = host.find(':'); colon != std::string_view::npos)
        host = host.substr(0, colon);
    return starts_with(host, "127.") || host == "::1" || iequals(host, "localhost");
}

}  // namespace

Announcer::Announcer(loop::Loop& loop, events::EventBus& bus, const manager::Manager& manager, Options options)
    : loop_(loop), bus_(bus), manager_(manager), options_(std::move(options)) {}

Result<std::unique_ptr<Announcer>> Announcer::create(loop::Loop& loop, events::EventBus& bus,
                                                     const manager::Manager& manager, Options options) {
    const LinkOptions& lo = options.link;
    if (lo.heartbeat < 10ms)
        return fail(EINVAL, "lookupd heartbeat must be at least 0.01 s");
    if (lo.connect_timeout <= 0ms)
        return fail(EINVAL, "lookupd connect timeout must be positive");
    if (lo.identity.name.empty())
        return fail(EINVAL, "the node name announced to lookupds is empty");
    GAFFER_RETURN_IF_ERROR(check_broadcast_address(lo.identity.origin));
    if (lo.key.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
        return fail(EINVAL, "the lookupd key holds a line break or NUL");
    std::vector<std::string> addresses = std::move(options.addresses);
    options.addresses.clear();
    std::unique_ptr<Announcer> a(new Announcer(loop, bus, manager, std::move(options)));
    GAFFER_RETURN_IF_ERROR(a->set_addresses(addresses));
    Announcer* self = a.get();
    for (const char* type : {"load", "unload", "spawn", "exit", "stop_process"})
        a->subs_.push_back(
            bus.subscribe(type, [self](const std::string& t, const json_t* msg) { self->on_event(t, msg); }));
    a->seen_dropped_ = bus.dropped();
    return a;
}

Announcer::~Announcer() {
    for (auto id : subs_) bus_.unsubscribe(id);
    links_.clear();
    connector_.reset();
}

Status Announcer::ensure_connector() {
    if (connector_)
        return ok();
    GAFFER_TRY(connector_, webhook::CurlLoop::create(loop_));
    return ok();
}

Status Announcer::set_addresses(const std::vector<std::string>& addresses) {
    std::vector<LookupdUrl> wanted;
    for (const auto& text : addresses) {
        GAFFER_TRY(LookupdUrl url, parse_lookupd_url(text));
        if (std::none_of(wanted.begin(), wanted.end(), [&](const LookupdUrl& u) { return u.text == url.text; }))
            wanted.push_back(std::move(url));
    }
    if (!wanted.empty())
        GAFFER_RETURN_IF_ERROR(ensure_connector());
    std::vector<std::unique_ptr<LookupdLink>> next;
    for (auto& url : wanted) {
        auto it =
            std::find_if(links_.begin(), links_.end(), [&](const auto& l) { return l && l->url().text == url.text; });
        if (it != links_.end()) {
            next.push_back(std::move(*it));
            continue;
        }
        log_info("lookupd %s: registering with it as '%s' (%s)", url.text.c_str(), options_.link.identity.name.c_str(),
                 options_.link.identity.origin.c_str());
        if (!url.tls && !options_.link.key.empty() && !is_loopback_host(url.host))
            log_warning("lookupd %s: the API key goes over plain HTTP to a remote host; use https://",
                        url.text.c_str());
        next.push_back(std::make_unique<LookupdLink>(loop_, *connector_, options_.link, std::move(url),
                                                     [this] { return snapshot(); }));
        next.back()->start();
    }
    for (auto& old : links_)
        if (old)
            log_info("lookupd %s: no longer configured, closing", old->url().text.c_str());
    links_ = std::move(next);  // the links left behind close here
    options_.addresses = addresses;
    return ok();
}

std::vector<Announcer::LinkInfo> Announcer::links() const {
    std::vector<LinkInfo> out;
    for (const auto& l : links_) out.push_back({l->url().text, l->state() == LookupdLink::State::kOpen, l->stats()});
    return out;
}

Snapshot Announcer::snapshot() const {
    Snapshot snap;
    std::map<std::string, size_t> index;
    for (const auto& job : manager_.jobs()) {
        index[job] = snap.size();
        snap.emplace_back(job, std::vector<int>{});
    }
    // The processes the API shows as running: those whose spawn event fired (a notify
    // process only once READY=1) and that are not being stopped.
    for (const auto& p : manager_.all_processes()) {
        if (!p.active || p.state != model::ProcState::kRunning)
            continue;
        auto it = index.find(p.job.qualified());
        if (it != index.end())
            snap[it->second].second.push_back(p.pid);
    }
    for (auto& [job, pids] : snap) std::sort(pids.begin(), pids.end());
    return snap;
}

void Announcer::on_event(const std::string& type, const json_t* msg) {
    if (bus_.dropped() != seen_dropped_) {
        // Events were lost before reaching us: the manager's state is the truth.
        seen_dropped_ = bus_.dropped();
        log_debug("lookupd: the event bus dropped events, re-syncing every link");
        for (auto& l : links_) l->resync();
        return;
    }
    const json_t* name = json_object_get(msg, "name");
    if (!json_is_string(name))
        return;
    std::string job = json_string_value(name);
    const json_t* pid_j = json_object_get(msg, "pid");
    int pid = json_is_integer(pid_j) ? static_cast<int>(json_integer_value(pid_j)) : 0;
    for (auto& l : links_) {
        if (type == "load")
            l->load(job);
        else if (type == "unload")
            l->unload(job);
        else if (type == "spawn" && pid > 0)
            l->spawn(job, pid);
        else if ((type == "exit" || type == "stop_process") && pid > 0)
            l->exit(job, pid);
    }
}

}  // namespace gaffer::announce
