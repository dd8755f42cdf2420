#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "cgroup/cgroup.h"
#include "util/fd.h"
#include "util/syscall_error.h"

namespace grid::localns {

CgroupVersion detectCgroupVersion(const std::string& mount_root) {
  struct stat st;
  return ::stat((mount_root + "/cgroup.controllers").c_str(), &st) == 0 ? CgroupVersion::kV2
                                                                        : CgroupVersion::kV1;
}

const char* cgroupVersionName(CgroupVersion version) {
  return version == CgroupVersion::kV2 ? "v2" : "v1";
}

std::unique_ptr<Cgroup> makeCgroup(CgroupVersion version, const std::string& root_name,
                                   const std::string& id, const std::string& mount_root) {
  return version == CgroupVersion::kV2 ? makeCgroupV2(mount_root, root_name, id)
                                       : makeCgroupV1(mount_root, root_name, id);
}

Result<void> writeCgroupFile(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return sysFail(ErrorCode::kInternal, "open", path, errno);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return sysFail(ErrorCode::kInternal, "write", path + ", \"" + value + "\"", errno);
  }
  return {};
}

Result<std::string> readCgroupFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return sysFail(ErrorCode::kInternal, "open", path, errno);
  std::string data;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) data.append(buf, static_cast<size_t>(n));
  if (n < 0) return sysFail(ErrorCode::kInternal, "read", path, errno);
  return data;
}

std::vector<int> parsePids(const std::string& procs) {
  std::vector<int> pids;
  size_t pos = 0;
  while (pos < procs.size()) {
    size_t end = procs.find('\n', pos);
    if (end == std::string::npos) end = procs.size();
    if (end > pos) pids.push_back(std::stoi(procs.substr(pos, end - pos)));
    pos = end + 1;
  }
  return pids;
}

Result<void> applyFreezerPlan(const std::string& dir, const FreezerPlan& plan,
                              std::chrono::milliseconds timeout) {
  const std::string control = dir + "/" + plan.write.file;
  const std::string state = dir + "/" + plan.state_file;
  struct stat st;
  if (::stat(control.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return fail(ErrorCode::kUnsupported,
                  "local-namespace: no " + control + ": this kernel's cgroup has no freezer");
    }
    return sysFail(ErrorCode::kInternal, "stat", control, errno);
  }
  GRID_TRY(writeCgroupFile(control, plan.write.value));
  // The kernel settles this on its own: freezing ends once every task has stopped.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::microseconds(50);
  for (;;) {
    GRID_ASSIGN_OR_RETURN(std::string now, readCgroupFile(state));
    if (freezerReached(plan, now)) return {};
    if (std::chrono::steady_clock::now() >= deadline) {
      while (!now.empty() && (now.back() == '\n' || now.back() == ' ')) now.pop_back();
      for (char& c : now) {
        if (c == '\n') c = ',';
      }
      return fail(ErrorCode::kUnavailable,
                  "local-namespace: " + state + " did not reach '" + plan.reached + "' within " +
                      std::to_string(timeout.count()) + " ms (it shows '" + now + "')");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(2));
  }
}

Result<void> removeCgroupDir(const std::string& path) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return {};
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return sysFail(ErrorCode::kInternal, "rmdir", path, errno);
}

}  // namespace grid::localns
