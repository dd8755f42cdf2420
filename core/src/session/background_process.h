// A background process of a sandbox (docs/processes.md): started outside the session through
// the backend, its stdout and stderr read by one reader thread into a bounded OutputRing, its
// end (exit status) recorded. Everything it prints is attacker input: memory stays within the
// ring's budget however much it writes, and every wait has a deadline.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "grid/sandbox_backend.h"
#include "session/output_ring.h"

namespace grid {

/// What to start. `cwd` empty: the sandbox's default working directory.
struct BackgroundProcessSpec {
  std::string command;  // run by bash (sh where the image has none)
  std::string cwd;
  std::vector<std::pair<std::string, std::string>> env;  // exported for the command only
};

/// running: its output is still open. exited: it ended on its own. killed: it ended after
/// Grid signalled it (DELETE, or a signal through the API), or its sandbox went away.
enum class ProcessStatus { kRunning, kExited, kKilled };

/// "running", "exited", "killed".
const char* processStatusName(ProcessStatus status);

/// A consistent copy of a process's state.
struct ProcessState {
  ProcessStatus status = ProcessStatus::kRunning;
  std::optional<int> exit_code;  // 128+N for death by signal N; unknown where the engine is mute
  int sandbox_pid = 0;           // the wrapper's pid inside the sandbox
  std::chrono::system_clock::time_point started_at;
  std::optional<std::chrono::system_clock::time_point> ended_at;
};

/// kInvalidArgument naming what is wrong: an empty command, an env name that is not
/// [A-Za-z_][A-Za-z0-9_]*, a NUL byte in a value or in the cwd.
Result<void> checkBackgroundProcessSpec(const BackgroundProcessSpec& spec);

/// The argv that runs `spec` in a sandbox: /bin/sh changes to the cwd, exports the env and
/// reports "<token>:pid:<pid>:<pgid>" on stderr, then runs the command with bash (or sh) and
/// stays its parent. The command, cwd and env travel as separate arguments, never spliced
/// into the script.
std::vector<std::string> backgroundProcessArgv(const std::string& token,
                                               const BackgroundProcessSpec& spec);

/// The signal `text` names, as the name `kill -s` takes ("TERM"): a name of the standard
/// signals, with or without "SIG", any case, or a number from 1 to 31. nullopt otherwise.
std::optional<std::string> signalName(std::string_view text);
std::optional<std::string> signalName(int number);

/// How many bytes at the end of `bytes` begin a UTF-8 sequence that is not complete yet (0 to
/// 3): a read that stops there leaves them for the next one, so no character is split.
size_t incompleteUtf8Tail(std::string_view bytes);

/// Reads up to `max_bytes` (at least 4 are read) from `offset`. Where more bytes follow the
/// chunk without a gap, or may still come, a UTF-8 sequence cut at the chunk's end is left for
/// the next read (next_offset stops before it); at a gap in the output or its end it is kept.
Result<OutputRing::Chunk> readOutputWhole(const OutputRing& ring, uint64_t offset,
                                          size_t max_bytes);

class BackgroundProcess {
 public:
  /// Starts `spec` in the sandbox and waits (until `deadline`) for the wrapper to report its
  /// pid; a cwd that does not exist is kInvalidArgument. Then one thread reads its output into
  /// a ring of `max_output_bytes`.
  static Result<std::unique_ptr<BackgroundProcess>> start(SandboxBackend& backend,
                                                          const std::string& sandbox_id,
                                                          const BackgroundProcessSpec& spec,
                                                          size_t max_output_bytes,
                                                          Clock::time_point deadline);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  const std::string& command() const { return command_; }
  ProcessState state() const;
  const OutputRing& output() const { return ring_; }

  /// Sends `signal_name` to the process's group (or to the process where it leads none).
  /// Ended processes are not signalled (their pid may be another's by now): kConflict.
  Result<void> signal(const std::string& signal_name, Clock::time_point deadline);

  /// SIGKILL to the group (also once the process itself has ended: what is left of its group),
  /// then waits (until `deadline`) for the output to end. Where it does
  /// not (a descendant that left the group holds it open) and the process itself is gone, it
  /// stops reading and records the process as killed with an unknown status.
  Result<void> kill(Clock::time_point deadline);

  /// Waits until the process ended or `deadline`; returns whether it ended.
  bool waitEnded(Clock::time_point deadline) const;

  /// Its sandbox is about to be destroyed: an end from now on counts as killed.
  void markKilled();

  /// Asks the reader to stop (the sandbox is going away); stop() then joins it.
  void requestStop();
  /// Stops reading, closes the ring and joins the reader; a running process counts as killed.
  /// Returns within about one read slice.
  void stop();

 private:
  BackgroundProcess(SandboxBackend& backend, std::string sandbox_id, std::string command,
                    size_t max_output_bytes);
  void readLoop();
  void finish(ProcessStatus status, std::optional<int> exit_code);

  SandboxBackend& backend_;
  const std::string sandbox_id_;
  const std::string command_;
  OutputRing ring_;
  std::unique_ptr<ProcessChannel> channel_;  // the reader's alone once it runs
  int sandbox_pid_ = 0;
  bool leads_group_ = false;
  std::chrono::system_clock::time_point started_at_;

  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;  // guards the fields below
  mutable std::condition_variable ended_cv_;
  bool ended_ = false;
  bool signalled_ = false;  // Grid sent a signal: an end from here on counts as killed
  ProcessStatus status_ = ProcessStatus::kRunning;
  std::optional<int> exit_code_;
  std::optional<std::chrono::system_clock::time_point> ended_at_;
  std::thread reader_;
};

}  // namespace grid
