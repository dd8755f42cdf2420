// The sandbox's PID 1 is grid-init (init/grid_init.cc), exec'd right after clone() into
// fresh namespaces: the server prepares everything (message, fds, id maps, cgroup), the
// cloned child only places fds and execs. grid-init builds the root filesystem, sets the
// hostname, brings lo up, reports ready by closing the report pipe, then reaps orphans until
// it is killed at destroy.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "grid/result.h"
#include "kernel/mounts.h"
#include "kernel/userns.h"

namespace grid::localns {

struct InitConfig {
  int init_binary_fd = -1;  // grid-init, opened by openInitBinary()
  std::string hostname;
  std::vector<MountStep> mount_steps;
  std::vector<std::string> cgroup_procs_files;
  const IdSlice* userns = nullptr;  // the sandbox's ids; null: no user namespace
  int link_lock_fd = -1;            // with network: the /30's lock, held by PID 1 (net_link.h)
  // Runs in the server once PID 1 is cloned and told to go, while it builds its root (the
  // network link is made then); a failure kills the init.
  std::function<Result<void>(pid_t init_pid)> while_building = nullptr;
};

/// Clones the init and waits (bounded) until it is ready. On failure the init is gone
/// (killed and reaped) and the error names what failed inside it; the caller still removes
/// the cgroup.
Result<pid_t> startSandboxInit(const InitConfig& config);

}  // namespace grid::localns
