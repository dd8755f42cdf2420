// Small helpers for running short processes inside a sandbox through the backend. Every wait
// here has a deadline: what runs in a sandbox is the tenant's, and may never answer.
#pragma once

#include <optional>
#include <string>

#include "grid/sandbox_backend.h"
#include "session/exec_listener.h"
#include "session/exec_result.h"

namespace grid {

/// Runs `command` with bash (sh where the image has no bash) as a fresh process in the sandbox,
/// stdin at EOF. On timeout the process group is killed and the partial output returned, within
/// a second of the deadline however fast the command writes. With a `listener`, stdout and
/// stderr go to it as they are read, and a listener that goes away kills the command as a
/// timeout does (`interrupted`).
Result<ExecResult> runStandalone(SandboxBackend& backend, const std::string& sandbox_id,
                                 const std::string& command, const ExecLimits& limits,
                                 ExecListener* listener = nullptr);

/// Sends `signal_name` (e.g. "INT") to the process group led by `pid` inside the sandbox, or to
/// `pid` alone where it leads no group; gives up (kTimeout) at `deadline`.
Result<void> signalInSandbox(SandboxBackend& backend, const std::string& sandbox_id, int pid,
                             bool is_group_leader, const std::string& signal_name,
                             Clock::time_point deadline);

/// Kills `pid` (its group where it leads one) with SIGKILL if it still runs, i.e. exists and
/// is no zombie. Returns whether it ran; gives up (kTimeout) at `deadline`.
Result<bool> killIfRunning(SandboxBackend& backend, const std::string& sandbox_id, int pid,
                           bool is_group_leader, Clock::time_point deadline);

/// The exit status of a process whose output has ended: asks `channel` until it knows or
/// `deadline` passes (an engine may record the status a moment after the stream ends). Call
/// only once the process is known to have ended, as exitCode() may block until it does.
std::optional<int> exitCodeBy(ProcessChannel& channel, Clock::time_point deadline);

}  // namespace grid
