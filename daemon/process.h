// SPDX-License-Identifier: MIT
// Process duties gafferd and gaffer_lookupd share: the state directory's default place,
// --create-admin-user, --pidfile and --daemon.
#pragma once

#include <sys/types.h>

#include <string>

#include "lib/base/result.h"
#include "lib/base/unique_fd.h"

namespace gaffer::daemon {

// $HOME, else the password database's home, else "/".
std::string home_dir();
// /var/lib/<name> as root, else $XDG_STATE_HOME/<name>, else ~/.local/state/<name>.
std::string default_state_dir(const std::string& name);
// mkdir -p with `mode` for the directories it creates.
Status mkdir_parents(const std::string& path, mode_t mode);

// --create-admin-user (and --list-admins): creates an admin user and key in the key store
// of `state_dir` and prints the key (asking for the user name and password when not
// given), or prints the admin users. The exit status; errors go to stderr as "prog: ...".
int admin_command(const char* prog, const std::string& state_dir, bool list_admins, const std::string& username,
                  const std::string& password);

// --pidfile: refuse a live pid, write atomically, remove at exit if still ours.
class PidFile {
public:
    PidFile() = default;
    ~PidFile();
    PidFile(const PidFile&) = delete;
    PidFile& operator=(const PidFile&) = delete;
    Status create(const std::string& path);

private:
    std::string path_;
};

// --daemon: double fork and setsid. The original process waits on a pipe until the
// daemon has started (endpoints listening, jobs spawned) and exits 0, or exits 1 if the
// daemon failed before that: its error is still printed on the caller's terminal,
// because stdio moves to /dev/null only once start-up has succeeded.
class Daemonizer {
public:
    Status detach();
    bool active() const { return ready_.valid(); }
    // Start-up succeeded: release the waiting parent and drop the terminal.
    void started();

private:
    UniqueFd ready_;
};

}  // namespace gaffer::daemon
