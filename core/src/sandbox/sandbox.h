// One sandbox's record: its request, its state machine (SandboxLifecycle) and its trajectory,
// plus what the SandboxManager holds while it operates on the sandbox (SandboxRuntime).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "grid/sandbox_backend.h"
#include "sandbox/fifo_semaphore.h"
#include "sandbox/lifetime.h"
#include "sandbox/process_table.h"
#include "sandbox/sandbox_lifecycle.h"
#include "sandbox/port_shares.h"
#include "sandbox/transfer_set.h"
#include "session/exec_result.h"
#include "session/session_shell.h"

namespace grid {

/// What a trajectory entry records: a command, or an operation on the sandbox through the API.
enum class TrajectoryKind {
  kExec,        // a command (session or standalone); `command` is its text
  kFileUpload,  // `command` describes it: "upload /work/a.py (1234 bytes)"
  kFileDownload,
  kFileRemove,
  kDirectoryCreate,
  kProcessStart,  // a background process; `command` is its command line
  kProcessSignal,
  kFork,      // forked into children, or (on a child) made by a fork; `command` names the others
  kSnapshot,  // saved as an image; `command` names it
  kReset,     // returned to its state right after setup
};

/// The stable JSON token of a kind: "exec", "file_upload", ...
const char* trajectoryKindName(TrajectoryKind kind);

struct TrajectoryEntry {
  TrajectoryKind kind = TrajectoryKind::kExec;
  std::string command;
  bool standalone = false;
  std::chrono::system_clock::time_point at;
  ExecResult result;
  bool output_dropped = false;  // over the trajectory's output budget
};

/// A consistent copy of a sandbox's state, for describing it without holding its locks.
struct SandboxSnapshot {
  SandboxSpec spec;
  std::vector<std::string> setup_commands;
  SandboxStatus status = SandboxStatus::kCreated;
  std::string backend;
  std::string error;  // why it failed, when it did
  std::chrono::system_clock::time_point created_at;
  std::optional<std::chrono::system_clock::time_point> started_at;
  std::optional<std::chrono::system_clock::time_point> stopped_at;
  std::optional<std::chrono::system_clock::time_point> paused_at;  // while paused
  size_t command_count = 0;
  std::optional<int> last_exit_code;
  std::optional<int> session_exit_code;
  // Lifetimes (docs/lifetimes.md).
  LifetimePolicy lifetime;
  std::optional<std::chrono::system_clock::time_point> expires_at;  // while it runs
  std::optional<EndReason> end_reason;
  std::optional<std::chrono::system_clock::time_point> ended_at;
  std::string pool;  // the warm pool it was taken from; empty for a cold start
};

/// What the manager holds while it starts, runs and removes a sandbox. Everything but
/// `stopping` is touched only under Sandbox::operationMutex().
struct SandboxRuntime {
  std::unique_ptr<SessionShell> session;
  FifoSemaphore::Permit permit;
  bool container_exists = false;
  std::atomic<bool> stopping{false};  // set by a stop, read by a start to give up early
  std::string pool;  // the warm pool it came from (docs/pools.md); set before it is published
};

class Sandbox {
 public:
  Sandbox(SandboxSpec spec, std::vector<std::string> setup_commands, std::string backend,
          LifetimePolicy lifetime = {})
      : spec_(std::move(spec)),
        setup_commands_(std::move(setup_commands)),
        backend_(std::move(backend)),
        created_at_(std::chrono::system_clock::now()),
        lifetime_(lifetime) {}

  const SandboxSpec& spec() const { return spec_; }
  const std::vector<std::string>& setupCommands() const { return setup_commands_; }

  SandboxSnapshot snapshot() const;
  std::vector<TrajectoryEntry> trajectory() const;

  /// A copy of the state machine, for deciding what an operation may do.
  SandboxLifecycle lifecycle() const;

  /// Applies `event` to the state machine (see SandboxLifecycle::apply).
  Result<void> advance(SandboxEvent event, std::string error = {});

  /// Appends an exec to the trajectory and, when `session_ended`, moves to exited with the
  /// session's `exit_code`, at once for every reader. Past `max_trajectory_bytes` of output
  /// the oldest entries lose theirs.
  void recordExec(TrajectoryEntry entry, size_t max_trajectory_bytes, bool session_ended,
                  std::optional<int> exit_code);
  /// Records an operation that is not a command (a file transfer, a process start): no output,
  /// so it never counts against the trajectory's output budget.
  void recordOperation(TrajectoryKind kind, std::string description);

  /// Held for the whole of a start, an exec or a teardown: one at a time per sandbox.
  std::mutex& operationMutex() { return operation_mutex_; }
  SandboxRuntime& runtime() { return runtime_; }
  /// Its background processes; closed (all killed and forgotten) when the sandbox stops.
  ProcessTable& processes() { return processes_; }
  /// Its file transfers in flight; closed (all cut short) when the sandbox stops.
  TransferSet& transfers() { return transfers_; }
  /// Its open terminals (GET /sandboxes/{id}/pty); closed (each told to end) when it stops.
  TransferSet& terminals() { return terminals_; }
  /// The share tokens of its ports (docs/ports.md); cleared when it stops.
  PortShares& portShares() { return port_shares_; }

  const LifetimePolicy& lifetime() const { return lifetime_; }
  /// What a client does through the API, for the idle timeout (ActivityTracker::begin()).
  ActivityTracker& activity() { return activity_; }
  /// Its lifetime starts (it runs): the ttl counts from `now`, and so does idleness.
  void startLifetime(ActivityTracker::Clock::time_point now);
  /// When its lifetime started; nullopt before.
  std::optional<ActivityTracker::Clock::time_point> lifetimeStart() const;
  /// The latest activity: the API's, or output of one of its background processes.
  ActivityTracker::Clock::time_point lastActivity() const;
  /// Records why the sandbox is about to end (SandboxLifecycle::setEndReason).
  void setEndReason(EndReason reason);

 private:
  const SandboxSpec spec_;
  const std::vector<std::string> setup_commands_;
  const std::string backend_;
  const std::chrono::system_clock::time_point created_at_;
  const LifetimePolicy lifetime_;
  ActivityTracker activity_;

  std::mutex operation_mutex_;
  SandboxRuntime runtime_;
  ProcessTable processes_;
  TransferSet transfers_;
  TransferSet terminals_;
  PortShares port_shares_;

  // Guards the fields below; held only briefly.
  mutable std::mutex state_mutex_;
  SandboxLifecycle lifecycle_;
  std::vector<TrajectoryEntry> trajectory_;
  size_t trajectory_bytes_ = 0;  // output bytes held by trajectory_
  std::optional<ActivityTracker::Clock::time_point> lifetime_start_;
};

}  // namespace grid
