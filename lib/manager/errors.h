// SPDX-License-Identifier: MIT
// The one table that maps manager errors to what front ends answer. Manager methods
// fail with these codes only: ENOENT (unknown job/session/pid), EEXIST (conflict),
// EINVAL (bad value), EPERM (not allowed), ESRCH (process already gone), ENODATA (no
// redirected output), ENXIO (no such stream), EPIPE (stream closed), ENOBUFS (queue
// full), ENOSPC (max_jobs or max_config_bytes reached), EFBIG (one job's config larger
// than max_config_bytes); anything else is an internal failure.
#pragma once

#include "lib/base/result.h"

namespace gaffer::manager {

struct ErrorMapping {
    int http_status;
    const char* name;  // the "error" member of gaffer's JSON error bodies
};

inline ErrorMapping map_error(const Error& e) {
    switch (e.code) {
        case ENOENT:
        case ESRCH: return {404, "not_found"};
        case EEXIST: return {409, "process_conflict"};
        case EINVAL: return {400, "bad_request"};
        case EPERM:
        case EACCES: return {403, "forbidden"};
        case ENODATA: return {400, "io_not_redirected"};
        case ENXIO: return {404, "io_not_found"};
        case EPIPE: return {410, "stream_closed"};
        case ENOBUFS: return {503, "stream_full"};
        case ENOSPC: return {507, "insufficient_storage"};
        case EFBIG: return {413, "config_too_large"};
        default: return {500, "internal_error"};
    }
}

}  // namespace gaffer::manager
