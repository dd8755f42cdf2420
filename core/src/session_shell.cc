#include "session_shell.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "process_io.h"
#include "random_token.h"
#include "session_protocol.h"

namespace grid {
namespace {

using namespace std::chrono_literals;

constexpr auto kStartTimeout = 20s;
// After SIGINT the marker line normally follows within milliseconds; past this the shell is
// deemed stuck (it ignores SIGINT, or is blocked) and is killed.
constexpr auto kInterruptGrace = 1000ms;
constexpr auto kKillGrace = 500ms;

// bash is looked up on PATH; its own stderr (prompts, job-control notices) is discarded, while
// each command's stderr is merged into stdout by the exec script.
constexpr const char* kLaunchScript =
    "if ! command -v bash >/dev/null 2>&1; then echo 'bash is not installed in this image' >&2;"
    " exit 127; fi; exec bash --noprofile --norc -i 2>/dev/null";

double millisSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

Result<std::unique_ptr<SessionShell>> SessionShell::open(SandboxBackend& backend,
                                                         std::string sandbox_id) {
  std::unique_ptr<SessionShell> shell(new SessionShell(backend, std::move(sandbox_id)));
  auto started = shell->start();
  if (!started.ok()) return started.error();
  return shell;
}

Result<void> SessionShell::start() {
  channel_.reset();
  shell_pid_ = 0;
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", kLaunchScript};
  spec.attach_stdin = true;
  auto opened = backend_.startProcess(sandbox_id_, spec);
  if (!opened.ok()) return opened.error();
  auto channel = std::move(opened.value());
  token_ = randomHex(16);
  if (auto written = channel->write(sessionInitScript(token_)); !written.ok()) {
    return written.error();
  }
  MarkerScanner scanner(token_);
  std::string noise;
  std::string stderr_text;
  const auto deadline = Clock::now() + kStartTimeout;
  while (true) {
    auto read = channel->read(deadline);
    if (!read.ok()) return read.error();
    const ReadResult& chunk = read.value();
    if (chunk.status == ReadResult::Status::kTimeout) {
      return fail(ErrorCode::kTimeout, "session shell did not start within 20 s");
    }
    if (chunk.status == ReadResult::Status::kEof) {
      return fail(ErrorCode::kInternal,
                  "session shell exited at start (status " +
                      std::to_string(channel->exitCode().value_or(-1)) + ")" +
                      (stderr_text.empty() ? "" : ": " + stderr_text));
    }
    if (chunk.stream == OutputStream::kStderr) {
      stderr_text += chunk.data;
      continue;
    }
    // The shell reports its pid ("ready"), then its first prompt prints "done": from then on
    // it waits for commands. Both may arrive in one read.
    std::string_view data = chunk.data;
    while (auto marker = scanner.feed(data, noise)) {
      data = {};
      if (marker->kind == "ready") {
        const std::string& fields = marker->fields;
        shell_pid_ = std::atoi(fields.c_str());
        const size_t colon = fields.find(':');
        const int pgid = colon == std::string::npos ? 0 : std::atoi(fields.c_str() + colon + 1);
        shell_leads_group_ = pgid == shell_pid_;
        if (!shell_leads_group_) {
          spdlog::warn("{}: session shell {} leads no process group (pgid {}): timeouts can "
                       "only interrupt the shell itself", sandbox_id_, shell_pid_, pgid);
        }
      } else if (marker->kind == "done" && shell_pid_ != 0) {
        channel_ = std::move(channel);
        return {};
      }
    }
  }
}

Result<void> SessionShell::signalShell(const std::string& signal_name) {
  return signalInSandbox(backend_, sandbox_id_, shell_pid_, shell_leads_group_, signal_name);
}

Result<ExecResult> SessionShell::run(std::string_view command, const ExecLimits& limits) {
  if (!channel_) return fail(ErrorCode::kConflict, "the session has ended");
  const auto started = Clock::now();
  ExecResult result;
  CappedOutput output(limits.max_output_bytes);
  MarkerScanner scanner(token_);

  auto finish = [&]() {
    result.output = output.str();
    result.truncated = output.truncated();
    result.duration_ms = millisSince(started);
    return result;
  };
  auto shellEnded = [&](int status) {
    output.append(scanner.flush());
    result.exited = true;
    result.exit_code = status;
    channel_.reset();
  };

  if (auto written = channel_->write(sessionExecScript(command)); !written.ok()) {
    // A shell that has died leaves a broken pipe: report it as an ended session.
    shellEnded(channel_->exitCode().value_or(-1));
    return finish();
  }

  enum class Phase { kRunning, kInterrupted, kKilled };
  Phase phase = Phase::kRunning;
  auto deadline = started + limits.timeout;
  std::string text;
  while (true) {
    auto read = channel_->read(deadline);
    if (!read.ok()) {
      channel_.reset();
      return read.error();
    }
    ReadResult& chunk = read.value();
    if (chunk.status == ReadResult::Status::kData) {
      text.clear();
      auto marker = scanner.feed(chunk.data, text);
      output.append(text);
      if (!marker) continue;
      if (marker->kind == "done") {
        result.exit_code = std::atoi(marker->fields.c_str());
        return finish();
      }
      if (marker->kind == "exit") {
        shellEnded(std::atoi(marker->fields.c_str()));
        finish();
        // The `exit` builtin of an interactive bash announces itself on stderr, which the exec
        // script merged into the output; it is the shell's noise, not the command's.
        constexpr std::string_view kAnnouncement = "exit\n";
        if (result.output.size() >= kAnnouncement.size() &&
            result.output.compare(result.output.size() - kAnnouncement.size(),
                                  kAnnouncement.size(), kAnnouncement) == 0) {
          result.output.resize(result.output.size() - kAnnouncement.size());
        }
        return result;
      }
      continue;
    }
    if (chunk.status == ReadResult::Status::kEof) {
      if (phase == Phase::kKilled) break;
      const auto status = channel_->exitCode();
      if (!status) {
        // The stream ended but nobody can say how the shell did: the engine itself went away.
        channel_.reset();
        return fail(ErrorCode::kUnavailable,
                    "lost the session shell's stream and its exit status is unknown (is the "
                    "engine still running?); the session has ended");
      }
      shellEnded(*status);
      return finish();
    }
    // Deadline passed.
    if (phase == Phase::kRunning) {
      result.timed_out = true;
      phase = Phase::kInterrupted;
      deadline = Clock::now() + kInterruptGrace;
      if (auto sent = signalShell("INT"); !sent.ok()) {
        spdlog::warn("{}: interrupting timed-out exec: {}", sandbox_id_, sent.error().message);
      }
    } else if (phase == Phase::kInterrupted) {
      phase = Phase::kKilled;
      deadline = Clock::now() + kKillGrace;
      spdlog::warn("{}: session shell ignored SIGINT; killing and restarting it", sandbox_id_);
      if (auto sent = signalShell("KILL"); !sent.ok()) {
        spdlog::warn("{}: killing stuck session shell: {}", sandbox_id_, sent.error().message);
      }
    } else {
      break;
    }
  }
  // The shell was killed: replace it so the sandbox stays usable (its state is lost).
  output.append(scanner.flush());
  result.exit_code = 137;
  result.session_restarted = true;
  if (auto restarted = start(); !restarted.ok()) {
    spdlog::error("{}: restarting session shell: {}", sandbox_id_, restarted.error().message);
    channel_.reset();
    result.exited = true;
    result.session_restarted = false;
  }
  return finish();
}

}  // namespace grid
