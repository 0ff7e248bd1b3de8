// SPDX-License-Identifier: MIT
// The `gaffer` commands that ask gaffer_lookupd (reference §11.1 rows lookup*, §13.3,
// §13.4; man/gaffer.1 LOOKUP): lookup:nodes, lookup:jobs, lookup:job, lookup:session,
// lookup:sessions print the merged registry of every lookupd given with -L; `lookup`
// follows their event feeds.
//
// Several lookupds: all are asked at once (client::get_all); their answers are merged
// (client/lookup_answers.h: a node once per name and origin, a job once, pids unioned);
// one that does not answer is reported on stderr and the others are still used; the exit
// status is 1 only when none answered. The key is --api-key, else the `key` of the
// settings file's [node "<lookupd URL>"] section: $GAFFER_API_KEY (a node's key) is never
// sent to a lookupd.
//
// The feed is SockJS xhr_streaming over plain HTTP (client/sockjs_client.h), one per
// lookupd. When the server ends a response after its byte limit the same session is
// resumed at once; when the feed drops (no answer, an error, a close frame) gaffer says
// so on stderr and opens a new session after a back-off (1 s doubling to 30 s, reset
// once a session opens). SIGINT/SIGTERM end it with status 0.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ctl/client/answers.h"
#include "ctl/client/format.h"
#include "ctl/client/lookup_answers.h"
#include "ctl/client/sockjs_client.h"
#include "ctl/gaffer/cli.h"
#include "gaffer_config.h"
#include "lib/json/json.h"

