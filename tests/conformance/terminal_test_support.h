// A sandbox with the API served over real HTTP in this process, for the terminal tests.
#pragma once

#include <memory>
#include <string>

#include "conformance_fixture.h"
#include "live_output_client.h"
#include "terminal_client.h"

namespace grid::testing {

class TerminalTestBase : public OneSandboxTest {
 protected:
  void SetUp() override {
    OneSandboxTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    ProcessSpec probe;
    probe.argv = {"/bin/true"};
    probe.tty = TerminalSize{80, 24};
    if (auto opened = backend().startProcess(id_, probe);
        !opened.ok() && opened.error().code == ErrorCode::kUnsupported) {
      GTEST_SKIP() << opened.error().message;
    }
    api_ = std::make_unique<InProcessApi>(*manager_);
    ASSERT_TRUE(api_->ok());
  }
  void TearDown() override {
    api_.reset();
    OneSandboxTest::TearDown();
  }

  /// Opens a terminal and waits for the shell to take input (a marker echoed back).
  std::unique_ptr<TerminalClient> openShell(const std::string& query = "") {
    auto terminal = std::make_unique<TerminalClient>(api_->port(), id_, query);
    EXPECT_EQ(terminal->status(), 101);
    if (!terminal->open()) return terminal;
    // The marker is computed by the shell, so its echo of the typed line does not match.
    terminal->type("echo ready-$((40+2))\r");
    EXPECT_TRUE(terminal->readUntil("ready-42")) << terminal->output();
    return terminal;
  }

  /// Processes in the sandbox whose command line matches the extended regex `pattern` (write
  /// it so that it does not match itself, e.g. "sleep 4[2]42").
  int processesMatching(const std::string& pattern) {
    const ExecResult listed =
        runStandalone(id_,
                      "n=0; for d in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $d/cmdline 2>/dev/null); "
                      "if echo \"$c\" | grep -Eq '" +
                          pattern + "'; then n=$((n+1)); fi; done; echo n=$n");
    const size_t at = listed.output.find("n=");
    return at == std::string::npos ? -1 : std::atoi(listed.output.c_str() + at + 2);
  }

  std::unique_ptr<InProcessApi> api_;
};

}  // namespace grid::testing
