// SPDX-License-Identifier: MIT
// ProcessIo: the stdio of the manager's processes. It owns the parent's ends of their
// pipes and custom-stream sockets, reads their output as soon as it is there, keeps the
// recent output of every stream (a Backlog of kBacklogBytes), hands each chunk to the
// sink (log files, gafferd's console) and then to the stream's subscribers, and writes
// what the API sends to a process's stdin or custom streams through a bounded queue.
//
// The manager owns one ProcessIo and drives it by internal pid: it builds a Streams
// before the spawn (the child gets the other ends), attach()es it once the child runs,
// drain()s it when the child has exited and end_subscriptions() + detach() when the
// process is forgotten. Everything runs on the loop and never blocks: every fd is
// non-blocking, reads are bounded per wake-up, a full queue refuses (ENOBUFS) and a slow
// subscriber bounds its own queue.
//
// Callbacks (sink, on_chunk, on_end) may call back into ProcessIo (unsubscribe, detach):
// after each one the process and stream are looked up again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/result.h"
#include "lib/base/unique_fd.h"
#include "lib/io/backlog.h"
#include "lib/loop/loop.h"

namespace gaffer::manager {

class ProcessIo {
public:
    static constexpr size_t kReadChunk = 256 * 1024;    // one read()
    static constexpr int kReadsPerWakeup = 8;           // reads of one stream per wake-up
    static constexpr int kOutputPipeSize = 1 << 20;     // fewer wake-ups for a fast writer (F_SETPIPE_SZ)
    static constexpr size_t kBacklogBytes = 64 * 1024;  // recent output kept per stream
    static constexpr size_t kMaxWriteQueue = 4 << 20;   // bytes queued for one stdin or custom stream

    // A chunk as read from a process's stream, for the sink.
    struct Chunk {
        int pid;
        const std::string& label;
        const std::string& log_key;  // "stdout"/"stderr": the job's log file it goes to; "" none
        std::string_view data;
    };
    using Sink = std::function<void(const Chunk& chunk)>;
    using SubId = uint64_t;

    // The parent's side of one process's stdio, built before the spawn. Each add_*
    // returns the end the child gets (O_CLOEXEC; the spawner dups it into place).
    class Streams {
    public:
        // A pipe for stdin, written through send(pid, ..., "stdin").
        Result<UniqueFd> add_stdin();
        // A pipe for the output `label` (two equal labels share one pipe: add it once).
        Result<UniqueFd> add_output(std::string label, std::string log_key);
        // A fresh pseudo-terminal for the output `label` (posix_openpt): the daemon reads
        // its master (O_CLOEXEC, non-blocking) like a pipe, and the returned slave
        // (O_CLOEXEC, not our controlling terminal) becomes the child's fd 1 and 2. The
        // line discipline is raw (cfmakeraw: no ONLCR, lines end in "\n"), the window
        // `cols` x `rows`. EIO on the master (the slave's last holder closed it) is EOF.
        Result<UniqueFd> add_pty(std::string label, std::string log_key, unsigned short cols, unsigned short rows);
        // A socket for custom stream `name`: readable like an output, writable like stdin.
        Result<UniqueFd> add_custom_stream(std::string name);

    private:
        friend class ProcessIo;
        struct Output {
            std::string label;
            UniqueFd fd;
            loop::Loop::WatchId watch = 0;
            std::string log_key;
            std::unique_ptr<io::Backlog> backlog = std::make_unique<io::Backlog>(kBacklogBytes);
        };
        struct Writer {
            std::string name;
            UniqueFd fd;
            loop::Loop::WatchId watch = 0;
            std::deque<std::string> queue;
            size_t queued = 0;
            size_t offset = 0;  // bytes of queue.front() already written
        };
        std::vector<Output> outputs_;
        std::vector<Writer> writers_;  // "stdin" (if redirected) then the custom streams, in order
    };

    ProcessIo(loop::Loop& loop, Sink sink) : loop_(loop), sink_(std::move(sink)) {}
    ~ProcessIo();  // unwatches; frees fds and memory only
    ProcessIo(const ProcessIo&) = delete;
    ProcessIo& operator=(const ProcessIo&) = delete;

    // ---- the manager's side ----
    // Starts reading the outputs of process `pid` (which must not be attached yet).
    void attach(int pid, Streams streams);
    // The process exited: what its pipes still hold is read (bounded) and delivered; its
    // writers are closed (a later send() fails with EPIPE). Outputs stay watched: a
    // descendant may still write.
    void drain(int pid);
    // Ends every subscription to `pid`'s streams; each on_end runs once, after it is gone.
    void end_subscriptions(int pid);
    // Forgets the process: unwatches and closes everything it had.
    void detach(int pid);
    // Stops (true) or resumes (false) reading every output: a front end whose consumer
    // cannot keep up (gaffer's console) pushes back on the children, whose writes then
    // wait on their full pipes, instead of losing lines; the loop itself never waits.
    // drain() of an exited process still reads (bounded).
    void set_paused(bool paused);
    bool paused() const { return paused_; }

    // ---- the API's side (Manager's methods of the same names) ----
    // Errors: ENOENT unknown pid; see manager.h for the rest.
    Result<std::vector<std::string>> stream_labels(int pid) const;
    Result<SubId> subscribe(int pid, const std::string& label, std::function<void(std::string_view data)> on_chunk,
                            std::function<void()> on_end);
    void unsubscribe(SubId id);
    Result<std::string> backlog(int pid, const std::string& label, size_t max_bytes) const;
    Status send(int pid, std::string_view data, const std::string& stream);

private:
    using Output = Streams::Output;
    using Writer = Streams::Writer;
    struct Sub {
        int pid;
        std::string label;
        std::function<void(std::string_view)> on_chunk;
        std::function<void()> on_end;
    };

    Streams* find(int pid);
    const Streams* find(int pid) const;
    static Output* find_output(Streams& s, int fd);
    // The stream `label` names for `pid` ("" = the first one), or the API's error.
    Result<const Output*> find_stream(int pid, const std::string& label) const;
    void on_output(int pid, int fd);
    void deliver(int pid, const Output& out, std::string_view data);
    void close_output(Output& out);
    void close_writer(Writer& w);
    void flush_writer(int pid, size_t index);
    void unwatch(Streams& s);

    loop::Loop& loop_;
    Sink sink_;
    void watch_output(int pid, Output& out);

    std::map<int, Streams> procs_;
    bool paused_ = false;
    std::map<SubId, Sub> subs_;
    SubId next_sub_ = 1;
};

}  // namespace gaffer::manager
