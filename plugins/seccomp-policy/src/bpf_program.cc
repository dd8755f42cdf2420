#include "grid/seccomp/bpf_program.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

namespace grid::seccomp {
namespace {

struct ContextDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

uint32_t libseccompAction(const Action& action) {
  return action.allow ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO(static_cast<uint16_t>(action.errno_value));
}

scmp_arg_cmp libseccompCondition(const ArgCondition& condition) {
  switch (condition.op) {
    case Compare::kMaskedEqual:
      return SCMP_CMP(condition.index, SCMP_CMP_MASKED_EQ, condition.mask, condition.value);
    case Compare::kGreater:
      return SCMP_CMP(condition.index, SCMP_CMP_GT, condition.value);
    case Compare::kEqual:
      break;
  }
  return SCMP_CMP(condition.index, SCMP_CMP_EQ, condition.value);
}

Error libseccompError(const std::string& call, const std::string& what, int rc) {
  return fail(ErrorCode::kInternal,
              "seccomp: " + call + "(" + what + "): " + std::strerror(rc < 0 ? -rc : rc));
}

}  // namespace

Result<std::vector<sock_filter>> buildBpfProgram(const Policy& policy) {
  std::unique_ptr<void, ContextDeleter> ctx(seccomp_init(libseccompAction(policy.default_action)));
  if (!ctx) return fail(ErrorCode::kInternal, "seccomp: seccomp_init failed");
  // The installing process sets no_new_privs itself, right before installing.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc != 0) {
    return libseccompError("seccomp_attr_set", "CTL_NNP", rc);
  }
  // A binary tree of syscall numbers instead of a list of ~300 comparisons (calls whose
  // action does not depend on arguments are cached by the kernel anyway).
  (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);
  for (const auto& rule : policy.rules) {
    // Written out in the table for the reader (clone3); libseccomp refuses a rule that repeats
    // the default action.
    if (rule.action == policy.default_action) continue;
    for (const auto& name : rule.names) {
      const int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr < 0) continue;  // unknown to this libseccomp or not native: the default applies
      int rc = 0;
      if (rule.condition) {
        rc = seccomp_rule_add_exact_array(ctx.get(), libseccompAction(rule.action), nr, 1,
                                          std::array{libseccompCondition(*rule.condition)}.data());
      } else {
        rc = seccomp_rule_add_exact(ctx.get(), libseccompAction(rule.action), nr, 0);
      }
      if (rc != 0) return libseccompError("seccomp_rule_add", name, rc);
    }
  }
  // libseccomp 2.5 cannot export to memory; go through a memfd.
  FdCloser memfd{::memfd_create("grid-seccomp", MFD_CLOEXEC)};
  if (memfd.fd < 0) return libseccompError("memfd_create", "grid-seccomp", errno);
  if (int rc = seccomp_export_bpf(ctx.get(), memfd.fd); rc != 0) {
    return libseccompError("seccomp_export_bpf", "memfd", rc);
  }
  const off_t size = ::lseek(memfd.fd, 0, SEEK_END);
  if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    return fail(ErrorCode::kInternal, "seccomp: seccomp_export_bpf wrote a bad program");
  }
  std::vector<sock_filter> program(static_cast<size_t>(size) / sizeof(sock_filter));
  if (::pread(memfd.fd, program.data(), static_cast<size_t>(size), 0) != size) {
    return libseccompError("pread", "grid-seccomp memfd", errno);
  }
  return program;
}

}  // namespace grid::seccomp
