// SPDX-License-Identifier: MIT
// Admission of password checks; see login_throttle.h.
#include "lib/auth/login_throttle.h"

#include <algorithm>

namespace gaffer::auth {

namespace {

std::string address_key(std::string_view address) {
    return "a:" + std::string(address);
}
std::string user_key(std::string_view user) {
    return "u:" + std::string(user);
}

}  // namespace

LoginThrottle::LoginThrottle(Options options)
    : options_(std::move(options)), tokens_(static_cast<double>(options_.checks_per_second)) {
    refilled_ = now();
}

LoginThrottle::TimePoint LoginThrottle::now() const {
    return options_.clock ? options_.clock() : std::chrono::steady_clock::now();
}

std::chrono::steady_clock::duration LoginThrottle::remaining(const std::string& key, TimePoint t) {
    auto it = entries_.find(key);
    if (it == entries_.end())
        return {};
    if (t - it->second.last_failure >= kForgetAfter) {
        entries_.erase(it);
        return {};
    }
    return it->second.blocked_until > t ? it->second.blocked_until - t : std::chrono::steady_clock::duration{};
}

LoginThrottle::Seconds LoginThrottle::admit(std::string_view address, std::string_view user) {
    TimePoint t = now();
    auto wait = std::max(remaining(address_key(address), t), remaining(user_key(user), t));
    if (wait > std::chrono::steady_clock::duration{}) {
        auto s = std::chrono::ceil<Seconds>(wait);
        return std::max(s, Seconds{1});
    }
    // The global budget: a bucket of checks_per_second tokens, refilled continuously.
    double rate = static_cast<double>(options_.checks_per_second);
    double elapsed = std::chrono::duration<double>(t - refilled_).count();
    tokens_ = std::min(rate, tokens_ + elapsed * rate);
    refilled_ = t;
    if (tokens_ < 1.0)
        return Seconds{1};
    tokens_ -= 1.0;
    return Seconds{0};
}

void LoginThrottle::failed(std::string_view address, std::string_view user) {
    TimePoint t = now();
    record_failure(address_key(address), t);
    record_failure(user_key(user), t);
}

void LoginThrottle::succeeded(std::string_view address, std::string_view user) {
    entries_.erase(address_key(address));
    entries_.erase(user_key(user));
}

void LoginThrottle::record_failure(std::string key, TimePoint t) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        make_room(t);
        it = entries_.emplace(std::move(key), Entry{}).first;
    } else if (t - it->second.last_failure >= kForgetAfter) {
        it->second = Entry{};
    }
    Entry& e = it->second;
    e.failures++;
    e.last_failure = t;
    if (e.failures > kFreeFailures) {
        unsigned doublings = std::min(e.failures - kFreeFailures - 1, 16u);
        Seconds delay = std::min(kFirstDelay * (int64_t{1} << doublings), kMaxDelay);
        e.blocked_until = t + delay;
    }
}

void LoginThrottle::make_room(TimePoint t) {
    if (entries_.size() < options_.max_entries)
        return;
    std::erase_if(entries_, [&](const auto& kv) { return t - kv.second.last_failure >= kForgetAfter; });
    if (entries_.size() < options_.max_entries || entries_.empty())
        return;
    auto oldest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
        return a.second.last_failure < b.second.last_failure;
    });
    entries_.erase(oldest);
}

}  // namespace gaffer::auth
