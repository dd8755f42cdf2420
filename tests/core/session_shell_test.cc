// SessionShell's deadlines and restarts against a scripted fake shell: the logic that must hold
// whatever a tenant's shell does (the real shells are covered by the conformance suite).
#include "session/session_shell.h"

#include <gtest/gtest.h>

#include <deque>

#include "session/session_protocol.h"

namespace grid {
namespace {

using namespace std::chrono_literals;

// What the fake shell does once it has read an exec line.
enum class Behaviour {
  kEcho,         // prints "<command>\n" between its start and done markers
  kFlood,        // writes without pause, never reports (ignores SIGINT)
  kCloseStdout,  // its stdout ends at once, the shell lives on
  kDieSilently,  // its stdout ends at once, the shell is dead (exit status 9)
};

struct FakeState {
  Behaviour behaviour = Behaviour::kEcho;
  int shells_started = 0;
  std::vector<std::string> helper_scripts;
};

// Plays `bash -i` reading the session's lines.
class FakeShellChannel : public ProcessChannel {
 public:
  explicit FakeShellChannel(FakeState& state) : state_(state) {}

  Result<void> write(std::string_view data) override {
    if (token_.empty()) {
      // The init script: its first run of 32 hex digits is the token.
      size_t run = 0;
      for (size_t i = 0; i < data.size() && token_.empty(); ++i) {
        const char c = data[i];
        run = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ? run + 1 : 0;
        if (run == 32) token_ = std::string(data.substr(i - 31, 32));
      }
      chunks_.push_back(token_ + ":ready:7:7\n" + token_ + ":done::0\n");
      return {};
    }
    const std::string line(data);
    const size_t space = line.find(' ');
    const std::string nonce = line.substr(space + 1, line.find(';') - space - 1);
    switch (state_.behaviour) {
      case Behaviour::kEcho: {
        const size_t quote = line.find("$'") + 2;
        const std::string command = line.substr(quote, line.find('\'', quote) - quote);
        chunks_.push_back(token_ + ":start:" + nonce + "\n" + command + "\n" + token_ +
                          ":done:" + nonce + ":0\n");
        break;
      }
      case Behaviour::kFlood:
        chunks_.push_back(token_ + ":start:" + nonce + "\n");
        flooding_ = true;
        break;
      case Behaviour::kCloseStdout:
      case Behaviour::kDieSilently:
        eof_ = true;
        break;
    }
    return {};
  }
  void closeStdin() override {}
  Result<ReadResult> read(Clock::time_point) override {
    ReadResult r;
    if (!chunks_.empty()) {
      r.status = ReadResult::Status::kData;
      r.data = std::move(chunks_.front());
      chunks_.pop_front();
    } else if (flooding_) {
      r.status = ReadResult::Status::kData;
      r.data.assign(64 * 1024, 'y');
    } else if (eof_) {
      r.status = ReadResult::Status::kEof;
    }
    return r;  // kTimeout otherwise: this fake answers at once, never waits
  }
  std::optional<int> exitCode() override {
    // A live shell's status cannot be known: a channel that blocked here would hang the exec.
    if (state_.behaviour == Behaviour::kCloseStdout) ADD_FAILURE() << "asked a live shell";
    return 9;
  }

 private:
  FakeState& state_;
  std::string token_;
  std::deque<std::string> chunks_;
  bool flooding_ = false;
  bool eof_ = false;
};

// The short helpers the core runs in the sandbox (kill, liveness check): they succeed, and the
// liveness check says whether the shell still runs.
class FakeHelperChannel : public ProcessChannel {
 public:
  explicit FakeHelperChannel(int status) : status_(status) {}
  Result<void> write(std::string_view) override { return {}; }
  void closeStdin() override {}
  Result<ReadResult> read(Clock::time_point) override {
    ReadResult r;
    r.status = ReadResult::Status::kEof;
    return r;
  }
  std::optional<int> exitCode() override { return status_; }

