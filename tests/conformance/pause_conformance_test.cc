// Pause and resume (docs/pause-resume.md) on every backend: the session survives, nothing runs
// while paused, a paused sandbox gives up its running slot, and a stop leaves nothing.
// A backend that answers pauseSandbox() with kUnsupported skips these tests.
#include <chrono>
#include <future>
#include <sstream>

#include "conformance_fixture.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;
using WallClock = std::chrono::system_clock;

class PauseTest : public ConformanceTest {
 protected:
  // Pauses `id`, or skips the test where the backend cannot pause.
  void pauseOrSkip(const std::string& id) {
    auto paused = manager_->pause(id);
    if (!paused.ok() && paused.error().code == ErrorCode::kUnsupported) {
      GTEST_SKIP() << conformanceTarget().backend << " cannot pause: " << paused.error().message;
    }
    ASSERT_TRUE(paused.ok()) << paused.error().message;
  }

  SandboxStatus statusOf(const std::string& id) {
    return manager_->find(id).value()->snapshot().status;
  }
};

// Seconds since the epoch, as bash's $EPOCHREALTIME prints them.
double epochSeconds(WallClock::time_point at) {
  return std::chrono::duration<double>(at.time_since_epoch()).count();
}

TEST_F(PauseTest, SessionStateSurvivesPauseAndResume) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  run(id,
      "mkdir -p /tmp/paused-cwd && cd /tmp/paused-cwd && export EXPORTED=kept && "
      "UNEXPORTED=also; greet() { echo hello; }");
  ASSERT_NO_FATAL_FAILURE(pauseOrSkip(id));
  if (IsSkipped()) return;
  EXPECT_EQ(statusOf(id), SandboxStatus::kPaused);
  EXPECT_TRUE(manager_->find(id).value()->snapshot().paused_at.has_value());
  ASSERT_TRUE(manager_->resume(id).ok());
  EXPECT_EQ(statusOf(id), SandboxStatus::kRunning);
  EXPECT_FALSE(manager_->find(id).value()->snapshot().paused_at.has_value());
  EXPECT_EQ(run(id, "pwd; echo \"$EXPORTED $UNEXPORTED\"; greet").output,
            "/tmp/paused-cwd\nkept also\nhello\n");
}

// A background loop logs the wall clock at every turn. Once resumed, its log must show no turn
// inside the time the sandbox was paused, and new turns after it.
TEST_F(PauseTest, NothingRunsWhilePaused) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  run(id,
      "(while :; do echo $EPOCHREALTIME >> /tmp/ticks; sleep 0.01; done) "
      ">/dev/null 2>&1 </dev/null &");
  // The loop runs: its log grows.
  ASSERT_TRUE(waitUntil([&] { return run(id, "wc -l < /tmp/ticks").output != "0\n"; }));
  ASSERT_NO_FATAL_FAILURE(pauseOrSkip(id));
  if (IsSkipped()) return;
  const auto paused_at = WallClock::now();
  // The window to watch: at least 500 ms with the sandbox paused (the length of the
  // observation, not a synchronisation).
  ASSERT_TRUE(waitUntil([&] { return WallClock::now() - paused_at > 500ms; }));
  const auto resuming_at = WallClock::now();
  ASSERT_TRUE(manager_->resume(id).ok());
  // It runs again: a turn after the resume appears.
  const std::string after = std::to_string(epochSeconds(resuming_at));
  ASSERT_TRUE(waitUntil([&] {
    return run(id, "tail -n 1 /tmp/ticks | awk '{ print ($1 > " + after + ") }'").output == "1\n";
  }));
  // No turn in the paused window; 50 ms of slack on each side for clock reads.
  const double from = epochSeconds(paused_at) + 0.05;
  const double to = epochSeconds(resuming_at) - 0.05;
  std::ostringstream count;
  count << "awk '$1 > " << std::fixed << from << " && $1 < " << to
        << " { n++ } END { print n + 0 }' /tmp/ticks";
  EXPECT_EQ(run(id, count.str()).output, "0\n");
}

