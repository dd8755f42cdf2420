#include "sandbox/sandbox.h"

namespace grid {

const char* statusName(SandboxStatus status) {
  switch (status) {
    case SandboxStatus::kCreated: return "created";
    case SandboxStatus::kStarting: return "starting";
    case SandboxStatus::kRunning: return "running";
    case SandboxStatus::kExited: return "exited";
    case SandboxStatus::kStopped: return "stopped";
    case SandboxStatus::kFailed: return "failed";
  }
  return "failed";
}

SandboxSnapshot Sandbox::snapshot() const {
  SandboxSnapshot s;
  s.spec = spec_;
  s.setup_commands = setup_commands_;
  s.backend = backend_;
  s.created_at = created_at_;
  std::lock_guard lock(state_mutex_);
  s.status = status_;
  s.error = error_;
  s.started_at = started_at_;
  s.stopped_at = stopped_at_;
  s.command_count = trajectory_.size();
  if (!trajectory_.empty()) s.last_exit_code = trajectory_.back().result.exit_code;
  s.session_exit_code = session_exit_code_;
  return s;
}

std::vector<TrajectoryEntry> Sandbox::trajectory() const {
  std::lock_guard lock(state_mutex_);
  return trajectory_;
}

}  // namespace grid