 private:
  int status_;
};

class FakeBackend : public SandboxBackend {
 public:
  std::string name() const override { return "fake"; }
  Result<void> init(const BackendConfig&) override { return {}; }
  Result<std::vector<std::string>> removeLeftovers() override { return std::vector<std::string>{}; }
  Result<void> createSandbox(const SandboxSpec&) override { return {}; }
  Result<std::unique_ptr<ProcessChannel>> startProcess(const std::string&,
                                                       const ProcessSpec& spec) override {
    if (spec.attach_stdin) {
      ++state.shells_started;
      return std::unique_ptr<ProcessChannel>(new FakeShellChannel(state));
    }
    state.helper_scripts.push_back(spec.argv.back());
    // The liveness check exits 3 for a process that is gone.
    const bool dead = state.behaviour == Behaviour::kDieSilently &&
                      spec.argv.back().find("/stat") != std::string::npos;
    return std::unique_ptr<ProcessChannel>(new FakeHelperChannel(dead ? 3 : 0));
  }
  Result<void> destroySandbox(const std::string&) override { return {}; }

  FakeState state;
};

std::unique_ptr<SessionShell> openShell(FakeBackend& backend) {
  auto opened = SessionShell::open(backend, "sandbox");
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  return opened.ok() ? std::move(opened.value()) : nullptr;
}

TEST(SessionShellTest, EachExecGetsItsOwnOutput) {
  FakeBackend backend;
  auto shell = openShell(backend);
  ASSERT_TRUE(shell);
  for (const std::string word : {"one", "two", "three"}) {
    auto r = shell->run(word, ExecLimits{});
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r.value().output, word + "\n");
    EXPECT_EQ(r.value().exit_code, 0);
  }
}

// A writer that never pauses: the read loop checks the deadline between reads, so the exec
// ends at its timeout, and a shell that does not report after SIGINT is replaced.
TEST(SessionShellTest, FastWriterEndsAtItsTimeoutAndTheShellIsReplaced) {
  FakeBackend backend;
  auto shell = openShell(backend);
  ASSERT_TRUE(shell);
  backend.state.behaviour = Behaviour::kFlood;
  ExecLimits limits;
  limits.timeout = 200ms;
  limits.max_output_bytes = 1024;
  const auto started = Clock::now();
  auto r = shell->run("yes", limits);
  const auto took = Clock::now() - started;
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r.value().timed_out);
  EXPECT_TRUE(r.value().session_restarted);
  EXPECT_TRUE(r.value().truncated);
  EXPECT_LE(r.value().output.size(), 1024u + 64);
  EXPECT_LT(took, 10s);  // hang detection only; the contract is timeout + 1 s
  ASSERT_EQ(backend.state.helper_scripts.size(), 2u);
  EXPECT_NE(backend.state.helper_scripts[0].find("kill -s INT -- -7"), std::string::npos);
  EXPECT_NE(backend.state.helper_scripts[1].find("kill -s KILL -- -7"), std::string::npos);
  EXPECT_TRUE(shell->alive());

  backend.state.behaviour = Behaviour::kEcho;
  auto next = shell->run("fresh", ExecLimits{});
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next.value().output, "fresh\n");
  EXPECT_EQ(backend.state.shells_started, 2);
}

// Stdout ended while the shell lives on (`exec >&-` where EOF reaches us): the shell is killed
// and replaced, and its exit status is never asked for (that could wait on the tenant).
TEST(SessionShellTest, StdoutClosedByALiveShellRestartsIt) {
  FakeBackend backend;
  auto shell = openShell(backend);
  ASSERT_TRUE(shell);
  backend.state.behaviour = Behaviour::kCloseStdout;
  auto r = shell->run("exec >&-", ExecLimits{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r.value().session_restarted);
  EXPECT_FALSE(r.value().exited);
  EXPECT_EQ(r.value().exit_code, 137);
  backend.state.behaviour = Behaviour::kEcho;
  auto next = shell->run("again", ExecLimits{});
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next.value().output, "again\n");
}

// Stdout ended because the shell died without its exit trap (`kill -9 $$`): the session ends
// with the shell's status.
TEST(SessionShellTest, ShellDeathWithoutMarkerEndsTheSession) {
  FakeBackend backend;
  auto shell = openShell(backend);
  ASSERT_TRUE(shell);
  backend.state.behaviour = Behaviour::kDieSilently;
  auto r = shell->run("kill -9 $$", ExecLimits{});
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r.value().exited);
  EXPECT_EQ(r.value().exit_code, 9);
  EXPECT_FALSE(shell->alive());
  auto next = shell->run("true", ExecLimits{});
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.error().code, ErrorCode::kConflict);
}

}  // namespace
}  // namespace grid
