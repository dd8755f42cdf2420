// The manager's state machine and bookkeeping, with a fake backend (real backends are covered
// by the conformance suite).
#include "sandbox/sandbox_manager.h"

#include <gtest/gtest.h>

#include <functional>
#include <thread>

namespace grid {
namespace {

using namespace std::chrono_literals;

// Plays the session shell's side of the protocol: answers the init script with the ready and
// prompt markers, and every exec line with its start marker, 1000 bytes of output and its done
// marker.
class FakeShellChannel : public ProcessChannel {
 public:
  Result<void> write(std::string_view data) override {
    if (token_.empty()) {
      token_ = firstToken(data);
      if (!token_.empty()) pending_ += token_ + ":ready:7:7\n" + token_ + ":done:0\n";
      return {};
    }
    // An exec line begins "__grid_start <nonce>;": echo its start and done markers.
    const size_t space = data.find(' ');
    const std::string nonce(data.substr(space + 1, data.find(';') - space - 1));
    pending_ += token_ + ":start:" + nonce + "\n" + std::string(1000, 'x') + token_ +
                ":done:" + nonce + ":0\n";
    return {};
  }
  void closeStdin() override {}
  // The session's marker: the first run of 32 lowercase hex digits in the init script.
  static std::string firstToken(std::string_view text) {
    size_t run = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      run = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ? run + 1 : 0;
      if (run == 32) return std::string(text.substr(i - 31, 32));
    }
    return "";
  }
  Result<ReadResult> read(Clock::time_point) override {
    ReadResult r;
    r.status = pending_.empty() ? ReadResult::Status::kTimeout : ReadResult::Status::kData;
    r.data.swap(pending_);
    return r;
  }
  std::optional<int> exitCode() override { return std::nullopt; }

 private:
  std::string token_;
  std::string pending_;
};

class FakeBackend : public SandboxBackend {
 public:
  std::string name() const override { return "fake"; }
  Result<void> init(const BackendConfig&) override { return {}; }
  Result<std::vector<std::string>> removeLeftovers() override { return std::vector<std::string>{}; }
  Result<void> createSandbox(const SandboxSpec& spec) override {
    last_spec = spec;
    ++creates;
    if (spec.image != "runs")
      return fail(ErrorCode::kImageNotFound, "image '" + spec.image + "' not found");
    return {};
  }
  // Only the session shell runs in the fake.
  Result<std::unique_ptr<ProcessChannel>> startProcess(const std::string&,
                                                       const ProcessSpec& spec) override {
    if (!spec.attach_stdin) return fail(ErrorCode::kUnsupported, "only sessions in the fake");
    return std::unique_ptr<ProcessChannel>(new FakeShellChannel);
  }
  Result<void> destroySandbox(const std::string&) override {
    ++destroys;
    return {};
  }
  Result<void> pauseSandbox(const std::string& id) override {
    if (!can_pause) return SandboxBackend::pauseSandbox(id);
    ++pauses;
    return {};
  }
  Result<void> resumeSandbox(const std::string&) override {
    ++resumes;
    return {};
  }
  bool can_pause = true;
  int pauses = 0;
  int resumes = 0;
  SandboxSpec last_spec;
  int creates = 0;
  int destroys = 0;
};

ManagerOptions options() {
  ManagerOptions o;
  o.backend_name = "fake";
  o.default_image = "default:img";
  o.default_limits = ResourceLimits{0, 4096, 2048};
  o.max_sandbox_records = 3;
  o.max_running_sandboxes = 1;
  return o;
}

TEST(SandboxManagerTest, CreateAppliesDefaultsFieldByField) {
  FakeBackend backend;
  SandboxManager manager(backend, options());
  CreateRequest request;
  request.limits = ResourceLimits{1.5, 0, 0};
  auto created = manager.create(request);
  ASSERT_TRUE(created.ok());
  const auto& spec = created.value()->spec();
  EXPECT_EQ(spec.image, "default:img");
  EXPECT_DOUBLE_EQ(spec.limits.cpus, 1.5);
  EXPECT_EQ(spec.limits.memory_mb, 4096);
  EXPECT_EQ(spec.limits.pids, 2048);
  EXPECT_EQ(spec.id.size(), 36u);
  EXPECT_EQ(created.value()->snapshot().status, SandboxStatus::kCreated);
}

TEST(SandboxManagerTest, ExecBeforeStartIsConflict) {
  FakeBackend backend;
  SandboxManager manager(backend, options());
  const std::string id = manager.create({}).value()->spec().id;
  auto r = manager.exec(id, "true", false, 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
  EXPECT_EQ(manager.exec("missing", "true", false, 1s).error().code, ErrorCode::kNotFound);
}

TEST(SandboxManagerTest, FailedStartReleasesItsSlotAndCleansUp) {
  FakeBackend backend;
  SandboxManager manager(backend, options());
  const std::string id = manager.create({}).value()->spec().id;
  auto started = manager.start(id);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, ErrorCode::kImageNotFound);
  EXPECT_EQ(manager.runningSlotsInUse(), 0u);
  EXPECT_GE(backend.destroys, 1);  // whatever a failed create left is removed
  const auto snapshot = manager.find(id).value()->snapshot();
  EXPECT_EQ(snapshot.status, SandboxStatus::kFailed);
  EXPECT_NE(snapshot.error.find("default:img"), std::string::npos);
  EXPECT_EQ(manager.start(id).error().code, ErrorCode::kConflict);  // no second start
}

TEST(SandboxManagerTest, TotalSandboxLimitIsResourceExhausted) {
  FakeBackend backend;
  SandboxManager manager(backend, options());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(manager.create({}).ok());
  auto fourth = manager.create({});
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.error().code, ErrorCode::kResourceExhausted);
  ASSERT_TRUE(manager.stop(manager.all().front()->spec().id, true).ok());
  EXPECT_TRUE(manager.create({}).ok());
}