namespace gaffer::cli {
namespace {

using client::ClientOptions;
using json::JsonPtr;
using Clock = std::chrono::steady_clock;

constexpr const char* kDefaultLookupd = "http://127.0.0.1:5010";
constexpr auto kQueryTimeout = std::chrono::milliseconds(10000);
constexpr auto kFeedIdleLimit = std::chrono::seconds(75);  // SockJS heartbeats every 25 s
constexpr auto kMaxBackoff = std::chrono::seconds(30);

// The client options of every -L/--lookupd (duplicates removed), default
// http://127.0.0.1:5010; nullopt after a reported bad address.
std::optional<std::vector<ClientOptions>> lookupds(Session& s, const Invocation& inv) {
    std::vector<std::string> texts = inv.all("lookupd-address");
    for (auto& t : inv.all("lookupd")) texts.push_back(t);
    if (texts.empty())
        texts.emplace_back(kDefaultLookupd);
    if (auto st = s.init_curl(); !st) {
        s.fail(st.error());
        return std::nullopt;
    }
    std::vector<ClientOptions> out;
    std::vector<std::string> seen;
    for (const std::string& t : texts) {
        if (std::find(seen.begin(), seen.end(), t) != seen.end())
            continue;
        seen.push_back(t);
        auto ep = client::Endpoint::parse(t);
        if (!ep) {
            s.fail("invalid lookupd address: " + ep.error().message());
            return std::nullopt;
        }
        ClientOptions o;
        o.endpoint = std::move(*ep);
        o.tls = s.tls_for(t);
        o.api_key = s.globals.api_key ? *s.globals.api_key : user_node_setting(t, "key").value_or("");
        if (o.api_key.find_first_of("\r\n") != std::string::npos) {
            s.fail("the API key contains control characters");
            return std::nullopt;
        }
        o.user_agent = std::string("gaffer/") + GAFFER_VERSION;
        out.push_back(std::move(o));
    }
    return out;
}

bool colour_on(Session& s, const Invocation& inv) {
    return !inv.has("no-color") && isatty(fileno(s.out)) == 1;
}

std::string painted(bool colour, std::string_view key, const std::string& text) {
    return colour ? std::string(client::colour_for(key)) + text + "\033[0m" : text;
}

// Asks every lookupd `path` and merges the answers with `merge` (which may refuse one);
// every failure is reported. False when no lookupd gave a usable answer.
template <typename Merge>
bool ask_all(Session& s, const std::vector<ClientOptions>& lk, const std::string& path, Merge merge) {
    auto answers = client::query_lookupds(lk, path, kQueryTimeout);
    for (const auto& f : answers.failures) s.fail(f);
    bool any = false;
    for (size_t i = 0; i < answers.bodies.size(); ++i) {
        if (Status st = merge(answers.bodies[i].get()); !st) {
            s.fail(answers.answered[i] + ": " + st.error().message());
            continue;
        }
        any = true;
    }
    return any;
}

std::string source_line(const client::LookupNode& n) {
    return n.origin + " - name: " + n.name + ", protocol: " + n.version;
}

// "=== <job>" and one line per source, then a blank line, per job (`prefix`: "" or "job: ").
void print_jobs(Session& s, const std::vector<client::LookupJob>& jobs, const char* prefix) {
    for (const auto& j : jobs) {
        fprintf(s.out, "=== %s%s\n", prefix, j.name.c_str());
        for (const auto& src : j.sources) fprintf(s.out, "%s\n", source_line(src.node).c_str());
        fputc('\n', s.out);
    }
}

int cmd_lookup_nodes(Session& s, const Invocation& inv) {
    auto lk = lookupds(s, inv);
    if (!lk)
        return kExitFailure;
    std::vector<client::LookupNode> nodes;
    if (!ask_all(s, *lk, "/nodes", [&](const json_t* b) { return client::merge_nodes(b, nodes); }))
        return kExitFailure;
    const bool colour = colour_on(s, inv);
    fprintf(s.out, "%zu node(s) found\n\n", nodes.size());
    for (const auto& n : nodes) {
        std::string line = n.origin + " - " + n.name + " (protocol: " + n.version + ")";
        fprintf(s.out, "%s\n", painted(colour, n.name, line).c_str());
    }
    return kExitOk;
}

int cmd_lookup_jobs(Session& s, const Invocation& inv) {
    auto lk = lookupds(s, inv);
    if (!lk)
        return kExitFailure;
    std::vector<client::LookupJob> jobs;
    if (!ask_all(s, *lk, "/jobs",
                 [&](const json_t* b) { return client::merge_jobs(json_object_get(b, "jobs"), jobs); }))
        return kExitFailure;
    fprintf(s.out, "%zu job(s) found\n\n", jobs.size());
    print_jobs(s, jobs, "");
    return kExitOk;
}

int cmd_lookup_job(Session& s, const Invocation& inv) {
    auto lk = lookupds(s, inv);
    if (!lk)
        return kExitFailure;
    const std::string& name = inv.args[0];
    std::vector<client::LookupSource> sources;
    if (!ask_all(s, *lk, "/findJob?name=" + client::query_value(name),
                 [&](const json_t* b) { return client::merge_sources(json_object_get(b, "sources"), sources); }))
        return kExitFailure;
    if (sources.empty()) {
        fprintf(s.out, "no job found\n");
        return kExitOk;
    }
    const bool colour = colour_on(s, inv);
    for (const auto& src : sources) {
        std::string pids;
        for (long long p : src.pids) pids += (pids.empty() ? "" : ",") + std::to_string(p);
        std::string block = "=== " + src.node.name + " (Protocol: " + src.node.version +
                            ")\nOrigin: " + src.node.origin + "\nPids: " + pids + "\n";
        fprintf(s.out, "%s\n", painted(colour, src.node.name, block).c_str());
    }
    return kExitOk;
}

int cmd_lookup_session(Session& s, const Invocation& inv) {
    auto lk = lookupds(s, inv);
    if (!lk)
        return kExitFailure;
    std::vector<client::LookupJob> jobs;
    if (!ask_all(s, *lk, "/findSession?sessionid=" + client::query_value(inv.args[0]),
                 [&](const json_t* b) { return client::merge_jobs(json_object_get(b, "jobs"), jobs); }))
        return kExitFailure;
    fprintf(s.out, "%zu job(s) found\n\n", jobs.size());
    print_jobs(s, jobs, "");
    return kExitOk;
}

int cmd_lookup_sessions(Session& s, const Invocation& inv) {
    auto lk = lookupds(s, inv);
    if (!lk)
        return kExitFailure;
    std::string path = "/sessions";
    if (!inv.args.empty())
        path += "/" + client::path_segment(inv.args[0]);
    std::vector<client::LookupSession> sessions;
    if (!ask_all(s, *lk, path,
                 [&](const json_t* b) { return client::merge_sessions(json_object_get(b, "sessions"), sessions); }))
        return kExitFailure;
    fprintf(s.out, "%zu session(s) found\n\n", sessions.size());
    for (const auto& ss : sessions) {
        fprintf(s.out, "*** session: %s\n\n", ss.sessionid.c_str());
        print_jobs(s, ss.jobs, "job: ");
    }
    return kExitOk;
}

// ---- the event feed ----

std::string text_of(const json_t* o, const char* key) {
    return client::scalar_text(json_object_get(o, key));
}

// "HH:MM:SS <event> | <what>\n" for one §13.4 message (the texts of the original
// `gaffer lookup`, "spawned" spelt right); another message is shown as its JSON text.
std::string feed_line(std::string_view text, bool colour) {
    auto j = json::parse(text);
    const json_t* m = j ? j->get() : nullptr;
    std::string event = json_is_object(m) ? text_of(m, "event") : "-";
    std::string what;
    if (!json_is_object(m) || !json_is_string(json_object_get(m, "event"))) {
        event = "message";
        what = std::string(text);
    } else if (event == "add_node") {
        what = "add node";
    } else if (event == "identify") {
        what = text_of(m, "name") + ": " + text_of(m, "origin");
    } else if (event == "remove_node") {
        what = text_of(m, "name") + ": node " + text_of(m, "origin");
    } else {
        std::string origin = text_of(json_object_get(m, "node"), "origin");
        std::string job = text_of(m, "job_name");
        if (event == "add_job")
            what = "load " + job + " in " + origin;
        else if (event == "remove_job")
            what = "unload " + job + " in " + origin;
        else if (event == "add_process")
            what = job + ": process id " + text_of(m, "pid") + " spawned on " + origin;
        else if (event == "remove_process")
            what = job + ": process " + text_of(m, "pid") + " exited on " + origin;
        else
            what = std::string(text);
    }
    return painted(colour, event, client::clock_text() + " " + event + " | " + what) + "\n";
}

struct Feed {
    ClientOptions options;
    std::string path;  // the session's POST path
    std::unique_ptr<client::SockJsParser> parser;
    bool running = false;        // a response is being read
    bool opened = false;         // "o" seen in this session
    bool close_frame = false;    // "c" seen
    std::string close_text;      // its code and reason
    std::string protocol_error;  // the first framing error of this response
    size_t messages = 0;         // frames after the prelude in this response
    bool lost = false;           // reconnecting after a drop: say so when it opens
    std::chrono::seconds backoff{1};
    Clock::time_point retry_at{};  // when to open a new session (not running)
};

class Follower {
public:
    Follower(Session& s, client::StreamSet& set, bool colour) : s_(s), set_(set), colour_(colour) {}

