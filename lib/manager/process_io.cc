// SPDX-License-Identifier: MIT
#include "lib/manager/process_io.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/base/callbacks.h"
#include "lib/base/log.h"

namespace gaffer::manager {

namespace {

// One read buffer for every stream (the loop is single-threaded and deliver() copies
// what it keeps); in .bss, so resident only once output has been read.
char* read_buffer() {
    static char buf[ProcessIo::kReadChunk];
    return buf;
}

}  // namespace

// ---------- building a process's streams ----------

Result<UniqueFd> ProcessIo::Streams::add_stdin() {
    GAFFER_TRY(auto pp, Pipe::make());
    (void)set_nonblocking(pp.write.get());
    writers_.push_back(Writer{"stdin", std::move(pp.write)});
    return std::move(pp.read);
}

Result<UniqueFd> ProcessIo::Streams::add_output(std::string label, std::string log_key) {
    GAFFER_TRY(auto pp, Pipe::make());
    (void)set_nonblocking(pp.read.get());
    (void)fcntl(pp.read.get(), F_SETPIPE_SZ, kOutputPipeSize);  // best effort
    Output out;
    out.label = std::move(label);
    out.fd = std::move(pp.read);
    out.log_key = std::move(log_key);
    outputs_.push_back(std::move(out));
    return std::move(pp.write);
}

Result<UniqueFd> ProcessIo::Streams::add_pty(std::string label, std::string log_key, unsigned short cols,
                                             unsigned short rows) {
    UniqueFd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
    if (!master)
        return fail(Error::from_errno("posix_openpt"));
    if (grantpt(master.get()) < 0)
        return fail(Error::from_errno("grantpt"));
    if (unlockpt(master.get()) < 0)
        return fail(Error::from_errno("unlockpt"));
    char name[64];
    if (int e = ptsname_r(master.get(), name, sizeof name); e != 0)
        return fail(Error::make(e, "ptsname_r"));
    UniqueFd slave(open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave)
        return fail(Error::from_errno("open pty slave"));
    struct termios tio;
    if (tcgetattr(slave.get(), &tio) < 0)
        return fail(Error::from_errno("tcgetattr"));
    cfmakeraw(&tio);
    if (tcsetattr(slave.get(), TCSANOW, &tio) < 0)
        return fail(Error::from_errno("tcsetattr"));
    struct winsize ws = {};
    ws.ws_col = cols;
    ws.ws_row = rows;
    if (ioctl(slave.get(), TIOCSWINSZ, &ws) < 0)
        return fail(Error::from_errno("TIOCSWINSZ"));
    Output out;
    out.label = std::move(label);
    out.fd = std::move(master);
    out.log_key = std::move(log_key);
    outputs_.push_back(std::move(out));
    return slave;
}

Result<UniqueFd> ProcessIo::Streams::add_custom_stream(std::string name) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return fail(Error::from_errno("socketpair"));
    UniqueFd ours(sv[0]), theirs(sv[1]);
    (void)set_nonblocking(ours.get());
    // Reading and writing are watched apart (one watch per fd): the writer gets a copy.
    UniqueFd wfd(fcntl(ours.get(), F_DUPFD_CLOEXEC, 3));
    if (!wfd)
        return fail(Error::from_errno("dup"));
    Output out;
    out.label = name;
    out.fd = std::move(ours);
    outputs_.push_back(std::move(out));
    writers_.push_back(Writer{std::move(name), std::move(wfd)});
    return theirs;
}

// ---------- the manager's side ----------

ProcessIo::~ProcessIo() {
    for (auto& [pid, s] : procs_) unwatch(s);
}

void ProcessIo::attach(int pid, Streams streams) {
    auto it = procs_.emplace(pid, std::move(streams)).first;  // internal pids are never reused
    if (paused_)
        return;
    for (auto& out : it->second.outputs_) watch_output(pid, out);
}

void ProcessIo::watch_output(int pid, Output& out) {
    auto w = loop_.watch(out.fd.get(), POLLIN, [this, pid, fd = out.fd.get()](uint32_t) { on_output(pid, fd); });
    if (w)
        out.watch = *w;
    else
        log_warning("process %d: cannot watch its output '%s': %s", pid, out.label.c_str(),
                    w.error().message().c_str());
}

