// SPDX-License-Identifier: MIT
#include "lib/announce/link.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "lib/base/log.h"
#include "lib/base/strutil.h"
#include "lib/webhook/curl_api.h"
#include "lib/ws/random.h"

namespace gaffer::announce {

using namespace std::chrono_literals;

namespace {

constexpr auto kStableAfter = 10s;  // a link up this long resets the back-off
constexpr auto kWarnEvery = 10s;    // at most one warning per link this often
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxReadPerWakeup = size_t{1} << 20;

bool is_ctl_or_space(char c) {
    return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
}

// Every socket is born close-on-exec (style rule 10); libcurl makes it non-blocking.
curl_socket_t open_socket(void*, curlsocktype, struct curl_sockaddr* addr) {
    int fd = ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    return fd < 0 ? CURL_SOCKET_BAD : fd;
}

template <typename T>
bool set(const webhook::CurlApi& curl, CURL* easy, CURLoption opt, T value) {
    return curl.easy_setopt(easy, opt, value) == CURLE_OK;
}

}  // namespace

Result<LookupdUrl> parse_lookupd_url(std::string_view text) {
    LookupdUrl u;
    u.text = std::string(text);
    std::string_view rest;
    if (istarts_with(text, "http://")) {
        rest = text.substr(7);
    } else if (istarts_with(text, "https://")) {
        u.tls = true;
        rest = text.substr(8);
    } else {
        return fail(EINVAL, "lookupd address '" + std::string(text) + "' must start with http:// or https://");
    }
    if (std::any_of(rest.begin(), rest.end(), is_ctl_or_space) || rest.find_first_of("?#@\\") != std::string::npos)
        return fail(EINVAL, "lookupd address '" + std::string(text) +
                                "' may hold no space, control character, user info, query or fragment");
    size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    std::string_view host = authority, port;
    if (starts_with(authority, "[")) {
        size_t close = authority.find(']');
        if (close == std::string_view::npos || close < 2)
            return fail(EINVAL, "lookupd address '" + std::string(text) + "': unterminated [IPv6] host");
        host = authority.substr(0, close + 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after[0] != ':')
                return fail(EINVAL, "lookupd address '" + std::string(text) + "': junk after the [IPv6] host");
            port = after.substr(1);
        }
    } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        if (port.empty())
            return fail(EINVAL, "lookupd address '" + std::string(text) + "': empty port");
    }
    if (host.empty())
        return fail(EINVAL, "lookupd address '" + std::string(text) + "' has no host");
    if (authority.find(':') != std::string_view::npos && !port.empty()) {
        auto n = parse_int(port);
        if (!n || *n < 1 || *n > 65535 ||
            !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return fail(EINVAL, "lookupd address '" + std::string(text) + "': port must be 1-65535");
    }
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    u.host = std::string(authority);
    u.ws_path = std::string(path) + "/ws";
    u.connect = std::string(u.tls ? "https://" : "http://") + u.host + "/";
    return u;
}

// ---------------------------------------------------------------------------------------
// LookupdLink

LookupdLink::LookupdLink(loop::Loop& loop, webhook::CurlLoop& connector, const LinkOptions& options, LookupdUrl url,
                         std::function<Snapshot()> snapshot)
    : loop_(loop), connector_(connector), options_(options), url_(std::move(url)), snapshot_(std::move(snapshot)) {}

LookupdLink::~LookupdLink() {
    *alive_ = false;
    if (state_ == State::kOpen && out_sent_ == out_.size()) {
        // Say goodbye if the socket takes it at once (one small frame); never wait.
        std::array<uint8_t, 4> mask;
        if (random(mask.data(), mask.size())) {
            std::string frame =
                ws::encode_masked_frame(ws::Opcode::kClose, ws::encode_close(ws::kCloseGoingAway).substr(2), mask);
            size_t n = 0;
            (void)connector_.curl().easy_send(easy_, frame.data(), frame.size(), &n);
        }
    }
    teardown();
    loop_.cancel_timer(retry_timer_);
}

