// Live output (POST /sandboxes/{id}/exec with "stream": true) on every backend, over real HTTP
// to the API served in this process: events in order, output while the command still runs,
// stdout and stderr apart for standalone execs, a client that goes away interrupts the
// command, and huge output keeps the server's memory bounded. No timing asserts: every wait
// is bounded by a generous hang detector.
#include <Poco/Net/HTTPResponse.h>

#include "conformance_fixture.h"
#include "live_output_client.h"
#include "session/process_io.h"
#include "util/random_token.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kMiB = 1 << 20;

class LiveOutputTest : public OneSandboxTest {
 protected:
  void SetUp() override {
    OneSandboxTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    api_ = std::make_unique<InProcessApi>(*manager_);
    ASSERT_TRUE(api_->ok());
  }
  void TearDown() override {
    api_.reset();
    OneSandboxTest::TearDown();
  }

  LiveExec stream(const std::string& command, LiveExec::Options options = {}) {
    return LiveExec(api_->port(), id_, command, options);
  }

  /// The last exec entry of the trajectory.
  TrajectoryEntry lastExec() {
    auto found = manager_->find(id_);
    EXPECT_TRUE(found.ok());
    if (!found.ok()) return {};
    const auto entries = found.value()->trajectory();
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      if (it->kind == TrajectoryKind::kExec) return *it;
    }
    return {};
  }

  /// Exactly one result event, and it is the last event.
  static Poco::JSON::Object::Ptr onlyResultLast(const LiveExec& exec) {
    const auto& events = exec.events();
    int results = 0;
    for (const auto& event : events) {
      const std::string type = event->optValue<std::string>("type", "");
      EXPECT_TRUE(type == "output" || type == "result") << type;
      if (type == "result") ++results;
    }
    EXPECT_EQ(results, 1);
    if (events.empty() || events.back()->optValue<std::string>("type", "") != "result") {
      ADD_FAILURE() << "the last event is not the result";
      return new Poco::JSON::Object;
    }
    return events.back();
  }

  std::unique_ptr<InProcessApi> api_;
};

TEST_F(LiveOutputTest, SessionOutputArrivesInOrderThenOneResult) {
  auto exec = stream("for i in 1 2 3; do echo line$i; done; echo oops >&2; echo last; (exit 3)");
  ASSERT_EQ(exec.status(), 200) << exec.body() << exec.broken();
  EXPECT_EQ(exec.response().getContentType(), "application/x-ndjson");
  EXPECT_TRUE(exec.response().getChunkedTransferEncoding());
  exec.readAll();
  EXPECT_EQ(exec.broken(), "");
  EXPECT_EQ(exec.output(), "line1\nline2\nline3\noops\nlast\n");
  for (const auto& event : exec.events()) {
    if (event->getValue<std::string>("type") == "output") {
      EXPECT_EQ(event->getValue<std::string>("stream"), "output");
    }
  }
  const auto result = onlyResultLast(exec);
  EXPECT_EQ(result->optValue<int>("exit_code", -1), 3);
  EXPECT_EQ(result->optValue<std::string>("output", ""), exec.output());
  EXPECT_FALSE(result->optValue<bool>("timed_out", true));
  EXPECT_FALSE(result->has("interrupted"));
  // The session is in step for the next exec.
  EXPECT_EQ(run("echo next").output, "next\n");
}

TEST_F(LiveOutputTest, AcceptHeaderAsksForTheStreamToo) {
  auto exec = stream("echo by-accept", {.by_accept_header = true});
  ASSERT_EQ(exec.status(), 200) << exec.body() << exec.broken();
  EXPECT_EQ(exec.response().getContentType(), "application/x-ndjson");
  exec.readAll();
  EXPECT_EQ(exec.output(), "by-accept\n");
  EXPECT_EQ(onlyResultLast(exec)->optValue<int>("exit_code", -1), 0);
}

