// The on-disk record of one sandbox, state_dir/<id>/sandbox.meta, so a restarted server
// finds what an earlier run of its instance left behind (crash, SIGKILL).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "grid/result.h"

namespace grid::localns {

struct SandboxRecord {
  std::string id;
  std::string instance;
  pid_t init_pid = 0;
  unsigned long long init_start_time = 0;  // /proc/<pid>/stat field 22: guards pid reuse
  std::string cgroup_version;              // "v1" or "v2"
  std::string cgroup_root;
  // User namespace id slice (0: none). Informational: the slice is held by an flock that
  // dies with the sandbox's PID 1 (userns.h), so a crash frees it once leftovers are killed.
  uint32_t uid_start = 0;
  uint32_t gid_start = 0;
  // With network: the host-side veth and its /30 (net_link.h), removed with a leftover.
  std::string net_link;
  std::string net_subnet;
};

std::string formatRecord(const SandboxRecord& record);
std::optional<SandboxRecord> parseRecord(const std::string& text);

/// Start time of `pid` from /proc, 0 if it is gone.
unsigned long long processStartTime(pid_t pid);

Result<void> writeRecord(const std::string& path, const SandboxRecord& record);
std::optional<SandboxRecord> readRecord(const std::string& path);

}  // namespace grid::localns
