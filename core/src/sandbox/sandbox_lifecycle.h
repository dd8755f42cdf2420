// A sandbox's state machine: its status, and every transition the status may take, in one
// table (nextStatus). Pure and single-threaded; Sandbox guards it with its state mutex.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "grid/result.h"

namespace grid {

/// created -> starting -> running -> (exited) -> stopped; starting -> failed; running <-> paused;
/// any -> stopped.
enum class SandboxStatus { kCreated, kStarting, kRunning, kExited, kStopped, kFailed, kPaused };

const char* statusName(SandboxStatus status);

/// What happens to a sandbox; each moves its status along the table of nextStatus().
enum class SandboxEvent {
  kStart,         // a start request was accepted
  kSlotTimedOut,  // no running slot came free in time: back to created, may start again
  kStarted,       // the sandbox and its session are up
  kStartFailed,   // creating it, its setup or its session failed (or the server shuts down)
  kSessionEnded,  // the persistent session's shell exited
  kStop,          // stopped and removed (from any status, again when already stopped)
  kPause,         // its processes are frozen and its running slot is free
  kResume,        // it holds a running slot again and its processes are thawed
};

const char* eventName(SandboxEvent event);

/// Why a sandbox ended (stopped, or failed to start): the record's end_reason.
enum class EndReason {
  kStopped,   // a client stopped or deleted it
  kTtl,       // its ttl passed (docs/lifetimes.md)
  kIdle,      // its idle timeout passed
  kShutdown,  // the server shut down
  kFailed,    // its start failed
};

/// "stopped", "ttl", "idle", "shutdown", "failed".
const char* endReasonName(EndReason reason);

/// The status `event` leads to from `from`, or nullopt when the table does not allow it.
std::optional<SandboxStatus> nextStatus(SandboxStatus from, SandboxEvent event);

class SandboxLifecycle {
 public:
  using TimePoint = std::chrono::system_clock::time_point;

  /// Moves to nextStatus(status(), event), stamping `now` where the event starts or stops
  /// the sandbox. `error` (kStartFailed) says why it failed; `exit_code` (kSessionEnded) is the
  /// session's status when known. A transition the table does not allow changes nothing and
  /// is kConflict for kStart ("sandbox is already running; ..."), kPause and kResume (requests
  /// a client may repeat), kInternal otherwise.
  Result<void> apply(SandboxEvent event, TimePoint now, std::string error = {},
                     std::optional<int> exit_code = std::nullopt);

  SandboxStatus status() const { return status_; }
  const std::string& error() const { return error_; }
  const std::optional<TimePoint>& startedAt() const { return started_at_; }
  const std::optional<TimePoint>& stoppedAt() const { return stopped_at_; }
  const std::optional<int>& sessionExitCode() const { return session_exit_code_; }
  /// When it was paused; set only while the status is paused.
  const std::optional<TimePoint>& pausedAt() const { return paused_at_; }

  /// Says why the sandbox is about to end, before the event that ends it; the first reason
  /// given stays (an expiry racing a client's stop keeps whichever came first). Without one,
  /// kStop records kStopped and kStartFailed kFailed.
  void setEndReason(EndReason reason) {
    if (!end_reason_) end_reason_ = reason;
  }
  const std::optional<EndReason>& endReason() const { return end_reason_; }
  /// When it stopped or failed.
  const std::optional<TimePoint>& endedAt() const { return ended_at_; }

 private:
  SandboxStatus status_ = SandboxStatus::kCreated;
  std::string error_;  // why it failed, when it did
  std::optional<TimePoint> started_at_;
  std::optional<TimePoint> stopped_at_;
  std::optional<int> session_exit_code_;
  std::optional<EndReason> end_reason_;
  std::optional<TimePoint> ended_at_;
  std::optional<TimePoint> paused_at_;
};

}  // namespace grid