TEST(SandboxManagerTest, StopWithoutRemoveKeepsTheRecord) {
  FakeBackend backend;
  SandboxManager manager(backend, options());
  const std::string id = manager.create({}).value()->spec().id;
  ASSERT_TRUE(manager.stop(id, false).ok());
  EXPECT_EQ(manager.find(id).value()->snapshot().status, SandboxStatus::kStopped);
  EXPECT_EQ(manager.start(id).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(manager.stop(id, true).ok());
  EXPECT_EQ(manager.find(id).error().code, ErrorCode::kNotFound);
}

TEST(SandboxManagerTest, TrajectoryOutputIsBoundedOldestFirst) {
  FakeBackend backend;
  ManagerOptions o = options();
  o.max_trajectory_bytes = 3000;
  SandboxManager manager(backend, o);
  CreateRequest request;
  request.image = "runs";
  const std::string id = manager.create(request).value()->spec().id;
  ASSERT_TRUE(manager.start(id).ok());
  for (int i = 0; i < 5; ++i) {
    auto r = manager.exec(id, "cmd " + std::to_string(i), false, 5s);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value().output.size(), 1000u);  // the answer itself is never cut
  }
  const auto entries = manager.find(id).value()->trajectory();
  ASSERT_EQ(entries.size(), 5u);
  size_t kept = 0;
  for (const auto& e : entries) {
    if (!e.output_dropped) kept += e.result.output.size();
  }
  EXPECT_LE(kept, 3000u);
  EXPECT_TRUE(entries[0].output_dropped);
  EXPECT_EQ(entries[0].command, "cmd 0");  // commands and statuses stay
  EXPECT_NE(entries[0].result.output.find("output dropped"), std::string::npos);
  EXPECT_FALSE(entries[4].output_dropped);
  EXPECT_EQ(entries[4].result.output, std::string(1000, 'x'));
}

std::string startedSandbox(SandboxManager& manager) {
  CreateRequest request;
  request.image = "runs";
  const std::string id = manager.create(request).value()->spec().id;
  EXPECT_TRUE(manager.start(id).ok());
  return id;
}

