// SPDX-License-Identifier: MIT
// The /channel event/command protocol (reference §5.2) and its SockJS transports; see
// sockjs_app.h.
#include <cerrno>
#include <utility>

#include "lib/base/log.h"
#include "lib/base/strutil.h"
#include "lib/base/utf8.h"
#include "lib/config/job_json.h"
#include "lib/events/event_bus.h"
#include "lib/http/router.h"
#include "lib/http/sockjs_app.h"
#include "lib/http/upgrade.h"
#include "lib/manager/errors.h"
#include "lib/manager/manager.h"
#include "lib/model/values.h"
#include "lib/ops/args.h"
#include "lib/ops/codec.h"
#include "lib/ops/operations.h"
#include "lib/ws/channel_message.h"
#include "lib/ws/random.h"

namespace gaffer::http::sockjs_app {

namespace {

constexpr auto kStatsPeriod = std::chrono::milliseconds(100);

std::string_view jstr(const json_t* v) {
    return json_is_string(v) ? std::string_view(json_string_value(v), json_string_length(v)) : std::string_view();
}

json::JsonPtr obj() {
    return json::take(json_object());
}

std::string upper(std::string_view s) {
    std::string o(s);
    for (char& c : o) {
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
    }
    return o;
}

struct CmdError {
    int code;
    std::string reason;
    Error cause{};  // a manager error: its stage and os_errno, if any (set_error_cause)
};

// The channel's column of the one table (lib/manager/errors.h).
CmdError from_manager(const Error& e) {
    const manager::ErrorMapping& m = manager::map_error(e);
    if (!m.channel_name) {
        log_warning("channel: %s", e.message().c_str());
        return {m.http_status, e.context.empty() ? e.message() : e.context, e};
    }
    return {m.http_status, m.channel_name, e};
}

model::JobName job_arg(std::string_view s) {
    return ops::job_from_string(s, "default");
}

}  // namespace

// ---- ChannelApp ----

ChannelApp::ChannelApp(Live& live, const Request& req, ChannelTransport transport)
    : live_(live), req_(req), transport_(std::move(transport)) {
    if (auto e = live_.router().rights_for(req_, &rights_)) {
        // No key on the upgrade: the first message must be AUTH:<key> (security-defaults.md).
        need_auth_ = true;
        rights_ = Rights{};
    }
    store_watch_ = live_.on_store_change([this] { (void)recheck(); });
}

ChannelApp::~ChannelApp() {
    live_.cancel_store_change(store_watch_);
    *alive_ = false;
    for (auto& [topic, sub] : subs_) {
        if (sub.release)
            sub.release();
    }
}

void ChannelApp::error(std::string_view reason) {
    send_error("invalid_msg", reason);
}

void ChannelApp::send_error(std::string_view code, std::string_view reason) {
    json::JsonPtr d = obj();
    json::set(d.get(), "error", json::str(code));
    json::set(d.get(), "reason", json::str(reason));
    json::JsonPtr m = obj();
    json::set(m.get(), "event", json::str("gaffer:error"));
    json::set(m.get(), "data", std::move(d));
    transport_.send(json::dump(m.get()));
}

bool ChannelApp::recheck() {
    if (dead_)
        return false;
    if (!rights_.key)
        return true;  // rights from the endpoint or the peer: the store has no say
    Rights now;
    if (!live_.reresolve(req_, &now)) {
        send_error("AUTH_REQUIRED", "the key was revoked or has expired");
        dead_ = true;
        transport_.close();
        return false;
    }
    rights_ = std::move(now);
    drop_uncovered();
    return true;
}

void ChannelApp::drop_uncovered() {
    for (auto it = subs_.begin(); it != subs_.end();) {
        if (!it->second.allowed || it->second.allowed(rights_.perms)) {
            ++it;
            continue;
        }
        if (it->second.release)
            it->second.release();
        std::string topic = it->first;
        it = subs_.erase(it);
        sub_error(topic, "forbidden");
    }
}

// Failed or missing AUTH: say so, then close (§5.2).
void ChannelApp::refuse_auth(std::string_view reason) {
    send_error("AUTH_REQUIRED", reason);
    dead_ = true;
    transport_.close();
}

void ChannelApp::sub_error(const std::string& topic, std::string_view reason) {
    json::JsonPtr d = obj();
    json::set(d.get(), "reason", json::str(reason));
    json::JsonPtr m = obj();
    json::set(m.get(), "event", json::str("gaffer:subscription_error"));
    json::set(m.get(), "topic", json::str(topic));
    json::set(m.get(), "data", std::move(d));
    transport_.send(json::dump(m.get()));
}

void ChannelApp::emit(const std::string& topic, std::string_view event, const json_t* payload) {
    json::JsonPtr d = payload ? json::take(json_deep_copy(payload)) : obj();
    json::set(d.get(), "event", json::str(event));
    json::set(d.get(), "topic", json::str(topic));
    json::JsonPtr m = obj();
    json::set(m.get(), "event", json::str("gaffer:event"));
    json::set(m.get(), "data", std::move(d));
    transport_.send(json::dump(m.get()));
}

void ChannelApp::on_message(std::string_view text) {
    if (dead_)
        return;
    ws::channel::ChannelMessage msg = ws::channel::parse_channel_message(text);
    if (msg.kind == ws::channel::MessageKind::kAuth) {
        Request r = req_;
        r.headers["x-api-key"] = msg.key;
        Rights rights;
        if (live_.router().rights_for(r, &rights) || !rights.key) {
            refuse_auth("invalid key");
            return;
        }
        rights_ = std::move(rights);
        need_auth_ = false;
        // The session's key from now on (recheck), and what it no longer covers ends.
        req_.headers["x-api-key"] = std::move(msg.key);
        drop_uncovered();
        return;
    }
    if (need_auth_) {
        refuse_auth("the first message must be AUTH:<key>");
        return;
    }
    // Rights are looked up again for every message: a revoked key ends the session here.
    if (!recheck())
        return;
    switch (msg.kind) {
        case ws::channel::MessageKind::kInvalid:
            return error(msg.reason);
        case ws::channel::MessageKind::kNop:
            return;
        case ws::channel::MessageKind::kSub:
            return subscribe(msg.topic);
        case ws::channel::MessageKind::kUnsub:
            return unsubscribe(msg.topic);
        case ws::channel::MessageKind::kCmd:
            return command(msg.data.get());
        case ws::channel::MessageKind::kAuth:
            return;  // handled above
    }
}

void ChannelApp::unsubscribe(const std::string& topic) {
    auto it = subs_.find(topic);
    if (it != subs_.end() && --it->second.refs <= 0) {
        if (it->second.release)
            it->second.release();
        subs_.erase(it);
    }
    json::JsonPtr m = obj();
    json::set(m.get(), "event", json::str("gaffer:subscription_success"));
    json::set(m.get(), "topic", json::str(topic));
    transport_.send(json::dump(m.get()));
}

void ChannelApp::subscribe(const std::string& topic) {
    auto success = [&] {
        json::JsonPtr m = obj();
        json::set(m.get(), "event", json::str("gaffer:subscription_success"));
        json::set(m.get(), "topic", json::str(topic));
        transport_.send(json::dump(m.get()));
    };
    if (auto it = subs_.find(topic); it != subs_.end()) {
        ++it->second.refs;
        return success();
    }
    size_t colon = topic.find(':');
    std::string kind = upper(topic.substr(0, colon));
    std::string target = colon == std::string::npos ? std::string() : topic.substr(colon + 1);
    manager::Manager& mgr = live_.manager();
    events::EventBus& bus = live_.bus();
    loop::Loop& loop = live_.loop();
    Sub sub;
    sub.refs = 1;

    auto bus_sub = [&](const std::string& pattern, std::string strip) {
        events::EventBus::SubId id =
            bus.subscribe(pattern, [this, topic, strip](const std::string& type, const json_t* msg) {
                std::string_view e = type;
                if (!strip.empty() && starts_with(e, strip))
                    e.remove_prefix(strip.size());
                emit(topic, e, msg);
            });
        events::EventBus* b = &bus;
        sub.release = [b, id] { b->unsubscribe(id); };
    };

    if (kind == "EVENTS") {
        if (!rights_.perms.manage_all())
            return sub_error(topic, "forbidden");
        sub.allowed = [](const auth::Permissions& p) { return p.manage_all(); };
        bus_sub(target.empty() ? "." : target, "");
    } else if (kind == "JOB") {
        if (target.empty())
            return sub_error(topic, "invalid_topic");
        model::JobName job = job_arg(target);
        if (!rights_.perms.can_manage(job.qualified()))
            return sub_error(topic, "forbidden");
        if (!mgr.has_job(job))
            return sub_error(topic, "invalid_process");
        sub.allowed = [q = job.qualified()](const auth::Permissions& p) { return p.can_manage(q); };
        std::string prefix = "job." + job.qualified();
        bus_sub(prefix, prefix + ".");
    } else if (kind == "PROCESS") {
        auto pid = pid_from_segment(target);
        if (!pid)
            return sub_error(topic, "invalid_topic");
        auto info = mgr.process_info(*pid);
        if (!info)
            return sub_error(topic, rights_.perms.manage_all() ? "invalid_process" : "forbidden");
        if (!rights_.perms.can_manage(info->job.qualified()))
            return sub_error(topic, "forbidden");
        sub.allowed = [q = info->job.qualified()](const auth::Permissions& p) { return p.can_manage(q); };
        std::string prefix = "proc." + std::to_string(*pid);
        bus_sub(prefix, prefix + ".");
    } else if (kind == "STATS") {
        if (target.empty())
            return sub_error(topic, "invalid_topic");
        std::optional<int> pid = pid_from_segment(target);
        model::JobName job;
        if (pid) {
            auto info = mgr.process_info(*pid);
            if (!info)
                return sub_error(topic, rights_.perms.can_read("*") ? "invalid_process" : "forbidden");
            job = info->job;
        } else {
            job = job_arg(target);
            if (!mgr.has_job(job))
                return sub_error(topic, "invalid_process");
        }
        if (!rights_.perms.can_read(job.qualified()))
            return sub_error(topic, "forbidden");
        sub.allowed = [q = job.qualified()](const auth::Permissions& p) { return p.can_read(q); };
        // One timer per STATS topic, only while subscribed; job topics list the job's
        // processes at every tick, so new processes are followed.
        struct Ticker {
            ChannelApp* app;
            std::string topic;
            std::optional<int> pid;
            model::JobName job;
            loop::Loop* loop;
            loop::Loop::TimerId timer = 0;
            void sample(const model::ProcessStats& s) {
                json::JsonPtr o = ops::encode_process_stats(s);
                json::set(o.get(), "pid", json::take(json_integer(s.pid)));
                json::set(o.get(), "os_pid", json::take(json_integer(s.os_pid)));
                json::set(o.get(), "name", json::str(job.qualified()));
                app->emit(topic, "stat", o.get());
            }
            void arm() {
                timer = loop->add_timer(kStatsPeriod, [this] {
                    timer = 0;
                    manager::Manager& m = app->live_.manager();
                    if (pid) {
                        auto s = m.process_stats(*pid);
                        if (!s)
                            return;  // the process is gone: nothing more to sample
                        sample(*s);
                    } else {
                        auto all = m.job_stats(job);
                        if (all) {
                            for (const auto& s : *all) sample(s);
                        }
                    }
                    arm();
                });
            }
        };
        auto t = std::make_shared<Ticker>(Ticker{this, topic, pid, job, &loop, 0});
        t->arm();
        sub.release = [t] {
            if (t->timer)
                t->loop->cancel_timer(t->timer);
            t->timer = 0;
        };
    } else if (kind == "STREAM") {
        if (target.empty())
            return sub_error(topic, "invalid_topic");
        size_t dot = target.find('.');
        auto pid = pid_from_segment(target.substr(0, dot));
        if (!pid)
            return sub_error(topic, "invalid_topic");
        auto info = mgr.process_info(*pid);
        if (!info)
            return sub_error(topic, rights_.perms.can_read("*") ? "invalid_process" : "forbidden");
        if (!rights_.perms.can_read(info->job.qualified()))
            return sub_error(topic, "forbidden");
        sub.allowed = [q = info->job.qualified()](const auth::Permissions& p) { return p.can_read(q); };
        std::string label = dot == std::string::npos ? std::string() : target.substr(dot + 1);
        if (label.empty()) {
            auto labels = mgr.stream_labels(*pid);
            if (!labels || labels->empty())
                return sub_error(topic, "stream_not_found");
            label = labels->front();
        }
        // The chunks as text (§5.2 "UTF-8 decoded text"): a character split across two
        // reads arrives whole, invalid bytes as U+FFFD, so json_stringn never refuses one.
        struct StreamState {
            Utf8Sanitizer utf8;
            uint64_t dropped = 0;
        };
        auto st = std::make_shared<StreamState>();
        std::string name = info->job.qualified();
        int p = *pid;
        auto deliver = [this, topic, label, name, p, st](const std::string& text) {
            if (text.empty())
                return;
            if (st->dropped) {
                json::JsonPtr d = obj();
                json::set(d.get(), "topic", json::str(topic));
                json::set(d.get(), "bytes", json::take(json_integer(static_cast<json_int_t>(st->dropped))));
                json::JsonPtr m = obj();
                json::set(m.get(), "event", json::str("gaffer:dropped"));
                json::set(m.get(), "data", std::move(d));
                transport_.send(json::dump(m.get()));
                st->dropped = 0;
            }
            json::JsonPtr o = obj();
            json::set(o.get(), "name", json::str(name));
            json::set(o.get(), "pid", json::take(json_integer(p)));
            json::set(o.get(), "data", json::str(text));
            emit(topic, label, o.get());
        };
        auto id = mgr.subscribe_output(
            p, label,
            [this, st, deliver](std::string_view data) {
                if (transport_.backlog && transport_.backlog() > kStreamBacklog) {
                    st->dropped += data.size() + st->utf8.held();
                    st->utf8.reset();
                    return;
                }
                deliver(st->utf8.feed(data));
            },
            [st, deliver] { deliver(st->utf8.finish()); });
        if (!id)
            return sub_error(topic, id.error().code == ENOENT ? "invalid_process" : "stream_not_found");
        manager::Manager* m = &mgr;
        manager::Manager::OutputSubId sid = *id;
        sub.release = [m, sid] { m->unsubscribe_output(sid); };
    } else {
        return sub_error(topic, "invalid_topic");
    }
    subs_.emplace(topic, std::move(sub));
    success();
}

namespace {

using ops::Op;

// A /channel command (reference §5.2): the operation it runs, where its positional args go,
// and what is its own: the rights the reference fixes for it when they differ from the
// operation's, the member its result is wrapped in, an "ok": true beside the result.
struct Command {
    const char* name;
    Op op;
    ops::Param args[3];                 // the parameter of args[0], args[1], args[2]
    std::optional<ops::Access> access;  // the reference's right, when not the operation's
    const char* wrap = nullptr;         // {"<wrap>": result}
    bool add_ok = false;
};

constexpr ops::Access kAdmin{ops::Target::kAll, ops::Right::kAdmin};
constexpr ops::Access kManageJob{ops::Target::kJob, ops::Right::kManage};
constexpr ops::Access kManageProcess{ops::Target::kProcess, ops::Right::kManage};

// `jobs` and `pids` with a string argument run kSessionJobs and kPids instead.
const Command kCommands[] = {
    {"sessions", Op::kSessions, {}, {}},
    {"jobs", Op::kJobs, {}, {}},
    {"pids", Op::kAllPids, {}, {}},
    {"load", Op::kLoad, {ops::kParamConfig}, kAdmin},
    {"update", Op::kUpdate, {ops::kParamConfig}, kAdmin},
    {"unload", Op::kUnload, {ops::kParamJob}, kAdmin},
    {"reload", Op::kReloadJob, {ops::kParamJob}, kAdmin},
    {"start_job", Op::kStartJob, {ops::kParamJob}, {}},
    {"stop_job", Op::kStopJob, {ops::kParamJob}, {}},
    {"scale", Op::kScale, {ops::kParamJob, ops::kParamScale}, {}},
    {"info", Op::kInfo, {ops::kParamJob}, kManageJob, "info"},
    {"stats", Op::kStats, {ops::kParamJob}, kManageJob, "stats"},
    {"stopall", Op::kStopAll, {ops::kParamJob}, {}},
    {"killall", Op::kKillAll, {ops::kParamJob, ops::kParamSignal}, {}},
    {"commit", Op::kCommit, {ops::kParamJob, ops::kParamGracefulTimeout, ops::kParamEnv}, kManageJob, nullptr, true},
    {"process_info", Op::kProcessInfo, {ops::kParamPid}, kManageProcess, "info"},
    {"process_stats", Op::kProcessStats, {ops::kParamPid}, kManageProcess},
    {"stop_process", Op::kStopProcess, {ops::kParamPid}, {}},
    {"send", Op::kSend, {ops::kParamPid, ops::kParamData, ops::kParamStream}, {}},
    {"kill", Op::kKill, {ops::kParamPid, ops::kParamSignal}, {}},
};

// The channel's error for an operation's failure: the reference's names for a bad
// argument (config_missing, invalid_config, bad_command), else the one table's column.
CmdError channel_error(const Command& cmd, const ops::Failure& f) {
    if (f.error.code == EINVAL && f.param) {
        bool config = cmd.op == Op::kLoad || cmd.op == Op::kUpdate;
        if (config && f.param == ops::kParamConfig && f.missing)
            return {400, "config_missing"};
        if (config && (f.param & (ops::kParamConfig | ops::kParamEnv | ops::kParamStart)))
            return {400, "invalid_config"};
        return {400, "bad_command"};
    }
    return from_manager(f.error);
}

}  // namespace

void ChannelApp::command(const json_t* data) {
    const json_t* name_j = json_object_get(data, "name");
    if (!json_is_string(name_j))
        return error("cmd_name_mssing");
    const json_t* ident = json_object_get(data, "identity");
    if (!ident || json_is_null(ident))
        return error("cmd_identity_missing");
    const json_t* args = json_object_get(data, "args");
    const json_t* kwargs = json_object_get(data, "kwargs");
    auto arg = [&](size_t i) -> const json_t* { return json_is_array(args) ? json_array_get(args, i) : nullptr; };
    auto kw = [&](const char* k) -> const json_t* {
        return json_is_object(kwargs) ? json_object_get(kwargs, k) : nullptr;
    };

    auto reply = [&](const char* event, const char* member, json::JsonPtr value) {
        json::JsonPtr d = obj();
        json::set(d.get(), "id", json::ref(const_cast<json_t*>(ident)));
        json::set(d.get(), member, std::move(value));
        json::JsonPtr msg = obj();
        json::set(msg.get(), "event", json::str(event));
        json::set(msg.get(), "data", std::move(d));
        transport_.send(json::dump(msg.get()));
    };
    auto reply_error = [&](const CmdError& e) {
        json::JsonPtr err = obj();
        json::set(err.get(), "errno", json::take(json_integer(e.code)));
        json::set(err.get(), "reason", json::str(e.reason));
        set_error_cause(err.get(), e.cause);
        reply("gaffer:command_error", "error", std::move(err));
    };

    std::string_view name = jstr(name_j);
    const Command* cmd = nullptr;
    for (const auto& c : kCommands) {
        if (name == c.name)
            cmd = &c;
    }
    if (!cmd)
        return reply_error({404, "command_not_found"});

    ops::Input in;
    Op op = cmd->op;
    bool listing_arg = (op == Op::kJobs || op == Op::kAllPids) && json_is_string(arg(0));
    if (listing_arg) {
        op = op == Op::kJobs ? Op::kSessionJobs : Op::kPids;
        in.at(op == Op::kSessionJobs ? ops::kParamSession : ops::kParamJob) = arg(0);
    }
    for (size_t i = 0; i < std::size(cmd->args) && cmd->args[i]; ++i) in.at(cmd->args[i]) = arg(i);
    // kwargs: the session of load, update, unload and reload, and load's and update's
    // env and start.
    if (op == Op::kLoad || op == Op::kUpdate || op == Op::kUnload || op == Op::kReloadJob) {
        if (json_is_string(kw("sessionid")))
            in.session = kw("sessionid");
        if (op == Op::kLoad || op == Op::kUpdate) {
            in.env = kw("env");
            in.start = kw("start");
        }
    }

    ops::Answer a = ops::call(live_.router().ops_context(), rights_, op, in, cmd->access);
    if (!a.ok())
        return reply_error(channel_error(*cmd, *a.failure));
    json::JsonPtr result = cmd->wrap ? obj() : std::move(a.result);
    if (cmd->wrap)
        json::set(result.get(), cmd->wrap, std::move(a.result));
    if (cmd->add_ok)
        json::set(result.get(), "ok", json::take(json_true()));
    // `pids` with an argument names it "sessionid" (the reference's [BUG], kept).
    if (op == Op::kPids)
        json::set(result.get(), "sessionid", json::ref(const_cast<json_t*>(arg(0))));
    reply("gaffer:command_success", "result", std::move(result));
}

// ---- SockJS server ----

struct SockjsServer::HttpSession {
    std::unique_ptr<SockjsApp> app;
    // The current receiving HTTP response, if any.
    StreamBody* body = nullptr;
    uint64_t receiver = 0;
};

SockjsServer::SockjsServer(LiveBase& live, std::string prefix, SockjsAppFactory factory)
    : live_(live),
      prefix_(std::move(prefix)),
      factory_(std::move(factory)),
      registry_(opts_.session, opts_.max_sessions) {}

SockjsServer::~SockjsServer() {
    if (timer_)
        live_.loop().cancel_timer(timer_);
    for (auto& [id, hs] : apps_) {
        if (hs->body)
            hs->body->on_destroy_clear();
    }
}

SockjsServer::HttpSession* SockjsServer::find(const std::string& id) {
    auto it = apps_.find(id);
    return it == apps_.end() ? nullptr : it->second.get();
}

void SockjsServer::pump(const std::string& id) {
    HttpSession* hs = find(id);
    ws::sockjs::Session* s = registry_.find(id);
    if (!hs || !s || !hs->body || !s->has_output())
        return;
    ws::sockjs::Output out = s->pull(hs->receiver, ws::sockjs::Clock::now());
    for (auto& c : out.chunks) hs->body->push(std::move(c));
    if (out.end) {
        hs->body->finish();
        hs->body->on_destroy_clear();
        hs->body = nullptr;
        hs->receiver = 0;
    }
    rearm();
}

void SockjsServer::rearm() {
    if (timer_) {
        live_.loop().cancel_timer(timer_);
        timer_ = 0;
    }
    auto when = registry_.next_deadline();
    if (!when)
        return;
    auto now = ws::sockjs::Clock::now();
    auto after = *when > now ? *when - now : ws::sockjs::Clock::duration::zero();
    timer_ = live_.loop().add_timer(after, [this] {
        timer_ = 0;
        for (const auto& gone : registry_.tick(ws::sockjs::Clock::now())) {
            auto it = apps_.find(gone);
            if (it != apps_.end()) {
                if (it->second->body)
                    it->second->body->on_destroy_clear();
                apps_.erase(it);
            }
        }
        std::vector<std::string> ids;
        for (const auto& [id, hs] : apps_) ids.push_back(id);
        for (const auto& id : ids) pump(id);
        rearm();
    });
}

MHD_Result SockjsServer::handle(MHD_Connection* conn, const Request& req) {
    using namespace ws::sockjs;
    auto reply = [&](const Reply& r) {
        Response resp;
        resp.status = r.status;
        resp.content_type = r.content_type;
        resp.headers = r.headers;
        resp.body = r.body;
        if (r.cors && req.method == "OPTIONS") {
            if (auto h = req.header("access-control-request-headers"))
                resp.set_header("Access-Control-Allow-Headers", std::string(*h));
        }
        return live_.send(conn, req, std::move(resp));
    };
    ws::sockjs::Route route = parse_route(prefix_, req.path);
    if (route.kind == RouteKind::kNotFound)
        return reply(not_found_reply());
    if (req.method == "OPTIONS" && is_cors_route(route))
        return reply(options_reply(route, WallClock::now()));
    if (!method_allowed(route, req.method))
        return reply(method_not_allowed_reply(route));
    switch (route.kind) {
        case RouteKind::kGreeting:
            return reply(greeting_reply());
        case RouteKind::kInfo: {
            auto entropy = ws::random_u32();
            return reply(info_reply(opts_, entropy ? *entropy : 0u));
        }
        case RouteKind::kIframe:
            return reply(iframe_reply(opts_, req.header("if-none-match"), WallClock::now()));
        case RouteKind::kChunkingTest: {
            // Only the first chunk, at once (SockJS 0.1 probing; modern clients skip it).
            Reply r = chunking_test_reply();
            auto sched = chunking_test_schedule();
            for (const auto& c : sched) r.body += c.chunk;
            return reply(r);
        }
        case RouteKind::kRawWebsocket: {
            SockjsAppFactory* factory = &factory_;
            return live_.upgrade(conn, req, live_.key_authenticated(req), [factory](WsConn& ws) {
                WsConn* w = &ws;
                auto app = std::make_shared<std::unique_ptr<SockjsApp>>();
                *app = (*factory)(ws.request(), ChannelTransport{[w](std::string m) { (void)w->send_text(m); },
                                                                 [w] { w->close(); }, [w] { return w->outgoing(); }});
                ws.on_message = [app](std::string&& text) {
                    if (*app)
                        (*app)->on_message(text);
                };
                ws.on_close = [app] { app->reset(); };
            });
        }
        case RouteKind::kSession:
            break;
        default:
            return reply(not_found_reply());
    }
    // Session transports.
    auto now = Clock::now();
    if (route.transport == Transport::kWebsocket) {
        LiveBase* live = &live_;
        SockjsAppFactory* factory = &factory_;
        SessionOptions sopts = opts_.session;
        std::string sid = route.session;
        return live_.upgrade(conn, req, live_.key_authenticated(req), [live, factory, sopts, sid](WsConn& ws) {
            WsConn* w = &ws;
            struct State {
                std::unique_ptr<Session> session;
                std::unique_ptr<SockjsApp> app;
                uint64_t receiver = 0;
                loop::Loop::TimerId timer = 0;
            };
            auto st = std::make_shared<State>();
            st->session = std::make_unique<Session>(sid, sopts, Clock::now());
            std::weak_ptr<State> weak = st;
            loop::Loop* lp = &live->loop();
            // Writes what the session has, and keeps one timer at its next deadline.
            auto pump = std::make_shared<std::function<void()>>();
            *pump = [weak, w, lp, pump_weak = std::weak_ptr<std::function<void()>>(pump)] {
                auto s = weak.lock();
                if (!s || !s->session)
                    return;
                if (s->session->has_output()) {
                    Output out = s->session->pull(s->receiver, Clock::now());
                    for (const auto& c : out.chunks) (void)w->send_text(c);
                    if (out.end) {
                        w->close();
                        return;
                    }
                }
                if (s->timer) {
                    lp->cancel_timer(s->timer);
                    s->timer = 0;
                }
                if (auto when = s->session->next_deadline()) {
                    auto now2 = Clock::now();
                    auto after = *when > now2 ? *when - now2 : Clock::duration::zero();
                    s->timer = lp->add_timer(after, [weak, pump_weak] {
                        auto s2 = weak.lock();
                        auto p = pump_weak.lock();
                        if (!s2 || !p)
                            return;
                        s2->timer = 0;
                        s2->session->tick(Clock::now());
                        (*p)();
                    });
                }
            };
            auto attached = st->session->attach(Transport::kWebsocket, {}, Clock::now());
            st->receiver = attached.receiver;
            for (const auto& c : attached.output.chunks) (void)w->send_text(c);
            st->app = (*factory)(ws.request(), ChannelTransport{[weak, pump](std::string m) {
                                                                    auto s = weak.lock();
                                                                    if (!s)
                                                                        return;
                                                                    (void)s->session->send(std::move(m));
                                                                    (*pump)();
                                                                },
                                                                [weak, pump] {
                                                                    auto s = weak.lock();
                                                                    if (!s)
                                                                        return;
                                                                    s->session->close();
                                                                    (*pump)();
                                                                },
                                                                [w] { return w->outgoing(); }});
            (*pump)();
            ws.on_message = [st, w, pump](std::string&& text) {
                auto msgs = parse_websocket_message(text);
                if (!msgs) {
                    st->session->close(kBrokenFraming.code, kBrokenFraming.reason);
                    (*pump)();
                    w->close();
                    return;
                }
                for (const auto& m : *msgs) {
                    if (st->app)
                        st->app->on_message(m);
                }
            };
            ws.on_close = [st, lp] {
                if (st->timer)
                    lp->cancel_timer(st->timer);
                st->timer = 0;
                st->app.reset();
                st->session.reset();
            };
        });
    }
    // The HTTP transports carry the same channel as the websockets, so they get the same
    // Origin check (security-defaults.md "Browsers"): a page elsewhere could otherwise
    // post commands through jsonp_send or xhr_send with a plain form or fetch.
    if (!live_.origin_allowed(req, live_.key_authenticated(req)))
        return live_.send(conn, req, error_response(403, "forbidden", "SockJS Origin not allowed"));
    if (role(route.transport) == TransportRole::kSend) {
        Session* s = registry_.find(route.session);
        if (!s)
            return reply(not_found_reply());
        auto msgs = route.transport == Transport::kXhrSend ? parse_xhr_send(req.body)
                                                           : parse_jsonp_send(req.body, req.header("content-type"));
        if (!msgs)
            return reply(error_reply(msgs.error()));
        std::string id = route.session;
        if (s->accepts_messages()) {
            for (const auto& m : *msgs) {
                HttpSession* hs = find(id);
                if (!hs || !hs->app)
                    break;
                hs->app->on_message(m);
            }
        }
        pump(id);
        return reply(send_ok_reply(route.transport, opts_, req.header("cookie")));
    }
    // Receiving transports.
    std::string callback;
    if (route.transport == Transport::kJsonp || route.transport == Transport::kHtmlfile) {
        auto c = check_callback(req.query_value("c"));
        if (!c)
            return reply(error_reply(c.error()));
        callback = *c;
    }
    Reply head = transport_reply(route.transport, opts_, req.header("cookie"));
    auto lookup = registry_.find_or_create(route.session, now);
    if (!lookup)
        return reply(error_reply(lookup.error()));
    Session* s = lookup->session;
    std::string id = route.session;
    if (lookup->created || !find(id)) {
        auto hs = std::make_unique<HttpSession>();
        SockjsServer* self = this;
        hs->app = factory_(req, ChannelTransport{[self, id](std::string m) {
                                                     if (Session* ss = self->registry_.find(id)) {
                                                         (void)ss->send(std::move(m));
                                                         self->live_.loop().post([self, id] { self->pump(id); });
                                                     }
                                                 },
                                                 [self, id] {
                                                     if (Session* ss = self->registry_.find(id)) {
                                                         ss->close();
                                                         self->live_.loop().post([self, id] { self->pump(id); });
                                                     }
                                                 },
                                                 [self, id]() -> size_t {
                                                     Session* ss = self->registry_.find(id);
                                                     return ss ? ss->queued_bytes() : 0;
                                                 }});
        apps_[id] = std::move(hs);
    }
    auto attached = s->attach(route.transport, callback, now);
    auto body = std::make_unique<StreamBody>(live_, conn, size_t{8} << 20, [](uint64_t) { return std::string(); });
    for (auto& c : attached.output.chunks) body->push(std::move(c));
    if (attached.receiver == 0 || attached.output.end) {
        body->finish();
    } else {
        HttpSession* hs = find(id);
        hs->body = body.get();
        hs->receiver = attached.receiver;
        SockjsServer* self = this;
        uint64_t rcv = attached.receiver;
        body->on_destroy([self, id, rcv] {
            HttpSession* h = self->find(id);
            if (h && h->receiver == rcv) {
                h->body = nullptr;
                h->receiver = 0;
            }
            if (Session* ss = self->registry_.find(id))
                ss->detach(rcv, true, ws::sockjs::Clock::now());
            self->rearm();
        });
    }
    rearm();
    MHD_Result r = live_.send_stream_head(conn, req, head.status, head.content_type, head.headers, std::move(body));
    return r;
}

}  // namespace gaffer::http::sockjs_app

namespace gaffer::http {

std::optional<MHD_Result> Live::handle_sockjs(MHD_Connection* conn, const Request& req) {
    if (!sockjs_)
        return std::nullopt;
    return sockjs_->handle(conn, req);
}

}  // namespace gaffer::http
