// The persistent-session contract, rule by rule, against the backend under test.
#include <future>

#include "conformance_fixture.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;

using SessionTest = OneSandboxTest;

// Rule 1: state persists between execs.
TEST_F(SessionTest, StatePersistsAcrossExecs) {
  EXPECT_EQ(run("cd /tmp").exit_code, 0);
  EXPECT_EQ(run("pwd").output, "/tmp\n");
  run("export GRID_A=exported; GRID_B=shellvar");
  EXPECT_EQ(run("echo $GRID_A $GRID_B").output, "exported shellvar\n");
  run("greet() { echo \"hello $1\"; }");
  EXPECT_EQ(run("greet agent").output, "hello agent\n");
  run("alias ll='echo aliased'");
  EXPECT_EQ(run("ll").output, "aliased\n");
  run("set -o noclobber");
  EXPECT_EQ(run("[[ -o noclobber ]] && echo on").output, "on\n");
  EXPECT_EQ(run("bash -c 'echo $GRID_A'").output, "exported\n");
}

// Rule 2: exact output and the command's own status.
TEST_F(SessionTest, OutputIsExactAndStatusIsTheCommands) {
  auto r = run("echo out; echo err >&2; echo out2");
  EXPECT_EQ(r.output, "out\nerr\nout2\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.exited);
  EXPECT_EQ(run("false").exit_code, 1);
  EXPECT_EQ(run("(exit 42)").exit_code, 42);
  EXPECT_EQ(run("printf 'no newline'").output, "no newline");
  EXPECT_EQ(run("printf 'a\\r\\nb\\n'").output, "a\r\nb\n");
  EXPECT_EQ(run("echo 'héllo wörld ✓ 日本'").output, "héllo wörld ✓ 日本\n");
  EXPECT_EQ(run("true").output, "");
  const auto longLine = run("head -c 200000 /dev/zero | tr '\\0' x");
  EXPECT_EQ(longLine.output, std::string(200000, 'x'));
  EXPECT_FALSE(longLine.truncated);
}

TEST_F(SessionTest, OutputImitatingMarkersComesBackVerbatim) {
  const std::string tricky =
      "printf '%s\\n' 'deadbeef:done:0' ':ready:1:1' '__GRID__:exit:0' "
      "\"$(printf '%032d' 0):done:7\"";
  auto r = run(tricky);
  EXPECT_EQ(r.output, "deadbeef:done:0\n:ready:1:1\n__GRID__:exit:0\n" +
                          std::string(32, '0') + ":done:7\n");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(run("echo next").output, "next\n");
}

TEST_F(SessionTest, InvalidUtf8DoesNotBreakTheSession) {
  auto r = run("printf 'a\\xff\\xfeb\\n'");
  EXPECT_EQ(r.output, "a\xff\xfe" "b\n");  // raw bytes; the API layer replaces them
  EXPECT_EQ(run("echo fine").output, "fine\n");
}

// Rule 3: multi-line commands, heredocs, comments, pipes, redirections.
TEST_F(SessionTest, MultiLineHeredocPipesAndComments) {
  EXPECT_EQ(run("for i in 1 2 3; do\n  echo $i\ndone").output, "1\n2\n3\n");
  EXPECT_EQ(run("cat <<'EOF'\nline one\n$NOT_EXPANDED\nEOF").output, "line one\n$NOT_EXPANDED\n");
  auto comment = run("# only a comment");
  EXPECT_EQ(comment.output, "");
  EXPECT_EQ(comment.exit_code, 0);
  EXPECT_EQ(run("echo a; echo b && echo c || echo d").output, "a\nb\nc\n");
  EXPECT_EQ(run("printf 'z\\ny\\nx\\n' | sort | head -2").output, "x\ny\n");
  run("echo saved > /tmp/grid-redirect.txt");
  EXPECT_EQ(run("cat < /tmp/grid-redirect.txt").output, "saved\n");
  EXPECT_EQ(run("echo 'single '\"'\"' quote' \"dq $((1+2))\" \\\\back").output,
            "single ' quote dq 3 \\back\n");
}

// Rule 4: syntax errors fail that exec only.
TEST_F(SessionTest, SyntaxErrorsFailThatExecOnly) {
  run("cd /tmp && export KEEP=1");
  auto bad = run("if then fi");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("syntax error"), std::string::npos) << bad.output;
  auto quote = run("echo 'unterminated");
  EXPECT_NE(quote.exit_code, 0);
  EXPECT_FALSE(quote.output.empty());
  auto next = run("echo ok $KEEP $PWD");
  EXPECT_EQ(next.output, "ok 1 /tmp\n");
  EXPECT_EQ(next.exit_code, 0);
}

// Rule 5: stdin is at EOF.
TEST_F(SessionTest, CommandsReadingStdinGetEofAtOnce) {
  auto r = run("cat; echo after-cat");
  EXPECT_EQ(r.output, "after-cat\n");
  EXPECT_FALSE(r.timed_out);
  auto read = run("read x; echo \"status $? got [$x]\"");
  EXPECT_EQ(read.output, "status 1 got []\n");
  EXPECT_EQ(run("echo still-here").output, "still-here\n");
}

