#include "session/session_shell.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

#include "session/process_io.h"
#include "session/session_protocol.h"
#include "util/random_token.h"

namespace grid {
namespace {

using namespace std::chrono_literals;

constexpr auto kStartTimeout = 20s;
// Timing of a timeout, from the exec's deadline: SIGINT at once; the marker line normally
// follows within milliseconds, and past kInterruptGrace the shell is deemed stuck (it ignores
// SIGINT, is blocked, or closed its stdout) and is killed; the exec answers by kAnswerSlack.
constexpr auto kInterruptGrace = 500ms;
constexpr auto kAnswerSlack = 900ms;
// The SIGINT travels through a process started in the sandbox, which a loaded machine (or
// gVisor) can make slow: however late it arrives, the shell gets this long to report before
// it counts as stuck, and the kill this long after that.
constexpr auto kReportWindow = 250ms;
constexpr auto kKillWindow = 400ms;
// What the launcher may print on stderr before bash starts (an error message) is kept up to
// this size for the start-up error.
constexpr size_t kStartErrorCap = 4096;
// Bytes of a per-exec nonce (as hex, twice as many characters).
constexpr size_t kNonceBytes = 8;

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
  GRID_TRY(shell->start());
  return shell;
}

ProcessSpec SessionShell::launchSpec() {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", kLaunchScript};
  spec.attach_stdin = true;
  return spec;
}

Result<void> SessionShell::start() {
  channel_.reset();
  restart_pending_ = false;
  shell_pid_ = 0;
  // The backend may have started the shell with the sandbox (SandboxSpec::initial_process);
  // that one is handed over once, and later starts are processes of their own.
  GRID_ASSIGN_OR_RETURN(auto channel, backend_.takeInitialProcess(sandbox_id_));
  if (!channel) {
    GRID_ASSIGN_OR_RETURN(channel, backend_.startProcess(sandbox_id_, launchSpec()));
  }
  token_ = randomHex(16);
  GRID_TRY(channel->write(sessionInitScript(token_)));
  MarkerScanner scanner(token_);
  std::string noise;  // scratch: what the shell prints before it is ready is dropped
  std::string stderr_text;
  const auto deadline = Clock::now() + kStartTimeout;
  while (true) {
    // Checked before every read: a launcher that writes without pause must still time out.
    if (Clock::now() >= deadline) {
      return fail(ErrorCode::kTimeout, "session shell did not start within 20 s");
    }
    GRID_ASSIGN_OR_RETURN(const ReadResult chunk, channel->read(deadline));
    if (chunk.status == ReadResult::Status::kTimeout) continue;
    if (chunk.status == ReadResult::Status::kEof) {
      const auto status = exitCodeBy(*channel, Clock::now() + 1s);
      return fail(ErrorCode::kInternal, "session shell exited at start (status " +
                                            std::to_string(status.value_or(-1)) + ")" +
                                            (stderr_text.empty() ? "" : ": " + stderr_text));
    }
    if (chunk.stream == OutputStream::kStderr) {
      if (stderr_text.size() < kStartErrorCap) {
        stderr_text.append(chunk.data, 0, kStartErrorCap - stderr_text.size());
      }
      continue;
    }
    // The shell reports its pid ("ready"), then its first prompt prints "done": from then on
    // it waits for commands. Both may arrive in one read.
    std::string_view data = chunk.data;
    while (auto marker = scanner.feed(data, noise)) {
      data = {};
      noise.clear();
      if (marker->kind == "ready") {
        const std::string& fields = marker->fields;
        shell_pid_ = std::atoi(fields.c_str());
        const size_t colon = fields.find(':');
        const int pgid = colon == std::string::npos ? 0 : std::atoi(fields.c_str() + colon + 1);
        shell_leads_group_ = pgid == shell_pid_;
        if (!shell_leads_group_) {
          spdlog::warn(
              "{}: session shell {} leads no process group (pgid {}): timeouts can "
              "only interrupt the shell itself",
              sandbox_id_, shell_pid_, pgid);
        }
      } else if (marker->kind == "done" && shell_pid_ != 0) {
        channel_ = std::move(channel);
        return {};
      }
    }
    noise.clear();
  }
}

Result<void> SessionShell::signalShell(const std::string& signal_name, Clock::time_point deadline) {
  return signalInSandbox(backend_, sandbox_id_, shell_pid_, shell_leads_group_, signal_name,
                         deadline);
}

void SessionShell::killForRestart(Clock::time_point deadline) {
  // Stop reading first: the engine stops pushing output to us and a writer blocks on its full
  // pipe, which leaves the CPU to the kill. Closing the shell's stdin also ends a shell that
  // still reads it; whatever remains is the sandbox's own and goes with it.
  channel_.reset();
  restart_pending_ = true;
  if (auto sent = signalShell("KILL", deadline); !sent.ok()) {
    spdlog::warn("{}: killing session shell {}: {}", sandbox_id_, shell_pid_, sent.error().message);
  }
}

Result<ExecResult> SessionShell::run(std::string_view command, const ExecLimits& limits,
                                     ExecListener* listener) {
  if (restart_pending_) {
    if (auto restarted = start(); !restarted.ok()) {
      channel_.reset();
      restart_pending_ = false;
      return fail(
          restarted.error().code,
          "restarting the session shell: " + restarted.error().message + "; the session has ended");
    }
  }
  if (!channel_) return fail(ErrorCode::kConflict, "the session has ended");
  const auto started = Clock::now();
  const auto deadline = started + limits.timeout;
  auto answer_by = deadline + kAnswerSlack;
  ExecResult result;
  const std::string nonce = randomHex(kNonceBytes);
  ExecTranscript transcript(token_, nonce, limits.max_output_bytes);

  // Once the listener is gone (or the exec is interrupted anyway), output is only collected.
  bool listening = listener != nullptr;
  // What the transcript decided on at the end of the stream (held-back bytes) still goes out.
  auto flushTranscript = [&]() {
    transcript.flush();
    if (listening && !transcript.released().empty()) {
      listening = listener->onOutput(ExecOutputStream::kOutput, transcript.released());
    }
  };
  auto finish = [&]() {
    result.output = transcript.output().str();
    result.truncated = transcript.output().truncated();
    result.duration_ms = millisSince(started);
    return result;
  };
  auto shellEnded = [&](int status) {
    flushTranscript();
    result.exited = true;
    result.exit_code = status;
    channel_.reset();
  };
  // The stream ended (or stdin broke) without this exec's exit marker: the shell died, or it
  // closed its stdout and lives on. Never wait on a live shell: kill it if it still runs.
  auto streamEnded = [&]() -> Result<ExecResult> {
    flushTranscript();
    const auto bound = std::max(answer_by, Clock::now() + 1s);
    auto killed = killIfRunning(backend_, sandbox_id_, shell_pid_, shell_leads_group_, bound);
    if (!killed.ok()) {
      // Nobody can tell whether the shell lives (the sandbox or the engine went away, or the
      // sandbox does not run a helper in time); asking its status might wait on it.
      channel_.reset();
      return fail(killed.error().code == ErrorCode::kTimeout ? ErrorCode::kTimeout
                                                             : ErrorCode::kUnavailable,
                  "lost the session shell's stream and could not check on the shell (is the "
                  "engine still running?): " +
                      killed.error().message + "; the session has ended");
    }
    if (killed.value()) {
      // It lived on with its stdout closed: replaced.
      spdlog::info("{}: session shell {} closed its output; replaced", sandbox_id_, shell_pid_);
      channel_.reset();
      restart_pending_ = true;
      result.exit_code = 137;
      result.session_restarted = true;
      return finish();
    }
    const auto status = exitCodeBy(*channel_, bound);
    if (!status) {
      // The stream ended but nobody can say how the shell did: the engine itself went away.
      channel_.reset();
      return fail(ErrorCode::kUnavailable,
                  "lost the session shell's stream and its exit status is unknown (is the "
                  "engine still running?); the session has ended");
    }
    shellEnded(*status);
    return finish();
  };

  if (auto written = channel_->write(sessionExecScript(nonce, command)); !written.ok()) {
    return streamEnded();
  }

  bool interrupted = false;
  auto phase_deadline = deadline;
  // Ctrl-C, as for a timeout: SIGINT now, and the shell gets kInterruptGrace to report.
  auto interrupt = [&]() {
    interrupted = true;
    phase_deadline = Clock::now() + kInterruptGrace;
    if (auto sent = signalShell("INT", phase_deadline); !sent.ok()) {
      spdlog::warn("{}: interrupting exec: {}", sandbox_id_, sent.error().message);
    }
    phase_deadline = std::max(phase_deadline, Clock::now() + kReportWindow);
    answer_by = std::max(answer_by, phase_deadline + kKillWindow);
  };
  auto listenerGone = [&]() {
    listening = false;
    if (interrupted) return;
    spdlog::info("{}: live-output client went away; interrupting the exec", sandbox_id_);
    result.interrupted = true;
    interrupt();
  };
  while (true) {
    // Checked before every read, not only when a read times out: a fast writer always has
    // data ready.
    if (Clock::now() >= phase_deadline) {
      if (interrupted) {
        spdlog::warn(
            "{}: session shell {} did not report within {} ms of SIGINT; killing and "
            "replacing it",
            sandbox_id_, shell_pid_, kInterruptGrace.count());
        flushTranscript();
        killForRestart(answer_by);
        result.exit_code = 137;
        result.session_restarted = true;
        return finish();
      }
      result.timed_out = true;
      interrupt();
      continue;
    }
    // A listener is asked at short intervals, so a client that went away is noticed also
    // while the command prints nothing.
    const auto read_until =
        listening ? std::min(phase_deadline, Clock::now() + kListenerPollInterval) : phase_deadline;
    auto read = channel_->read(read_until);
    if (!read.ok()) {
      channel_.reset();
      return read.error();
    }
    const ReadResult& chunk = read.value();
    if (chunk.status == ReadResult::Status::kTimeout) {
      if (listening && !listener->listening()) listenerGone();
      continue;
    }
    if (chunk.status == ReadResult::Status::kEof) return streamEnded();
    // The shell's own stderr goes to /dev/null; this is only the launcher's, before bash ran.
    if (chunk.stream != OutputStream::kStdout) continue;
    const auto end = transcript.feed(chunk.data);
    if (listening && !transcript.released().empty() &&
        !listener->onOutput(ExecOutputStream::kOutput, transcript.released())) {
      listenerGone();
    }
    if (!end) continue;
    if (!end->exited) {
      result.exit_code = end->status;
      return finish();
    }
    shellEnded(end->status);
    finish();
    // The `exit` builtin of an interactive bash announces itself on stderr, which the exec
    // script merged into the output; it is the shell's noise, not the command's.
    constexpr std::string_view kAnnouncement = "exit\n";
    if (result.output.size() >= kAnnouncement.size() &&
        result.output.compare(result.output.size() - kAnnouncement.size(), kAnnouncement.size(),
                              kAnnouncement) == 0) {
      result.output.resize(result.output.size() - kAnnouncement.size());
    }
    return result;
  }
}

}  // namespace grid
