#include "cgroup/cgroup_plan.h"

#include <cmath>

namespace grid::localns {
namespace {

std::string bytesOf(int64_t mb) { return std::to_string(mb * 1024 * 1024); }

// At least 1ms per period: the kernel rejects smaller quotas.
std::string quotaOf(double cpus) {
  long quota = std::lround(cpus * kCpuPeriodUs);
  return std::to_string(quota < 1000 ? 1000 : quota);
}

}  // namespace

std::vector<CgroupWrite> planCgroupV1(const ResourceLimits& limits) {
  std::vector<CgroupWrite> writes;
  if (limits.memory_mb > 0) {
    writes.push_back({"memory", "memory.limit_in_bytes", bytesOf(limits.memory_mb)});
    // Same value: memory+swap capped at the limit, i.e. no swap beyond it.
    writes.push_back({"memory", "memory.memsw.limit_in_bytes", bytesOf(limits.memory_mb), true});
  }
  if (limits.pids > 0) writes.push_back({"pids", "pids.max", std::to_string(limits.pids)});
  if (limits.cpus > 0) {
    writes.push_back({"cpu", "cpu.cfs_period_us", std::to_string(kCpuPeriodUs)});
    writes.push_back({"cpu", "cpu.cfs_quota_us", quotaOf(limits.cpus)});
  }
  return writes;
}

std::vector<CgroupWrite> planCgroupV2(const ResourceLimits& limits) {
  std::vector<CgroupWrite> writes;
  if (limits.memory_mb > 0) {
    writes.push_back({"", "memory.max", bytesOf(limits.memory_mb)});
    writes.push_back({"", "memory.swap.max", "0", true});
  }
  if (limits.pids > 0) writes.push_back({"", "pids.max", std::to_string(limits.pids)});
  if (limits.cpus > 0) {
    writes.push_back({"", "cpu.max", quotaOf(limits.cpus) + " " + std::to_string(kCpuPeriodUs)});
  }
  return writes;
}

FreezerPlan planFreezerV1(bool frozen) {
  const char* state = frozen ? "FROZEN" : "THAWED";
  return {{"freezer", "freezer.state", state}, "freezer.state", state};
}

FreezerPlan planFreezerV2(bool frozen) {
  return {
      {"", "cgroup.freeze", frozen ? "1" : "0"}, "cgroup.events", frozen ? "frozen 1" : "frozen 0"};
}

bool freezerReached(const FreezerPlan& plan, const std::string& state_text) {
  size_t pos = 0;
  while (pos < state_text.size()) {
    size_t end = state_text.find('\n', pos);
    if (end == std::string::npos) end = state_text.size();
    if (state_text.compare(pos, end - pos, plan.reached) == 0) return true;
    pos = end + 1;
  }
  return false;
}

std::vector<std::string> cgroupV1Hierarchies() {
  return {"memory", "pids", "cpu", "freezer", "cpuacct"};
}

std::optional<uint64_t> parseCgroupCounter(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<uint64_t> parseCgroupKeyed(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      return parseCgroupCounter(line.substr(key.size() + 1));
    }
  }
  return std::nullopt;
}

}  // namespace grid::localns
