#include "kernel/caps.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "util/syscall_error.h"

namespace grid::localns {

uint64_t keptCapabilities() {
  uint64_t mask = 0;
  for (int cap : {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETGID,
                  CAP_SETUID, CAP_NET_BIND_SERVICE}) {
    mask |= uint64_t{1} << cap;
  }
  return mask;
}

void dropCapabilities(int report_fd) {
  const uint64_t kept = keptCapabilities();
  // Bounding set first: dropping it needs CAP_SETPCAP, which the capset below removes.
  for (int cap = 0; cap <= 63; ++cap) {
    if (kept & (uint64_t{1} << cap)) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) {
      childFail(report_fd, "prctl", "PR_CAPBSET_DROP", errno);
    }
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    childFail(report_fd, "prctl", "PR_CAP_AMBIENT_CLEAR_ALL", errno);
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    auto word = static_cast<uint32_t>(kept >> (32 * i));
    data[i].effective = word;
    data[i].permitted = word;
    data[i].inheritable = word;
  }
  if (::syscall(SYS_capset, &header, data) != 0) childFail(report_fd, "capset", "", errno);
}

}  // namespace grid::localns
