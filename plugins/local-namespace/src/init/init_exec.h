// Server side of starting grid-init: the message in a sealed memfd, the binary's location,
// and the async-signal-safe step a freshly forked/cloned child takes to become grid-init.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "grid/result.h"
#include "init/init_message.h"
#include "util/fd.h"

namespace grid::localns {

/// The grid-init binary: `configured` if not empty, else `grid-init` beside the shared object
/// holding this code (the plugin dir), else <dir>/../lib/grid/plugins/grid-init (an
/// executable in bin/ linking the backend statically, as the tests do).
Result<std::string> findInitBinary(const std::string& configured);

/// Opens `path` for execveat() and checks it is a regular file owned by root and writable by
/// no one else (it runs with the sandbox's full privileges before they are dropped).
Result<UniqueFd> openInitBinary(const std::string& path);

/// Serializes `message` into a sealed, read-only memfd (the server never blocks writing it,
/// grid-init reads a size known up front).
Result<UniqueFd> makeInitMessageFd(const InitMessage& message);

/// Child side, async-signal-safe: places `fds[i]` at fd i (0..count-1, so fds[3] must be the
/// message and fds[4] the report pipe), closes every other fd and execs the binary `exec_fd`
/// as `grid-init ROLE` with an empty environment. On failure writes the reason to `fds[4]`
/// and _exit(127)s.
[[noreturn]] void execGridInit(int exec_fd, const int* fds, int count, const char* role);

/// What a child wrote on its report pipe until EOF, at most kMaxInitReportBytes; the read
/// gives up at `deadline` (timed_out), so nothing can hold a start or an exec.
struct ChildReport {
  std::string text;
  bool timed_out = false;
};
ChildReport readChildReport(int report_fd, std::chrono::steady_clock::time_point deadline);

}  // namespace grid::localns
