#include "sandbox/sandbox_lifecycle.h"

namespace grid {

const char* statusName(SandboxStatus status) {
  switch (status) {
    case SandboxStatus::kCreated:
      return "created";
    case SandboxStatus::kStarting:
      return "starting";
    case SandboxStatus::kRunning:
      return "running";
    case SandboxStatus::kExited:
      return "exited";
    case SandboxStatus::kStopped:
      return "stopped";
    case SandboxStatus::kFailed:
      return "failed";
    case SandboxStatus::kPaused:
      return "paused";
  }
  return "failed";
}

const char* eventName(SandboxEvent event) {
  switch (event) {
    case SandboxEvent::kStart:
      return "start";
    case SandboxEvent::kSlotTimedOut:
      return "slot-timed-out";
    case SandboxEvent::kStarted:
      return "started";
    case SandboxEvent::kStartFailed:
      return "start-failed";
    case SandboxEvent::kSessionEnded:
      return "session-ended";
    case SandboxEvent::kStop:
      return "stop";
    case SandboxEvent::kPause:
      return "pause";
    case SandboxEvent::kResume:
      return "resume";
  }
  return "unknown";
}

const char* endReasonName(EndReason reason) {
  switch (reason) {
    case EndReason::kStopped:
      return "stopped";
    case EndReason::kTtl:
      return "ttl";
    case EndReason::kIdle:
      return "idle";
    case EndReason::kShutdown:
      return "shutdown";
    case EndReason::kFailed:
      return "failed";
  }
  return "stopped";
}

std::optional<SandboxStatus> nextStatus(SandboxStatus from, SandboxEvent event) {
  using S = SandboxStatus;
  switch (event) {
    case SandboxEvent::kStart:
      if (from == S::kCreated) return S::kStarting;
      break;
    case SandboxEvent::kSlotTimedOut:
      if (from == S::kStarting) return S::kCreated;
      break;
    case SandboxEvent::kStarted:
      if (from == S::kStarting) return S::kRunning;
      break;
    case SandboxEvent::kStartFailed:
      if (from == S::kStarting) return S::kFailed;
      break;
    case SandboxEvent::kSessionEnded:
      if (from == S::kRunning) return S::kExited;
      break;
    case SandboxEvent::kStop:
      return S::kStopped;
    case SandboxEvent::kPause:
      if (from == S::kRunning) return S::kPaused;
      break;
    case SandboxEvent::kResume:
      if (from == S::kPaused) return S::kRunning;
      break;
  }
  return std::nullopt;
}

Result<void> SandboxLifecycle::apply(SandboxEvent event, TimePoint now, std::string error,
                                     std::optional<int> exit_code) {
  const auto next = nextStatus(status_, event);
  if (!next) {
    if (event == SandboxEvent::kStart) {
      return fail(ErrorCode::kConflict, std::string("sandbox is already ") + statusName(status_) +
                                            "; start it only once");
    }
    if (event == SandboxEvent::kPause) {
      return fail(ErrorCode::kConflict, status_ == SandboxStatus::kPaused
                                            ? std::string("sandbox is already paused")
                                            : std::string("sandbox is ") + statusName(status_) +
                                                  "; only a running sandbox pauses");
    }
    if (event == SandboxEvent::kResume) {
      return fail(ErrorCode::kConflict, std::string("sandbox is ") + statusName(status_) +
                                            ", not paused; only a paused sandbox resumes");
    }
    return fail(ErrorCode::kInternal, std::string("sandbox status ") + statusName(status_) +
                                          " does not allow the event " + eventName(event));
  }
  status_ = *next;
  if (!error.empty()) error_ = std::move(error);
  if (exit_code) session_exit_code_ = exit_code;
  if (status_ == SandboxStatus::kRunning && !started_at_) started_at_ = now;
  if (status_ == SandboxStatus::kStopped) stopped_at_ = now;
  if ((status_ == SandboxStatus::kStopped || status_ == SandboxStatus::kFailed) && !ended_at_) {
    setEndReason(status_ == SandboxStatus::kFailed ? EndReason::kFailed : EndReason::kStopped);
    ended_at_ = now;
  }
  if (status_ == SandboxStatus::kPaused) {
    paused_at_ = now;
  } else {
    paused_at_.reset();
  }
  return {};
}

}  // namespace grid
