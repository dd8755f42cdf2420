#include "sandbox/sandbox.h"

#include <spdlog/spdlog.h>

namespace grid {
namespace {

size_t outputBytes(const ExecResult& result) {
  return result.output.size() + result.stdout_text.size() + result.stderr_text.size();
}

}  // namespace

SandboxSnapshot Sandbox::snapshot() const {
  SandboxSnapshot s;
  s.spec = spec_;
  s.setup_commands = setup_commands_;
  s.backend = backend_;
  s.created_at = created_at_;
  s.pool = runtime_.pool;
  std::lock_guard lock(state_mutex_);
  s.status = lifecycle_.status();
  s.error = lifecycle_.error();
  s.started_at = lifecycle_.startedAt();
  s.stopped_at = lifecycle_.stoppedAt();
  s.paused_at = lifecycle_.pausedAt();
  for (const auto& entry : trajectory_) {
    if (entry.kind != TrajectoryKind::kExec) continue;
    ++s.command_count;
    s.last_exit_code = entry.result.exit_code;
  }
  s.session_exit_code = lifecycle_.sessionExitCode();
  s.lifetime = lifetime_;
  s.end_reason = lifecycle_.endReason();
  s.ended_at = lifecycle_.endedAt();
  const bool running = s.status == SandboxStatus::kRunning || s.status == SandboxStatus::kExited;
  if (running && lifetime_start_ && lifetime_.limited()) {
    const auto now = ActivityTracker::Clock::now();
    const auto last = std::max(activity_.last(), processes_.lastOutputAt());
    if (const auto deadline =
            expiryDeadline(lifetime_, *lifetime_start_, last, activity_.busy(), now)) {
      s.expires_at = std::chrono::system_clock::now() +
                     std::chrono::duration_cast<std::chrono::system_clock::duration>(*deadline - now);
    }
  }
  return s;
}

void Sandbox::startLifetime(ActivityTracker::Clock::time_point now) {
  activity_.touch(now);
  std::lock_guard lock(state_mutex_);
  lifetime_start_ = now;
}

std::optional<ActivityTracker::Clock::time_point> Sandbox::lifetimeStart() const {
  std::lock_guard lock(state_mutex_);
  return lifetime_start_;
}

ActivityTracker::Clock::time_point Sandbox::lastActivity() const {
  return std::max(activity_.last(), processes_.lastOutputAt());
}

void Sandbox::setEndReason(EndReason reason) {
  std::lock_guard lock(state_mutex_);
  lifecycle_.setEndReason(reason);
}

std::vector<TrajectoryEntry> Sandbox::trajectory() const {
  std::lock_guard lock(state_mutex_);
  return trajectory_;
}

SandboxLifecycle Sandbox::lifecycle() const {
  std::lock_guard lock(state_mutex_);
  return lifecycle_;
}

Result<void> Sandbox::advance(SandboxEvent event, std::string error) {
  std::lock_guard lock(state_mutex_);
  return lifecycle_.apply(event, std::chrono::system_clock::now(), std::move(error));
}

const char* trajectoryKindName(TrajectoryKind kind) {
  switch (kind) {
    case TrajectoryKind::kExec:
      return "exec";
    case TrajectoryKind::kFileUpload:
      return "file_upload";
    case TrajectoryKind::kFileDownload:
      return "file_download";
    case TrajectoryKind::kFileRemove:
      return "file_remove";
    case TrajectoryKind::kDirectoryCreate:
      return "directory_create";
    case TrajectoryKind::kProcessStart:
      return "process_start";
    case TrajectoryKind::kProcessSignal:
      return "process_signal";
    case TrajectoryKind::kFork:
      return "fork";
    case TrajectoryKind::kSnapshot:
      return "snapshot";
    case TrajectoryKind::kReset:
      return "reset";
  }
  return "exec";
}

void Sandbox::recordOperation(TrajectoryKind kind, std::string description) {
  TrajectoryEntry entry;
  entry.kind = kind;
  entry.command = std::move(description);
  entry.at = std::chrono::system_clock::now();
  std::lock_guard lock(state_mutex_);
  trajectory_.push_back(std::move(entry));
}

void Sandbox::recordExec(TrajectoryEntry entry, size_t max_trajectory_bytes, bool session_ended,
                         std::optional<int> exit_code) {
  std::lock_guard lock(state_mutex_);
  if (session_ended) {
    auto ended = lifecycle_.apply(SandboxEvent::kSessionEnded, std::chrono::system_clock::now(), {},
                                  exit_code);
    if (!ended.ok()) spdlog::error("{}: {}", spec_.id, ended.error().message);
  }
  trajectory_bytes_ += outputBytes(entry.result);
  trajectory_.push_back(std::move(entry));
  for (auto& kept : trajectory_) {
    if (trajectory_bytes_ <= max_trajectory_bytes) break;
    if (kept.output_dropped) continue;
    trajectory_bytes_ -= outputBytes(kept.result);
    kept.result.output = "[output dropped: the trajectory keeps at most " +
                         std::to_string(max_trajectory_bytes) + " bytes of output]";
    kept.result.stdout_text.clear();
    kept.result.stderr_text.clear();
    kept.output_dropped = true;
  }
}

}  // namespace grid
