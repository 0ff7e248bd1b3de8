// SPDX-License-Identifier: MIT
// The gaffer_lookupd site (reference §1.3, §13.2-§13.4) over a lookup::Registry, served by
// lib/http's Server (lib/http/site.h) with the endpoint machinery, rights, CORS and key API
// of gafferd:
//   * GET / , /ping, /version (public); /nodes, /sessions[/<node>], /jobs, /findJob?name=,
//     /findSession?sessionid= (keyed: any valid key when require_key);
//   * WS /ws: node registration. The upgrade needs the `register` right (401 without a
//     key, 403 without the right); the connection may IDENTIFY only as a name its key
//     allows (Registry::set_allowed_names); each text frame is one Registry::handle, its
//     reply one frame; a binary frame closes with 1003; max_nodes open connections: 429;
//   * expiry: a timer every heartbeat/2 runs Registry::expire and closes those websockets
//     with 1001 "expired" (their events were sent by the registry);
//   * event feed: every registry event goes to every subscriber of the SockJS server at
//     /lookup (all transports) and of the raw /lookup/websocket as one JSON message; a
//     subscriber whose unsent backlog passes feed_backlog bytes is cut off, never buffered
//     without end. Client messages are ignored.
// The registry is the caller's (an etcd mirror may feed it too); the site installs the
// registry's event sink and removes it when destroyed.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "lib/http/site.h"
#include "lib/lookup/registry.h"

namespace gaffer::lookupd {

struct SiteOptions {
    // Bytes a feed subscriber may have waiting before it is cut off.
    std::size_t feed_backlog = 1 << 20;
    std::string version;  // empty: GAFFER_VERSION
};

// For http::Server::create. `registry` must outlive the server.
http::SiteFactory site_factory(lookup::Registry& registry, SiteOptions options = {});

}  // namespace gaffer::lookupd