    void add(ClientOptions o) {
        auto f = std::make_unique<Feed>();
        f->options = std::move(o);
        f->path = client::sockjs_xhr_streaming_path("lookup");
        feeds_.push_back(std::move(f));
        start(*feeds_.back());
    }

    // Runs until a stop signal (0) or a failure (1).
    int run() {
        for (;;) {
            auto now = Clock::now();
            auto wait = std::chrono::milliseconds(30000);
            for (auto& f : feeds_) {
                if (f->running)
                    continue;
                if (f->retry_at <= now) {
                    f->path = client::sockjs_xhr_streaming_path("lookup");
                    f->opened = false;
                    start(*f);
                } else {
                    wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(f->retry_at - now) +
                                              std::chrono::milliseconds(1));
                }
            }
            auto r = set_.step(wait);
            if (!r)
                return s_.fail(r.error());
            if (*r)
                return kExitOk;
            if (output_lost_)
                return kExitFailure;
        }
    }

private:
    void start(Feed& f) {
        f.running = true;
        f.close_frame = false;
        f.messages = 0;
        f.protocol_error.clear();
        client::SockJsParser::Handlers ph;
        ph.on_open = [this, &f] {
            if (f.lost)
                fprintf(s_.err, "gaffer: lookupd %s: feed reconnected\n", f.options.endpoint.text.c_str());
            f.lost = false;
            f.opened = true;
            f.backoff = std::chrono::seconds(1);
        };
        ph.on_message = [this](std::string_view text) {
            std::string line = feed_line(text, colour_);
            if (output_lost_)
                return;
            fwrite(line.data(), 1, line.size(), s_.out);
            if (fflush(s_.out) != 0 || ferror(s_.out))
                output_lost_ = true;
        };
        ph.on_close = [&f](long code, std::string_view reason) {
            f.close_frame = true;
            f.close_text = std::to_string(code) + " " + std::string(reason);
        };
        ph.on_error = [&f](std::string_view what) {
            if (f.protocol_error.empty())
                f.protocol_error = std::string(what);
        };
        f.parser = std::make_unique<client::SockJsParser>(std::move(ph));
        client::StreamRequest rq;
        rq.path = f.path;
        rq.method = "POST";
        rq.options = f.options;
        client::StreamHandlers h;
        h.on_data = [&f](std::string_view data) {
            size_t before = f.parser->frames();
            f.parser->feed(data);
            // The prelude is the first frame; anything after it shows a live session.
            f.messages += f.parser->frames() - before;
        };
        h.on_end = [this, &f](const client::StreamEnd& e) { ended(f, e); };
        set_.add(std::move(rq), std::move(h), kFeedIdleLimit);
    }

