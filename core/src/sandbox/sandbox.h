// One sandbox's record: its request, its state machine and its trajectory. Owned by the
// SandboxManager; the mutexes here are the manager's to take.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "session/exec_result.h"
#include "sandbox/fifo_semaphore.h"
#include "grid/sandbox_backend.h"
#include "session/session_shell.h"

namespace grid {

/// created -> starting -> running -> (exited) -> stopped; starting -> failed.
enum class SandboxStatus { kCreated, kStarting, kRunning, kExited, kStopped, kFailed };

const char* statusName(SandboxStatus status);

struct TrajectoryEntry {
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
  size_t command_count = 0;
  std::optional<int> last_exit_code;
  std::optional<int> session_exit_code;
};

class Sandbox {
 public:
  Sandbox(SandboxSpec spec, std::vector<std::string> setup_commands, std::string backend)
      : spec_(std::move(spec)), setup_commands_(std::move(setup_commands)),
        backend_(std::move(backend)), created_at_(std::chrono::system_clock::now()) {}

  const SandboxSpec& spec() const { return spec_; }
  const std::vector<std::string>& setupCommands() const { return setup_commands_; }

  SandboxSnapshot snapshot() const;
  std::vector<TrajectoryEntry> trajectory() const;

 private:
  friend class SandboxManager;

  const SandboxSpec spec_;
  const std::vector<std::string> setup_commands_;
  const std::string backend_;
  const std::chrono::system_clock::time_point created_at_;

  // Serializes start, execs and teardown of this sandbox (held for their whole duration).
  std::mutex operation_mutex_;
  std::unique_ptr<SessionShell> session_;
  FifoSemaphore::Permit permit_;
  bool container_exists_ = false;
  std::atomic<bool> stopping_{false};

  // Guards the fields below; held only briefly.
  mutable std::mutex state_mutex_;
  SandboxStatus status_ = SandboxStatus::kCreated;
  std::string error_;
  std::optional<std::chrono::system_clock::time_point> started_at_;
  std::optional<std::chrono::system_clock::time_point> stopped_at_;
  std::optional<int> session_exit_code_;
  std::vector<TrajectoryEntry> trajectory_;
  size_t trajectory_bytes_ = 0;  // output bytes held by trajectory_
};

}  // namespace grid