void ProcessIo::set_paused(bool paused) {
    if (paused == paused_)
        return;
    paused_ = paused;
    for (auto& [pid, s] : procs_)
        for (auto& out : s.outputs_) {
            if (paused && out.watch) {
                loop_.unwatch(out.watch);
                out.watch = 0;
            } else if (!paused && out.fd && !out.watch) {
                watch_output(pid, out);
            }
        }
}

void ProcessIo::drain(int pid) {
    Streams* s = find(pid);
    if (!s)
        return;
    char* buf = read_buffer();
    for (size_t i = 0; i < s->outputs_.size(); ++i) {
        // Bounded: what the pipe holds (up to 1 MiB), plus what descendants still write.
        for (int n_reads = 0; n_reads < 64; ++n_reads) {
            s = find(pid);  // a callback may have changed the world
            if (!s || i >= s->outputs_.size() || !s->outputs_[i].fd)
                break;
            ssize_t n = read(s->outputs_[i].fd.get(), buf, kReadChunk);
            if (n <= 0)
                break;
            deliver(pid, s->outputs_[i], std::string_view(buf, static_cast<size_t>(n)));
        }
    }
    if ((s = find(pid)))
        for (auto& w : s->writers_) close_writer(w);
}

void ProcessIo::end_subscriptions(int pid) {
    for_each_selected(
        subs_, [pid](const Sub& sub) { return sub.pid == pid; },
        [this](auto it) {
            auto on_end = std::move(it->second.on_end);
            subs_.erase(it);
            if (on_end)
                on_end();
        });
}

void ProcessIo::detach(int pid) {
    auto it = procs_.find(pid);
    if (it == procs_.end())
        return;
    unwatch(it->second);
    procs_.erase(it);
}

void ProcessIo::unwatch(Streams& s) {
    for (auto& w : s.writers_) {
        if (w.watch)
            loop_.unwatch(w.watch);
        w.watch = 0;
    }
    for (auto& out : s.outputs_) {
        if (out.watch)
            loop_.unwatch(out.watch);
        out.watch = 0;
    }
}

// ---------- reading ----------

ProcessIo::Streams* ProcessIo::find(int pid) {
    auto it = procs_.find(pid);
    return it == procs_.end() ? nullptr : &it->second;
}

const ProcessIo::Streams* ProcessIo::find(int pid) const {
    auto it = procs_.find(pid);
    return it == procs_.end() ? nullptr : &it->second;
}

ProcessIo::Output* ProcessIo::find_output(Streams& s, int fd) {
    for (auto& out : s.outputs_)
        if (out.fd.get() == fd)
            return &out;
    return nullptr;
}

void ProcessIo::deliver(int pid, const Output& out, std::string_view data) {
    out.backlog->append(data);
    if (sink_)
        sink_(Chunk{pid, out.label, out.log_key, data});
    if (subs_.empty())
        return;
    // A callback may drop other subscriptions, or the process (`out` with it).
    for_each_selected(
        subs_, [&](const Sub& sub) { return sub.pid == pid && sub.label == out.label; },
        [data](auto it) {
            auto cb = it->second.on_chunk;
            cb(data);
        });
}

// Output is read as soon as it is there. Reading on a timer instead, to spare a fast
// writer the wake-ups, was measured (bench output scenario, same binary built both ways,
// 10 runs each): on an idle machine it lost (0.66 against 0.77 of the unsupervised
// speed: the pipe's pages go cold in the cache while they wait), and under CPU load it
// won little (0.65 against 0.58).
void ProcessIo::on_output(int pid, int fd) {
    Streams* s = find(pid);
    Output* out = s ? find_output(*s, fd) : nullptr;
    if (!out)
        return;
    // Several reads per wake-up (bounded, so one chatty process cannot starve the loop):
    // a fast writer fills the pipe again while we deliver.
    char* buf = read_buffer();
    for (int i = 0; i < kReadsPerWakeup; ++i) {
        ssize_t n = read(fd, buf, kReadChunk);
        if (n > 0) {
            deliver(pid, *out, std::string_view(buf, static_cast<size_t>(n)));
            s = find(pid);  // a callback may have changed the world
            if (!s || !(out = find_output(*s, fd)))
                return;
            if (static_cast<size_t>(n) < kReadChunk)
                return;  // drained
            continue;
        }
        // EOF; on a pty master EIO says the same (every holder of the slave closed it).
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            close_output(*out);
        return;
    }
}

