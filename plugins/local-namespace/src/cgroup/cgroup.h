// One sandbox's cgroup(s): create, apply limits, join, kill everything, remove.
// cgroup_v1.cc implements the per-controller hierarchies, cgroup_v2.cc the unified one.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cgroup/cgroup_plan.h"
#include "grid/result.h"

namespace grid::localns {

enum class CgroupVersion { kV1, kV2 };

/// v2 when <mount_root>/cgroup.controllers exists (unified), v1 otherwise (legacy/hybrid).
CgroupVersion detectCgroupVersion(const std::string& mount_root = "/sys/fs/cgroup");
const char* cgroupVersionName(CgroupVersion version);

class Cgroup {
 public:
  virtual ~Cgroup() = default;

  /// Makes the cgroup dir(s) and applies `limits`.
  virtual Result<void> create(const ResourceLimits& limits) = 0;

  /// The cgroup.procs files a process writes "0" into to join the sandbox.
  virtual std::vector<std::string> procsFiles() const = 0;

  /// Freezes (`frozen`) or thaws every member and returns once the kernel reports it done.
  /// A freeze that does not complete within `timeout` (a task stuck in the kernel) is thawed
  /// again and answered kUnavailable; no freezer (v1 without the hierarchy, v2 before Linux
  /// 5.2) is kUnsupported.
  virtual Result<void> setFrozen(bool frozen, std::chrono::milliseconds timeout) = 0;

  /// SIGKILLs every member and returns once none is left.
  virtual Result<void> killAll() = 0;

  /// Removes the dir(s); absent dirs are fine.
  virtual Result<void> remove() = 0;

  /// CPU time and memory in use, from the controllers' files; a value the host does not
  /// account (no cpuacct hierarchy, say) stays nullopt.
  virtual Result<SandboxStats> usage() const = 0;
};

/// `root_name` is the parent cgroup below each hierarchy root ("grid"), `id` the sandbox id.
std::unique_ptr<Cgroup> makeCgroupV1(const std::string& mount_root, const std::string& root_name,
                                     const std::string& id);
std::unique_ptr<Cgroup> makeCgroupV2(const std::string& mount_root, const std::string& root_name,
                                     const std::string& id);
std::unique_ptr<Cgroup> makeCgroup(CgroupVersion version, const std::string& root_name,
                                   const std::string& id,
                                   const std::string& mount_root = "/sys/fs/cgroup");

// Helpers shared by both versions (cgroup_util.cc).
Result<void> writeCgroupFile(const std::string& path, const std::string& value);
Result<std::string> readCgroupFile(const std::string& path);
std::vector<int> parsePids(const std::string& procs);
/// Applies `plan` to the cgroup dir `dir` and polls its state file until reached or `timeout`
/// passes (kUnavailable naming the last state). A missing control file is kUnsupported.
Result<void> applyFreezerPlan(const std::string& dir, const FreezerPlan& plan,
                              std::chrono::milliseconds timeout);
/// rmdir, retried briefly on EBUSY (the kernel frees exited members asynchronously).
Result<void> removeCgroupDir(const std::string& path);

}  // namespace grid::localns
