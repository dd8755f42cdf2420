#include "seccomp_filter.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "fd.h"
#include "syscall_error.h"

namespace grid::localns {
namespace {

struct CtxDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};

constexpr const char* kBlocked[] = {
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "swapon",
    "swapoff",
    "reboot",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "acct",
    "settimeofday",
    "clock_settime",
    "adjtimex",
    "clock_adjtime",
    "iopl",
    "ioperm",
    "quotactl",
    "open_by_handle_at",
    "name_to_handle_at",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "lookup_dcookie",
    "syslog",
    "unshare",
    "setns",
    "fsopen",
    "fsmount",
    "fsconfig",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "fspick",
};

constexpr unsigned long kNamespaceFlags[] = {CLONE_NEWNS,    CLONE_NEWPID, CLONE_NEWNET,
                                             CLONE_NEWUTS,   CLONE_NEWIPC, CLONE_NEWUSER,
                                             CLONE_NEWCGROUP};

Error seccompError(const char* call, const char* what, int rc) {
  return sysFail(ErrorCode::kInternal, call, what, -rc);
}

}  // namespace

Result<SeccompProgram> SeccompProgram::build() {
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return fail(ErrorCode::kInternal, "local-namespace: seccomp_init failed");
  // The process sets no_new_privs itself, right before installing.
  seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  for (const char* name : kBlocked) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // unknown to this libseccomp: nothing to block
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0); rc != 0) {
      return seccompError("seccomp_rule_add", name, rc);
    }
  }
  for (unsigned long flag : kNamespaceFlags) {
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
        rc != 0) {
      return seccompError("seccomp_rule_add", "clone", rc);
    }
  }
  int clone3 = seccomp_syscall_resolve_name("clone3");
  if (clone3 != __NR_SCMP_ERROR) {
    if (int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), clone3, 0); rc != 0) {
      return seccompError("seccomp_rule_add", "clone3", rc);
    }
  }
  // libseccomp 2.5 cannot export to memory; go through a memfd.
  UniqueFd memfd(::memfd_create("grid-seccomp", MFD_CLOEXEC));
  if (!memfd.valid()) return sysFail(ErrorCode::kInternal, "memfd_create", "grid-seccomp", errno);
  if (int rc = seccomp_export_bpf(ctx.get(), memfd.get()); rc != 0) {
    return seccompError("seccomp_export_bpf", "memfd", rc);
  }
  off_t size = ::lseek(memfd.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) {
    return fail(ErrorCode::kInternal, "local-namespace: seccomp_export_bpf wrote a bad program");
  }
  SeccompProgram program;
  program.filter_.resize(static_cast<size_t>(size) / sizeof(sock_filter));
  if (::pread(memfd.get(), program.filter_.data(), static_cast<size_t>(size), 0) != size) {
    return sysFail(ErrorCode::kInternal, "pread", "grid-seccomp memfd", errno);
  }
  return program;
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
