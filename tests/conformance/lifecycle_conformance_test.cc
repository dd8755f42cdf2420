// Lifecycle, standalone execs, limits and isolation every backend must provide.
#include <future>

#include "conformance_fixture.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;

using LifecycleTest = ConformanceTest;

TEST_F(LifecycleTest, StandaloneExecSeparatesStreamsAndStatus) {
  const std::string id = startSandbox();
  auto r = runStandalone(id, "echo out; echo err >&2; exit 5");
  EXPECT_EQ(r.stdout_text, "out\n");
  EXPECT_EQ(r.stderr_text, "err\n");
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.output.find("out\n"), std::string::npos);
  EXPECT_NE(r.output.find("err\n"), std::string::npos);
  // Standalone execs do not touch the session's state.
  const std::string cwd = run(id, "pwd").output;
  runStandalone(id, "cd /tmp && export FROM_STANDALONE=1");
  EXPECT_EQ(run(id, "pwd").output, cwd);
  EXPECT_EQ(run(id, "echo \"[$FROM_STANDALONE]\"").output, "[]\n");
}

TEST_F(LifecycleTest, StandaloneTimeoutKillsTheCommand) {
  const std::string id = startSandbox();
  auto r = runStandalone(id, "echo started; sleep 1000", 1s);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.stdout_text, "started\n");
  // No process of the timed-out command survives (cmdline compared exactly, so the probe
  // itself never matches).
  const std::string probe =
      "for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); "
      "[ \"$c\" = 'sleep 1000 ' ] && echo $p; done | wc -l";
  EXPECT_TRUE(waitUntil([&] { return runStandalone(id, probe).stdout_text == "0\n"; }));
}

TEST_F(LifecycleTest, ExecBeforeStartAndDoubleStartConflict) {
  auto created = manager_->create({});
  ASSERT_TRUE(created.ok());
  const std::string id = created.value()->spec().id;
  auto early = manager_->exec(id, "true", false, 5s);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::kConflict);
  ASSERT_TRUE(manager_->start(id).ok());
  auto twice = manager_->start(id);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::kConflict);
}

