// cgroup v2 (unified hierarchy): /sys/fs/cgroup/<root_name>/<id>. Controllers must be enabled
// in every ancestor's cgroup.subtree_control; cgroup.kill (Linux 5.14+) kills atomically.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "cgroup/cgroup.h"
#include "util/syscall_error.h"

namespace grid::localns {
namespace {

class CgroupV2 : public Cgroup {
 public:
  CgroupV2(std::string mount_root, std::string root_name, std::string id)
      : mount_root_(std::move(mount_root)),
        parent_(mount_root_ + "/" + root_name),
        dir_(parent_ + "/" + id) {}

  Result<void> create(const ResourceLimits& limits) override {
    if (::mkdir(parent_.c_str(), 0755) != 0 && errno != EEXIST) {
      return sysFail(ErrorCode::kInternal, "mkdir", parent_, errno);
    }
    auto writes = planCgroupV2(limits);
    if (!writes.empty()) {
      // Best effort per controller: a host may delegate only some of them.
      for (const char* controller : {"+memory", "+pids", "+cpu"}) {
        for (const auto& dir : {mount_root_, parent_}) {
          auto r = writeCgroupFile(dir + "/cgroup.subtree_control", controller);
          if (!r) spdlog::debug("{}", r.error().message);
        }
      }
    }
    if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
      return sysFail(ErrorCode::kInternal, "mkdir", dir_, errno);
    }
    for (const auto& write : writes) {
      std::string path = dir_ + "/" + write.file;
      struct stat st;
      if (write.optional && ::stat(path.c_str(), &st) != 0) continue;
      GRID_TRY(writeCgroupFile(path, write.value));
    }
    return {};
  }

  std::vector<std::string> procsFiles() const override { return {dir_ + "/cgroup.procs"}; }

  Result<void> setFrozen(bool frozen, std::chrono::milliseconds timeout) override {
    auto done = applyFreezerPlan(dir_, planFreezerV2(frozen), timeout);
    if (!done && frozen && done.error().code != ErrorCode::kUnsupported) {
      if (auto thawed = applyFreezerPlan(dir_, planFreezerV2(false), timeout); !thawed) {
        spdlog::warn("{}", thawed.error().message);
      }
    }
    return done;
  }

  Result<void> killAll() override {
    struct stat st;
    if (::stat(dir_.c_str(), &st) != 0) return {};
    bool have_kill = ::stat((dir_ + "/cgroup.kill").c_str(), &st) == 0;
    if (have_kill) {
      GRID_TRY(writeCgroupFile(dir_ + "/cgroup.kill", "1"));
    } else {
      (void)writeCgroupFile(dir_ + "/cgroup.freeze", "1");
    }
    for (int round = 0; round < 2000; ++round) {
      GRID_ASSIGN_OR_RETURN(std::string procs, readCgroupFile(dir_ + "/cgroup.procs"));
      auto pids = parsePids(procs);
      if (pids.empty()) return {};
      if (!have_kill) {
        for (int pid : pids) ::kill(pid, SIGKILL);
        (void)writeCgroupFile(dir_ + "/cgroup.freeze", "0");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return fail(ErrorCode::kInternal, "local-namespace: processes survive SIGKILL in " + dir_);
  }

  Result<void> remove() override { return removeCgroupDir(dir_); }

  Result<SandboxStats> usage() const override {
    SandboxStats stats;
    // cpu.stat exists in every v2 cgroup (usage_usec needs no cpu controller); memory.current
    // only where the memory controller is enabled.
    auto cpu = readCgroupFile(dir_ + "/cpu.stat");
    if (!cpu) return cpu.error();
    if (auto usec = parseCgroupKeyed(cpu.value(), "usage_usec")) {
      stats.cpu_seconds = static_cast<double>(*usec) / 1e6;
    }
    if (auto memory = readCgroupFile(dir_ + "/memory.current")) {
      stats.memory_bytes = parseCgroupCounter(memory.value());
    }
    return stats;
  }

 private:
  std::string mount_root_;
  std::string parent_;
  std::string dir_;
};

}  // namespace

std::unique_ptr<Cgroup> makeCgroupV2(const std::string& mount_root, const std::string& root_name,
                                     const std::string& id) {
  return std::make_unique<CgroupV2>(mount_root, root_name, id);
}

}  // namespace grid::localns
