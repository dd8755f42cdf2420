// Freezing a sandbox's cgroup for one consistent instant (a fork's or a snapshot's copy):
// v1's freezer hierarchy (freezer.state) or v2's cgroup.freeze. Found from the cgroup's
// procs files, so it needs nothing of the Cgroup classes but what they already expose.
#pragma once

#include <string>
#include <vector>

#include "cgroup/cgroup.h"
#include "grid/result.h"

namespace grid::localns {

/// The file that freezes the cgroup whose procs files are `procs_files`: v1 the freezer
/// hierarchy's freezer.state, v2 cgroup.freeze; empty when v1 has no freezer hierarchy.
std::string freezeControlFile(CgroupVersion version, const std::vector<std::string>& procs_files);

/// Frozen while it lives: the constructor's freeze() waits until every member is frozen
/// (bounded), the destructor thaws on every way out.
class ScopedFreeze {
 public:
  ScopedFreeze(CgroupVersion version, std::string control_file)
      : version_(version), control_file_(std::move(control_file)) {}
  ~ScopedFreeze();
  ScopedFreeze(const ScopedFreeze&) = delete;
  ScopedFreeze& operator=(const ScopedFreeze&) = delete;

  Result<void> freeze();

 private:
  CgroupVersion version_;
  std::string control_file_;
  bool written_ = false;
};

}  // namespace grid::localns
