// SPDX-License-Identifier: MIT
// System tests of lib/webhook: a real Loop (both backends), a real EventBus and a Dispatcher
// posting over real TCP to receiver.py on 127.0.0.1, which checks the HMAC with Python's own
// hmac module and reports each request as a JSON line on a pipe that the test reads on the
// same loop. Nothing sleeps: the tests turn the loop until what they expect has happened
// (run_until), and watch for a bounded time where something must NOT happen.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/base/unique_fd.h"
#include "lib/events/event_bus.h"
#include "lib/json/json.h"
#include "lib/loop/loop.h"
#include "lib/webhook/dispatcher.h"
#include "lib/webhook/signature.h"
#include "tests/helpers/child_guard.h"
#include "tests/helpers/loop_backends.h"

extern char** environ;

namespace gaffer::webhook {
namespace {

using namespace std::chrono_literals;
using loop::Backend;
using loop::Clock;

constexpr auto kWait = 10s;     // generous upper bound for something that must happen
constexpr auto kQuiet = 300ms;  // how long "nothing more happens" is watched

struct Request {
    std::string path;
    int n = 0;  // how many requests the receiver had seen on this path, this one included
    std::string body, content_type, user_agent;
    std::optional<std::string> timestamp, signature;
    std::optional<bool> sig_ok;  // nullopt: the receiver has no secret
    Clock::time_point at;        // when the test read the report
};

std::optional<std::string> opt_string(const json_t* obj, const char* key) {
    const json_t* v = json_object_get(obj, key);
    if (!json_is_string(v))
        return std::nullopt;
    return std::string(json_string_value(v));
}

// receiver.py as a child process (its own process group, killed by ChildGuard) whose
// reports are read on the loop.
class Receiver {
public:
    explicit Receiver(loop::Loop& loop) : loop_(loop) {}
    ~Receiver() {
        if (watch_)
            loop_.unwatch(*watch_);
        guard_.kill_all();
    }

