// SPDX-License-Identifier: MIT
// CurlLoop (see curl_loop.h). libcurl functions are never called from inside libcurl's
// own callbacks: those only touch loop watches and the timer.
#include "lib/webhook/curl_loop.h"

#include <poll.h>
#include <sys/socket.h>

#include <vector>

#include "lib/base/log.h"
#include "lib/webhook/curl_api.h"

namespace gaffer::webhook {

namespace {

// Every socket is born close-on-exec (style rule 10); libcurl makes it non-blocking.
curl_socket_t open_socket(void*, curlsocktype, struct curl_sockaddr* addr) {
    int fd = ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    return fd < 0 ? CURL_SOCKET_BAD : fd;
}

}  // namespace

CurlLoop::CurlLoop(loop::Loop& loop, const CurlApi& curl) : loop_(loop), curl_(&curl) {}

Result<std::unique_ptr<CurlLoop>> CurlLoop::create(loop::Loop& loop, long max_connects) {
    GAFFER_TRY(const CurlApi* curl, curl_api());
    std::unique_ptr<CurlLoop> self(new CurlLoop(loop, *curl));
    const curl_version_info_data* info = curl->version_info(CURLVERSION_NOW);
    self->async_dns_ = info && (info->features & CURL_VERSION_ASYNCHDNS);
    self->multi_ = curl->multi_init();
    if (!self->multi_)
        return fail(EIO, "curl_multi_init failed");
    CurlLoop* p = self.get();
    bool good = curl->multi_setopt(p->multi_, CURLMOPT_SOCKETFUNCTION, &CurlLoop::on_socket) == CURLM_OK &&
                curl->multi_setopt(p->multi_, CURLMOPT_SOCKETDATA, p) == CURLM_OK &&
                curl->multi_setopt(p->multi_, CURLMOPT_TIMERFUNCTION, &CurlLoop::on_timer) == CURLM_OK &&
                curl->multi_setopt(p->multi_, CURLMOPT_TIMERDATA, p) == CURLM_OK &&
                curl->multi_setopt(p->multi_, CURLMOPT_MAXCONNECTS, max_connects) == CURLM_OK;
    if (!good)
        return fail(EIO, "curl_multi_setopt failed");
    log_debug("libcurl: %s, %s, %s resolver", curl->soname.c_str(), info ? info->version : "?",
              !p->async_dns_ ? "synchronous" : (info->ares ? "c-ares" : "threaded"));
    return self;
}

CurlLoop::~CurlLoop() {
    *alive_ = false;
    // Drop the watches first: libcurl closes its sockets below, and a watch must go before
    // its fd does. The callbacks then find nothing to do.
    closing_ = true;
    for (auto& [fd, id] : sockets_) loop_.unwatch(id);
    sockets_.clear();
    if (multi_) {
        for (auto& [easy, t] : transfers_) (void)curl_->multi_remove_handle(multi_, easy);
        (void)curl_->multi_cleanup(multi_);
    }
    transfers_.clear();
    loop_.cancel_timer(timer_);
}

Status CurlLoop::add(CURL* easy, Done done, Keep keep) {
    if (curl_->easy_setopt(easy, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_->easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, &open_socket) != CURLE_OK)
        return fail(EIO, "cannot set up the transfer");
    CURLMcode rc = curl_->multi_add_handle(multi_, easy);
    if (rc != CURLM_OK)
        return fail(Error::make(EIO, "curl_multi_add_handle: %s", curl_->multi_strerror(rc)));
    transfers_[easy] = Transfer{std::move(done), keep};
    return ok();
}

void CurlLoop::remove(CURL* easy) {
    auto it = transfers_.find(easy);
    if (it == transfers_.end())
        return;
    transfers_.erase(it);
    // libcurl closes a kept connection below; its number may come back for another one.
    curl_socket_t fd = CURL_SOCKET_BAD;
    if (curl_->easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK && fd != CURL_SOCKET_BAD)
        released_.erase(fd);
    (void)curl_->multi_remove_handle(multi_, easy);
}

int CurlLoop::on_socket(CURL* /*easy*/, curl_socket_t fd, int what, void* userp, void* /*socketp*/) {
    auto* self = static_cast<CurlLoop*>(userp);
    if (self->closing_ || self->released_.count(fd))
        return 0;
    auto it = self->sockets_.find(fd);
    if (what == CURL_POLL_REMOVE) {
        self->forget_socket(fd);
        return 0;
    }
    uint32_t events = 0;
    if (what & CURL_POLL_IN)
        events |= POLLIN;
    if (what & CURL_POLL_OUT)
        events |= POLLOUT;
    if (it != self->sockets_.end()) {
        if (self->loop_.modify(it->second, events))
            return 0;
        // The registration is stale (say the backend lost it); start afresh.
        self->forget_socket(fd);
    }
    auto w = self->loop_.watch(fd, events, [self, fd](uint32_t revents) {
        int mask = 0;
        if (revents & (POLLIN | POLLHUP))
            mask |= CURL_CSELECT_IN;
        if (revents & POLLOUT)
            mask |= CURL_CSELECT_OUT;
        if (revents & POLLERR)
            mask |= CURL_CSELECT_ERR;
        self->socket_action(fd, mask);
    });
    if (!w) {
        log_debug("libcurl: cannot watch fd %d: %s", fd, w.error().message().c_str());
        return -1;  // libcurl fails the transfers on this socket
    }
    self->sockets_.emplace(fd, *w);
    return 0;
}

int CurlLoop::on_timer(CURLM* /*multi*/, long timeout_ms, void* userp) {
    auto* self = static_cast<CurlLoop*>(userp);
    if (self->closing_)
        return 0;
    self->loop_.cancel_timer(self->timer_);
    self->timer_ = 0;
    if (timeout_ms < 0)
        return 0;
    // Zero means "as soon as possible", but not from inside this callback: a loop timer
    // due now runs on the next turn.
    self->timer_ = self->loop_.add_timer(std::chrono::milliseconds(timeout_ms), [self] {
        self->timer_ = 0;
        self->socket_action(CURL_SOCKET_TIMEOUT, 0);
    });
    return 0;
}

void CurlLoop::forget_socket(curl_socket_t fd) {
    auto it = sockets_.find(fd);
    if (it == sockets_.end())
        return;
    loop_.unwatch(it->second);
    sockets_.erase(it);
}

void CurlLoop::socket_action(curl_socket_t fd, int mask) {
    int running = 0;
    CURLMcode rc = curl_->multi_socket_action(multi_, fd, mask, &running);
    if (rc != CURLM_OK)
        log_debug("libcurl: curl_multi_socket_action: %s", curl_->multi_strerror(rc));
    drain_done();
}

void CurlLoop::drain_done() {
    // Collect first: a `done` may add or remove transfers, or destroy this object.
    std::vector<std::pair<CURL*, CURLcode>> finished;
    int left = 0;
    while (CURLMsg* m = curl_->multi_info_read(multi_, &left)) {
        if (m->msg == CURLMSG_DONE)
            finished.emplace_back(m->easy_handle, m->data.result);
    }
    std::shared_ptr<bool> alive = alive_;
    for (auto [easy, result] : finished) {
        if (!*alive)
            return;
        auto it = transfers_.find(easy);
        if (it == transfers_.end() || !it->second.done)
            continue;  // removed by an earlier `done`, or a kept connection already reported
        Done done = std::move(it->second.done);
        it->second.done = nullptr;
        curl_socket_t fd = CURL_SOCKET_BAD;
        if (curl_->easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK)
            fd = CURL_SOCKET_BAD;
        if (it->second.keep == Keep::kNo) {
            transfers_.erase(it);
            (void)curl_->multi_remove_handle(multi_, easy);
        } else if (fd != CURL_SOCKET_BAD && result == CURLE_OK) {
            released_.insert(fd);  // the owner watches it from now on
        }
        if (fd != CURL_SOCKET_BAD)
            forget_socket(fd);
        done(result);
    }
}

}  // namespace gaffer::webhook
