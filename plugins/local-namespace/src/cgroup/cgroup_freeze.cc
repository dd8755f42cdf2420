#include "cgroup/cgroup_freeze.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace grid::localns {
namespace {

// Freezing a few processes takes microseconds; a task stuck in the kernel (D state) may hold
// the cgroup in FREEZING. Past this the fork fails rather than copy a moving filesystem.
constexpr auto kFreezeTimeout = std::chrono::seconds(5);

}  // namespace

Result<void> ScopedFreeze::freeze() {
  GRID_TRY(cgroup_.setFrozen(true, kFreezeTimeout));
  frozen_ = true;
  return {};
}

ScopedFreeze::~ScopedFreeze() {
  if (!frozen_) return;
  if (auto thawed = cgroup_.setFrozen(false, kFreezeTimeout); !thawed.ok()) {
    spdlog::error("local-namespace: thawing after a frozen copy: {}", thawed.error().message);
  }
}

}  // namespace grid::localns