TEST_F(PauseTest, ExecOnAPausedSandboxIsAConflictUnlessAutoResume) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  ASSERT_NO_FATAL_FAILURE(pauseOrSkip(id));
  if (IsSkipped()) return;
  for (const bool standalone : {false, true}) {
    auto refused = manager_->exec(id, "echo no", standalone, 10s);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
    EXPECT_NE(refused.error().message.find("auto_resume"), std::string::npos)
        << refused.error().message;
  }
  EXPECT_EQ(manager_->findRunning(id).error().code, ErrorCode::kConflict);  // files routes
  EXPECT_EQ(statusOf(id), SandboxStatus::kPaused);
  auto resumed = manager_->exec(id, "echo yes", false, 10s, nullptr, true);
  ASSERT_TRUE(resumed.ok()) << resumed.error().message;
  EXPECT_EQ(resumed.value().output, "yes\n");
  EXPECT_EQ(statusOf(id), SandboxStatus::kRunning);
}

TEST_F(PauseTest, PauseTwiceAndResumeOfARunningSandboxAreConflicts) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(manager_->resume(id).error().code, ErrorCode::kConflict);
  ASSERT_NO_FATAL_FAILURE(pauseOrSkip(id));
  if (IsSkipped()) return;
  auto twice = manager_->pause(id);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::kConflict);
  EXPECT_EQ(statusOf(id), SandboxStatus::kPaused);
  ASSERT_TRUE(manager_->resume(id).ok());
  EXPECT_EQ(manager_->resume(id).error().code, ErrorCode::kConflict);
  EXPECT_EQ(run(id, "echo ok").output, "ok\n");
}

class PauseSlotTest : public PauseTest {
 protected:
  ManagerOptions managerOptions() const {
    ManagerOptions options = PauseTest::managerOptions();
    options.max_running_sandboxes = 1;
    options.start_wait_timeout = 2s;
    return options;
  }
  void SetUp() override {
    PauseTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    manager_->shutdown();
    manager_ = std::make_unique<SandboxManager>(backend(), managerOptions());
  }
};

TEST_F(PauseSlotTest, APausedSandboxGivesUpItsSlotAndResumeWaitsForOne) {
  const std::string a = startSandbox();
  ASSERT_FALSE(a.empty());
  run(a, "export WHO=a");
  ASSERT_NO_FATAL_FAILURE(pauseOrSkip(a));
  if (IsSkipped()) return;
  EXPECT_EQ(manager_->runningSlotsInUse(), 0u);
  const std::string b = startSandbox();  // takes the slot A gave up
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(manager_->runningSlotsInUse(), 1u);

  auto timed_out = manager_->resume(a);
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(statusOf(a), SandboxStatus::kPaused);

  // A resume waits in line, and gets the slot once B stops.
  auto waiting = std::async(std::launch::async, [&] { return manager_->resume(a); });
  ASSERT_TRUE(waitUntil([&] { return manager_->startsWaiting() == 1; }, 10s));
  ASSERT_TRUE(manager_->stop(b, true).ok());
  auto resumed = waiting.get();
  ASSERT_TRUE(resumed.ok()) << resumed.error().message;
  EXPECT_EQ(manager_->runningSlotsInUse(), 1u);
  EXPECT_EQ(run(a, "echo $WHO").output, "a\n");
}

TEST_F(PauseTest, StopOfAPausedSandboxLeavesNothing) {
  const std::string id = startSandbox();
  ASSERT_FALSE(id.empty());
  run(id, "(while :; do sleep 0.05; done) >/dev/null 2>&1 </dev/null &");
  ASSERT_NO_FATAL_FAILURE(pauseOrSkip(id));
  if (IsSkipped()) return;
  const auto stopping = std::chrono::steady_clock::now();
  ASSERT_TRUE(manager_->stop(id, true).ok());
  // Generous: only an engine that waits out a stop timeout on a frozen container takes long.
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 8s);
  EXPECT_EQ(manager_->find(id).error().code, ErrorCode::kNotFound);
  // The backend knows nothing of it any more.
  ProcessSpec probe;
  probe.argv = {"true"};
  EXPECT_FALSE(backend().startProcess(id, probe).ok());
  EXPECT_TRUE(backend().destroySandbox(id).ok());
}

}  // namespace
}  // namespace grid::testing
