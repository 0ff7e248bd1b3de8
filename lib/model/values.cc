// SPDX-License-Identifier: MIT
#include "lib/model/values.h"

#include <signal.h>
#include <string.h>

#include "lib/base/strutil.h"

namespace gaffer::model {

namespace {
struct SigName {
    const char* name;
    int sig;
};
const SigName kSignals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},     {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},   {"FPE", SIGFPE},     {"KILL", SIGKILL},
    {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},     {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"POLL", SIGPOLL}, {"PWR", SIGPWR},       {"SYS", SIGSYS},
};
}  // namespace

std::optional<int> signal_from_number(long long n) {
    if (n < 1 || n > 64)
        return std::nullopt;
    return static_cast<int>(n);
}

std::optional<int> parse_signal(std::string_view text) {
    std::string t = to_upper(trim(text));
    if (t.empty())
        return std::nullopt;
    if (auto n = parse_int(t))
        return signal_from_number(*n);
    if (starts_with(t, "SIG"))
        t = t.substr(3);
    for (const auto& s : kSignals)
        if (t == s.name)
            return s.sig;
    // RTMIN+n / RTMAX-n
    if (starts_with(t, "RTMIN")) {
        if (t.size() == 5)
            return SIGRTMIN;
        if (t[5] == '+') {
            auto n = parse_int(t.substr(6));
            if (n && *n >= 0 && SIGRTMIN + *n <= SIGRTMAX)
                return static_cast<int>(SIGRTMIN + *n);
        }
    }
    return std::nullopt;
}

std::string signal_name(int sig) {
    for (const auto& s : kSignals)
        if (s.sig == sig)
            return s.name;
    return std::to_string(sig);
}

int ScaleOp::apply(int current) const {
    long long r = current;
    switch (kind) {
        case Kind::kAdd:
            r += n;
            break;
        case Kind::kSub:
            r -= n;
            break;
        case Kind::kSet:
            r = n;
            break;
    }
    if (r < 0)
        r = 0;
    if (r > 1000000)
        r = 1000000;
    return static_cast<int>(r);
}

ScaleOp scale_from_int(long long n) {
    if (n > 1000000)
        n = 1000000;
    if (n < -1000000)
        n = -1000000;
    if (n > 0)
        return {ScaleOp::Kind::kAdd, static_cast<int>(n)};
    return {ScaleOp::Kind::kSub, static_cast<int>(-n)};
}

std::optional<ScaleOp> parse_scale(std::string_view text) {
    if (text.empty())
        return std::nullopt;
    ScaleOp op;
    std::string_view digits = text;
    switch (text[0]) {
        case '+':
            op.kind = ScaleOp::Kind::kAdd;
            digits = text.substr(1);
            break;
        case '-':
            op.kind = ScaleOp::Kind::kSub;
            digits = text.substr(1);
            break;
        case '=':
            op.kind = ScaleOp::Kind::kSet;
            digits = text.substr(1);
            break;
        default:
            op.kind = ScaleOp::Kind::kAdd;
            break;
    }
    if (digits.empty() || digits.size() > 7)
        return std::nullopt;
    int v = 0;
    for (char c : digits) {
        if (c < '0' || c > '9')
            return std::nullopt;
        v = v * 10 + (c - '0');
    }
    op.n = v;
    return op;
}

Result<std::vector<std::string>> shell_split(std::string_view s) {
    std::vector<std::string> words;
    std::string cur;
    bool in_word = false;
    size_t i = 0;
    while (i < s.size()) {
        char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (in_word) {
                words.push_back(std::move(cur));
                cur.clear();
                in_word = false;
            }
            ++i;
        } else if (c == '\'') {
            size_t j = s.find('\'', i + 1);
            if (j == std::string_view::npos)
                return fail(Error::make(EINVAL, "unterminated single quote"));
            cur.append(s.substr(i + 1, j - i - 1));
            in_word = true;
            i = j + 1;
        } else if (c == '"') {
            ++i;
            bool closed = false;
            while (i < s.size()) {
                char d = s[i];
                if (d == '"') {
                    closed = true;
                    ++i;
                    break;
                }
                if (d == '\\' && i + 1 < s.size() && strchr("\"\\$`\n", s[i + 1])) {
                    if (s[i + 1] != '\n')
                        cur.push_back(s[i + 1]);
                    i += 2;
                    continue;
                }
                cur.push_back(d);
                ++i;
            }
            if (!closed)
                return fail(Error::make(EINVAL, "unterminated double quote"));
            in_word = true;
        } else if (c == '\\') {
            if (i + 1 >= s.size())
                return fail(Error::make(EINVAL, "trailing backslash"));
            if (s[i + 1] != '\n') {
                cur.push_back(s[i + 1]);
                in_word = true;
            }
            i += 2;
        } else {
            cur.push_back(c);
            in_word = true;
            ++i;
        }
    }
    if (in_word)
        words.push_back(std::move(cur));
    return words;
}

std::string shell_quote(std::string_view w) {
    if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_") ==
                          std::string_view::npos)
        return std::string(w);
    std::string r = "'";
    for (char c : w) {
        if (c == '\'') {
            r += "'\\''";
        } else {
            r += c;
        }
    }
    return r + "'";
}

std::string substitute_vars(std::string_view s, const Env& env) {
    std::string out;
    out.reserve(s.size());
    auto is_name = [](char c, bool first) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || (!first && c >= '0' && c <= '9');
    };
    size_t i = 0;
    while (i < s.size()) {
        char c = s[i];
        if (c != '$' || i + 1 >= s.size()) {
            out.push_back(c);
            ++i;
            continue;
        }
        char d = s[i + 1];
        if (d == '$') {
            out.push_back('$');
            i += 2;
        } else if (d == '{') {
            size_t j = s.find('}', i + 2);
            std::string_view name = j == std::string_view::npos ? std::string_view() : s.substr(i + 2, j - i - 2);
            bool valid = !name.empty() && is_name(name[0], true);
            for (char n : name) valid = valid && is_name(n, false);
            auto it = valid ? env.find(std::string(name)) : env.end();
            if (it != env.end()) {
                out += it->second;
                i = j + 1;
            } else {
                out.push_back('$');  // unknown or malformed: left as written
                ++i;
            }
        } else if (is_name(d, true)) {
            size_t j = i + 1;
            while (j < s.size() && is_name(s[j], false)) ++j;
            auto it = env.find(std::string(s.substr(i + 1, j - i - 1)));
            if (it != env.end()) {
                out += it->second;
            } else {
                out.append(s.substr(i, j - i));
            }
            i = j;
        } else {
            out.push_back('$');
            ++i;
        }
    }
    return out;
}

}  // namespace gaffer::model
