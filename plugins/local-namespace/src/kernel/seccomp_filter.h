// Seccomp filter of sandbox processes: the policy every backend shares
// (grid/seccomp/policy.h, listed in docs/security.md), compiled once to BPF in the parent.
// Allow list; anything else ENOSYS; mounts, namespaces, io_uring, keyrings, bpf and the other
// dangerous calls EPERM; socket(AF_VSOCK/AF_ALG/AF_PACKET), device mknod and namespace flags
// of clone EPERM; clone3 ENOSYS so libc falls back to the filterable clone. Foreign
// architectures (i386/x32 syscalls) kill the process.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "grid/result.h"

namespace grid::localns {

class SeccompProgram {
 public:
  /// Compiles the sandbox policy.
  static Result<SeccompProgram> build();

  size_t size() const { return filter_.size(); }
  /// The compiled BPF program (handed to grid-init, which installs it).
  const std::vector<sock_filter>& filter() const { return filter_; }

 private:
  std::vector<sock_filter> filter_;
};

}  // namespace grid::localns