    void ended(Feed& f, const client::StreamEnd& e) {
        f.running = false;
        // The server's byte limit ended a healthy response: resume the same session.
        if (e.ok() && f.opened && !f.close_frame && f.protocol_error.empty() && f.messages > 1) {
            start(f);
            return;
        }
        std::string why = f.close_frame               ? "closed by the lookupd (" + f.close_text + ")"
                          : !f.protocol_error.empty() ? f.protocol_error
                          : !e.ok()                   ? client::stream_end_text(e)
                                                      : "the lookupd ended the feed";
        fprintf(s_.err, "gaffer: lookupd %s: feed lost: %s; reconnecting in %lld s\n", f.options.endpoint.text.c_str(),
                why.c_str(), static_cast<long long>(f.backoff.count()));
        fflush(s_.err);
        f.lost = true;
        f.retry_at = Clock::now() + f.backoff;
        f.backoff = std::min(f.backoff * 2, std::chrono::seconds(kMaxBackoff));
    }

    Session& s_;
    client::StreamSet& set_;
    bool colour_;
    bool output_lost_ = false;
    std::vector<std::unique_ptr<Feed>> feeds_;
};

int cmd_lookup(Session& s, const Invocation& inv) {
    auto lk = lookupds(s, inv);
    if (!lk)
        return kExitFailure;
    auto set = client::StreamSet::create(lk->front(), {SIGINT, SIGTERM});
    if (!set)
        return s.fail(set.error());
    Follower follower(s, *set, colour_on(s, inv));
    for (auto& o : *lk) follower.add(std::move(o));
    return follower.run();
}

// ---- the table ----

constexpr Option kLookupd = {"lookupd-address", 'L', "ADDR",
                             "a lookupd: http(s)://HOST:PORT or unix:/PATH (repeatable; default "
                             "http://127.0.0.1:5010)",
                             true};
constexpr Option kLookupdAlias = {"lookupd", 0, "ADDR", "same as -L", true};
constexpr Option kNoColor = {"no-color", 0, nullptr, "no colour"};
constexpr Option kLookupOpts[] = {kLookupd, kLookupdAlias, kNoColor};

const Command kLookupCommands[] = {
    {"lookup", "[-L ADDR]... [--no-color]", "follow the events of lookupds", kLookupOpts, 0, 0, cmd_lookup},
    {"lookup:job", "<job> [-L ADDR]...", "find a job (sid.job) on the nodes known to lookupds", kLookupOpts, 1, 1,
     cmd_lookup_job},
    {"lookup:jobs", "[-L ADDR]...", "list the jobs known to lookupds", kLookupOpts, 0, 0, cmd_lookup_jobs},
    {"lookup:nodes", "[-L ADDR]...", "list the gafferd nodes registered with lookupds", kLookupOpts, 0, 0,
     cmd_lookup_nodes},
    {"lookup:session", "<sid> [-L ADDR]...", "list the jobs of a session (app) on lookupds", kLookupOpts, 1, 1,
     cmd_lookup_session},
    {"lookup:sessions", "[<nodeid>] [-L ADDR]...", "list the sessions known to lookupds (of one node)", kLookupOpts, 0,
     1, cmd_lookup_sessions},
};

}  // namespace

std::span<const Command> lookup_commands() {
    return kLookupCommands;
}

}  // namespace gaffer::cli