void LookupdLink::start() {
    if (state_ != State::kWaiting)
        return;
    loop_.cancel_timer(retry_timer_);
    retry_timer_ = 0;
    connect();
}

void LookupdLink::warn(const std::string& what) {
    auto now = loop_.now();
    if (last_warning_ != loop::Clock::time_point{} && now - last_warning_ < kWarnEvery) {
        ++suppressed_;
        log_debug("lookupd %s: %s", url_.text.c_str(), what.c_str());
        return;
    }
    if (suppressed_)
        log_warning("lookupd %s: %s (and %llu more since the last warning)", url_.text.c_str(), what.c_str(),
                    static_cast<unsigned long long>(suppressed_));
    else
        log_warning("lookupd %s: %s", url_.text.c_str(), what.c_str());
    suppressed_ = 0;
    last_warning_ = now;
}

void LookupdLink::connect() {
    const webhook::CurlApi& curl = connector_.curl();
    ++stats_.attempts;
    easy_ = curl.easy_init();
    if (!easy_)
        return drop("curl_easy_init failed");
    bool good = set(curl, easy_, CURLOPT_URL, url_.connect.c_str()) && set(curl, easy_, CURLOPT_CONNECT_ONLY, 1L) &&
                set(curl, easy_, CURLOPT_NOSIGNAL, 1L) && set(curl, easy_, CURLOPT_OPENSOCKETFUNCTION, &open_socket) &&
#if LIBCURL_VERSION_NUM >= 0x075500
                set(curl, easy_, CURLOPT_PROTOCOLS_STR, "http,https") &&
#else
                set(curl, easy_, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS)) &&
#endif
                set(curl, easy_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count())) &&
                // Never a proxy: the lookupd is spoken to directly (a CONNECT_ONLY transfer
                // through an HTTP proxy would talk to the proxy).
                set(curl, easy_, CURLOPT_PROXY, "");
    if (good && !options_.tls.cacert.empty())
        good = set(curl, easy_, CURLOPT_CAINFO, options_.tls.cacert.c_str());
    if (good && !options_.tls.certfile.empty())
        good = set(curl, easy_, CURLOPT_SSLCERT, options_.tls.certfile.c_str());
    if (good && !options_.tls.keyfile.empty())
        good = set(curl, easy_, CURLOPT_SSLKEY, options_.tls.keyfile.c_str());
    if (!good)
        return drop("cannot set up the connection (curl_easy_setopt)");
    std::weak_ptr<bool> alive = alive_;
    if (auto st = connector_.add(
            easy_,
            [this, alive](CURLcode rc) {
                if (auto a = alive.lock(); a && *a)
                    on_connected(rc);
            },
            webhook::CurlLoop::Keep::kConnection);
        !st)
        return drop(st.error().context);
    state_ = State::kConnecting;
    // The connect and the handshake together: a lookupd that accepts and never answers
    // (a full backlog, a blackhole) is given up on.
    deadline_timer_ = loop_.add_timer(options_.connect_timeout, [this] {
        deadline_timer_ = 0;
        drop("no websocket within " + std::to_string(options_.connect_timeout.count()) + " ms");
    });
}

