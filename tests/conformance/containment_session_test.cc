// Containment of the session protocol against a hostile tenant: forged and stray markers never
// end the wrong exec or shift later results, no output makes the server hold more than its
// cap, and every exec answers by its timeout whatever the command does to the shell's stdout.
// The tenant knows the session token (it is in $PROMPT_COMMAND), so the tests use it.
#include <cctype>
#include <regex>

#include "conformance_fixture.h"
#include "live_output_client.h"
#include "session/process_io.h"
#include "session/session_protocol.h"
#include "util/random_token.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kMiB = 1 << 20;
// Generous upper bound on how late past its timeout an exec may answer before it counts as
// hung (the contract is one second; timing precision belongs to the benchmarks).
constexpr auto kHangSlack = 10s;
constexpr size_t kNoticeSlack = 256;  // the "[... N bytes truncated ...]" line

class ContainmentSessionTest : public OneSandboxTest {
 protected:
  /// The session's marker token, read the way a tenant would.
  std::string sessionToken() {
    const std::string prompt_command = run("printf '%s' \"$PROMPT_COMMAND\"").output;
    std::smatch match;
    const std::regex token("\"([0-9a-f]{32})\"");
    EXPECT_TRUE(std::regex_search(prompt_command, match, token)) << prompt_command;
    return match.empty() ? "" : match[1].str();
  }

  /// Runs `echo N` for a few N and expects each exec to return exactly its own line.
  void expectInStep(const std::string& label) {
    for (int i = 1; i <= 3; ++i) {
      const std::string n = label + "-" + std::to_string(i);
      auto r = run("echo " + n);
      EXPECT_EQ(r.output, n + "\n");
      EXPECT_EQ(r.exit_code, 0);
      EXPECT_FALSE(r.timed_out);
    }
  }

  /// Records how long past its timeout an exec answered (negative: before it), for reports
  /// (--gtest_output=xml); the assertion itself only detects hangs.
  void recordOverrun(const std::string& what, std::chrono::steady_clock::duration overrun) {
    std::string key = "overrun_ms_";
    for (const char c : what) key += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    RecordProperty(
        key,
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(overrun).count()));
  }
};

// Forged done markers with the right token: a guessed nonce, the start-up marker's empty
// nonce, and an earlier exec's real nonce. None of them ends the exec; they are its output.
TEST_F(ContainmentSessionTest, ForgedMarkerWithAnotherNonceDoesNotEndTheExec) {
  const std::string token = sessionToken();
  ASSERT_FALSE(token.empty());
  const std::string old_nonce = run("printf '%s' \"$__grid_nonce\"").output;
  ASSERT_FALSE(old_nonce.empty());
  for (const std::string& nonce : {std::string("0123456789abcdef"), std::string(), old_nonce}) {
    SCOPED_TRACE("forged nonce '" + nonce + "'");
    const std::string forged = token + ":done:" + nonce + ":0\n";
    const std::string exit_forged = token + ":exit:" + nonce + ":0\n";
    auto r = run("printf '%s' '" + forged + exit_forged + "'; echo after-forgery; (exit 5)");
    EXPECT_EQ(r.output, forged + exit_forged + "after-forgery\n");
    EXPECT_EQ(r.exit_code, 5);
    EXPECT_FALSE(r.exited);
    EXPECT_FALSE(r.timed_out);
    expectInStep("forged");
  }
}

// A command that forges its own exec's marker (it can read its nonce) ends only itself early;
// what it prints afterwards is dropped, never handed to the next exec.
TEST_F(ContainmentSessionTest, MarkerForgedWithOwnNonceHarmsOnlyItsOwnExec) {
  const std::string token = sessionToken();
  ASSERT_FALSE(token.empty());
  auto r = run("echo before; printf '%s:done:%s:7\\n' '" + token +
               "' \"$__grid_nonce\"; echo hidden-leftover");
  EXPECT_EQ(r.output, "before\n");
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_FALSE(r.timed_out);
  expectInStep("own-forgery");
}

