// ProcessChannel over the stdin/stdout/stderr pipes of a launched process, or over the master
// of its pseudo-terminal (kernel/pty.h).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "grid/sandbox_backend.h"
#include "runtime/child_reaper.h"
#include "util/fd.h"

namespace grid::localns {

class PipeChannel : public ProcessChannel {
 public:
  PipeChannel(std::string sandbox_id, pid_t helper_pid, UniqueFd stdin_write, UniqueFd stdout_read,
              UniqueFd stderr_read, std::shared_ptr<ChildReaper> reaper);
  /// A terminal process: `master` (non-blocking) carries its input and output.
  static Result<std::unique_ptr<PipeChannel>> forTerminal(std::string sandbox_id, pid_t helper_pid,
                                                          UniqueFd master,
                                                          std::shared_ptr<ChildReaper> reaper);
  ~PipeChannel() override;

  Result<void> write(std::string_view data) override;
  void closeStdin() override;
  Result<ReadResult> read(Clock::time_point deadline) override;
  std::optional<int> exitCode() override;
  Result<void> resize(TerminalSize size) override;

 private:
  // Waits (bounded) until a non-blocking terminal master takes more input.
  Result<void> waitWritable();

  // Reaps the helper if it has exited, waiting at most `wait` for it to.
  bool tryReap(std::chrono::milliseconds wait);

  std::string sandbox_id_;
  pid_t helper_pid_;
  UniqueFd helper_pidfd_;  // pollable exit of the helper; invalid where pidfd_open fails
  UniqueFd stdin_;
  UniqueFd stdout_;
  UniqueFd stderr_;
  UniqueFd terminal_;  // the pty master, for resize(); invalid for a pipe process
  std::shared_ptr<ChildReaper> reaper_;
  bool prefer_stderr_ = false;  // alternate when both have data, so neither starves
  std::optional<int> exit_code_;
  bool reaped_ = false;
};

}  // namespace grid::localns
