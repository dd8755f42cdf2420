#include "seccomp_filter.h"

#include <linux/seccomp.h>
#include <sys/prctl.h>

#include <cerrno>
#include <utility>

#include "grid/seccomp/bpf_program.h"
#include "grid/seccomp/policy.h"
#include "syscall_error.h"

namespace grid::localns {

Result<SeccompProgram> SeccompProgram::build() {
  auto program = seccomp::buildBpfProgram(seccomp::sandboxPolicy());
  if (!program) {
    return fail(program.error().code, "local-namespace: " + program.error().message);
  }
  SeccompProgram built;
  built.filter_ = std::move(program).value();
  return built;
}

void SeccompProgram::install(int report_fd) const {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    childFail(report_fd, "prctl", "PR_SET_NO_NEW_PRIVS", errno);
  }
  sock_fprog prog{static_cast<unsigned short>(filter_.size()),
                  const_cast<sock_filter*>(filter_.data())};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
    childFail(report_fd, "prctl", "PR_SET_SECCOMP", errno);
  }
}

}  // namespace grid::localns
