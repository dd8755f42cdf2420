// Reaps process helpers whose ProcessChannel was destroyed before the process ended. The SDK
// lets a channel go without killing its process; the helper then exits when the process
// does (at the latest when destroySandbox kills the sandbox cgroup) and is reaped here.
#pragma once

#include <sys/types.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace grid::localns {

class ChildReaper {
 public:
  /// Takes over `pid` (a helper of sandbox `sandbox_id`).
  void adopt(const std::string& sandbox_id, pid_t pid);

  /// Reaps adopted helpers that have exited, without blocking.
  void reapExited();

  /// Kills and reaps every helper of `sandbox_id`; call after killing the sandbox.
  void reapSandbox(const std::string& sandbox_id);

  /// Kills and reaps every adopted helper; call once all sandboxes are killed.
  void reapAll();

 private:
  std::mutex mutex_;
  std::map<std::string, std::vector<pid_t>> pids_;
};

}  // namespace grid::localns
