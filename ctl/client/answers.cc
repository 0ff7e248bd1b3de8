// SPDX-License-Identifier: MIT
// Answers and input of the command-line tools (see answers.h).
#include "ctl/client/answers.h"

#include <signal.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "lib/base/strutil.h"

namespace gaffer::client {

using json::JsonPtr;

namespace {

Error failure(const std::string& what, const std::string& why) {
    return Error{0, what + ": " + why};
}

struct termios g_saved_termios;
volatile sig_atomic_t g_echo_off = 0;

void restore_echo_and_die(int sig) {
    if (g_echo_off)
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
    signal(sig, SIG_DFL);
    raise(sig);
}

}  // namespace

bool is_pid(std::string_view s) {
    return !s.empty() && s.size() <= 10 && s.find_first_not_of("0123456789") == std::string_view::npos;
}

bool is_qualified(std::string_view s) {
    return s.find_first_of("./") != std::string_view::npos;
}

std::pair<std::string, std::string> pid_and_stream(std::string_view arg) {
    size_t dot = arg.find('.');
    if (dot == std::string_view::npos)
        return {std::string(arg), ""};
    return {std::string(arg.substr(0, dot)), std::string(arg.substr(dot + 1))};
}

std::string http_error_text(const Response& r) {
    std::string error, reason;
    if (auto j = json::parse(r.body); j && json_is_object(j->get())) {
        json_t* e = json_object_get(j->get(), "error");
        if (json_is_string(e))
            error = json_string_value(e);
        json_t* why = json_object_get(j->get(), "reason");
        if (json_is_string(why))
            reason = json_string_value(why);
    }
    if (r.status == 401)
        return "Unauthorized access. You need an API key";
    if (r.status == 403) {
        std::string s = "Forbidden access. API key permissions aren't enough";
        if (!reason.empty() && reason != "forbidden")
            s += " (" + reason + ")";
        return s;
    }
    std::string s = std::to_string(r.status);
    if (!error.empty()) {
        s += " " + error;
        if (!reason.empty() && reason != error)
            s += " (" + reason + ")";
    } else if (!reason.empty()) {
        s += " " + reason;
    } else if (*reason_phrase(r.status)) {
        s += " ";
        s += reason_phrase(r.status);
    }
    return s;
}

std::string stream_end_text(const StreamEnd& e) {
    if (e.error)
        return e.error->message();
    return http_error_text(e.response());
}

// The local time of day, "HH:MM:SS".
std::string clock_text() {
    time_t t = time(nullptr);
    struct tm tm;
    char buf[16] = "??:??:??";
    if (localtime_r(&t, &tm))
        strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    return buf;
}

// One ANSI colour per name, stable across runs (FNV-1a of the name).
const char* colour_for(std::string_view name) {
    static const char* const kColours[] = {"\033[32m", "\033[33m", "\033[34m", "\033[35m",
                                           "\033[36m", "\033[92m", "\033[93m", "\033[96m"};
    uint32_t h = 2166136261u;
    for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    return kColours[h % (sizeof kColours / sizeof kColours[0])];
}

// "HH:MM:SS <job> | <event> <job>" for a job event; "... | <event> process with pid <pid>"
// for a process event, plus the exit status or signal of an exit and the signal of a kill.
std::string event_line(const std::string& type, const std::string& data, bool colour) {
    std::string name = "-";
    long long pid = -1;
    std::string extra;
    auto j = json::parse(data);
    if (j && json_is_object(j->get())) {
        json_t* msg = j->get();
        if (json_t* n = json_object_get(msg, "name"); json_is_string(n))
            name = json_string_value(n);
        if (json_t* p = json_object_get(msg, "pid"); json_is_integer(p))
            pid = json_integer_value(p);
        json_t* sig = json_object_get(msg, "term_signal");
        json_t* st = json_object_get(msg, "exit_status");
        if (json_is_integer(sig) && json_integer_value(sig) > 0)
            extra = " (signal " + std::to_string(json_integer_value(sig)) + ")";
        else if (json_is_integer(st))
            extra = " (status " + std::to_string(json_integer_value(st)) + ")";
        if (json_t* r = json_object_get(msg, "reason"); json_is_string(r))
            extra += std::string(" [") + json_string_value(r) + "]";
        if (json_t* s = json_object_get(msg, "signum"); json_is_integer(s))
            extra = " (signal " + std::to_string(json_integer_value(s)) + ")";
    }
    std::string head = clock_text() + " " + name;
    std::string line = colour ? std::string(colour_for(name)) + head + "\033[0m" : head;
    line += " | " + type + " ";
    line += pid >= 0 ? "process with pid " + std::to_string(pid) : name;
    line += extra;
    line += '\n';
    return line;
}

Result<JsonPtr> permissions_from_words(const std::vector<std::string>& words) {
    JsonPtr perms(json_object());
    bool admin = false, create_key = false, create_user = false;
    JsonPtr manage(json_array()), write(json_array()), read(json_array()), uids(json_array()),
        register_names(json_array());
    auto add_unique = [](json_t* arr, const std::string& v) {
        size_t i;
        json_t* e;
        json_array_foreach(arr, i, e) if (json_is_string(e) && v == json_string_value(e)) return;
        json_array_append_new(arr, json::str(v).release());
    };
    for (const auto& arg : words) {
        if (arg == "+a") {
            admin = create_key = create_user = true;
        } else if (arg == "+u") {
            create_user = true;
        } else if (arg == "+k") {
            create_key = true;
        } else if (arg == "+m") {
            add_unique(manage.get(), "*");
        } else if (starts_with(arg, "uid=") && arg.size() > 4) {
            add_unique(uids.get(), arg.substr(4));
        } else if (starts_with(arg, "register=") && arg.size() > 9) {
            add_unique(register_names.get(), arg.substr(9));
        } else {
            size_t plus = arg.rfind('+');
            std::string target = plus == std::string::npos ? "" : arg.substr(0, plus);
            std::string rights = plus == std::string::npos ? "" : arg.substr(plus + 1);
            if (target.empty() || rights.empty() || rights.find_first_not_of("rwm") != std::string::npos)
                return fail(EINVAL, "invalid permission '" + arg +
                                        "' (expected +a, +u, +k, +m, TARGET+rwm, uid=USER or register=NODE)");
            for (char c : rights) add_unique(c == 'm' ? manage.get() : c == 'w' ? write.get() : read.get(), target);
        }
    }
    json::set(perms.get(), "admin", JsonPtr(json_boolean(admin)));
    json::set(perms.get(), "create_key", JsonPtr(json_boolean(create_key)));
    json::set(perms.get(), "create_user", JsonPtr(json_boolean(create_user)));
    json::set(perms.get(), "manage", std::move(manage));
    json::set(perms.get(), "write", std::move(write));
    json::set(perms.get(), "read", std::move(read));
    json::set(perms.get(), "uids", std::move(uids));
    // gaffer_lookupd's right (auth::Permissions), only when given.
    if (json_array_size(register_names.get()) > 0)
        json::set(perms.get(), "register", std::move(register_names));
    return perms;
}

Status send_to_stdin(HttpClient& http, const std::string& w, const std::string& pid, std::string_view data) {
    GAFFER_TRY(Response r, http.request("POST", "/streams/" + pid + "/stdin", data,
                                        {{"Content-Type", "application/octet-stream"}}));
    if (r.ok())
        return {};
    std::string error;
    if (auto j = json::parse(r.body); j && json_is_object(j->get()))
        if (json_t* e = json_object_get(j->get(), "error"); json_is_string(e))
            error = json_string_value(e);
    if (r.status == 403 && error == "forbidden_write")
        return fail(failure(w, "the process's stdin is not redirected (its job needs redirect_input = true)"));
    if (r.status == 404)
        return fail(failure(w, "no process " + pid + " (404 " + (error.empty() ? "not_found" : error) + ")"));
    return fail(failure(w, http_error_text(r)));
}

Status send_words(HttpClient& http, const std::string& w, const std::string& pid,
                  const std::vector<std::string>& words) {
    if (words.size() == 1 && words[0] == "-") {
        char* line = nullptr;
        size_t cap = 0;
        ssize_t n;
        Status st;
        while ((n = getline(&line, &cap, stdin)) >= 0) {
            std::string s(line, static_cast<size_t>(n));
            std::string_view bare = s;
            while (!bare.empty() && (bare.back() == '\n' || bare.back() == '\r')) bare.remove_suffix(1);
            if (bare == ".")
                break;
            if (s.empty() || s.back() != '\n')
                s += '\n';
            if (st = send_to_stdin(http, w, pid, s); !st)
                break;
        }
        bool bad = st && ferror(stdin);
        free(line);
        if (bad)
            return fail(Error::from_errno("cannot read stdin"));
        return st;
    }
    std::string data = join(words, " ");
    if (data.empty() || data.back() != '\n')
        data += '\n';
    return send_to_stdin(http, w, pid, data);
}

Result<std::string> read_input(const std::string& path) {
    constexpr size_t kMax = 16u << 20;
    FILE* f = path == "-" ? stdin : fopen(path.c_str(), "rbe");
    if (!f)
        return fail(Error::from_errno("cannot open '%s'", path.c_str()));
    std::string data;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        data.append(buf, n);
        if (data.size() > kMax) {
            if (f != stdin)
                fclose(f);
            return fail(Error::make(EFBIG, "cannot read '%s'", path.c_str()));
        }
    }
    bool bad = ferror(f);
    int saved = errno;
    if (f != stdin)
        fclose(f);
    if (bad) {
        errno = saved;
        return fail(Error::from_errno("cannot read '%s'", path.c_str()));
    }
    return data;
}

Result<std::string> read_secret_line(const char* prompt) {
    bool tty = isatty(STDIN_FILENO);
    if (tty) {
        if (tcgetattr(STDIN_FILENO, &g_saved_termios) != 0)
            return fail(Error::from_errno("cannot read the terminal settings"));
        struct termios quiet = g_saved_termios;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        signal(SIGINT, restore_echo_and_die);
        signal(SIGTERM, restore_echo_and_die);
        signal(SIGHUP, restore_echo_and_die);
        fputs(prompt, stderr);
        fflush(stderr);
        g_echo_off = 1;
        if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0) {
            g_echo_off = 0;
            return fail(Error::from_errno("cannot turn the terminal echo off"));
        }
    }
    char* line = nullptr;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    int saved = errno;
    if (tty) {
        (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_termios);
        g_echo_off = 0;
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        fputc('\n', stderr);
    }
    if (n < 0) {
        free(line);
        if (ferror(stdin)) {
            errno = saved;
            return fail(Error::from_errno("cannot read the password"));
        }
        return fail(Error{0, "no password given (end of input)"});
    }
    std::string s(line, static_cast<size_t>(n));
    free(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
}

}  // namespace gaffer::client
