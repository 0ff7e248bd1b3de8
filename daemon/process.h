// SPDX-License-Identifier: MIT
// Process duties gafferd and gaffer_lookupd share: the state directory's default place,
// --create-admin-user, --pidfile and --daemon.
#pragma once

#include <getopt.h>
#include <sys/types.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "lib/base/result.h"
#include "lib/base/unique_fd.h"

namespace gaffer::daemon {

// The command-line options gafferd and gaffer_lookupd share, parsed in one place: each
// daemon's Args derives from it and adds process_options() to its getopt_long table.
struct ProcessOptions {
    std::string state_dir;   // --state-dir
    bool daemonize = false;  // --daemon
    std::string pidfile;
    std::string error_log;
    std::string log_level;
    bool create_admin = false;  // --create-admin-user
    bool list_admins = false;
    std::string username, password;
};

// getopt_long codes of the shared options: a daemon's own codes stay below this.
constexpr int kProcessOptionBase = 0x1000;
// The table rows of the shared options (no terminating row).
const std::vector<struct option>& process_options();
// A getopt_long table: `own` rows, then process_options(), then the terminating row.
std::vector<struct option> option_table(std::initializer_list<struct option> own);
// Applies the shared option `code` (with its argument) and returns true; false when `code`
// is not one of them.
bool apply_process_option(int code, const char* arg, ProcessOptions& out);

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