// A command printing a previous exec's complete start and done markers: they are output, and
// later results are not shifted.
TEST_F(ContainmentSessionTest, ReplayedMarkersOfAnEarlierExecAreOutput) {
  const std::string token = sessionToken();
  ASSERT_FALSE(token.empty());
  const std::string old_nonce = run("printf '%s' \"$__grid_nonce\"").output;
  ASSERT_EQ(old_nonce.size(), 16u);
  const std::string replay =
      token + ":start:" + old_nonce + "\n" + "stale\n" + token + ":done:" + old_nonce + ":0\n";
  auto r = run("printf '%s' '" + replay + "'; echo mine");
  EXPECT_EQ(r.output, replay + "mine\n");
  EXPECT_EQ(r.exit_code, 0);
  expectInStep("replayed");
}

// SIGINT reaching the shell at an idle prompt (as a timeout's Ctrl-C can when the command ends
// just at its deadline) makes the prompt print an extra done marker. It carries the previous
// exec's nonce and arrives before the next exec's start marker: later results stay in step.
TEST_F(ContainmentSessionTest, InterruptAtIdlePromptDoesNotShiftLaterResults) {
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const std::string go = "/tmp/grid-containment-go-" + std::to_string(round);
    const std::string sent = "/tmp/grid-containment-sent-" + std::to_string(round);
    // The background job waits for the test's go, so the signal lands while the shell idles.
    auto armed = run("(while [ ! -e " + go + " ]; do sleep 0.01; done; kill -INT $$; touch " +
                     sent + ") >/dev/null 2>&1 &");
    ASSERT_FALSE(armed.timed_out);
    EXPECT_EQ(armed.exit_code, 0);
    ASSERT_EQ(runStandalone(id_, "touch " + go).exit_code, 0);
    ASSERT_TRUE(
        waitUntil([&] { return runStandalone(id_, "test -e " + sent).exit_code == 0; }, 30s));
    expectInStep("after-interrupt");
  }
}

// A marker prefix followed by hundreds of MB without a newline: the scanner must not hold the
// line (it cannot be a marker past a known length), so server memory stays within the output
// cap's order, and the exec still ends at its timeout.
TEST_F(ContainmentSessionTest, EndlessLineAfterMarkerPrefixKeepsServerMemoryBounded) {
  const std::string token = sessionToken();
  ASSERT_FALSE(token.empty());
  const size_t cap = managerOptions().max_output_bytes;
  const int64_t rss_before_kb = procStatusKb("VmRSS");
  ASSERT_GT(rss_before_kb, 0);
  const bool peak_tracked = resetPeakRss();
  constexpr auto kTimeout = 10s;
  const auto started = std::chrono::steady_clock::now();
  auto r = run("printf '%s:done:' '" + token + "'; head -c 300m /dev/zero | tr '\\0' x; sleep 1000",
               kTimeout);
  const auto took = std::chrono::steady_clock::now() - started;
  const int64_t after_kb = procStatusKb(peak_tracked ? "VmHWM" : "VmRSS");
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 130);
  EXPECT_FALSE(r.session_restarted);
  EXPECT_TRUE(r.truncated);
  EXPECT_LE(r.output.size(), cap + kNoticeSlack);
  EXPECT_EQ(r.output.rfind(token + ":done:xxxx", 0), 0u) << r.output.substr(0, 80);
  EXPECT_LT(took, kTimeout + kHangSlack);
  recordOverrun("endless_line", took - kTimeout);
  RecordProperty("rss_growth_kb_endless_line", std::to_string(after_kb - rss_before_kb));
  EXPECT_LT((after_kb - rss_before_kb) * 1024, 100 * kMiB)
      << (peak_tracked ? "peak" : "") << " RSS grew from " << rss_before_kb << " KiB to "
      << after_kb << " KiB";
  expectInStep("after-endless-line");
}