TEST_F(LiveOutputTest, StandaloneTellsStdoutFromStderr) {
  auto exec =
      stream("echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 4", {.standalone = true});
  ASSERT_EQ(exec.status(), 200) << exec.body() << exec.broken();
  exec.readAll();
  EXPECT_EQ(exec.output("stdout"), "out1\nout2\n");
  EXPECT_EQ(exec.output("stderr"), "err1\nerr2\n");
  EXPECT_EQ(exec.output("output"), "");
  const auto result = onlyResultLast(exec);
  EXPECT_EQ(result->optValue<int>("exit_code", -1), 4);
  EXPECT_EQ(result->optValue<std::string>("stdout", ""), "out1\nout2\n");
  EXPECT_EQ(result->optValue<std::string>("stderr", ""), "err1\nerr2\n");
}

// Liveness without a clock: the command prints "ready", then waits for a file that the test
// creates only once it has read "ready" from the stream. Buffered output would never show
// "ready" before the command ended, and the command would not end: the hang detector fails it.
void expectLive(LiveOutputTest& test, SandboxBackend& backend, const std::string& id,
                LiveExec& exec, const std::string& flag) {
  ASSERT_EQ(exec.status(), 200) << exec.body() << exec.broken();
  ASSERT_TRUE(exec.readUntilOutput("ready\n"))
      << "no 'ready' while the command ran: " << exec.broken();
  auto touched = ::grid::runStandalone(backend, id, "touch " + flag, ExecLimits{30s, 4096});
  ASSERT_TRUE(touched.ok()) << touched.error().message;
  ASSERT_EQ(touched.value().exit_code, 0);
  exec.readAll();
  EXPECT_EQ(exec.broken(), "");
  (void)test;
}

TEST_F(LiveOutputTest, SessionOutputArrivesWhileTheCommandRuns) {
  const std::string flag = "/tmp/live-" + randomHex(6);
  auto exec = stream("echo ready; while [ ! -e " + flag + " ]; do sleep 0.05; done; echo done");
  expectLive(*this, backend(), id_, exec, flag);
  EXPECT_EQ(exec.output(), "ready\ndone\n");
  EXPECT_EQ(onlyResultLast(exec)->optValue<int>("exit_code", -1), 0);
}

TEST_F(LiveOutputTest, StandaloneOutputArrivesWhileTheCommandRuns) {
  const std::string flag = "/tmp/live-" + randomHex(6);
  auto exec = stream("echo ready; while [ ! -e " + flag + " ]; do sleep 0.05; done; echo done >&2",
                     {.standalone = true});
  expectLive(*this, backend(), id_, exec, flag);
  EXPECT_EQ(exec.output("stdout"), "ready\n");
  EXPECT_EQ(exec.output("stderr"), "done\n");
}

TEST_F(LiveOutputTest, DisconnectInterruptsTheSessionCommandAndKeepsTheSession) {
  ASSERT_EQ(run("cd /tmp && export LIVE_MARK=kept").exit_code, 0);
  {
    auto exec = stream("echo ready; sleep 30; echo finished");
    ASSERT_EQ(exec.status(), 200) << exec.body() << exec.broken();
    ASSERT_TRUE(exec.readUntilOutput("ready\n")) << exec.broken();
    exec.disconnect();
  }
  // Waits behind the interrupted exec (one exec at a time per sandbox), then runs.
  const auto after = run("pwd; echo $LIVE_MARK");
  EXPECT_EQ(after.output, "/tmp\nkept\n");
  EXPECT_FALSE(after.session_restarted);
  const auto entry = lastExec();
  EXPECT_EQ(entry.command, "pwd; echo $LIVE_MARK");
  auto found = manager_->find(id_);
  ASSERT_TRUE(found.ok());
  const auto entries = found.value()->trajectory();
  ASSERT_GE(entries.size(), 2u);
  const ExecResult& interrupted = entries[entries.size() - 2].result;
  EXPECT_TRUE(interrupted.interrupted);
  EXPECT_FALSE(interrupted.timed_out);
  EXPECT_EQ(interrupted.output.find("finished"), std::string::npos) << interrupted.output;
  EXPECT_NE(interrupted.exit_code, 0);
}

