// An interactive shell on a pseudo-terminal inside a sandbox (docs/terminal.md), for a person
// at `grid sandbox shell` or a browser. It is a process of its own, started through the
// backend beside the agent's session, which it never touches. The shell leads a session of
// its own inside the sandbox; closing the terminal kills every process of that session.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grid/sandbox_backend.h"

namespace grid {

struct TerminalOptions {
  TerminalSize size;
  std::string term = "xterm-256color";  // $TERM of the shell
};

/// Bounds of a terminal size: 1..1000 columns and rows.
inline constexpr uint16_t kMaxTerminalCells = 1000;

/// kInvalidArgument unless 1 <= cols, rows <= kMaxTerminalCells.
Result<void> checkTerminalSize(TerminalSize size);
/// kInvalidArgument unless `term` is 1..64 characters of [A-Za-z0-9._+-].
Result<void> checkTerminalName(std::string_view term);

/// The argv that starts the shell: /bin/sh prints "<token>:pid:<pid>" on the terminal, sets its
/// size (stty), exports TERM, changes to $HOME, then execs `bash -l` (or `sh -l` where the
/// image has no bash). The token, TERM and size travel as arguments, never spliced into the
/// script.
std::vector<std::string> terminalShellArgv(const std::string& token, const std::string& term,
                                           TerminalSize size);

/// The sh script that SIGKILLs every process of session `sid` (but itself), a few rounds a
/// tenth of a second apart (the kill lands asynchronously), so one forked meanwhile dies too. Only
/// /proc and shell builtins: any image has them.
std::string killSessionCommand(int sid);

/// Finds "<token>:pid:<N>" followed by a line end in `output`: N, and in `*rest` the bytes
/// after that line. nullopt while the line is incomplete (or N is not a pid above 1).
std::optional<int> parseShellPidLine(std::string_view output, const std::string& token,
                                     std::string* rest);

class TerminalShell {
 public:
  /// Starts the shell and waits (until `deadline`) for it to report its pid. A backend without
  /// terminals answers kUnsupported.
  static Result<std::unique_ptr<TerminalShell>> start(SandboxBackend& backend,
                                                      const std::string& sandbox_id,
                                                      const TerminalOptions& options,
                                                      Clock::time_point deadline);
  /// Closes the terminal and kills what is left of the shell's session (bounded wait).
  ~TerminalShell();
  TerminalShell(const TerminalShell&) = delete;
  TerminalShell& operator=(const TerminalShell&) = delete;

  /// The terminal's output (at most 64 KiB per call), kTimeout at `deadline`, kEof once the
  /// shell and everything holding its terminal has ended. One reader thread.
  Result<ReadResult> read(Clock::time_point deadline);
  /// Typed input; may block while the shell reads none (bounded by the backend). May run
  /// beside read() on another thread.
  Result<void> write(std::string_view data);
  Result<void> resize(TerminalSize size);
  /// The shell's exit status, once read() returned kEof; nullopt where unknown.
  std::optional<int> exitCode(Clock::time_point deadline);
  /// The shell's pid inside the sandbox (its session id).
  int sandboxPid() const { return pid_; }

  /// Closes the terminal and SIGKILLs every process of the shell's session. Idempotent.
  void close();

 private:
  TerminalShell(SandboxBackend& backend, std::string sandbox_id,
                std::unique_ptr<ProcessChannel> channel, int pid, std::string pending);

  SandboxBackend& backend_;
  const std::string sandbox_id_;
  std::unique_ptr<ProcessChannel> channel_;
  const int pid_;
  std::string pending_;  // output read with the pid line, handed out first
  bool closed_ = false;
};

}  // namespace grid
