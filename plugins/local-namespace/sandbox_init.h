// The sandbox's PID 1: our own code, cloned from the server into fresh namespaces. It joins
// the cgroup, builds the root filesystem, sets the hostname, brings lo up, reports success
// by closing the report pipe, then reaps orphans until it is killed at destroy.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "grid/result.h"
#include "mounts.h"

namespace grid::localns {

struct InitConfig {
  std::string hostname;
  std::vector<MountStep> mount_steps;
  std::vector<std::string> cgroup_procs_files;
};

/// Clones the init and waits until it is ready. On failure the init is gone (killed and
/// reaped) and the error names what failed inside it; the caller still removes the cgroup.
Result<pid_t> startSandboxInit(const InitConfig& config);

}  // namespace grid::localns