// Rule 6: timeouts interrupt the foreground work and keep the session with its state.
TEST_F(SessionTest, TimeoutInterruptsExternalProgramAndKeepsState) {
  run("cd /tmp; export KEEP=kept");
  auto r = run("echo before; sleep 100; echo after", 1s);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.output, "before\n");
  EXPECT_FALSE(r.exited);
  EXPECT_FALSE(r.session_restarted);
  EXPECT_EQ(run("echo $PWD $KEEP").output, "/tmp kept\n");
}

TEST_F(SessionTest, TimeoutInterruptsBuiltinLoopAndPipeline) {
  run("export KEEP=loop");
  auto loop = run("while true; do :; done", 1s);
  EXPECT_TRUE(loop.timed_out);
  EXPECT_FALSE(loop.session_restarted);
  EXPECT_EQ(run("echo $KEEP").output, "loop\n");
  auto pipeline = run("yes | cat > /dev/null", 1s);
  EXPECT_TRUE(pipeline.timed_out);
  EXPECT_EQ(run("echo $KEEP").output, "loop\n");
}

TEST_F(SessionTest, ShellIgnoringInterruptIsRestarted) {
  auto r = run("trap '' INT; sleep 100", 1s);
  EXPECT_TRUE(r.timed_out);
  EXPECT_TRUE(r.session_restarted);
  EXPECT_FALSE(r.exited);
  EXPECT_EQ(run("echo fresh").output, "fresh\n");
}

// Rule 7: background jobs never make an exec hang.
TEST_F(SessionTest, BackgroundJobsDoNotHang) {
  auto r = run("sleep 1000 &", 20s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0);
  auto nohup = run("nohup sleep 1000 > /dev/null 2>&1 &", 20s);
  EXPECT_FALSE(nohup.timed_out);
  EXPECT_EQ(run("echo next").output, "next\n");
}

// Rule 8: `exit` and other deaths end the session, reported, never a hang.
TEST_F(SessionTest, ExitEndsTheSession) {
  auto r = run("echo bye; exit 3");
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.output, "bye\n");
  auto after = manager_->exec(id_, "echo again", false, 5s);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, ErrorCode::kConflict);
  EXPECT_EQ(runStandalone(id_, "echo standalone").output, "standalone\n");
  EXPECT_TRUE(manager_->stop(id_, true).ok());
}

TEST_F(SessionTest, ExitWithBackgroundJobStillEnds) {
  auto r = run("sleep 1000 & exit 4", 20s);
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_FALSE(r.timed_out);
}

TEST_F(SessionTest, KilledShellIsReportedAsExited) {
  auto r = run("kill -9 $$", 20s);
  EXPECT_TRUE(r.exited);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(manager_->exec(id_, "true", false, 5s).error().code, ErrorCode::kConflict);
}

TEST_F(SessionTest, ExecReplacingTheShellIsReportedAsExited) {
  auto r = run("exec true", 20s);
  EXPECT_TRUE(r.exited);
  EXPECT_FALSE(r.timed_out);
}

// Rule 9: output is capped, head and tail kept, memory bounded.
TEST_F(SessionTest, LargeOutputIsTruncatedKeepingHeadAndTail) {
  auto r = run("echo HEAD; head -c 5000000 /dev/zero | tr '\\0' x; echo; echo TAIL");
  EXPECT_TRUE(r.truncated);
  EXPECT_LE(r.output.size(), (1u << 20) + 100);
  EXPECT_EQ(r.output.rfind("HEAD\n", 0), 0u);
  EXPECT_EQ(r.output.substr(r.output.size() - 5), "TAIL\n");
  EXPECT_EQ(r.exit_code, 0);
}

TEST_F(SessionTest, EndlessOutputEndsAtItsTimeout) {
  auto r = run("yes", 2s);
  EXPECT_TRUE(r.timed_out);
  EXPECT_TRUE(r.truncated);
  EXPECT_LE(r.output.size(), (1u << 20) + 100);
  EXPECT_EQ(run("echo alive").output, "alive\n");
}

// Rule 10: execs on different sandboxes run in parallel.
TEST_F(SessionTest, SlowExecDoesNotDelayAnotherSandbox) {
  const std::string other = startSandbox();
  ASSERT_FALSE(other.empty());
  auto slow = std::async(std::launch::async,
                         [&] { return manager_->exec(id_, "sleep 1000", false, 600s); });
  ASSERT_TRUE(waitUntil([&] {
    auto r = manager_->exec(other, "echo quick", false, 10s);
    return r.ok() && r.value().output == "quick\n";
  }));
  EXPECT_EQ(slow.wait_for(0s), std::future_status::timeout);  // still sleeping
  EXPECT_TRUE(manager_->stop(id_, true).ok());  // ends the slow exec
  slow.wait();
}

// Rule 11: every exec is in the trajectory.
TEST_F(SessionTest, TrajectoryRecordsSessionAndStandaloneExecs) {
  run("echo one");
  runStandalone(id_, "echo two");
  run("false");
  auto sandbox = manager_->find(id_);
  ASSERT_TRUE(sandbox.ok());
  const auto entries = sandbox.value()->trajectory();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].command, "echo one");
  EXPECT_EQ(entries[0].result.output, "one\n");
  EXPECT_FALSE(entries[0].standalone);
  EXPECT_TRUE(entries[1].standalone);
  EXPECT_EQ(entries[2].result.exit_code, 1);
}

}  // namespace
}  // namespace grid::testing
