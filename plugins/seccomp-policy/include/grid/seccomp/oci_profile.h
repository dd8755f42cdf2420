// The seccomp policy as the JSON profile container engines take: Docker's
// `HostConfig.SecurityOpt: ["seccomp=<json>"]` and Podman's `seccomp_profile_path` file
// (defaultAction, defaultErrnoRet, architectures, syscalls[{names, action, errnoRet, args}]).
#pragma once

#include <string>

#include "grid/seccomp/policy.h"

namespace grid::seccomp {

/// `policy` as an OCI/Docker seccomp profile for the native architecture, compact JSON.
std::string renderOciProfile(const Policy& policy);

}  // namespace grid::seccomp