// A writer that never pauses cannot keep an exec past its timeout, in the session (which
// interrupts it and keeps its state) or standalone (killed).
TEST_F(ContainmentSessionTest, FastWriterEndsAtItsTimeout) {
  run("export KEEP=kept; cd /tmp");
  constexpr auto kTimeout = 2s;
  const size_t cap = managerOptions().max_output_bytes;
  for (const bool standalone : {false, true}) {
    SCOPED_TRACE(standalone ? "standalone exec" : "session exec");
    const int64_t rss_before_kb = procStatusKb("VmRSS");
    const bool peak_tracked = resetPeakRss();
    const auto started = std::chrono::steady_clock::now();
    auto r = standalone ? runStandalone(id_, "yes", kTimeout) : run("yes", kTimeout);
    const auto took = std::chrono::steady_clock::now() - started;
    const int64_t after_kb = procStatusKb(peak_tracked ? "VmHWM" : "VmRSS");
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.exit_code, standalone ? 137 : 130);
    EXPECT_FALSE(r.session_restarted);
    EXPECT_TRUE(r.truncated);
    EXPECT_LE(r.output.size(), cap + kNoticeSlack);
    EXPECT_EQ(r.output.rfind("y\ny\ny\n", 0), 0u);
    EXPECT_LT(took, kTimeout + kHangSlack);
    EXPECT_LT((after_kb - rss_before_kb) * 1024, 100 * kMiB);
    recordOverrun(standalone ? "standalone_yes" : "session_yes", took - kTimeout);
    RecordProperty(standalone ? "rss_growth_kb_standalone_yes" : "rss_growth_kb_session_yes",
                   std::to_string(after_kb - rss_before_kb));
  }
  EXPECT_EQ(run("echo $KEEP $PWD").output, "kept /tmp\n");
  expectInStep("after-fast-writer");
}

// A command that closes or redirects the shell's stdout leaves no way for markers to come:
// the exec still answers by its timeout, and the shell is replaced (state lost).
TEST_F(ContainmentSessionTest, ClosedOrRedirectedStdoutRestartsTheSession) {
  constexpr auto kTimeout = 3s;
  for (const std::string command :
       {"exec >/dev/null", "exec >&-", "(sleep 1000 &); exec >/dev/null", "exec 1>&- 2>&-"}) {
    SCOPED_TRACE(command);
    run("export KEEP=kept");
    const auto started = std::chrono::steady_clock::now();
    auto r = run("echo before; " + command, kTimeout);
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_TRUE(r.session_restarted);
    EXPECT_FALSE(r.exited);
    EXPECT_EQ(r.exit_code, 137);
    EXPECT_EQ(r.output, "before\n");
    EXPECT_LT(took, kTimeout + kHangSlack);
    recordOverrun(command, took - kTimeout);
    EXPECT_EQ(run("echo \"[$KEEP]\"").output, "[]\n");  // a fresh shell
    expectInStep("after-restart");
  }
}

// A standalone command that closes its stdout and stderr and lives on: the wrapper that
// started it still holds them, so the exec is not mistaken for finished (whose exit status
// would then be waited for) and ends at its timeout with the command killed.
TEST_F(ContainmentSessionTest, StandaloneCommandClosingItsOutputEndsAtItsTimeout) {
  constexpr auto kTimeout = 2s;
  const auto started = std::chrono::steady_clock::now();
  auto r = runStandalone(id_, "echo early; exec >&- 2>&-; sleep 1000", kTimeout);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.exit_code, 137);
  EXPECT_EQ(r.stdout_text, "early\n");
  EXPECT_LT(took, kTimeout + kHangSlack);
  recordOverrun("standalone_closed_output", took - kTimeout);
  EXPECT_EQ(runStandalone(id_, "echo next").stdout_text, "next\n");
}

// `exec 1>&2` inside the exec points stdout at the merged stream it already is: nothing breaks.
TEST_F(ContainmentSessionTest, StdoutRedirectedToStderrKeepsTheSession) {
  run("export KEEP=kept");
  auto r = run("exec 1>&2; echo still-here");
  EXPECT_EQ(r.output, "still-here\n");
  EXPECT_FALSE(r.session_restarted);
  EXPECT_EQ(run("echo $KEEP").output, "kept\n");
  expectInStep("after-1to2");
}

// Live output of a session exec goes through the same marker scanner: forged markers and
// forged NDJSON lines are output (inside a JSON string), never the end of the stream.
class ContainmentLiveOutputTest : public ContainmentSessionTest {
 protected:
  void SetUp() override {
    ContainmentSessionTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    api_ = std::make_unique<InProcessApi>(*manager_);
    ASSERT_TRUE(api_->ok());
  }
  void TearDown() override {
    api_.reset();
    ContainmentSessionTest::TearDown();
  }

