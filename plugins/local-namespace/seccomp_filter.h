// Seccomp filter of sandbox processes (libseccomp, compiled once to BPF in the parent).
// Default allow; EPERM for: mount, umount2, pivot_root, chroot, swapon/off, reboot,
// kexec_load/kexec_file_load, init/finit/delete_module, acct, settimeofday/clock_settime/
// adjtimex/clock_adjtime, iopl/ioperm, quotactl, open_by_handle_at/name_to_handle_at,
// keyctl/add_key/request_key, bpf, perf_event_open, userfaultfd, lookup_dcookie, syslog,
// unshare, setns, fsopen/fsmount/fsconfig/move_mount/open_tree/mount_setattr, and clone
// with any namespace flag. clone3 fails with ENOSYS so libc falls back to the filterable
// clone. ptrace stays allowed: without CAP_SYS_PTRACE it only reaches processes of the
// same sandbox (same PID namespace, same uid), which is what debuggers inside need.
// Foreign architectures (i386/x32 syscalls) kill the process.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "grid/result.h"

namespace grid::localns {

class SeccompProgram {
 public:
  /// Compiles the filter above.
  static Result<SeccompProgram> build();

  /// Child side: no_new_privs + install the filter; reports and _exit(127)s on failure.
  void install(int report_fd) const;

  size_t size() const { return filter_.size(); }
  /// The compiled BPF program (handed to grid-init, which installs it).
  const std::vector<sock_filter>& filter() const { return filter_; }

 private:
  std::vector<sock_filter> filter_;
};

}  // namespace grid::localns
