// The seccomp policy compiled to a classic BPF program with libseccomp, for the native
// architecture only: a syscall made through another ABI (i386 int 0x80, x32) kills the process.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "grid/result.h"
#include "grid/seccomp/policy.h"

namespace grid::seccomp {

/// The program to pass to PR_SET_SECCOMP / seccomp(SECCOMP_SET_MODE_FILTER). It does not set
/// no_new_privs: the process installing it does. Names this libseccomp does not know (newer
/// than it, or not native) are left to the default action.
Result<std::vector<sock_filter>> buildBpfProgram(const Policy& policy);

}  // namespace grid::seccomp
