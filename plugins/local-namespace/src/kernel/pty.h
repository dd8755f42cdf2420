// Pseudo-terminals for sandbox processes, allocated in the sandbox's own devpts instance (its
// /dev/pts is mounted with `newinstance`, mounts.cc), so a terminal process never holds a
// host pty and `ls /dev/pts` inside shows only the sandbox's own.
#pragma once

#include <sys/types.h>

#include <string>

#include "grid/result.h"
#include "grid/sandbox_backend.h"
#include "util/fd.h"

namespace grid::localns {

struct SandboxPty {
  UniqueFd master;  // O_NONBLOCK, O_CLOEXEC: the server's end
  UniqueFd slave;   // O_CLOEXEC: passed as the process's stdio, then closed by the server
};

/// Opens `/dev/pts/ptmx` as the sandbox whose PID 1 is `init_pid` sees it (resolved inside its
/// root, never through its symlinks to the host), checks that it is a devpts ptmx of a devpts
/// instance other than the host's, and allocates a pty there of `size`.
Result<SandboxPty> openSandboxPty(pid_t init_pid, TerminalSize size);

/// Sets the window size of the terminal whose master is `master_fd` (the process gets
/// SIGWINCH).
Result<void> resizePty(int master_fd, TerminalSize size);

}  // namespace grid::localns
