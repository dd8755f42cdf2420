// Small helpers for running short processes inside a sandbox through the backend.
#pragma once

#include <string>

#include "exec_result.h"
#include "grid/sandbox_backend.h"

namespace grid {

/// Runs `command` with bash (sh where the image has no bash) as a fresh process in the sandbox,
/// stdin at EOF. On timeout the process group is killed and the partial output returned.
Result<ExecResult> runStandalone(SandboxBackend& backend, const std::string& sandbox_id,
                                 const std::string& command, const ExecLimits& limits);

/// Sends `signal_name` (e.g. "INT") to the process group led by `pid` inside the sandbox, or to
/// `pid` alone where it leads no group.
Result<void> signalInSandbox(SandboxBackend& backend, const std::string& sandbox_id, int pid,
                             bool is_group_leader, const std::string& signal_name);

}  // namespace grid
