#include "sandbox/sandbox_lifecycle.h"

#include <gtest/gtest.h>

#include <map>
#include <utility>

namespace grid {
namespace {

using S = SandboxStatus;
using E = SandboxEvent;

constexpr S kAllStatuses[] = {S::kCreated, S::kStarting, S::kRunning, S::kExited,
                              S::kStopped, S::kFailed,   S::kPaused};
constexpr E kAllEvents[] = {E::kStart,        E::kSlotTimedOut, E::kStarted, E::kStartFailed,
                            E::kSessionEnded, E::kStop,         E::kPause,   E::kResume};

// The whole table, written out: every pair not listed here must be refused.
const std::map<std::pair<S, E>, S>& allowedTransitions() {
  static const std::map<std::pair<S, E>, S> table = {
      {{S::kCreated, E::kStart}, S::kStarting},
      {{S::kStarting, E::kSlotTimedOut}, S::kCreated},
      {{S::kStarting, E::kStarted}, S::kRunning},
      {{S::kStarting, E::kStartFailed}, S::kFailed},
      {{S::kRunning, E::kSessionEnded}, S::kExited},
      {{S::kRunning, E::kPause}, S::kPaused},
      {{S::kPaused, E::kResume}, S::kRunning},
      {{S::kCreated, E::kStop}, S::kStopped},
      {{S::kStarting, E::kStop}, S::kStopped},
      {{S::kRunning, E::kStop}, S::kStopped},
      {{S::kExited, E::kStop}, S::kStopped},
      {{S::kStopped, E::kStop}, S::kStopped},
      {{S::kFailed, E::kStop}, S::kStopped},
      {{S::kPaused, E::kStop}, S::kStopped},
  };
  return table;
}

TEST(SandboxLifecycle, TransitionTableIsExactlyTheDocumentedOne) {
  for (const S from : kAllStatuses) {
    for (const E event : kAllEvents) {
      const auto it = allowedTransitions().find({from, event});
      const auto next = nextStatus(from, event);
      if (it == allowedTransitions().end()) {
        EXPECT_FALSE(next.has_value()) << statusName(from) << " + " << eventName(event);
      } else {
        ASSERT_TRUE(next.has_value()) << statusName(from) << " + " << eventName(event);
        EXPECT_EQ(*next, it->second) << statusName(from) << " + " << eventName(event);
      }
    }
  }
}

// Drives a lifecycle to `target` along allowed transitions.
SandboxLifecycle lifecycleIn(S target) {
  SandboxLifecycle lifecycle;
  const auto now = std::chrono::system_clock::now();
  const auto step = [&](E event) { EXPECT_TRUE(lifecycle.apply(event, now).ok()); };
  if (target == S::kCreated) return lifecycle;
  step(E::kStart);
  if (target == S::kStarting) return lifecycle;
  if (target == S::kFailed) {
    step(E::kStartFailed);
    return lifecycle;
  }
  step(E::kStarted);
  if (target == S::kRunning) return lifecycle;
  if (target == S::kPaused) {
    step(E::kPause);
    return lifecycle;
  }
  if (target == S::kExited) {
    step(E::kSessionEnded);
    return lifecycle;
  }
  step(E::kStop);
  return lifecycle;
}

TEST(SandboxLifecycle, RefusedTransitionChangesNothing) {
  for (const S from : kAllStatuses) {
    for (const E event : kAllEvents) {
      if (nextStatus(from, event)) continue;
      SandboxLifecycle lifecycle = lifecycleIn(from);
      ASSERT_EQ(lifecycle.status(), from);
      const auto refused = lifecycle.apply(event, std::chrono::system_clock::now(), "why", 3);
      ASSERT_FALSE(refused.ok()) << statusName(from) << " + " << eventName(event);
      // The requests a client may repeat are conflicts; the rest would be the core's bug.
      const bool client_request = event == E::kStart || event == E::kPause || event == E::kResume;
      EXPECT_EQ(refused.error().code, client_request ? ErrorCode::kConflict : ErrorCode::kInternal);
      EXPECT_EQ(lifecycle.status(), from);
      EXPECT_TRUE(lifecycle.error().empty());
      EXPECT_FALSE(lifecycle.sessionExitCode().has_value());
    }
  }
}

TEST(SandboxLifecycle, SecondStartIsAConflictNamingTheStatus) {
  SandboxLifecycle lifecycle = lifecycleIn(S::kRunning);
  const auto again = lifecycle.apply(E::kStart, std::chrono::system_clock::now());
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, "sandbox is already running; start it only once");
}

TEST(SandboxLifecycle, StampsStartAndStopTimesAndKeepsTheFailure) {
  SandboxLifecycle lifecycle;
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(100));
  const auto t1 = t0 + std::chrono::seconds(1);
  const auto t2 = t0 + std::chrono::seconds(2);
  ASSERT_TRUE(lifecycle.apply(E::kStart, t0).ok());
  EXPECT_FALSE(lifecycle.startedAt().has_value());
  ASSERT_TRUE(lifecycle.apply(E::kStarted, t1).ok());
  EXPECT_EQ(lifecycle.startedAt(), t1);
  ASSERT_TRUE(lifecycle.apply(E::kSessionEnded, t2, {}, 7).ok());
  EXPECT_EQ(lifecycle.sessionExitCode(), 7);
  ASSERT_TRUE(lifecycle.apply(E::kStop, t2).ok());
  EXPECT_EQ(lifecycle.stoppedAt(), t2);
  EXPECT_EQ(lifecycle.startedAt(), t1);