TEST(SandboxManagerTest, PauseFreesTheRunningSlotAndResumeWaitsForOne) {
  FakeBackend backend;
  ManagerOptions o = options();
  o.start_wait_timeout = 200ms;
  SandboxManager manager(backend, o);
  const std::string a = startedSandbox(manager);
  ASSERT_TRUE(manager.pause(a).ok());
  EXPECT_EQ(backend.pauses, 1);
  EXPECT_EQ(manager.runningSlotsInUse(), 0u);
  const auto snapshot = manager.find(a).value()->snapshot();
  EXPECT_EQ(snapshot.status, SandboxStatus::kPaused);
  EXPECT_TRUE(snapshot.paused_at.has_value());

  const std::string b = startedSandbox(manager);  // the slot A gave up
  auto waited = manager.resume(a);
  ASSERT_FALSE(waited.ok());
  EXPECT_EQ(waited.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(waited.error().message.find("stays paused"), std::string::npos);
  EXPECT_EQ(backend.resumes, 0);
  EXPECT_EQ(manager.find(a).value()->snapshot().status, SandboxStatus::kPaused);

  ASSERT_TRUE(manager.stop(b, true).ok());
  ASSERT_TRUE(manager.resume(a).ok());
  EXPECT_EQ(backend.resumes, 1);
  EXPECT_EQ(manager.runningSlotsInUse(), 1u);
  EXPECT_FALSE(manager.find(a).value()->snapshot().paused_at.has_value());
  EXPECT_TRUE(manager.exec(a, "true", false, 5s).ok());
}

TEST(SandboxManagerTest, PauseAndResumeOutOfTurnAreConflicts) {
  FakeBackend backend;
  SandboxManager manager(backend, options());
  const std::string created = manager.create({}).value()->spec().id;
  EXPECT_EQ(manager.pause(created).error().code, ErrorCode::kConflict);
  const std::string id = startedSandbox(manager);
  EXPECT_EQ(manager.resume(id).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(manager.pause(id).ok());
  auto twice = manager.pause(id);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::kConflict);
  EXPECT_EQ(backend.pauses, 1);
  EXPECT_EQ(manager.pause("missing").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(manager.resume("missing").error().code, ErrorCode::kNotFound);
}

TEST(SandboxManagerTest, ExecOnAPausedSandboxNeedsAutoResume) {
  FakeBackend backend;
  SandboxManager manager(backend, options());
  const std::string id = startedSandbox(manager);
  ASSERT_TRUE(manager.pause(id).ok());
  for (const bool standalone : {false, true}) {
    auto refused = manager.exec(id, "true", standalone, 5s);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
    EXPECT_NE(refused.error().message.find("auto_resume"), std::string::npos);
  }
  EXPECT_EQ(manager.findRunning(id).error().code, ErrorCode::kConflict);
  auto resumed = manager.exec(id, "true", false, 5s, nullptr, true);
  ASSERT_TRUE(resumed.ok()) << resumed.error().message;
  EXPECT_EQ(backend.resumes, 1);
  EXPECT_EQ(manager.find(id).value()->snapshot().status, SandboxStatus::kRunning);
  EXPECT_EQ(manager.runningSlotsInUse(), 1u);
}

TEST(SandboxManagerTest, BackendWithoutPauseKeepsTheSandboxRunning) {
  FakeBackend backend;
  backend.can_pause = false;
  SandboxManager manager(backend, options());
  const std::string id = startedSandbox(manager);
  auto paused = manager.pause(id);
  ASSERT_FALSE(paused.ok());
  EXPECT_EQ(paused.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(paused.error().message.find("fake"), std::string::npos);
  EXPECT_EQ(manager.find(id).value()->snapshot().status, SandboxStatus::kRunning);
  EXPECT_EQ(manager.runningSlotsInUse(), 1u);
}

TEST(SandboxManagerTest, StopOfAPausedSandboxRemovesItAndItsSlotStaysFree) {
  FakeBackend backend;
  SandboxManager manager(backend, options());
  const std::string id = startedSandbox(manager);
  ASSERT_TRUE(manager.pause(id).ok());
  const int destroys = backend.destroys;
  ASSERT_TRUE(manager.stop(id, false).ok());
  EXPECT_GT(backend.destroys, destroys);
  EXPECT_EQ(manager.find(id).value()->snapshot().status, SandboxStatus::kStopped);
  EXPECT_EQ(manager.runningSlotsInUse(), 0u);
  EXPECT_EQ(manager.resume(id).error().code, ErrorCode::kConflict);
}

TEST(SandboxManagerTest, ShutdownRefusesNewWork) {
  FakeBackend backend;
  SandboxManager manager(backend, options());
  ASSERT_TRUE(manager.create({}).ok());
  manager.shutdown();
  EXPECT_TRUE(manager.all().empty());
  EXPECT_EQ(manager.create({}).error().code, ErrorCode::kUnavailable);
}

// Polls a state change (the expiry thread's work) with a bound that only detects a hang.
bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(SandboxManagerTest, CreateRefusesATtlAboveTheMaximum) {
  FakeBackend backend;
  ManagerOptions o = options();
  o.lifetimes.max_ttl = 60s;
  SandboxManager manager(backend, o);
  CreateRequest request;
  request.lifetime.ttl = 61s;
  auto refused = manager.create(request);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(manager.all().empty());
  auto bounded = manager.create({});
  ASSERT_TRUE(bounded.ok());
  EXPECT_EQ(bounded.value()->snapshot().lifetime.ttl, 60s);
}

TEST(SandboxManagerTest, TtlStopsTheSandboxAndTheRecordSaysWhy) {
  FakeBackend backend;
  SandboxManager manager(backend, options());
  CreateRequest request;
  request.image = "runs";
  request.lifetime.ttl = 200ms;
  const std::string id = manager.create(request).value()->spec().id;
  ASSERT_TRUE(manager.start(id).ok());
  const auto sandbox = manager.find(id).value();
  const auto running = sandbox->snapshot();
  ASSERT_TRUE(running.expires_at);
  EXPECT_LE(*running.expires_at - *running.started_at, 1s);
  ASSERT_TRUE(eventually([&] { return sandbox->snapshot().status == SandboxStatus::kStopped; }));
  const auto ended = sandbox->snapshot();
  EXPECT_EQ(ended.end_reason, EndReason::kTtl);
  ASSERT_TRUE(ended.ended_at);
  EXPECT_FALSE(ended.expires_at);
  EXPECT_EQ(manager.runningSlotsInUse(), 0u);
  EXPECT_GE(backend.destroys, 1);
  auto late = manager.exec(id, "true", false, 1s);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kConflict);
  EXPECT_NE(late.error().message.find("expired: its ttl of 200 ms ran out"), std::string::npos)
      << late.error().message;
}

TEST(SandboxManagerTest, ActivityCostsTheSchedulerNothing) {
  FakeBackend backend;
  SandboxManager manager(backend, options());
  CreateRequest request;
  request.image = "runs";
  request.lifetime.idle_timeout = 3600s;
  const std::string id = manager.create(request).value()->spec().id;
  ASSERT_TRUE(manager.start(id).ok());
  const uint64_t before = manager.expiryScheduleCount();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(manager.exec(id, "true", false, 5s).ok());
  EXPECT_EQ(manager.expiryScheduleCount(), before);
  EXPECT_EQ(manager.find(id).value()->snapshot().status, SandboxStatus::kRunning);
}

TEST(SandboxManagerTest, ShutdownAndClientStopSayWhy) {
  FakeBackend backend;
  SandboxManager manager(backend, options());
  const std::string id = manager.create({}).value()->spec().id;
  ASSERT_TRUE(manager.stop(id, false).ok());
  const auto sandbox = manager.find(id).value();
  EXPECT_EQ(sandbox->snapshot().end_reason, EndReason::kStopped);
  const auto other = manager.create({}).value();
  manager.shutdown();
  EXPECT_EQ(other->snapshot().end_reason, EndReason::kShutdown);
  EXPECT_EQ(sandbox->snapshot().end_reason, EndReason::kStopped);  // the first reason stays
}

}  // namespace
}  // namespace grid

