// Lifetimes on every backend (docs/lifetimes.md): a ttl and an idle timeout stop a sandbox
// and its record says why; execs keep an idle timeout away but never a ttl; an exec cut short
// by expiry answers 409 sandbox_expired and leaves nothing. Deadlines are a few seconds, and
// every wait polls for the state change with a bound that only detects a hang.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include "api/api_server.h"
#include "conformance_fixture.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;

class LifetimeTest : public ConformanceTest {
 protected:
  void TearDown() override {
    if (server_) server_->stop();
    ConformanceTest::TearDown();
  }

  std::string startWithLifetime(std::chrono::milliseconds ttl, std::chrono::milliseconds idle,
                                ExpiryAction action = ExpiryAction::kStop) {
    CreateRequest request;
    request.lifetime.ttl = ttl;
    request.lifetime.idle_timeout = idle;
    request.lifetime.action = action;
    return startSandbox(request);
  }

  SandboxSnapshot snapshot(const std::string& id) { return manager_->find(id).value()->snapshot(); }

  // Expiry happens a few seconds in; a slow engine's removal is allowed plenty more.
  bool waitStopped(const std::string& id) {
    return waitUntil([&] { return snapshot(id).status == SandboxStatus::kStopped; }, 120s);
  }

  // Nothing of the sandbox is left in the backend, and its slot is free.
  void expectNothingLeft(const std::string& id) {
    ProcessSpec probe;
    probe.argv = {"/bin/sh", "-c", "true"};
    EXPECT_FALSE(backend().startProcess(id, probe).ok());
    EXPECT_EQ(manager_->runningSlotsInUse(), 0u);
    EXPECT_TRUE(manager_->find(id).value()->processes().list().empty());
  }

  void startApi() {
    ApiServerOptions options;
    options.port = 0;
    options.threads = 8;
    server_ = std::make_unique<ApiServer>(*manager_, options);
    auto started = server_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
  }

  std::pair<int, Poco::JSON::Object::Ptr> http(const std::string& method, const std::string& path,
                                               const std::string& body = "") {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server_->port()));
    session.setTimeout(Poco::Timespan(180, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::string text;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), text);
    Poco::JSON::Parser parser;
    return {static_cast<int>(response.getStatus()),
            parser.parse(text).extract<Poco::JSON::Object::Ptr>()};
  }

  std::unique_ptr<ApiServer> server_;
};

TEST_F(LifetimeTest, TtlStopsTheSandboxHoweverBusyAndTheRecordSaysTtl) {
  const std::string id = startWithLifetime(2s, 0ms);
  ASSERT_FALSE(id.empty());
  const auto running = snapshot(id);
  ASSERT_TRUE(running.expires_at);
  ASSERT_TRUE(running.started_at);
  EXPECT_LE(*running.expires_at, *running.started_at + 2s + 100ms);
  EXPECT_FALSE(running.end_reason);
  // Execs one after another: activity, which a ttl ignores.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (snapshot(id).status != SandboxStatus::kStopped &&
         std::chrono::steady_clock::now() < deadline) {
    (void)manager_->exec(id, "true", false, 10s);
  }
  ASSERT_TRUE(waitStopped(id));
  const auto ended = snapshot(id);
  EXPECT_EQ(ended.end_reason, EndReason::kTtl);
  ASSERT_TRUE(ended.ended_at);
  EXPECT_GE(*ended.ended_at - *running.started_at, 2s);
  EXPECT_FALSE(ended.expires_at);
  expectNothingLeft(id);
}

TEST_F(LifetimeTest, IdleTimeoutSparesASandboxInUseAndStopsItOnceIdle) {
  const std::string id = startWithLifetime(0ms, 2s);
  ASSERT_FALSE(id.empty());
  // Five seconds of short execs with no gap near the timeout: it stays.
  const auto busy_until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < busy_until) {
    ASSERT_EQ(run(id, "sleep 0.2; echo ok").output, "ok\n");
  }
  // One exec longer than the timeout counts as activity until it ends.
  EXPECT_EQ(run(id, "sleep 4; echo done").output, "done\n");
  EXPECT_EQ(snapshot(id).status, SandboxStatus::kRunning);
  const auto last_exec_end = std::chrono::system_clock::now();
  ASSERT_TRUE(snapshot(id).expires_at);
  ASSERT_TRUE(waitStopped(id));
  const auto ended = snapshot(id);
  EXPECT_EQ(ended.end_reason, EndReason::kIdle);
  ASSERT_TRUE(ended.ended_at);
  EXPECT_GE(*ended.ended_at - last_exec_end, 1900ms);
  expectNothingLeft(id);
}