void LookupdLink::on_connected(CURLcode rc) {
    const webhook::CurlApi& curl = connector_.curl();
    if (rc != CURLE_OK)
        return drop(std::string("cannot connect: ") + curl.easy_strerror(rc));
    curl_socket_t fd = CURL_SOCKET_BAD;
    if (curl.easy_getinfo(easy_, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
        return drop("connected, but libcurl has no socket");
    fd_ = fd;  // ours to watch from now on (CurlLoop no longer does)
    ws::HeaderList extra;
    if (!options_.key.empty())
        extra.emplace_back("X-Api-Key", options_.key);
    auto req = ws::make_client_request(url_.host, url_.ws_path, extra);
    if (!req)
        return drop(req.error().context);
    ws_key_ = req->key;
    out_ = std::move(req->text);
    out_sent_ = 0;
    appended_total_ = out_.size();
    reader_ = ws::ResponseReader();
    state_ = State::kHandshake;
    std::weak_ptr<bool> alive = alive_;
    auto w = loop_.watch(fd_, POLLIN | POLLOUT, [this, alive](uint32_t revents) {
        if (auto a = alive.lock(); a && *a)
            on_io(revents);
    });
    if (!w)
        return drop("cannot watch the socket: " + w.error().message());
    watch_ = *w;
    watched_events_ = POLLIN | POLLOUT;
}

void LookupdLink::update_watch() {
    if (!watch_)
        return;
    uint32_t want = POLLIN | (out_sent_ < out_.size() ? POLLOUT : 0);
    if (want == watched_events_)
        return;
    if (loop_.modify(watch_, want))
        watched_events_ = want;
}

void LookupdLink::flush() {
    const webhook::CurlApi& curl = connector_.curl();
    while (out_sent_ < out_.size()) {
        size_t n = 0;
        CURLcode rc = curl.easy_send(easy_, out_.data() + out_sent_, out_.size() - out_sent_, &n);
        if (rc == CURLE_AGAIN)
            break;
        if (rc != CURLE_OK)
            return drop(std::string("send: ") + curl.easy_strerror(rc));
        out_sent_ += n;
        sent_total_ += n;
    }
    if (out_sent_ == out_.size()) {
        out_.clear();
        out_sent_ = 0;
    } else if (out_sent_ > (size_t{64} << 10) && out_sent_ > out_.size() / 2) {
        out_.erase(0, out_sent_);
        out_sent_ = 0;
    }
    update_watch();
}

void LookupdLink::on_io(uint32_t revents) {
    std::weak_ptr<bool> alive = alive_;
    if (revents & POLLOUT) {
        flush();
        if (state_ == State::kWaiting || state_ == State::kConnecting)
            return;
    }
    if (!(revents & (POLLIN | POLLHUP | POLLERR)))
        return;
    const webhook::CurlApi& curl = connector_.curl();
    char buf[kReadChunk];
    size_t total = 0;
    // Until EAGAIN: TLS may hold decrypted bytes the socket no longer signals.
    while (total < kMaxReadPerWakeup) {
        size_t n = 0;
        CURLcode rc = curl.easy_recv(easy_, buf, sizeof buf, &n);
        if (rc == CURLE_AGAIN)
            return;
        if (rc != CURLE_OK)
            return drop(std::string("receive: ") + curl.easy_strerror(rc));
        if (n == 0)
            return drop("the lookupd closed the connection");
        total += n;
        on_bytes(std::string_view(buf, n));
        if (state_ != State::kHandshake && state_ != State::kOpen)
            return;  // dropped while handling
    }
    // More may be waiting: level-triggered watches call again; TLS-buffered bytes need a
    // nudge on the next turn.
    loop_.post([this, alive] {
        if (auto a = alive.lock(); a && *a && (state_ == State::kHandshake || state_ == State::kOpen))
            on_io(POLLIN);
    });
}

void LookupdLink::on_bytes(std::string_view bytes) {
    last_rx_ = loop_.now();
    if (state_ == State::kHandshake) {
        switch (reader_.feed(bytes)) {
            case ws::ResponseReader::State::kNeedMore:
                return;
            case ws::ResponseReader::State::kFailed:
                return drop(reader_.error().context);
            case ws::ResponseReader::State::kDone:
                break;
        }
        if (auto st = ws::check_response(reader_.head(), ws_key_); !st)
            return drop(st.error().context);
        std::string rest = reader_.take_rest();
        on_open();
        if (!rest.empty())
            decode(rest);
        return;
    }
    decode(bytes);
}

void LookupdLink::decode(std::string_view bytes) {
    if (state_ != State::kOpen)
        return;
    // on_frame() may drop the link, which must not free the decoder under its own feet:
    // it is held here and put back only if the link is still open.
    std::unique_ptr<ws::Decoder> decoder = std::move(decoder_);
    size_t used = 0;
    while (used < bytes.size() && state_ == State::kOpen && !decoder->finished()) {
        ws::Decoder::Step step = decoder->step(bytes.substr(used));
        used += step.consumed;
        if (step.event)
            on_frame(std::move(*step.event));
        if (step.consumed == 0 && !step.event)
            break;
    }
    if (state_ == State::kOpen)
        decoder_ = std::move(decoder);
}

void LookupdLink::on_open() {
    loop_.cancel_timer(deadline_timer_);
    deadline_timer_ = 0;
    state_ = State::kOpen;
    ++stats_.opened;
    opened_at_ = last_rx_ = loop_.now();
    decoder_ = std::make_unique<ws::Decoder>(ws::DecoderOptions{ws::Role::kClient, kMaxFrame, kMaxFrame});
    log_info("lookupd %s: connected, registering as '%s'", url_.text.c_str(), options_.identity.name.c_str());
    reg_.clear();
    send_op({OpType::kIdentify, {}, 0});
    resync();  // flushes
    arm_heartbeat();
}

void LookupdLink::arm_heartbeat() {
    if (state_ != State::kOpen)
        return;
    heartbeat_timer_ = loop_.add_timer(options_.heartbeat, [this] {
        heartbeat_timer_ = 0;
        on_heartbeat();
    });
}

void LookupdLink::on_heartbeat() {
    if (state_ != State::kOpen)
        return;
    if (loop_.now() - last_rx_ >= 2 * options_.heartbeat)
        return drop("no answer for 2 heartbeats");
    send_all({{OpType::kPing, {}, 0}});  // flushes
    arm_heartbeat();
}

void LookupdLink::resync() {
    if (state_ != State::kOpen)
        return;
    in_sync_ = true;
    send_all(reg_.sync(snapshot_()));
    in_sync_ = false;
}

void LookupdLink::send_all(const std::vector<Op>& ops) {
    if (state_ != State::kOpen) {
        // Not open: the shadow must stay empty; the next link registers everything.
        reg_.clear();
        return;
    }
    for (const Op& op : ops) {
        send_op(op);
        if (state_ != State::kOpen)
            return;
    }
    flush();
}

Status LookupdLink::random(uint8_t* out, size_t n) {
    if (random_used_ + n > random_.size()) {
        GAFFER_RETURN_IF_ERROR(ws::random_bytes(random_.data(), random_.size()));
        random_used_ = 0;
    }
    std::memcpy(out, random_.data() + random_used_, n);
    random_used_ += n;
    return ok();
}

void LookupdLink::send_op(const Op& op) {
    uint8_t raw[16];
    if (auto st = random(raw, sizeof raw); !st)
        return drop("no random bytes for a msgid: " + st.error().message());
    static constexpr char kHex[] = "0123456789abcdef";
    std::string msgid;
    for (uint8_t b : raw) {
        msgid.push_back(kHex[b >> 4]);
        msgid.push_back(kHex[b & 15]);
    }
    send_frame(ws::Opcode::kText, encode(op, options_.identity, msgid));
    if (state_ != State::kOpen)
        return;
    if (pending_.size() >= kMaxPending)
        pending_.pop_front();
    pending_.emplace_back(std::move(msgid), op);
}

void LookupdLink::send_frame(ws::Opcode opcode, std::string_view payload) {
    std::array<uint8_t, 4> mask;
    if (auto st = random(mask.data(), mask.size()); !st)
        return drop("no random bytes for a frame mask: " + st.error().message());
    std::string frame = ws::encode_masked_frame(opcode, payload, mask);
    out_ += frame;
    appended_total_ += frame.size();
    if (in_sync_)
        sync_end_total_ = appended_total_;
    // The full registrations (bounded by the manager's own limits) do not count: what
    // waits beyond them does.
    uint64_t base = std::max(sent_total_, sync_end_total_);
    uint64_t waiting = appended_total_ > base ? appended_total_ - base : 0;
    if (waiting > options_.max_queue)
        return drop("the lookupd does not keep up (" + std::to_string(waiting) + " bytes waiting)");
}

void LookupdLink::on_frame(ws::Event&& ev) {
    if (auto* m = std::get_if<ws::Message>(&ev)) {
        if (m->opcode == ws::Opcode::kText)
            on_reply(m->payload);
        return;
    }
    if (auto* p = std::get_if<ws::Ping>(&ev)) {
        send_frame(ws::Opcode::kPong, p->payload);
        if (state_ == State::kOpen)
            flush();
        return;
    }
    if (std::get_if<ws::Pong>(&ev))
        return;
    if (auto* c = std::get_if<ws::Close>(&ev)) {
        std::string why = "the lookupd closed the websocket (" + std::to_string(c->code) + ")";
        // close_reply() encodes a server frame (2-byte header): its payload goes out masked.
        send_frame(ws::Opcode::kClose, ws::close_reply(*c).substr(2));
        if (state_ == State::kOpen)
            flush();
        if (state_ == State::kOpen)
            drop(why);
        return;
    }
    if (auto* e = std::get_if<ws::ProtocolError>(&ev))
        return drop("websocket protocol error: " + e->why);
}

void LookupdLink::on_reply(std::string_view text) {
    auto reply = parse_reply(text);
    if (!reply)
        return warn(reply.error().context);
    Op op;
    bool known = false;
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
        if (it->first == reply->msgid) {
            op = it->second;
            known = true;
            pending_.erase(it);
            break;
        }
    }
    if (reply->ok)
        return;
    ++stats_.refused;
    std::string what = known ? std::string(op_name(op.type)) + (op.job.empty() ? "" : " " + op.job) +
                                   (op.pid ? " pid " + std::to_string(op.pid) : "")
                             : "a message";
    warn("refused " + what + ": " + std::to_string(reply->error) + " " + reply->reason);
    // Without an identity nothing else is accepted (409: the name and origin are taken,
    // say by our previous connection the lookupd has not dropped yet): start over.
    if (known && op.type == OpType::kIdentify)
        drop("IDENTIFY refused");
}

void LookupdLink::teardown() {
    loop_.cancel_timer(deadline_timer_);
    loop_.cancel_timer(heartbeat_timer_);
    deadline_timer_ = heartbeat_timer_ = 0;
    if (watch_)
        loop_.unwatch(watch_);
    watch_ = 0;
    watched_events_ = 0;
    fd_ = -1;
    if (easy_) {
        connector_.remove(easy_);
        connector_.curl().easy_cleanup(easy_);
        easy_ = nullptr;
    }
    out_.clear();
    out_.shrink_to_fit();
    out_sent_ = 0;
    appended_total_ = sent_total_ = sync_end_total_ = 0;
    in_sync_ = false;
    pending_.clear();
    decoder_.reset();
    reader_ = ws::ResponseReader();
    reg_.clear();
}

void LookupdLink::drop(const std::string& why) {
    bool was_open = state_ == State::kOpen;
    if (was_open && loop_.now() - opened_at_ >= kStableAfter)
        failures_ = 0;
    teardown();
    state_ = State::kWaiting;
    ++stats_.failures;
    ++failures_;
    auto r = ws::random_u32();
    auto delay = reconnect_delay(failures_, r ? *r : 0x80000000u);
    warn(why + (was_open ? "; reconnecting" : "; retrying") + " in " + std::to_string(delay.count()) + " ms");
    loop_.cancel_timer(retry_timer_);
    retry_timer_ = loop_.add_timer(delay, [this] {
        retry_timer_ = 0;
        if (state_ == State::kWaiting)
            connect();
    });
}

}  // namespace gaffer::announce
