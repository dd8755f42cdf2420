// A sandbox's cgroup frozen for one consistent instant (a fork's or a snapshot's copy), thawed
// on every way out. The freezing itself is Cgroup::setFrozen, as a pause does it.
#pragma once

#include "cgroup/cgroup.h"
#include "grid/result.h"

namespace grid::localns {

class ScopedFreeze {
 public:
  explicit ScopedFreeze(Cgroup& cgroup) : cgroup_(cgroup) {}
  ~ScopedFreeze();
  ScopedFreeze(const ScopedFreeze&) = delete;
  ScopedFreeze& operator=(const ScopedFreeze&) = delete;

  /// Returns once every member is frozen (bounded; a failed freeze is thawed again).
  Result<void> freeze();

 private:
  Cgroup& cgroup_;
  bool frozen_ = false;
};

}  // namespace grid::localns
