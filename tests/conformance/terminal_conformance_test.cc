// GET /sandboxes/{id}/pty on every backend, over a real WebSocket to the API served in this
// process: bytes round trip, the size reaches `stty size`, the agent's session is untouched,
// the shell's exit is reported, a closed socket kills the shell and all it started, and a
// sandbox stop ends the socket.
#include "terminal_test_support.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;

class TerminalTest : public TerminalTestBase {};

TEST_F(TerminalTest, BytesRoundTrip) {
  auto terminal = openShell();
  ASSERT_TRUE(terminal->open());
  terminal->type("printf 'a%sb\\n' $((6*7))\r");
  EXPECT_TRUE(terminal->readUntil("a42b")) << terminal->output();
  // A terminal: a program's stdout is a tty.
  terminal->type("[ -t 1 ] && echo is-a-$((1+1))-tty\r");
  EXPECT_TRUE(terminal->readUntil("is-a-2-tty")) << terminal->output();
}

TEST_F(TerminalTest, InitialSizeAndResizeReachSttySize) {
  auto terminal = openShell("cols=91&rows=27");
  ASSERT_TRUE(terminal->open());
  terminal->type("echo size-$(stty size | tr ' ' x)\r");
  EXPECT_TRUE(terminal->readUntil("size-27x91")) << terminal->output();
  terminal->resize(132, 43);
  terminal->type("echo size-$(stty size | tr ' ' x)\r");
  EXPECT_TRUE(terminal->readUntil("size-43x132")) << terminal->output();
}

TEST_F(TerminalTest, TheSessionIsUntouched) {
  ASSERT_EQ(run("cd /tmp && export GRID_MARK=session && echo ok").exit_code, 0);
  const size_t entries_before = manager_->find(id_).value()->trajectory().size();
  auto terminal = openShell();
  ASSERT_TRUE(terminal->open());
  terminal->type("cd / && export GRID_MARK=terminal && echo moved-$((1+1))\r");
  ASSERT_TRUE(terminal->readUntil("moved-2")) << terminal->output();
  // Session execs while the terminal is open see the session's own state.
  for (int i = 0; i < 3; ++i) {
    const ExecResult state = run("echo \"$(pwd):$GRID_MARK\"");
    EXPECT_EQ(state.exit_code, 0);
    EXPECT_EQ(state.output, "/tmp:session\n");
  }
  terminal->type("echo still-$((2+1))\r");
  EXPECT_TRUE(terminal->readUntil("still-3")) << terminal->output();
  terminal.reset();
  EXPECT_EQ(run("echo \"$(pwd):$GRID_MARK\"").output, "/tmp:session\n");
  // The terminal adds nothing to the trajectory but the execs above.
  EXPECT_EQ(manager_->find(id_).value()->trajectory().size(), entries_before + 4);
  EXPECT_EQ(manager_->find(id_).value()->lifecycle().status(), SandboxStatus::kRunning);
}

TEST_F(TerminalTest, ExitReportsTheShellsStatus) {
  auto terminal = openShell();
  ASSERT_TRUE(terminal->open());
  terminal->type("exit 3\r");
  EXPECT_EQ(terminal->readUntilClosed(), 1000);
  EXPECT_TRUE(terminal->exitReported()) << terminal->messages();
  EXPECT_EQ(terminal->exitCode(), 3) << terminal->messages();
}

TEST_F(TerminalTest, ClosingTheSocketKillsTheShellAndItsChildren) {
  auto terminal = openShell();
  ASSERT_TRUE(terminal->open());
  terminal->type("echo shell-pid-$$-$((1+1))x\r");
  ASSERT_TRUE(terminal->readUntil("-2x")) << terminal->output();
  const std::string& out = terminal->output();
  const size_t at = out.rfind("shell-pid-");
  const int shell_pid = std::atoi(out.c_str() + at + 10);
  ASSERT_GT(shell_pid, 1) << out;
  terminal->type("sleep 4242 & sleep 4343\r");
  ASSERT_TRUE(waitUntil([&] { return processesMatching("sleep 4[2]42|sleep 4[3]43") == 2; }));
  terminal->drop();
  EXPECT_TRUE(waitUntil([&] { return processesMatching("sleep 4[2]42|sleep 4[3]43") == 0; }))
      << "processes of the closed terminal survive";
  // Nor the shell itself.
  EXPECT_TRUE(waitUntil([&] {
    return runStandalone(id_, "[ -d /proc/" + std::to_string(shell_pid) + " ] && echo there")
        .output.empty();
  }));
  // The session lives on.
  EXPECT_EQ(run("echo alive").output, "alive\n");
}

TEST_F(TerminalTest, SandboxStopEndsTheSocket) {
  auto terminal = openShell();
  ASSERT_TRUE(terminal->open());
  terminal->type("sleep 4545\r");
  ASSERT_TRUE(waitUntil([&] { return processesMatching("sleep 4[5]45") == 1; }));
  ASSERT_TRUE(manager_->stop(id_, false).ok());
  EXPECT_EQ(terminal->readUntilClosed(), 1001);
}

TEST_F(TerminalTest, ControlMessagesAreChecked) {
  auto terminal = openShell();
  ASSERT_TRUE(terminal->open());
  terminal->sendText("{\"type\":\"resize\",\"cols\":0,\"rows\":10}");
  terminal->sendText("not json");
  terminal->sendText("{\"type\":\"launch\"}");
  terminal->type("echo after-$((3+4))\r");
  EXPECT_TRUE(terminal->readUntil("after-7")) << terminal->output();
  EXPECT_NE(terminal->messages().find("\"type\":\"error\""), std::string::npos);
  EXPECT_NE(terminal->messages().find("cols"), std::string::npos) << terminal->messages();
  EXPECT_NE(terminal->messages().find("launch"), std::string::npos) << terminal->messages();
}

}  // namespace
}  // namespace grid::testing