  SandboxLifecycle failed;
  ASSERT_TRUE(failed.apply(E::kStart, t0).ok());
  ASSERT_TRUE(failed.apply(E::kStartFailed, t1, "image not found").ok());
  EXPECT_EQ(failed.status(), S::kFailed);
  EXPECT_EQ(failed.error(), "image not found");
  EXPECT_FALSE(failed.startedAt().has_value());
  ASSERT_TRUE(failed.apply(E::kStop, t2).ok());
  EXPECT_EQ(failed.error(), "image not found");  // a stop keeps why it failed
}

TEST(SandboxLifecycle, SlotTimeoutReturnsToCreatedSoItMayStartAgain) {
  SandboxLifecycle lifecycle = lifecycleIn(S::kStarting);
  ASSERT_TRUE(lifecycle.apply(E::kSlotTimedOut, std::chrono::system_clock::now()).ok());
  EXPECT_EQ(lifecycle.status(), S::kCreated);
  EXPECT_TRUE(lifecycle.apply(E::kStart, std::chrono::system_clock::now()).ok());
}

TEST(SandboxLifecycle, EndReasonIsTheFirstGivenAndEndedAtTheEnd) {
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
  SandboxLifecycle stopped;
  ASSERT_TRUE(stopped.apply(E::kStart, t0).ok());
  ASSERT_TRUE(stopped.apply(E::kStarted, t0).ok());
  EXPECT_FALSE(stopped.endReason());
  stopped.setEndReason(EndReason::kTtl);
  stopped.setEndReason(EndReason::kStopped);  // a client's stop racing the expiry: too late
  EXPECT_FALSE(stopped.endedAt());            // not ended yet: only about to
  ASSERT_TRUE(stopped.apply(E::kStop, t0 + std::chrono::seconds(5)).ok());
  EXPECT_EQ(stopped.endReason(), EndReason::kTtl);
  EXPECT_EQ(stopped.endedAt(), t0 + std::chrono::seconds(5));
  ASSERT_TRUE(stopped.apply(E::kStop, t0 + std::chrono::seconds(9)).ok());  // again: unchanged
  EXPECT_EQ(stopped.endedAt(), t0 + std::chrono::seconds(5));

  SandboxLifecycle by_client;
  ASSERT_TRUE(by_client.apply(E::kStop, t0).ok());
  EXPECT_EQ(by_client.endReason(), EndReason::kStopped);
  SandboxLifecycle failed;
  ASSERT_TRUE(failed.apply(E::kStart, t0).ok());
  ASSERT_TRUE(failed.apply(E::kStartFailed, t0, "no image").ok());
  EXPECT_EQ(failed.endReason(), EndReason::kFailed);
  EXPECT_EQ(failed.endedAt(), t0);
  EXPECT_STREQ(endReasonName(EndReason::kIdle), "idle");
  EXPECT_STREQ(endReasonName(EndReason::kShutdown), "shutdown");
}

TEST(SandboxLifecycle, PauseAndResumeStampPausedAtOnlyWhilePaused) {
  SandboxLifecycle lifecycle = lifecycleIn(S::kRunning);
  const auto started = lifecycle.startedAt();
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(500));
  EXPECT_FALSE(lifecycle.pausedAt().has_value());
  ASSERT_TRUE(lifecycle.apply(E::kPause, t).ok());
  EXPECT_EQ(lifecycle.status(), S::kPaused);
  EXPECT_EQ(lifecycle.pausedAt(), t);
  ASSERT_TRUE(lifecycle.apply(E::kResume, t + std::chrono::seconds(1)).ok());
  EXPECT_EQ(lifecycle.status(), S::kRunning);
  EXPECT_FALSE(lifecycle.pausedAt().has_value());
  EXPECT_EQ(lifecycle.startedAt(), started);  // a resume is not a new start

  ASSERT_TRUE(lifecycle.apply(E::kPause, t).ok());
  ASSERT_TRUE(lifecycle.apply(E::kStop, t).ok());
  EXPECT_FALSE(lifecycle.pausedAt().has_value());
}

TEST(SandboxLifecycle, PauseTwiceAndResumeOfARunningSandboxSayWhy) {
  SandboxLifecycle lifecycle = lifecycleIn(S::kPaused);
  const auto twice = lifecycle.apply(E::kPause, std::chrono::system_clock::now());
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().message, "sandbox is already paused");
  SandboxLifecycle running = lifecycleIn(S::kRunning);
  const auto resumed = running.apply(E::kResume, std::chrono::system_clock::now());
  ASSERT_FALSE(resumed.ok());
  EXPECT_EQ(resumed.error().message,
            "sandbox is running, not paused; only a paused sandbox resumes");
}

}  // namespace
}  // namespace grid
