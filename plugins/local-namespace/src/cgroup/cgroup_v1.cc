// cgroup v1 (legacy or hybrid hosts): one dir per controller hierarchy,
// /sys/fs/cgroup/<controller>/<root_name>/<id>. Killing freezes the sandbox first so no
// process can fork between reading cgroup.procs and the SIGKILLs.
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

class CgroupV1 : public Cgroup {
 public:
  CgroupV1(std::string mount_root, std::string root_name, std::string id)
      : mount_root_(std::move(mount_root)), root_name_(std::move(root_name)), id_(std::move(id)) {
    for (const auto& controller : cgroupV1Hierarchies()) {
      struct stat st;
      // Only hierarchies this host mounts; freezer is optional.
      if (::stat((mount_root_ + "/" + controller + "/cgroup.procs").c_str(), &st) == 0) {
        controllers_.push_back(controller);
      }
    }
  }

  Result<void> create(const ResourceLimits& limits) override {
    for (const auto& controller : controllers_) {
      std::string parent = mount_root_ + "/" + controller + "/" + root_name_;
      if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
        return sysFail(ErrorCode::kInternal, "mkdir", parent, errno);
      }
      std::string dir = dirOf(controller);
      if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        return sysFail(ErrorCode::kInternal, "mkdir", dir, errno);
      }
    }
    for (const auto& write : planCgroupV1(limits)) {
      if (!has(write.controller)) {
        return fail(ErrorCode::kUnsupported, "local-namespace: cgroup v1 controller '" +
                                                 write.controller + "' is not mounted under " +
                                                 mount_root_ + " but a limit needs it");
      }
      std::string path = dirOf(write.controller) + "/" + write.file;
      struct stat st;
      if (write.optional && ::stat(path.c_str(), &st) != 0) continue;
      GRID_TRY(writeCgroupFile(path, write.value));
    }
    return {};
  }

  std::vector<std::string> procsFiles() const override {
    std::vector<std::string> files;
    for (const auto& controller : controllers_)
      files.push_back(dirOf(controller) + "/cgroup.procs");
    return files;
  }

  Result<void> setFrozen(bool frozen, std::chrono::milliseconds timeout) override {
    if (!has("freezer")) {
      return fail(ErrorCode::kUnsupported,
                  "local-namespace: pausing needs the cgroup v1 freezer hierarchy, which is not "
                  "mounted under " +
                      mount_root_);
    }
    const std::string dir = dirOf("freezer");
    auto done = applyFreezerPlan(dir, planFreezerV1(frozen), timeout);
    if (!done && frozen && done.error().code != ErrorCode::kUnsupported) {
      // Half frozen (FREEZING) helps nobody: the sandbox runs on instead.
      if (auto thawed = applyFreezerPlan(dir, planFreezerV1(false), timeout); !thawed) {
        spdlog::warn("{}", thawed.error().message);
      }
    }
    return done;
  }

  Result<void> killAll() override {
    std::string procs_file = trackingDir() + "/cgroup.procs";
    // Thaw on every way out, also after a freeze that never got past FREEZING (a busy machine):
    // a cgroup left frozen keeps its processes, and the init that teardown waits for, forever.
    struct ThawOnExit {
      CgroupV1* cgroup;
      ~ThawOnExit() { cgroup->setFreezerState("THAWED"); }
    } thaw{this};
    for (int round = 0; round < 2000; ++round) {
      // Best effort: a cgroup still FREEZING is killed all the same, only less atomically.
      setFreezerState("FROZEN");
      auto procs = readCgroupFile(procs_file);
      if (!procs)
        return errno == ENOENT || !exists() ? Result<void>() : Result<void>(procs.error());
      auto pids = parsePids(procs.value());
      if (pids.empty()) return {};
      for (int pid : pids) {
        if (::kill(pid, SIGKILL) != 0 && errno != ESRCH) {
          spdlog::warn("local-namespace: kill({}, SIGKILL): {}", pid, sysError("kill", "", errno));
        }
      }
      // SIGKILL is only delivered to a thawed task.
      setFreezerState("THAWED");
      if (round > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return fail(ErrorCode::kInternal, "local-namespace: processes of sandbox " + id_ +
                                          " survive SIGKILL in " + procs_file);
  }

  Result<SandboxStats> usage() const override {
    SandboxStats stats;
    // cpuacct.usage is in nanoseconds; a host may mount cpuacct with cpu ("cpu,cpuacct").
    for (const char* controller : {"cpuacct", "cpu"}) {
      if (!has(controller)) continue;
      auto text = readCgroupFile(dirOf(controller) + "/cpuacct.usage");
      if (!text) continue;
      if (auto ns = parseCgroupCounter(text.value())) {
        stats.cpu_seconds = static_cast<double>(*ns) / 1e9;
        break;
      }
    }
    if (has("memory")) {
      auto text = readCgroupFile(dirOf("memory") + "/memory.usage_in_bytes");
      if (!text) return text.error();
      stats.memory_bytes = parseCgroupCounter(text.value());
    }
    return stats;
  }

  Result<void> remove() override {
    Result<void> result;
    for (const auto& controller : controllers_) {
      if (auto r = removeCgroupDir(dirOf(controller)); !r) result = r;
    }
    return result;
  }

 private:
  std::string dirOf(const std::string& controller) const {
    return mount_root_ + "/" + controller + "/" + root_name_ + "/" + id_;
  }
  bool has(const std::string& controller) const {
    return std::find(controllers_.begin(), controllers_.end(), controller) != controllers_.end();
  }
  // Every process joins every hierarchy, so one cgroup.procs lists them all.
  std::string trackingDir() const { return dirOf(has("pids") ? "pids" : controllers_.front()); }
  bool exists() const {
    struct stat st;
    return ::stat(trackingDir().c_str(), &st) == 0;
  }

  // Moves the freezer towards `state` and waits (up to ~200 ms) until it is reached; without a
  // freezer hierarchy this does nothing and kills just loop.
  void setFreezerState(const char* state) {
    if (!has("freezer")) return;
    std::string file = dirOf("freezer") + "/freezer.state";
    if (!writeCgroupFile(file, state)) return;
    for (int i = 0; i < 1000; ++i) {
      auto now = readCgroupFile(file);
      if (!now || now.value().rfind(state, 0) == 0) return;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  std::string mount_root_;
  std::string root_name_;
  std::string id_;
  std::vector<std::string> controllers_;
};

}  // namespace

std::unique_ptr<Cgroup> makeCgroupV1(const std::string& mount_root, const std::string& root_name,
                                     const std::string& id) {
  return std::make_unique<CgroupV1>(mount_root, root_name, id);
}

}  // namespace grid::localns
