// SPDX-License-Identifier: MIT
// The io_uring backend. Each watch is a one-shot IORING_OP_POLL_ADD whose user_data is
// the watch id; after its callback runs the poll is re-armed, which gives the same
// level-triggered semantics as the epoll backend. unwatch() submits a POLL_REMOVE and
// forgets the id at once: a late CQE for an unknown id is ignored, so no record has to
// outlive its completion. The ring is SINGLE_ISSUER|DEFER_TASKRUN where the kernel has
// it (completions are only run while this thread waits, which is all we ever do).
#include <liburing.h>

#include <vector>

#include "lib/loop/backends.h"

namespace gaffer::loop {
namespace {

constexpr unsigned kRingDepth = 256;
constexpr unsigned kCqDepth = 2048;
constexpr unsigned kCqDepthWithoutNodrop = 32768;
constexpr uint64_t kIgnoredUserData = 0;  // POLL_REMOVE completions

class UringLoop final : public Loop {
public:
    UringLoop() = default;
    ~UringLoop() override { io_uring_queue_exit(&ring_); }
    const char* backend_name() const override { return "io_uring"; }

    Status init() {
        // Every watched fd has one poll in flight, and there can be as many as the fd
        // limit allows. Kernels with IORING_FEAT_NODROP (5.5+) keep completions that do
        // not fit in the CQ and hand them over later, so a modest CQ is enough (the
        // rings are locked memory: 16 bytes per entry); older ones get a CQ sized so
        // completions never overflow.
        int r = init_ring(kCqDepth);
        if (r == 0 && !(features_ & IORING_FEAT_NODROP)) {
            io_uring_queue_exit(&ring_);
            r = init_ring(kCqDepthWithoutNodrop);
        }
        if (r < 0)
            return fail(Error{-r, "io_uring_queue_init"});
        return ok();
    }

    int init_ring(unsigned cq_entries) {
        struct io_uring_params p {};
        p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
        p.cq_entries = cq_entries;
        int r = io_uring_queue_init_params(kRingDepth, &ring_, &p);
        if (r < 0) {
            struct io_uring_params p2 {};
            p2.flags = IORING_SETUP_CQSIZE;
            p2.cq_entries = cq_entries;
            r = io_uring_queue_init_params(kRingDepth, &ring_, &p2);
            features_ = p2.features;
        } else {
            features_ = p.features;
        }
        return r;
    }

    Result<WatchId> watch(int fd, uint32_t events, FdCallback cb) override {
        WatchId id = next_id_++;
        watches_.emplace(id, Watch{fd, events, std::move(cb), false});
        GAFFER_RETURN_IF_ERROR(arm(id));
        return id;
    }

    Status modify(WatchId id, uint32_t events) override {
        auto it = watches_.find(id);
        if (it == watches_.end())
            return fail(Error::make(ENOENT, "no watch %lu", static_cast<unsigned long>(id)));
        if (it->second.events == events)
            return ok();
        it->second.events = events;
        if (it->second.armed) {
            // Drop the armed poll; its -ECANCELED completion re-arms with the new mask.
            auto* sqe = get_sqe();
            io_uring_prep_poll_remove(sqe, id);
            io_uring_sqe_set_data64(sqe, kIgnoredUserData);
            it->second.rearm_after_cancel = true;
        }
        return ok();
    }

    void unwatch(WatchId id) override {
        auto it = watches_.find(id);
        if (it == watches_.end())
            return;
        if (it->second.armed) {
            auto* sqe = get_sqe();
            io_uring_prep_poll_remove(sqe, id);
            io_uring_sqe_set_data64(sqe, kIgnoredUserData);
            // The poll holds its own reference to the file, so the caller may close the
            // fd now; the cancelled completion finds no watch and is dropped.
            (void)io_uring_submit(&ring_);
        }
        watches_.erase(it);
    }

protected:
    Status wait_and_dispatch(int timeout_ms) override {
        struct io_uring_cqe* cqe = nullptr;
        int r;
        if (timeout_ms < 0) {
            r = io_uring_submit_and_wait(&ring_, 1);
        } else {
            struct __kernel_timespec ts {};
            ts.tv_sec = timeout_ms / 1000;
            ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
            r = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
        }
        if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY)
            return fail(Error{-r, "io_uring_submit_and_wait"});

        // Collect first, then dispatch: callbacks submit new SQEs.
        ready_.clear();
        unsigned head;
        unsigned n = 0;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            ready_.push_back({io_uring_cqe_get_data64(cqe), cqe->res});
            ++n;
        }
        io_uring_cq_advance(&ring_, n);

        for (auto& [id, res] : ready_) {
            if (id == kIgnoredUserData)
                continue;
            auto it = watches_.find(id);
            if (it == watches_.end())
                continue;  // unwatched: a stale completion
            it->second.armed = false;
            if (res == -ECANCELED) {
                if (it->second.rearm_after_cancel) {
                    it->second.rearm_after_cancel = false;
                    GAFFER_RETURN_IF_ERROR(arm(id));
                }
                continue;
            }
            uint32_t revents = res < 0 ? POLLERR : static_cast<uint32_t>(res);
            FdCallback cb = it->second.cb;
            cb(revents);
            // Re-arm unless the callback removed the watch.
            it = watches_.find(id);
            if (it != watches_.end() && !it->second.armed)
                GAFFER_RETURN_IF_ERROR(arm(id));
        }
        return ok();
    }

private:
    struct Watch {
        int fd;
        uint32_t events;
        FdCallback cb;
        bool armed;
        bool rearm_after_cancel = false;
    };

    struct io_uring_sqe* get_sqe() {
        struct io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
        while (!sqe) {
            // SQ full: flush it to the kernel and try again.
            (void)io_uring_submit(&ring_);
            sqe = io_uring_get_sqe(&ring_);
        }
        return sqe;
    }

    Status arm(WatchId id) {
        auto& w = watches_.at(id);
        auto* sqe = get_sqe();
        io_uring_prep_poll_add(sqe, w.fd, w.events);
        io_uring_sqe_set_data64(sqe, id);
        w.armed = true;
        return ok();
    }

    struct io_uring ring_ {};
    uint32_t features_ = 0;
    std::unordered_map<WatchId, Watch> watches_;
    std::vector<std::pair<uint64_t, int>> ready_;
    WatchId next_id_ = 1;
};

}  // namespace

Result<std::unique_ptr<Loop>> make_uring_loop() {
    auto loop = std::make_unique<UringLoop>();
    GAFFER_RETURN_IF_ERROR(loop->init());
    return std::unique_ptr<Loop>(std::move(loop));
}

}  // namespace gaffer::loop
