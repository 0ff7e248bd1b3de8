// SPDX-License-Identifier: MIT
// Unit tests of a Router without a manager (another site's router, gaffer_lookupd's):
// the site's routes are matched first, with 404/405/OPTIONS, rights and CORS as the job
// routes get them; the job routes are absent; the key API is served from the store.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/auth/store.h"
#include "lib/http/router.h"
#include "lib/loop/loop.h"
#include "tests/helpers/temp_dir.h"

namespace gaffer::http {
namespace {

Peer loopback() {
    return Peer{EndpointKind::kTcpLoopback, false, std::nullopt, std::nullopt};
}

class RouterSiteTest : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(dir_.ok());
        auto l = loop::Loop::create();
        ASSERT_TRUE(l);
        loop_ = std::move(*l);
        auth::Store::Options sopts;
        sopts.wait_for_lock = false;
        auto s = auth::Store::open(dir_ / "auth.json", std::move(sopts));
        ASSERT_TRUE(s);
        store_ = std::move(*s);
    }

    void make(bool require_key) {
        RouterOptions o;
        o.require_key = require_key;
        o.cors_origins = {"https://ui.example"};
        o.site_routes.push_back({"", false, "GET", [](const Request&, const std::vector<std::string>&, const Rights&) {
                                     return text_response(200, "root");
                                 }});
        o.site_routes.push_back(
            {"things/*", true, "GET", [this](const Request&, const std::vector<std::string>& seg, const Rights& r) {
                 seen_admin_ = r.perms.admin;
                 return text_response(200, "thing " + seg[1]);
             }});
        o.site_routes.push_back(
            {"things/*", true, "DELETE", [](const Request&, const std::vector<std::string>&, const Rights&) {
                 return text_response(200, "deleted");
             }});
        router_ = std::make_unique<Router>(*loop_, store_.get(), std::move(o));
    }

    using Headers = std::map<std::string, std::string>;

    Response call(const std::string& method, const std::string& path, Headers headers = {}) {
        Request req;
        req.method = method;
        req.path = path;
        req.peer = loopback();
        for (auto& [k, v] : headers) req.headers[k] = v;
        return router_->handle(req);
    }

    testutil::TempDir dir_;
    std::unique_ptr<loop::Loop> loop_;
    std::unique_ptr<auth::Store> store_;
    std::unique_ptr<Router> router_;
    bool seen_admin_ = false;
};

TEST_F(RouterSiteTest, SiteRoutesMatchedWithMethodsAndRights) {
    make(false);
    EXPECT_EQ(call("GET", "/").body, "root");
    Response t = call("GET", "/things/a");
    EXPECT_EQ(t.status, 200);
    EXPECT_EQ(t.body, "thing a");
    EXPECT_TRUE(seen_admin_);  // loopback without require_key: full rights
    EXPECT_EQ(call("DELETE", "/things/a").body, "deleted");
    Response m = call("PUT", "/things/a");
    EXPECT_EQ(m.status, 405);
    EXPECT_EQ(m.header("Allow").value_or(""), "GET, DELETE, OPTIONS");
    EXPECT_EQ(call("OPTIONS", "/things/a").status, 204);
    Response c = call("GET", "/things/a", {{"origin", "https://ui.example"}});
    EXPECT_EQ(c.header("Access-Control-Allow-Origin").value_or(""), "https://ui.example");
}

TEST_F(RouterSiteTest, NoJobRoutesWithoutAManager) {
    make(false);
    for (const char* path : {"/jobs", "/sessions", "/pids", "/1", "/1/2", "/version", "/processes"})
        EXPECT_EQ(call("GET", path).status, 404) << path;
    EXPECT_EQ(call("GET", "/keys").status, 404);  // the key API needs require_key
}

TEST_F(RouterSiteTest, KeyedRoutesAndTheKeyApiWithRequireKey) {
    make(true);
    EXPECT_EQ(call("GET", "/").status, 200);  // public
    EXPECT_EQ(call("GET", "/things/a").status, 401);
    EXPECT_EQ(call("GET", "/things/a", {{"x-api-key", "nope"}}).status, 403);
    auth::Permissions reader;
    reader.read = {"*"};
    auto key = store_->create_key(reader, "reader", std::nullopt);
    ASSERT_TRUE(key);
    Response t = call("GET", "/things/b", {{"x-api-key", *key}});
    EXPECT_EQ(t.status, 200);
    EXPECT_FALSE(seen_admin_);
    EXPECT_EQ(call("GET", "/keys", {{"x-api-key", *key}}).status, 403);  // served, and needs admin
}

}  // namespace
}  // namespace gaffer::http