TEST_F(LifecycleTest, UnknownSandboxIsNotFound) {
  EXPECT_EQ(manager_->exec("nope", "true", false, 5s).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(manager_->start("nope").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(manager_->stop("nope", true).error().code, ErrorCode::kNotFound);
}

TEST_F(LifecycleTest, MissingImageIsImageNotFoundNamingIt) {
  CreateRequest request;
  request.image = "grid-test/does-not-exist:never";
  auto created = manager_->create(request);
  ASSERT_TRUE(created.ok());
  auto started = manager_->start(created.value()->spec().id);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kImageNotFound);
  EXPECT_NE(started.error().message.find("does-not-exist"), std::string::npos)
      << started.error().message;
  EXPECT_EQ(manager_->runningSlotsInUse(), 0u);
}

TEST_F(LifecycleTest, SetupCommandsRunAndFailuresAreReported) {
  CreateRequest ok;
  ok.setup_commands = {"echo prepared > /tmp/setup.txt", "mkdir -p /tmp/work"};
  const std::string id = startSandbox(ok);
  EXPECT_EQ(run(id, "cat /tmp/setup.txt; test -d /tmp/work && echo dir").output, "prepared\ndir\n");

  CreateRequest bad;
  bad.setup_commands = {"echo step1", "echo broken >&2; exit 7", "echo never"};
  auto created = manager_->create(bad);
  ASSERT_TRUE(created.ok());
  std::optional<ExecResult> setup;
  auto started = manager_->start(created.value()->spec().id, &setup);
  ASSERT_FALSE(started.ok());
  ASSERT_TRUE(setup.has_value());
  EXPECT_EQ(setup->exit_code, 7);
  EXPECT_NE(setup->output.find("step1"), std::string::npos);
  EXPECT_NE(setup->output.find("broken"), std::string::npos);
  EXPECT_EQ(setup->output.find("never"), std::string::npos);
  EXPECT_EQ(manager_->runningSlotsInUse(), 1u);  // only the first sandbox holds a slot
}

TEST_F(LifecycleTest, EnvironmentIsApplied) {
  CreateRequest request;
  request.env = {{"GRID_TEST_VAR", "value with spaces"}};
  const std::string id = startSandbox(request);
  EXPECT_EQ(run(id, "echo \"$GRID_TEST_VAR\"").output, "value with spaces\n");
  EXPECT_EQ(runStandalone(id, "echo \"$GRID_TEST_VAR\"").stdout_text, "value with spaces\n");
}

TEST_F(LifecycleTest, NoNetworkMeansLoopbackOnly) {
  const std::string id = startSandbox();
  auto r = run(id, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' '");
  EXPECT_EQ(r.output, "lo ");
}

TEST_F(LifecycleTest, StopRemovesTheSandboxAndFreesTheSlot) {
  const std::string id = startSandbox();
  EXPECT_EQ(manager_->runningSlotsInUse(), 1u);
  run(id, "sleep 1000 &");
  ASSERT_TRUE(manager_->stop(id, false).ok());
  EXPECT_EQ(manager_->runningSlotsInUse(), 0u);
  EXPECT_EQ(manager_->find(id).value()->snapshot().status, SandboxStatus::kStopped);
  // Nothing of it remains in the backend.
  ProcessSpec probe;
  probe.argv = {"/bin/sh", "-c", "true"};
  EXPECT_FALSE(backend().startProcess(id, probe).ok());
  EXPECT_TRUE(backend().destroySandbox(id).ok());  // idempotent
  ASSERT_TRUE(manager_->stop(id, true).ok());
  EXPECT_EQ(manager_->find(id).error().code, ErrorCode::kNotFound);
}

TEST_F(LifecycleTest, RunningLimitQueuesStartsInFifoOrder) {
  manager_->shutdown();
  ManagerOptions options = managerOptions();
  options.max_running_sandboxes = 1;
  manager_ = std::make_unique<SandboxManager>(backend(), options);
  const std::string first = startSandbox();
  std::vector<std::string> queued;
  std::vector<std::future<Result<void>>> starts;
  for (int i = 0; i < 2; ++i) {
    queued.push_back(manager_->create({}).value()->spec().id);
    starts.push_back(std::async(std::launch::async, [&, id = queued.back()] { return manager_->start(id); }));
    ASSERT_TRUE(waitUntil([&] { return manager_->startsWaiting() == static_cast<size_t>(i + 1); }));
  }
  EXPECT_EQ(starts[0].wait_for(0s), std::future_status::timeout);
  ASSERT_TRUE(manager_->stop(first, true).ok());
  ASSERT_TRUE(starts[0].get().ok());  // the first in line starts first
  EXPECT_EQ(starts[1].wait_for(0s), std::future_status::timeout);
  ASSERT_TRUE(manager_->stop(queued[0], true).ok());
  ASSERT_TRUE(starts[1].get().ok());
}

TEST_F(LifecycleTest, StoppingAQueuedSandboxCancelsItsStart) {
  manager_->shutdown();
  ManagerOptions options = managerOptions();
  options.max_running_sandboxes = 1;
  manager_ = std::make_unique<SandboxManager>(backend(), options);
  startSandbox();
  const std::string waiting = manager_->create({}).value()->spec().id;
  auto start = std::async(std::launch::async, [&] { return manager_->start(waiting); });
  ASSERT_TRUE(waitUntil([&] { return manager_->startsWaiting() == 1; }));
  ASSERT_TRUE(manager_->stop(waiting, true).ok());
  EXPECT_FALSE(start.get().ok());
}

TEST_F(LifecycleTest, ManySandboxesInParallel) {
  std::vector<std::future<std::string>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [&, i] {
      const std::string id = startSandbox();
      auto r = manager_->exec(id, "echo sandbox-" + std::to_string(i), false, 30s);
      EXPECT_TRUE(manager_->stop(id, true).ok());
      return r.ok() ? r.value().output : r.error().message;
    }));
  }
  for (int i = 0; i < 4; ++i) EXPECT_EQ(runs[i].get(), "sandbox-" + std::to_string(i) + "\n");
}

}  // namespace
}  // namespace grid::testing