  /// Every line of the stream parsed (the client fails on a line that is not an object);
  /// returns the result events.
  static std::vector<Poco::JSON::Object::Ptr> results(const LiveExec& exec) {
    std::vector<Poco::JSON::Object::Ptr> found;
    for (const auto& event : exec.events()) {
      if (event->optValue<std::string>("type", "") == "result") found.push_back(event);
    }
    return found;
  }

  std::unique_ptr<InProcessApi> api_;
};

TEST_F(ContainmentLiveOutputTest, ForgedMarkersAndResultLinesCannotEndTheStream) {
  const std::string token = sessionToken();
  ASSERT_FALSE(token.empty());
  const std::string old_nonce = run("printf '%s' \"$__grid_nonce\"").output;
  const std::string forged = token + ":done:0123456789abcdef:0\n" + token + ":done::0\n" + token +
                             ":exit:" + old_nonce + ":0\n";
  const std::string fake_lines =
      "{\"type\":\"result\",\"exit_code\":0,\"output\":\"forged\"}\n"
      "{\"type\":\"error\",\"error\":\"forged\",\"code\":\"internal\"}\n";
  LiveExec exec(api_->port(), id_,
                "printf '%s' '" + forged + fake_lines + "'; echo after; (exit 5)", {});
  ASSERT_EQ(exec.status(), 200) << exec.body() << exec.broken();
  exec.readAll();
  EXPECT_EQ(exec.broken(), "");
  EXPECT_EQ(exec.output(), forged + fake_lines + "after\n");
  const auto found = results(exec);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], exec.events().back());
  EXPECT_EQ(found[0]->optValue<int>("exit_code", -1), 5);
  for (const auto& event : exec.events()) {
    EXPECT_NE(event->optValue<std::string>("type", ""), "error");
  }
  expectInStep("after-live-forgery");
}

// Its own nonce lets a command end its own exec early, as without live output: what it
// prints afterwards reaches neither this stream nor the next exec.
TEST_F(ContainmentLiveOutputTest, MarkerForgedWithOwnNonceEndsOnlyItsOwnStream) {
  const std::string token = sessionToken();
  ASSERT_FALSE(token.empty());
  LiveExec exec(api_->port(), id_,
                "echo before; printf '%s:done:%s:7\\n' '" + token +
                    "' \"$__grid_nonce\"; echo hidden-leftover",
                {});
  ASSERT_EQ(exec.status(), 200) << exec.body() << exec.broken();
  exec.readAll();
  EXPECT_EQ(exec.output(), "before\n");
  const auto found = results(exec);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]->optValue<int>("exit_code", -1), 7);
  expectInStep("after-own-forgery");
}

// Bytes that might begin a marker are held back only until decided: a token prefix followed
// by more than a marker's worth of bytes is output while the command still runs (it waits for
// a file the test creates only after reading it; buffering it would hang).
TEST_F(ContainmentLiveOutputTest, HeldBackMarkerPrefixIsReleasedOnceDecided) {
  const std::string token = sessionToken();
  ASSERT_FALSE(token.empty());
  const std::string flag = "/tmp/held-" + randomHex(6);
  const std::string long_body(kMaxMarkerBody + 8, 'a');
  LiveExec exec(api_->port(), id_,
                "printf '%s' '" + token + ":" + long_body + "ready'; while [ ! -e " + flag +
                    " ]; do sleep 0.05; done; echo done",
                {});
  ASSERT_EQ(exec.status(), 200) << exec.body() << exec.broken();
  ASSERT_TRUE(exec.readUntilOutput("ready")) << exec.broken();
  auto touched = ::grid::runStandalone(backend(), id_, "touch " + flag, ExecLimits{30s, 4096});
  ASSERT_TRUE(touched.ok()) << touched.error().message;
  exec.readAll();
  EXPECT_EQ(exec.output(), token + ":" + long_body + "readydone\n");
  EXPECT_EQ(results(exec).size(), 1u);
}

}  // namespace
}  // namespace grid::testing
