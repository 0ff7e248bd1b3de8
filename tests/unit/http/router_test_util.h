// SPDX-License-Identifier: MIT
// RouterFixture: a real Manager on a real Loop (cgroups off), a real key store in a temp
// dir and a Router, with helpers that build Request structs and read JSON answers. Every
// process a test starts is stopped by Manager::shutdown() in TearDown. Header-only.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "lib/auth/store.h"
#include "lib/events/event_bus.h"
#include "lib/http/router.h"
#include "lib/json/json.h"
#include "lib/loop/loop.h"
#include "lib/manager/manager.h"
#include "tests/helpers/temp_dir.h"
#include "tests/helpers/test_manager.h"

namespace gaffer::http::testing {

using Headers = std::map<std::string, std::string>;

inline Peer loopback() {
    return Peer{EndpointKind::kTcpLoopback, false, std::nullopt, std::nullopt};
}
inline Peer remote() {
    return Peer{EndpointKind::kTcpRemote, false, std::nullopt, std::nullopt};
}
inline Peer unix_peer(uid_t uid, gid_t gid = 12345) {
    return Peer{EndpointKind::kUnix, false, uid, gid};
}
// A uid that is neither root nor the test's own.
inline uid_t other_uid() {
    return geteuid() == 4242 ? 4343 : 4242;
}

class RouterFixture : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(dir_.ok());
        gaffer::testing::make_test_manager(loop_, bus_, manager_);
        ASSERT_TRUE(manager_);
        // As the server opens it: a change never waits for another process's lock.
        auth::Store::Options sopts;
        sopts.wait_for_lock = false;
        auto s = auth::Store::open(dir_ / "auth.json", std::move(sopts));
        ASSERT_TRUE(s) << s.error().message();
        store_ = std::move(*s);
        make_router(RouterOptions{});
    }

    void TearDown() override {
        if (!manager_)
            return;
        bool done = false;
        manager_->shutdown([&] { done = true; });
        turn_until([&] { return done; }, std::chrono::seconds(20));
        EXPECT_TRUE(done) << "processes left behind";
    }

    // Turns the loop in short steps until pred() holds (posted work runs at the start of a
    // turn, so a long single wait would only notice it at its end).
    bool turn_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!pred()) {
            if (std::chrono::steady_clock::now() >= deadline)
                return false;
            (void)loop_->run_once(std::chrono::milliseconds(20));
        }
        return true;
    }

    void make_router(RouterOptions o) {
        router_.reset();
        router_ = std::make_unique<Router>(*loop_, *manager_, store_.get(), std::move(o));
    }

    Response call(std::string method, std::string path, std::string body = {}, Peer peer = loopback(),
                  Headers headers = {}) {
        Request req;
        req.method = std::move(method);
        auto q = path.find('?');
        if (q != std::string::npos) {
            std::string query = path.substr(q + 1);
            path.resize(q);
            size_t start = 0;
            while (start <= query.size()) {
                size_t amp = query.find('&', start);
                std::string kv = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
                auto eq = kv.find('=');
                if (!kv.empty()) {
                    req.query.emplace_back(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
                }
                if (amp == std::string::npos)
                    break;
                start = amp + 1;
            }
        }
        req.path = std::move(path);
        req.body = std::move(body);
        req.peer = peer;
        for (auto& [k, v] : headers) {
            std::string lower;
            for (char c : k) lower += static_cast<char>(tolower(static_cast<unsigned char>(c)));
            req.headers[lower] = v;
        }
        Response resp = router_->handle(req);
        // Let posted work (events) run, as the daemon's loop would between requests.
        (void)loop_->run_once(std::chrono::milliseconds(0));
        return resp;
    }

    static json::JsonPtr body(const Response& r) {
        auto j = json::parse(r.body);
        EXPECT_TRUE(j) << "not JSON: " << r.body;
        return j ? std::move(*j) : json::take(json_null());
    }
    static std::string error_name(const Response& r) {
        auto j = body(r);
        const json_t* e = json_object_get(j.get(), "error");
        return json_is_string(e) ? json_string_value(e) : "<none>";
    }
    static std::string reason(const Response& r) {
        auto j = body(r);
        const json_t* e = json_object_get(j.get(), "reason");
        return json_is_string(e) ? json_string_value(e) : "";
    }
    static long long int_member(const Response& r, const char* key) {
        auto j = body(r);
        return json_integer_value(json_object_get(j.get(), key));
    }

    // Loads `sid.name` running `sleep 1000` with n processes.
    void load(const std::string& sid, const std::string& name, int n = 1, bool start = true) {
        std::string cfg = R"({"name":")" + name + R"(","cmd":"sleep","args":["1000"],"numprocesses":)" +
                          std::to_string(n) + (start ? "" : R"(,"start":false)") + "}";
        Response r = call("POST", "/jobs/" + sid, cfg, loopback(), load_headers_);
        ASSERT_EQ(r.status, 200) << r.body;
    }

    // A key with these permissions (JSON text); returns its secret.
    std::string make_key(const char* permissions_json) {
        auto j = json::parse(permissions_json);
        EXPECT_TRUE(j);
        auto p = auth::Permissions::from_json(j->get());
        EXPECT_TRUE(p) << p.error().message();
        auto k = store_->create_key(*p, "test", std::nullopt);
        EXPECT_TRUE(k);
        return k ? *k : std::string();
    }

    testutil::TempDir dir_;
    std::unique_ptr<loop::Loop> loop_;
    std::unique_ptr<events::EventBus> bus_;
    std::unique_ptr<manager::Manager> manager_;
    std::unique_ptr<auth::Store> store_;
    std::unique_ptr<Router> router_;
    Headers load_headers_;  // sent by load(): a key when the router requires one
};

}  // namespace gaffer::http::testing
