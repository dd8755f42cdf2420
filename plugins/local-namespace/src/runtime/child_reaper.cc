#include "runtime/child_reaper.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>

namespace grid::localns {

void ChildReaper::adopt(const std::string& sandbox_id, pid_t pid) {
  std::lock_guard lock(mutex_);
  pids_[sandbox_id].push_back(pid);
}

void ChildReaper::reapExited() {
  std::lock_guard lock(mutex_);
  for (auto it = pids_.begin(); it != pids_.end();) {
    auto& pids = it->second;
    std::erase_if(pids, [](pid_t pid) {
      pid_t r = ::waitpid(pid, nullptr, WNOHANG);
      return r == pid || (r < 0 && errno == ECHILD);
    });
    it = pids.empty() ? pids_.erase(it) : std::next(it);
  }
}

void ChildReaper::reapSandbox(const std::string& sandbox_id) {
  std::vector<pid_t> pids;
  {
    std::lock_guard lock(mutex_);
    auto it = pids_.find(sandbox_id);
    if (it == pids_.end()) return;
    pids = std::move(it->second);
    pids_.erase(it);
  }
  // The sandbox is dead, so are the helpers' processes; never wait on a helper that is not.
  for (pid_t pid : pids) ::kill(pid, SIGKILL);
  for (pid_t pid : pids) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
}

void ChildReaper::reapAll() {
  std::map<std::string, std::vector<pid_t>> all;
  {
    std::lock_guard lock(mutex_);
    all.swap(pids_);
  }
  for (const auto& [id, pids] : all) {
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    for (pid_t pid : pids) {
      while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
}

}  // namespace grid::localns
