// The persistent shell session of one sandbox: one `bash -i` process whose state (cwd, env,
// functions, aliases, options) carries over from exec to exec. Implemented once, here, over
// the ProcessChannel any backend provides. Not thread-safe: the sandbox serializes execs.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "grid/sandbox_backend.h"
#include "session/exec_listener.h"
#include "session/exec_result.h"

namespace grid {

class SessionShell {
 public:
  /// Starts bash in the sandbox and waits until it is ready for commands.
  static Result<std::unique_ptr<SessionShell>> open(SandboxBackend& backend,
                                                    std::string sandbox_id);

  /// The session shell's process: what the session starts with startProcess(), and what the
  /// core offers a backend as SandboxSpec::initial_process.
  static ProcessSpec launchSpec();

  /// Runs one command in the session. On timeout the foreground work is interrupted (SIGINT to
  /// the shell's process group, as Ctrl-C would) and the session keeps its state; a shell that
  /// ignores the interrupt, or stops printing markers (it closed its stdout), is killed and
  /// replaced (`session_restarted`). Answers within a second of the timeout whatever the
  /// command does; the replacement shell is started by the next run. With a `listener`, output
  /// goes to it as it is read, and a listener that goes away interrupts the command the same
  /// way a timeout does (`interrupted`).
  Result<ExecResult> run(std::string_view command, const ExecLimits& limits,
                         ExecListener* listener = nullptr);

  /// False once the shell has ended (`exit`, killed); further runs are refused.
  bool alive() const { return channel_ != nullptr || restart_pending_; }

 private:
  SessionShell(SandboxBackend& backend, std::string sandbox_id)
      : backend_(backend), sandbox_id_(std::move(sandbox_id)) {}

  Result<void> start();
  Result<void> signalShell(const std::string& signal_name, Clock::time_point deadline);
  /// Kills the shell (bounded by `deadline`) and drops it; the next run starts a new one.
  void killForRestart(Clock::time_point deadline);

  SandboxBackend& backend_;
  std::string sandbox_id_;
  std::unique_ptr<ProcessChannel> channel_;
  std::string token_;
  int shell_pid_ = 0;
  bool shell_leads_group_ = false;
  bool restart_pending_ = false;
};

}  // namespace grid
