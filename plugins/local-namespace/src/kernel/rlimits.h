// Resource limits of sandbox processes. cgroups carry the real limits (memory, pids, cpu);
// rlimits only stop core dumps and cap open files. RLIMIT_NPROC is per uid and the sandbox
// shares uid 0 with the host, so it stays untouched (pids.max does that job).
#pragma once

#include <sys/resource.h>

#include <vector>

namespace grid::localns {

struct RlimitSetting {
  int resource;
  rlim_t soft;
  rlim_t hard;
};

/// Pure: the settings given the current RLIMIT_NOFILE hard limit (never raised: the host
/// may lack CAP_SYS_RESOURCE).
std::vector<RlimitSetting> planRlimits(rlim_t nofile_hard);

/// Child side: setrlimit each; reports and _exit(127)s on failure.
void applyRlimits(const std::vector<RlimitSetting>& settings, int report_fd);

}  // namespace grid::localns
