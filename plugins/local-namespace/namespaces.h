// Namespaces: the sandbox init is cloned into new mount, PID, UTS, IPC and network
// namespaces (no user namespace: the backend runs as real root and drops capabilities);
// processes started later join the init's namespaces with setns().
#pragma once

#include <sys/types.h>

#include <string>

namespace grid::localns {

/// Raw clone(2) into fresh namespaces, fork-like (shared stack copy). Returns the child's pid
/// in the parent, 0 in the child, -1 with errno. The child must stay async-signal-safe.
pid_t cloneSandboxInit();

/// Paths opened by joinNamespaces(), precomputed before fork for one init pid.
struct NamespacePaths {
  std::string ns[5];  // ipc, uts, net, pid, mnt: mnt last, it changes path lookup
  std::string root;   // /proc/<pid>/root: the init's root after pivot_root
};
NamespacePaths namespacePathsOf(pid_t init_pid);

/// Child side: joins all namespaces of the init and its root dir; children forked after
/// this are in the sandbox PID namespace. Reports and _exit(127)s on failure.
void joinNamespaces(const NamespacePaths& paths, int report_fd);

/// Child side (UTS): hostname = sandbox id.
void setHostname(const std::string& name, int report_fd);

}  // namespace grid::localns
