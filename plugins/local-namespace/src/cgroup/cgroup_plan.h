// Pure translation of ResourceLimits into cgroup file writes, one plan per cgroup version.
// No I/O: unit-tested without root.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grid/sandbox_backend.h"

namespace grid::localns {

/// One write into the sandbox's cgroup: <hierarchy root>/<controller (v1 only)>/.../file.
struct CgroupWrite {
  std::string controller;  // v1 hierarchy ("memory", "pids", "cpu"); empty on v2
  std::string file;        // e.g. "memory.limit_in_bytes"
  std::string value;
  bool optional = false;  // absent file (e.g. no swap accounting) is not an error
  bool operator==(const CgroupWrite&) const = default;
};

inline constexpr long kCpuPeriodUs = 100000;

/// v1: memory.limit_in_bytes (+ memory.memsw.limit_in_bytes, optional), pids.max,
/// cpu.cfs_period_us + cpu.cfs_quota_us. Zero limits produce no writes.
std::vector<CgroupWrite> planCgroupV1(const ResourceLimits& limits);

/// v2: memory.max (+ memory.swap.max = 0, optional), pids.max, cpu.max "quota period".
std::vector<CgroupWrite> planCgroupV2(const ResourceLimits& limits);

/// Freezing or thawing a sandbox's cgroup: one write, then the state read back until the
/// kernel reports the target reached (freezing waits for every task to stop).
struct FreezerPlan {
  CgroupWrite write;
  std::string state_file;  // in the same dir as write.file
  std::string reached;     // a whole line of state_file once done
  bool operator==(const FreezerPlan&) const = default;
};

/// v1: freezer.state "FROZEN" / "THAWED", read back from freezer.state ("FREEZING" meanwhile).
FreezerPlan planFreezerV1(bool frozen);

/// v2: cgroup.freeze "1" / "0", read back from cgroup.events ("frozen 1" / "frozen 0").
FreezerPlan planFreezerV2(bool frozen);

/// Whether `state_text` (the contents of plan.state_file) shows the plan's target.
bool freezerReached(const FreezerPlan& plan, const std::string& state_text);

/// v1 hierarchies a sandbox joins: the limit controllers, freezer (used to kill) and cpuacct
/// (its CPU time, where the host mounts it apart from cpu).
std::vector<std::string> cgroupV1Hierarchies();

/// A cgroup file holding one unsigned integer ("123\n"), e.g. memory.current; nullopt for
/// anything else ("max", empty, garbage).
std::optional<uint64_t> parseCgroupCounter(std::string_view text);

/// The value of `key` in a flat-keyed cgroup file ("usage_usec 123\nuser_usec 100\n"), e.g. v2
/// cpu.stat or memory.stat; nullopt when the key is absent or its value is not a number.
std::optional<uint64_t> parseCgroupKeyed(std::string_view text, std::string_view key);

}  // namespace grid::localns