    // Returns an empty string on success, else what went wrong.
    std::string start(const std::string& python, const std::string& script, const std::string& secret) {
        auto p = Pipe::make();
        if (!p)
            return p.error().message();
        Pipe pipe = std::move(p).value();
        // Only our end is non-blocking: the receiver may write faster than we read.
        if (Status st = set_nonblocking(pipe.read.get()); !st)
            return st.error().message();
        posix_spawn_file_actions_t actions;
        posix_spawnattr_t attr;
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
        posix_spawn_file_actions_adddup2(&actions, pipe.write.get(), STDOUT_FILENO);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        std::vector<std::string> args{python, script, secret};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_t pid = -1;
        int rc = posix_spawn(&pid, python.c_str(), &actions, &attr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        if (rc != 0)
            return std::string("posix_spawn: ") + strerror(rc);
        guard_.add(pid);
        out_ = std::move(pipe.read);
        auto w = loop_.watch(out_.get(), POLLIN, [this](uint32_t) { on_readable(); });
        if (!w)
            return w.error().message();
        watch_ = *w;
        if (!loop_.run_until([this] { return port_ != 0 || eof_; }, kWait) || port_ == 0)
            return "receiver.py did not report its port";
        return "";
    }

    int port() const { return port_; }
    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
    const std::vector<Request>& requests() const { return requests_; }
    size_t count(const std::string& path) const {
        return static_cast<size_t>(
            std::count_if(requests_.begin(), requests_.end(), [&](const Request& r) { return r.path == path; }));
    }
    std::vector<Request> on(const std::string& path) const {
        std::vector<Request> out;
        for (const Request& r : requests_)
            if (r.path == path)
                out.push_back(r);
        return out;
    }

private:
    void on_readable() {
        char buf[65536];
        for (;;) {
            ssize_t n = ::read(out_.get(), buf, sizeof buf);
            if (n > 0) {
                buffer_.append(buf, static_cast<size_t>(n));
                continue;
            }
            if (n == 0) {
                eof_ = true;
                loop_.unwatch(*watch_);
                watch_.reset();
            }
            break;
        }
        size_t nl;
        while ((nl = buffer_.find('\n')) != std::string::npos) {
            std::string line = buffer_.substr(0, nl);
            buffer_.erase(0, nl + 1);
            parse_line(line);
        }
    }

    void parse_line(const std::string& line) {
        if (line.rfind("PORT ", 0) == 0) {
            port_ = std::atoi(line.c_str() + 5);
            return;
        }
        auto j = json::parse(line);
        ASSERT_TRUE(j) << line;
        const json_t* o = j->get();
        Request r;
        r.path = opt_string(o, "path").value_or("");
        r.n = static_cast<int>(json_integer_value(json_object_get(o, "n")));
        r.body = opt_string(o, "body").value_or("");
        r.content_type = opt_string(o, "content_type").value_or("");
        r.user_agent = opt_string(o, "user_agent").value_or("");
        r.timestamp = opt_string(o, "timestamp");
        r.signature = opt_string(o, "signature");
        const json_t* ok = json_object_get(o, "sig_ok");
        if (json_is_boolean(ok))
            r.sig_ok = json_is_true(ok);
        r.at = Clock::now();
        requests_.push_back(std::move(r));
    }

    loop::Loop& loop_;
    testutil::ChildGuard guard_;
    UniqueFd out_;
    std::optional<loop::Loop::WatchId> watch_;
    std::string buffer_;
    int port_ = 0;
    bool eof_ = false;
    std::vector<Request> requests_;
};

class WebhookTest : public ::testing::TestWithParam<Backend> {
protected:
    void SetUp() override {
        // A proxy from the environment would take our 127.0.0.1 requests elsewhere.
        for (const char* v : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
            unsetenv(v);
        const char* python = getenv("PYTHON3");
        const char* script = getenv("WEBHOOK_RECEIVER");
        if (!python || !script)
            GTEST_SKIP() << "PYTHON3 and WEBHOOK_RECEIVER are set by meson";
        python_ = python;
        script_ = script;
        auto l = loop::Loop::create(GetParam());
        if (!l) {
            if (GetParam() == Backend::kIoUring)
                GTEST_SKIP() << "io_uring unavailable: " << l.error().message();
            FAIL() << l.error().message();
        }
        loop_ = std::move(l).value();
        bus_ = std::make_unique<events::EventBus>(*loop_);
    }

    void TearDown() override {
        dispatcher_.reset();
        receiver_.reset();
        bus_.reset();
    }

    void start_receiver(const std::string& secret = "") {
        receiver_ = std::make_unique<Receiver>(*loop_);
        std::string err = receiver_->start(python_, script_, secret);
        ASSERT_EQ(err, "");
    }

    void make_dispatcher(Options options) {
        auto d = Dispatcher::create(*loop_, *bus_, std::move(options));
        ASSERT_TRUE(d) << d.error().message();
        dispatcher_ = std::move(d).value();
    }

    void set_hooks(const std::vector<std::pair<std::string, std::string>>& hooks) {
        Status st = dispatcher_->set_hooks(hooks);
        ASSERT_TRUE(st) << st.error().message();
    }

    std::string url(const std::string& path) const { return receiver_->url(path); }

    void publish(const std::string& type, const char* members = nullptr) {
        json::JsonPtr msg;
        if (members) {
            auto j = json::parse(members);
            ASSERT_TRUE(j) << members;
            msg = std::move(j).value();
        }
        bus_->publish(type, std::move(msg));
    }

    bool wait(const std::function<bool()>& pred, Clock::duration timeout = kWait) {
        return loop_->run_until(pred, timeout);
    }
    void run_for(Clock::duration d) {
        (void)loop_->run_until([] { return false; }, d);
    }

    Dispatcher::Stats stats() const { return dispatcher_->stats(); }
    bool idle() const { return stats().queued == 0 && stats().in_flight == 0; }

    std::string python_, script_;
    std::unique_ptr<loop::Loop> loop_;
    std::unique_ptr<events::EventBus> bus_;
    std::unique_ptr<Receiver> receiver_;
    std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_P(WebhookTest, PostsTheEventAsSignedJson) {
    start_receiver("s3cret");
    Options o;
    o.secret = "s3cret";
    make_dispatcher(o);
    set_hooks({{"spawn", url("/sig")}});
    publish("spawn", R"({"name":"default.web","pid":3,"os_pid":41234})");
    ASSERT_TRUE(wait([&] { return stats().delivered == 1 && receiver_->count("/sig") == 1; }));

    const Request& r = receiver_->requests().at(0);
    EXPECT_EQ(r.sig_ok, std::optional<bool>(true)) << "receiver.py rejected the HMAC";
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(r.user_agent.rfind("gafferd/", 0), 0u) << r.user_agent;
    ASSERT_TRUE(r.timestamp && r.signature);
    EXPECT_EQ(*r.signature, signature("s3cret", *r.timestamp, r.body));
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    EXPECT_LE(std::llabs(std::atoll(r.timestamp->c_str()) - now.count()), 5);

    auto body = json::parse(r.body);
    ASSERT_TRUE(body) << r.body;
    EXPECT_STREQ(json_string_value(json_object_get(body->get(), "event")), "spawn");
    EXPECT_STREQ(json_string_value(json_object_get(body->get(), "name")), "default.web");
    EXPECT_EQ(json_integer_value(json_object_get(body->get(), "pid")), 3);
    EXPECT_EQ(json_integer_value(json_object_get(body->get(), "os_pid")), 41234);
    EXPECT_EQ(stats().failed, 0u);
    EXPECT_EQ(stats().retried, 0u);
}

TEST_P(WebhookTest, UnsignedWithoutASecret) {
    start_receiver();
    make_dispatcher(Options{});
    // "localhost" is answered by libcurl itself: no resolver, no thread.
    set_hooks({{"load", "http://localhost:" + std::to_string(receiver_->port()) + "/plain"}});
    publish("load", R"({"name":"default.web"})");
    ASSERT_TRUE(wait([&] { return receiver_->count("/plain") == 1 && stats().delivered == 1; }));
    EXPECT_FALSE(receiver_->requests()[0].timestamp);
    EXPECT_FALSE(receiver_->requests()[0].signature);
}

TEST_P(WebhookTest, RetriesAfterA500ThenSucceeds) {
    start_receiver("k");
    Options o;
    o.secret = "k";
    o.first_backoff = 100ms;
    make_dispatcher(o);
    set_hooks({{".", url("/fail-once")}});
    publish("load", R"({"name":"default.web"})");
    // The receiver logs a request after answering it: wait for its record of the retry too.
    ASSERT_TRUE(wait([&] { return stats().delivered == 1 && idle() && receiver_->count("/fail-once") == 2; }));

    auto reqs = receiver_->on("/fail-once");
    ASSERT_EQ(reqs.size(), 2u);
    EXPECT_EQ(reqs[0].n, 1);
    EXPECT_EQ(reqs[1].n, 2);
    EXPECT_EQ(reqs[0].body, reqs[1].body);
    EXPECT_EQ(reqs[0].sig_ok, std::optional<bool>(true));
    EXPECT_EQ(reqs[1].sig_ok, std::optional<bool>(true));  // re-signed for the retry
    EXPECT_GE(reqs[1].at - reqs[0].at, 90ms) << "the retry did not wait for its back-off";
    EXPECT_EQ(stats().retried, 1u);
    EXPECT_EQ(stats().failed, 0u);
}

TEST_P(WebhookTest, DoesNotRetryAClientError) {
    start_receiver();
    Options o;
    o.first_backoff = 20ms;
    make_dispatcher(o);
    set_hooks({{".", url("/status/404")}});
    publish("load");
    ASSERT_TRUE(wait([&] { return stats().failed == 1 && idle(); }));
    run_for(kQuiet);
    EXPECT_EQ(receiver_->count("/status/404"), 1u);
    EXPECT_EQ(stats().retried, 0u);
    EXPECT_EQ(stats().delivered, 0u);
}

TEST_P(WebhookTest, RetriesRefusedConnectionsThenGivesUp) {
    // A port that was just free: connections to it are refused.
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(s.valid());
    struct sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ASSERT_EQ(::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
    int port = ntohs(a.sin_port);
    s.reset();

    Options o;
    o.max_attempts = 3;
    o.first_backoff = 20ms;
    make_dispatcher(o);
    set_hooks({{"exit", "http://127.0.0.1:" + std::to_string(port) + "/x"}});
    auto t0 = Clock::now();
    publish("exit");
    ASSERT_TRUE(wait([&] { return stats().failed == 1 && idle(); }));
    EXPECT_EQ(stats().retried, 2u);
    EXPECT_EQ(stats().delivered, 0u);
    EXPECT_GE(Clock::now() - t0, 60ms);  // back-offs of 20 ms, then 40 ms
}

TEST_P(WebhookTest, TimesOutAHangingReceiverWhileTheLoopRunsOnTime) {
    start_receiver();
    Options o;
    o.connect_timeout = 200ms;
    o.total_timeout = 300ms;
    o.max_attempts = 2;
    o.first_backoff = 50ms;
    make_dispatcher(o);
    set_hooks({{".", url("/hang")}});

    // A ticker on the same loop: every tick must fire on time while the request hangs.
    constexpr auto kTick = 20ms;
    Clock::duration worst_late{};
    int ticks = 0;
    Clock::time_point due = Clock::now() + kTick;
    loop::Loop::TimerId ticker = 0;
    std::function<void()> tick = [&] {
        worst_late = std::max(worst_late, Clock::now() - due);
        ++ticks;
        due = Clock::now() + kTick;
        ticker = loop_->add_timer(kTick, tick);
    };
    ticker = loop_->add_timer(kTick, tick);

    auto t0 = Clock::now();
    publish("load");
    ASSERT_TRUE(wait([&] { return stats().failed == 1 && idle(); }));
    auto elapsed = Clock::now() - t0;
    EXPECT_EQ(receiver_->count("/hang"), 2u);
    EXPECT_EQ(stats().retried, 1u);
    EXPECT_EQ(stats().delivered, 0u);
    EXPECT_GE(elapsed, 2 * 300ms + 50ms);
    EXPECT_LT(elapsed, 5s);
    EXPECT_GE(ticks, 20);
    EXPECT_LT(worst_late, 50ms) << "a loop timer was held up while a webhook hung";
    loop_->cancel_timer(ticker);  // it refers to this scope
}

TEST_P(WebhookTest, BoundsTheQueueUnderAFlood) {
    start_receiver();
    Options o;
    o.max_queue = 64;
    o.max_in_flight = 4;
    make_dispatcher(o);
    set_hooks({{".", url("/slow")}});
    constexpr int kEvents = 10000;
    for (int batch = 0; batch < 10; ++batch) {
        for (int i = 0; i < kEvents / 10; ++i) publish("spawn");
        ASSERT_TRUE(wait([&] { return bus_->pending() == 0; }));
        EXPECT_LE(stats().queued, o.max_queue);
        EXPECT_LE(stats().in_flight, o.max_in_flight);
        run_for(30ms);  // let a few go out, as a slow receiver allows
        EXPECT_LE(stats().queued, o.max_queue);
    }
    ASSERT_TRUE(wait([&] { return idle(); }, 60s));
    Dispatcher::Stats s = stats();
    RecordProperty("delivered", static_cast<int>(s.delivered));
    RecordProperty("dropped", static_cast<int>(s.dropped));
    EXPECT_EQ(s.delivered + s.dropped, static_cast<uint64_t>(kEvents));
    EXPECT_EQ(s.failed, 0u);
    EXPECT_GE(s.dropped, static_cast<uint64_t>(kEvents) - 1000);
    EXPECT_GE(s.delivered, o.max_queue);
    ASSERT_TRUE(wait([&] { return receiver_->count("/slow") == s.delivered; }));
    EXPECT_EQ(bus_->dropped(), 0u);
}

TEST_P(WebhookTest, MatchesPrefixesAndWildcardOncePerUrl) {
    start_receiver();
    make_dispatcher(Options{});
    set_hooks({{"job.default.web", url("/web")}, {".", url("/all")}, {"spawn", url("/all")}});
    publish("job.default.web.spawn");
    publish("job.default.webx.spawn");
    publish("spawn");
    publish("job.default.web");
    ASSERT_TRUE(wait([&] { return stats().delivered == 6 && idle(); }));
    run_for(kQuiet);
    EXPECT_EQ(receiver_->count("/web"), 2u);
    EXPECT_EQ(receiver_->count("/all"), 4u);  // "spawn" matches two hooks of /all: one POST
    EXPECT_EQ(stats().delivered, 6u);
}

TEST_P(WebhookTest, SetHooksReplacesTheSet) {
    start_receiver();
    make_dispatcher(Options{});
    EXPECT_EQ(bus_->subscriber_count(), 0u);
    set_hooks({{"spawn", url("/a")}, {".", url("/all")}});
    EXPECT_EQ(bus_->subscriber_count(), 2u);
    publish("spawn");
    ASSERT_TRUE(wait([&] { return stats().delivered == 2 && idle(); }));

    // Reload: the wildcard and "spawn" go away (§14.32/33), "exit" is new.
    set_hooks({{"exit", url("/b")}});
    EXPECT_EQ(bus_->subscriber_count(), 1u);
    EXPECT_FALSE(bus_->wanted("spawn"));
    publish("spawn");
    publish("exit");
    ASSERT_TRUE(wait([&] { return stats().delivered == 3 && idle(); }));
    run_for(kQuiet);
    EXPECT_EQ(receiver_->count("/a"), 1u);
    EXPECT_EQ(receiver_->count("/all"), 1u);
    EXPECT_EQ(receiver_->count("/b"), 1u);

    // A bad set is refused whole; the old one stays in force.
    Status st = dispatcher_->set_hooks({{"exit", url("/c")}, {"load", "ftp://127.0.0.1/x"}});
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, EINVAL);
    EXPECT_NE(st.error().context.find("only http:// and https://"), std::string::npos) << st.error().context;
    publish("exit");
    ASSERT_TRUE(wait([&] { return receiver_->count("/b") == 2 && idle(); }));
    EXPECT_EQ(receiver_->count("/c"), 0u);

    // Emptied: nothing subscribed, nothing sent.
    set_hooks({});
    EXPECT_EQ(bus_->subscriber_count(), 0u);
    publish("exit");
    run_for(kQuiet);
    EXPECT_EQ(stats().delivered, 4u);
    EXPECT_EQ(receiver_->requests().size(), 4u);
}

TEST_P(WebhookTest, SetHooksDropsQueuedDeliveriesToRemovedUrls) {
    start_receiver();
    Options o;
    o.max_in_flight = 1;
    o.total_timeout = 500ms;
    o.max_attempts = 3;
    make_dispatcher(o);
    set_hooks({{".", url("/hang")}});
    publish("a");
    publish("b");
    publish("c");
    ASSERT_TRUE(wait([&] { return receiver_->count("/hang") == 1; }));
    EXPECT_EQ(stats().in_flight, 1u);
    EXPECT_EQ(stats().queued, 2u);
    set_hooks({{".", url("/other")}});
    EXPECT_EQ(stats().queued, 0u);
    EXPECT_EQ(stats().dropped, 2u);
    // The request in flight times out and is not retried: its URL is gone.
    ASSERT_TRUE(wait([&] { return stats().failed == 1 && idle(); }));
    EXPECT_EQ(stats().retried, 0u);
    EXPECT_EQ(receiver_->count("/hang"), 1u);
}

TEST_P(WebhookTest, DestroyingMidRequestLeavesNothingBehind) {
    start_receiver();
    make_dispatcher(Options{});
    size_t timers_before = loop_->timer_count();
    set_hooks({{".", url("/hang")}});
    publish("load");
    ASSERT_TRUE(wait([&] { return receiver_->count("/hang") == 1; }));
    EXPECT_EQ(stats().in_flight, 1u);
    dispatcher_.reset();
    EXPECT_EQ(bus_->subscriber_count(), 0u);
    EXPECT_EQ(loop_->timer_count(), timers_before);
    publish("load");
    run_for(100ms);  // nothing left to call into the destroyed dispatcher
    EXPECT_EQ(receiver_->count("/hang"), 1u);
}

TEST_P(WebhookTest, IdleAfterDeliveryDoesNotWakeTheLoop) {
    start_receiver();
    make_dispatcher(Options{});
    set_hooks({{".", url("/ok")}});
    publish("load");
    ASSERT_TRUE(wait([&] { return stats().delivered == 1 && idle(); }));
    run_for(50ms);  // let libcurl settle its last timer
    uint64_t before = loop_->wakeups();
    size_t timers = loop_->timer_count();
    run_for(kQuiet);
    // run_for itself wakes once for its deadline; libcurl must add nothing to that.
    EXPECT_LE(loop_->wakeups() - before, 2u);
    EXPECT_EQ(timers, 0u);
}

TEST_P(WebhookTest, CreateRejectsUnworkableOptions) {
    Options o;
    o.max_queue = 0;
    auto d = Dispatcher::create(*loop_, *bus_, o);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, EINVAL);
    Options t;
    t.total_timeout = 0ms;
    EXPECT_FALSE(Dispatcher::create(*loop_, *bus_, t));
    Options b;
    b.first_backoff = 10s;
    b.max_backoff = 1s;
    EXPECT_FALSE(Dispatcher::create(*loop_, *bus_, b));
}

INSTANTIATE_TEST_SUITE_P(Backends, WebhookTest, ::testing::ValuesIn(testutil::test_backends()), testutil::backend_name);

}  // namespace
}  // namespace gaffer::webhook