void ProcessIo::close_output(Output& out) {
    if (out.watch)
        loop_.unwatch(out.watch);
    out.watch = 0;
    out.fd.reset();
}

// ---------- writing ----------

void ProcessIo::close_writer(Writer& w) {
    if (w.watch)
        loop_.unwatch(w.watch);
    w.watch = 0;
    w.fd.reset();
    w.queue.clear();
    w.queued = w.offset = 0;
}

void ProcessIo::flush_writer(int pid, size_t index) {
    Streams* s = find(pid);
    if (!s || index >= s->writers_.size())
        return;
    Writer& w = s->writers_[index];
    if (!w.fd)
        return;
    while (!w.queue.empty()) {
        const std::string& front = w.queue.front();
        ssize_t n = write(w.fd.get(), front.data() + w.offset, front.size() - w.offset);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            log_debug("%s of process %d: %s", w.name.c_str(), pid, strerror(errno));
            close_writer(w);
            return;
        }
        w.offset += static_cast<size_t>(n);
        if (w.offset == front.size()) {
            w.queued -= front.size();
            w.queue.pop_front();
            w.offset = 0;
        }
    }
    bool want = !w.queue.empty();
    if (want && !w.watch) {
        auto r = loop_.watch(w.fd.get(), POLLOUT, [this, pid, index](uint32_t) { flush_writer(pid, index); });
        if (r)
            w.watch = *r;
    } else if (!want && w.watch) {
        loop_.unwatch(w.watch);
        w.watch = 0;
    }
}

// ---------- the API's side ----------

Result<std::vector<std::string>> ProcessIo::stream_labels(int pid) const {
    const Streams* s = find(pid);
    if (!s)
        return fail(Error::make(ENOENT, "process %d not found", pid));
    std::vector<std::string> out;
    for (const auto& o : s->outputs_) out.push_back(o.label);
    return out;
}

Result<const ProcessIo::Output*> ProcessIo::find_stream(int pid, const std::string& label) const {
    const Streams* s = find(pid);
    if (!s)
        return fail(Error::make(ENOENT, "process %d not found", pid));
    if (s->outputs_.empty())
        return fail(Error::make(ENODATA, "process %d has no redirected output", pid));
    const std::string& l = label.empty() ? s->outputs_.front().label : label;
    for (const auto& o : s->outputs_)
        if (o.label == l)
            return &o;
    return fail(Error::make(ENXIO, "process %d has no stream '%s'", pid, l.c_str()));
}

Result<ProcessIo::SubId> ProcessIo::subscribe(int pid, const std::string& label,
                                              std::function<void(std::string_view)> on_chunk,
                                              std::function<void()> on_end) {
    GAFFER_TRY(const Output* out, find_stream(pid, label));
    SubId id = next_sub_++;
    subs_.emplace(id, Sub{pid, out->label, std::move(on_chunk), std::move(on_end)});
    return id;
}

void ProcessIo::unsubscribe(SubId id) {
    subs_.erase(id);
}

Result<std::string> ProcessIo::backlog(int pid, const std::string& label, size_t max_bytes) const {
    GAFFER_TRY(const Output* out, find_stream(pid, label));
    return out->backlog->tail(max_bytes);
}

Status ProcessIo::send(int pid, std::string_view data, const std::string& stream) {
    Streams* s = find(pid);
    if (!s)
        return fail(Error::make(ENOENT, "process %d not found", pid));
    size_t index = s->writers_.size();
    for (size_t i = 0; i < s->writers_.size(); ++i)
        if (s->writers_[i].name == stream)
            index = i;
    if (index == s->writers_.size()) {
        if (stream == "stdin")
            return fail(Error::make(EPERM, "stdin of process %d is not redirected", pid));
        return fail(Error::make(ENXIO, "process %d has no stream '%s'", pid, stream.c_str()));
    }
    Writer& w = s->writers_[index];
    if (!w.fd)
        return fail(Error::make(EPIPE, "%s of process %d is closed", stream.c_str(), pid));
    if (w.queued + data.size() > kMaxWriteQueue)
        return fail(Error::make(ENOBUFS, "%s queue of process %d is full", stream.c_str(), pid));
    if (data.empty())
        return ok();
    w.queue.emplace_back(data);
    w.queued += data.size();
    flush_writer(pid, index);
    return ok();
}

}  // namespace gaffer::manager