TEST_F(LifetimeTest, ExpiryDuringALongExecAnswersSandboxExpiredAndLeavesNothing) {
  startApi();
  auto [created_status, created] =
      http("POST", "/sandboxes", R"({"ttl_seconds": 3, "idle_timeout_seconds": 60})");
  ASSERT_EQ(created_status, 201);
  const std::string id = created->getValue<std::string>("id");
  EXPECT_EQ(created->getValue<int>("ttl_seconds"), 3);
  EXPECT_EQ(created->getValue<int>("idle_timeout_seconds"), 60);
  EXPECT_EQ(created->getValue<std::string>("expiry_action"), "stop");
  EXPECT_TRUE(created->isNull("expires_at"));  // not running yet
  auto [start_status, started] = http("POST", "/sandboxes/" + id + "/start");
  ASSERT_EQ(start_status, 200);
  EXPECT_FALSE(started->isNull("expires_at"));
  EXPECT_TRUE(started->isNull("end_reason"));
  // A background process, which must end with the sandbox.
  auto [spawn_status, spawned] =
      http("POST", "/sandboxes/" + id + "/processes", R"({"command": "sleep 1000"})");
  ASSERT_EQ(spawn_status, 201);

  const auto before = std::chrono::steady_clock::now();
  auto [exec_status, answer] =
      http("POST", "/sandboxes/" + id + "/exec", R"({"command": "sleep 100", "timeout": 150})");
  EXPECT_EQ(exec_status, 409);
  EXPECT_EQ(answer->getValue<std::string>("code"), "sandbox_expired");
  EXPECT_NE(answer->getValue<std::string>("error").find("ttl of 3 s"), std::string::npos)
      << answer->getValue<std::string>("error");
  EXPECT_LT(std::chrono::steady_clock::now() - before, 90s);  // not the command's 100 s

  ASSERT_TRUE(waitStopped(id));
  auto [get_status, record] = http("GET", "/sandboxes/" + id);
  ASSERT_EQ(get_status, 200);
  EXPECT_EQ(record->getValue<std::string>("status"), "stopped");
  EXPECT_EQ(record->getValue<std::string>("end_reason"), "ttl");
  EXPECT_FALSE(record->isNull("ended_at"));
  EXPECT_TRUE(record->isNull("expires_at"));
  // Later operations say the same.
  auto [late_status, late] = http("POST", "/sandboxes/" + id + "/exec", R"({"command": "true"})");
  EXPECT_EQ(late_status, 409);
  EXPECT_EQ(late->getValue<std::string>("code"), "sandbox_expired");
  auto [spawn_late_status, spawn_late] =
      http("POST", "/sandboxes/" + id + "/processes", R"({"command": "true"})");
  EXPECT_EQ(spawn_late_status, 409);
  EXPECT_EQ(spawn_late->getValue<std::string>("code"), "sandbox_expired");
  auto [files_late_status, files_late] = http("GET", "/sandboxes/" + id + "/files?path=/tmp&list");
  EXPECT_EQ(files_late_status, 409);
  EXPECT_EQ(files_late->getValue<std::string>("code"), "sandbox_expired");
  expectNothingLeft(id);
}

TEST_F(LifetimeTest, PauseActionPausesAtTheDeadlineAndAResumeRestartsTheClocks) {
  const std::string id = startWithLifetime(0ms, 1s, ExpiryAction::kPause);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(snapshot(id).lifetime.action, ExpiryAction::kPause);
  ASSERT_TRUE(waitUntil([&] { return snapshot(id).status != SandboxStatus::kRunning; }, 120s));
  const auto paused = snapshot(id);
  ASSERT_EQ(paused.status, SandboxStatus::kPaused);
  EXPECT_TRUE(paused.paused_at);
  EXPECT_FALSE(paused.end_reason);  // paused, not ended
  const auto refused = manager_->exec(id, "echo still here", false, 30s);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  ASSERT_TRUE(manager_->resume(id).ok());
  EXPECT_EQ(run(id, "echo still here").output, "still here\n");
  // Idle again after the resume: paused again, by the same rule.
  ASSERT_TRUE(waitUntil([&] { return snapshot(id).status == SandboxStatus::kPaused; }, 120s));
  ASSERT_TRUE(manager_->stop(id, false).ok());
  EXPECT_EQ(snapshot(id).end_reason, EndReason::kStopped);
  expectNothingLeft(id);
}

// A tenant cannot extend its own life: nothing it does inside the sandbox is activity, and
// the output of a background process, which is, never moves the ttl.
using ContainmentLifetimeTest = LifetimeTest;

TEST_F(ContainmentLifetimeTest, WorkInsideTheSandboxIsNotActivity) {
  const std::string id = startWithLifetime(0ms, 2s);
  ASSERT_FALSE(id.empty());
  // A busy loop left running in the session's background, writing files and printing
  // nowhere the API reads.
  run(id, "(while :; do date > /tmp/busy; done) >/dev/null 2>&1 &");
  ASSERT_TRUE(waitStopped(id));
  EXPECT_EQ(snapshot(id).end_reason, EndReason::kIdle);
  expectNothingLeft(id);
}

TEST_F(ContainmentLifetimeTest, AnOutputFloodKeepsItFromIdlingButNotPastItsTtl) {
  const std::string id = startWithLifetime(4s, 1s);
  ASSERT_FALSE(id.empty());
  const uint64_t schedules_before = manager_->expiryScheduleCount();
  auto flood = manager_->find(id).value()->processes().start(
      backend(), id, BackgroundProcessSpec{"yes flood-flood-flood", "", {}}, {},
      Clock::now() + 30s);
  ASSERT_TRUE(flood.ok()) << flood.error().message;
  ASSERT_TRUE(waitStopped(id));
  EXPECT_EQ(snapshot(id).end_reason, EndReason::kTtl);  // not idle: the output was activity
  const uint64_t flooded = flood.value().process->output().totalBytes();
  EXPECT_GT(flooded, 1u << 20);
  // One deadline per idle period or so, not one per write: a 4 s life with a 1 s timeout.
  EXPECT_LE(manager_->expiryScheduleCount() - schedules_before, 20u) << flooded << " bytes";
  expectNothingLeft(id);
}

}  // namespace
}  // namespace grid::testing
