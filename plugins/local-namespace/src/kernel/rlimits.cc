#include "kernel/rlimits.h"

#include <algorithm>
#include <cerrno>

#include "util/syscall_error.h"

namespace grid::localns {

std::vector<RlimitSetting> planRlimits(rlim_t nofile_hard) {
  constexpr rlim_t kMaxNoFile = 65536;
  rlim_t nofile = nofile_hard == RLIM_INFINITY ? kMaxNoFile : std::min(nofile_hard, kMaxNoFile);
  return {{RLIMIT_CORE, 0, 0}, {RLIMIT_NOFILE, nofile, nofile}};
}

void applyRlimits(const std::vector<RlimitSetting>& settings, int report_fd) {
  for (const auto& setting : settings) {
    struct rlimit limit = {setting.soft, setting.hard};
    if (::setrlimit(setting.resource, &limit) != 0) {
      childFail(report_fd, "setrlimit",
                setting.resource == RLIMIT_NOFILE ? "RLIMIT_NOFILE" : "RLIMIT_CORE", errno);
    }
  }
}

}  // namespace grid::localns