// Warm pools (docs/pools.md) on the fake: take at create, refill, give way to a cold start.
namespace grid {
namespace {

ManagerOptions poolOptions(size_t max_running, const std::string& image) {
  ManagerOptions o = options();
  o.max_running_sandboxes = max_running;
  PoolDefinition pool{"p", 1, {}};
  pool.request.image = image;
  o.pools.push_back(pool);
  return o;
}

// Polls `done` until it holds or 10 s pass (a hang detector, not a speed check).
template <typename Done>
bool eventually(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(WarmPoolTest, MatchingCreateTakesTheReadySandboxAndThePoolRefills) {
  FakeBackend backend;
  SandboxManager manager(backend, poolOptions(3, "runs"));
  ASSERT_TRUE(manager.startPools().ok());
  ASSERT_EQ(manager.pools().status().at(0).ready, 1u);  // the first is made at start-up
  EXPECT_TRUE(manager.all().empty());                   // not a user sandbox
  CreateRequest request;
  request.image = "runs";
  auto created = manager.create(request);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created.value()->snapshot().pool, "p");
  EXPECT_EQ(manager.pools().status().at(0).hits, 1u);
  const std::string id = created.value()->spec().id;
  ASSERT_TRUE(manager.start(id).ok());
  EXPECT_TRUE(manager.exec(id, "true", false, 5s).ok());
  EXPECT_TRUE(eventually([&] { return manager.pools().status().at(0).ready == 1; }));
  EXPECT_EQ(manager.runningSlotsInUse(), 2u);  // the taken one and the refill
}

TEST(WarmPoolTest, OtherSpecsStartCold) {
  FakeBackend backend;
  SandboxManager manager(backend, poolOptions(3, "runs"));
  ASSERT_TRUE(manager.startPools().ok());
  CreateRequest request;
  request.image = "runs";
  request.limits = ResourceLimits{0, 100, 0};
  auto created = manager.create(request);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created.value()->snapshot().pool, "");
  EXPECT_EQ(manager.pools().unmatched(), 1u);
  EXPECT_EQ(manager.pools().status().at(0).ready, 1u);
  request.labels = {{"a", "b"}};
  request.limits.reset();
  ASSERT_TRUE(manager.create(request).ok());  // labels: no match either
  EXPECT_EQ(manager.pools().unmatched(), 2u);
}

TEST(WarmPoolTest, ColdStartWithNoFreeSlotTakesAPoolSandboxSlot) {
  FakeBackend backend;
  SandboxManager manager(backend, poolOptions(1, "runs"));  // the pool holds the only slot
  ASSERT_TRUE(manager.startPools().ok());
  CreateRequest request;
  request.image = "runs";
  request.limits = ResourceLimits{0, 100, 0};
  const std::string id = manager.create(request).value()->spec().id;
  auto started = manager.start(id);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_EQ(manager.pools().status().at(0).ready, 0u);
  ASSERT_TRUE(manager.stop(id, true).ok());
  EXPECT_TRUE(eventually([&] { return manager.pools().status().at(0).ready == 1; }));
}

TEST(WarmPoolTest, UnknownImageFailsStartUpNamingThePool) {
  FakeBackend backend;
  SandboxManager manager(backend, poolOptions(3, "missing"));
  auto started = manager.startPools();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().message.find("[pool.p]"), std::string::npos)
      << started.error().message;
  EXPECT_EQ(manager.runningSlotsInUse(), 0u);
}

TEST(WarmPoolTest, ShutdownRemovesReadySandboxes) {
  FakeBackend backend;
  SandboxManager manager(backend, poolOptions(3, "runs"));
  ASSERT_TRUE(manager.startPools().ok());
  manager.shutdown();
  EXPECT_EQ(manager.pools().status().at(0).ready, 0u);
  EXPECT_EQ(manager.runningSlotsInUse(), 0u);
  EXPECT_GE(backend.destroys, backend.creates);
}

}  // namespace
}  // namespace grid