TEST_F(LiveOutputTest, DisconnectInterruptsACommandThatPrintsNothing) {
  {
    auto exec = stream("sleep 30; echo finished");
    ASSERT_EQ(exec.status(), 200) << exec.body() << exec.broken();  // the command runs
    exec.disconnect();
  }
  EXPECT_EQ(run("echo next").output, "next\n");
  auto found = manager_->find(id_);
  ASSERT_TRUE(found.ok());
  const auto entries = found.value()->trajectory();
  ASSERT_GE(entries.size(), 2u);
  const ExecResult& interrupted = entries[entries.size() - 2].result;
  EXPECT_TRUE(interrupted.interrupted);
  EXPECT_FALSE(interrupted.timed_out);
  EXPECT_EQ(interrupted.output, "");
  EXPECT_EQ(interrupted.exit_code, 130);  // SIGINT, not the end of `sleep 30`
}

TEST_F(LiveOutputTest, DisconnectKillsAStandaloneCommand) {
  // Digits only: `sleep` takes "31.<tag>" as a number of seconds.
  const std::string tag = std::to_string(std::stoul(randomHex(4), nullptr, 16) % 100000);
  {
    auto exec = stream("echo ready; sleep 31." + tag + "; echo finished", {.standalone = true});
    ASSERT_EQ(exec.status(), 200) << exec.body() << exec.broken();
    ASSERT_TRUE(exec.readUntilOutput("ready\n")) << exec.broken();
    exec.disconnect();
  }
  // Runs once the interrupted exec has answered, i.e. after its kill.
  const auto left =
      run("for p in /proc/[0-9]*; do { tr '\\0' ' ' < $p/cmdline; } 2>/dev/null; echo; "
          "done | grep -c 'sleep 3[1]\\." +
          tag + "' || true");
  EXPECT_EQ(left.output, "0\n");
  auto found = manager_->find(id_);
  ASSERT_TRUE(found.ok());
  const auto entries = found.value()->trajectory();
  ASSERT_GE(entries.size(), 2u);
  const auto& killed = entries[entries.size() - 2];
  EXPECT_TRUE(killed.standalone);
  EXPECT_TRUE(killed.result.interrupted);
  EXPECT_EQ(killed.result.exit_code, 137);
  EXPECT_EQ(killed.result.stdout_text, "ready\n");
}

TEST_F(LiveOutputTest, HugeOutputStreamsWholeWithBoundedServerMemory) {
  constexpr uint64_t kBytes = 50 * kMiB;
  const bool peak_tracked = resetPeakRss();
  const int64_t before_kb = procStatusKb(peak_tracked ? "VmHWM" : "VmRSS");
  auto exec = stream("head -c " + std::to_string(kBytes) + " /dev/zero | tr '\\0' x");
  ASSERT_EQ(exec.status(), 200) << exec.body() << exec.broken();
  const uint64_t streamed = exec.drainCountingOutput();
  const int64_t after_kb = procStatusKb(peak_tracked ? "VmHWM" : "VmRSS");
  EXPECT_EQ(exec.broken(), "");
  EXPECT_EQ(streamed, kBytes);  // every byte went out live, none dropped
  const auto result = onlyResultLast(exec);
  EXPECT_TRUE(result->optValue<bool>("truncated", false));  // the result keeps head and tail
  EXPECT_LE(result->optValue<std::string>("output", "").size(), static_cast<size_t>(kMiB + 256));
  // The client reads in this process too; both together stay far below the output's size.
  RecordProperty("peak_growth_kb", std::to_string(after_kb - before_kb));
  EXPECT_LT(after_kb - before_kb, 64 * 1024) << "grew by " << (after_kb - before_kb) << " KiB";
}

TEST_F(LiveOutputTest, ErrorsBeforeTheStreamAreJsonAnswers) {
  auto missing = LiveExec(api_->port(), "no-such-sandbox", "true", {});
  EXPECT_EQ(missing.status(), 404);
  EXPECT_NE(missing.body().find("\"code\":\"not_found\""), std::string::npos) << missing.body();
}

}  // namespace
}  // namespace grid::testing
