#include "cgroup/cgroup_freeze.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

namespace grid::localns {
namespace {

// Freezing a few processes takes microseconds; a task stuck in the kernel (D state) may hold
// the cgroup in FREEZING. Past this the fork fails rather than copy a moving filesystem.
constexpr auto kFreezeTimeout = std::chrono::seconds(5);

std::string dirOf(const std::string& path) { return path.substr(0, path.rfind('/')); }

}  // namespace

std::string freezeControlFile(CgroupVersion version, const std::vector<std::string>& procs_files) {
  for (const auto& procs : procs_files) {
    if (version == CgroupVersion::kV2) return dirOf(procs) + "/cgroup.freeze";
    if (procs.find("/freezer/") != std::string::npos) return dirOf(procs) + "/freezer.state";
  }
  return {};
}

Result<void> ScopedFreeze::freeze() {
  if (control_file_.empty()) {
    return fail(ErrorCode::kUnsupported,
                "local-namespace: freezing a sandbox needs the cgroup v1 freezer hierarchy "
                "(mount -t cgroup -o freezer) or cgroup v2");
  }
  const bool v2 = version_ == CgroupVersion::kV2;
  written_ = true;
  GRID_TRY(writeCgroupFile(control_file_, v2 ? "1" : "FROZEN"));
  const std::string state_file = v2 ? dirOf(control_file_) + "/cgroup.events" : control_file_;
  const auto deadline = std::chrono::steady_clock::now() + kFreezeTimeout;
  for (auto pause = std::chrono::microseconds(50);;
       pause = std::min(pause * 2, std::chrono::microseconds(5000))) {
    GRID_ASSIGN_OR_RETURN(std::string state, readCgroupFile(state_file));
    if (v2 ? state.find("frozen 1") != std::string::npos : state.rfind("FROZEN", 0) == 0) {
      return {};
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(ErrorCode::kTimeout, "local-namespace: " + control_file_ +
                                           " did not reach frozen within 5 s (a process stuck "
                                           "in the kernel?)");
    }
    if (!v2) (void)writeCgroupFile(control_file_, "FROZEN");  // v1 retries on each write
    std::this_thread::sleep_for(pause);
  }
}

ScopedFreeze::~ScopedFreeze() {
  if (!written_) return;
  if (auto r = writeCgroupFile(control_file_, version_ == CgroupVersion::kV2 ? "0" : "THAWED");
      !r) {
    spdlog::error("local-namespace: thawing {}: {}", control_file_, r.error().message);
  }
}

}  // namespace grid::localns
