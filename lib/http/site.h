// SPDX-License-Identifier: MIT
// Site: what a Server (server.h) serves on its endpoints. The Server owns the endpoint
// machinery every site shares (accepting, connection caps, TLS, unix sockets, EPOLLRDHUP,
// idle timeouts, body caps, the key store); a site answers the requests: gafferd's API
// (server.cc: the Router and Live) or gaffer_lookupd's (lib/lookupd).
//
// The order of the calls for one request: screen() on the head (a refusal is sent at
// once, the body unread); error() for what the server detects itself (413); then, with
// the complete request, live() (streams and websocket upgrades, answered by the site
// itself) and, when it declines, handle(). shutdown() runs before the MHD daemons stop
// (it must resume every suspended connection and close every upgraded one).
#pragma once

#include <microhttpd.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "lib/base/result.h"
#include "lib/http/request.h"

namespace gaffer::auth {
class Store;
}
namespace gaffer::loop {
class Loop;
}

namespace gaffer::http {

struct ServerOptions;
struct RouterOptions;
class Router;
class LiveBase;

class Site {
public:
    virtual ~Site() = default;
    virtual std::optional<Response> screen(const Request& req) const = 0;
    virtual Response error(const Request& req, int status, const char* name, const std::string& reason) const = 0;
    virtual std::optional<MHD_Result> live(MHD_Connection* conn, const Request& req) = 0;
    virtual Response handle(const Request& req) = 0;
    virtual void shutdown() = 0;
};

// What a site is built with: the server's loop, key store (null without a state
// directory), options, and how to make it run an MHD daemon soon (LiveBase::set_kick).
struct SiteEnv {
    loop::Loop& loop;
    auth::Store* store;
    const ServerOptions& opts;
    std::function<void(MHD_Daemon*)> kick;
};
using SiteFactory = std::function<Result<std::unique_ptr<Site>>(const SiteEnv& env)>;

// The RouterOptions a site's router takes from the server options (CORS, hosts, keys).
RouterOptions router_options(const ServerOptions& opts);

// A site made of a Router (screen, error, handle) and a LiveBase (live, shutdown); the
// live part is destroyed first.
class RouterSite : public Site {
public:
    RouterSite(std::unique_ptr<Router> router, std::unique_ptr<LiveBase> live);
    ~RouterSite() override;

    std::optional<Response> screen(const Request& req) const override;
    Response error(const Request& req, int status, const char* name, const std::string& reason) const override;
    std::optional<MHD_Result> live(MHD_Connection* conn, const Request& req) override;
    Response handle(const Request& req) override;
    void shutdown() override;

protected:
    // For a derived site that builds its parts in its own constructor.
    RouterSite();

    std::unique_ptr<Router> router_;
    std::unique_ptr<LiveBase> live_;
};

}  // namespace gaffer::http
