// Namespaces: the sandbox init is cloned into new mount, PID, UTS, IPC and network namespaces
// (and a user namespace unless userns = false); processes started later join the init's
// namespaces with setns() on fds the server opened before forking.
#pragma once

#include <sys/types.h>

#include <string>

#include "grid/result.h"
#include "util/fd.h"

namespace grid::localns {

/// Raw clone(2) into fresh namespaces, fork-like (shared stack copy); with `new_userns` also
/// CLONE_NEWUSER. Returns the child's pid in the parent, 0 in the child, -1 with errno. The
/// child must stay async-signal-safe.
pid_t cloneSandboxInit(bool new_userns = false);

/// Paths opened by openNamespaces(), for one init pid.
struct NamespacePaths {
  std::string user;   // empty: no user namespace to join
  std::string ns[5];  // ipc, uts, net, pid, mnt: mnt last, it changes path lookup
  std::string root;   // /proc/<pid>/root: the init's root after pivot_root
};
NamespacePaths namespacePathsOf(pid_t init_pid, bool userns = false);

/// The namespaces and root of one init, opened (by the server) before forking.
struct NamespaceFds {
  UniqueFd user;
  UniqueFd ns[5];
  UniqueFd root;
};
Result<NamespaceFds> openNamespaces(const NamespacePaths& paths);

/// Child side, async-signal-safe: joins the user namespace first (becoming its root: uid and
/// gid 0 inside), then the others and the init's root dir; children forked after this are in
/// the sandbox PID namespace. Reports and _exit(127)s on failure.
void joinNamespaces(const NamespaceFds& fds, int report_fd);

/// Child side (UTS): hostname = sandbox id.
void setHostname(const std::string& name, int report_fd);

}  // namespace grid::localns
