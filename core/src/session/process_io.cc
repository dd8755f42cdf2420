#include "session/process_io.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "session/session_protocol.h"
#include "util/random_token.h"

namespace grid {
namespace {

using namespace std::chrono_literals;

// How long after its deadline a timed-out exec may take to kill its processes and answer.
constexpr auto kAnswerSlack = 900ms;
// A signal helper's own output is a line at most; more is noise and is not kept.
constexpr size_t kHelperOutputCap = 4096;

// Drains a channel until EOF or the deadline; returns false on timeout.
Result<bool> drainUntil(ProcessChannel& channel, Clock::time_point deadline, std::string* sink) {
  while (true) {
    GRID_ASSIGN_OR_RETURN(const ReadResult read, channel.read(deadline));
    switch (read.status) {
      case ReadResult::Status::kEof:
        return true;
      case ReadResult::Status::kTimeout:
        return false;
      case ReadResult::Status::kData:
        if (sink != nullptr && sink->size() < kHelperOutputCap) {
          sink->append(read.data, 0, kHelperOutputCap - sink->size());
        }
        break;
    }
  }
}

std::string killTarget(int pid, bool is_group_leader) {
  return is_group_leader ? "-- -" + std::to_string(pid) : std::to_string(pid);
}

// Runs a short /bin/sh script in the sandbox and returns its exit status.
Result<int> runHelper(SandboxBackend& backend, const std::string& sandbox_id,
                      const std::string& script, Clock::time_point deadline) {
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  GRID_ASSIGN_OR_RETURN(const auto channel, backend.startProcess(sandbox_id, spec));
  std::string output;
  GRID_ASSIGN_OR_RETURN(const bool done, drainUntil(*channel, deadline, &output));
  if (!done) return fail(ErrorCode::kTimeout, "`" + script + "` timed out");
  const auto status = exitCodeBy(*channel, deadline);
  if (!status) return fail(ErrorCode::kUnavailable, "`" + script + "`: exit status unknown");
  if (*status != 0) spdlog::debug("`{}` in {}: status {}: {}", script, sandbox_id, *status, output);
  return *status;
}

}  // namespace

std::optional<int> exitCodeBy(ProcessChannel& channel, Clock::time_point deadline) {
  auto pause = 200us;
  while (true) {
    if (auto status = channel.exitCode()) return status;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, 20ms);
  }
}

Result<void> signalInSandbox(SandboxBackend& backend, const std::string& sandbox_id, int pid,
                             bool is_group_leader, const std::string& signal_name,
                             Clock::time_point deadline) {
  GRID_TRY(runHelper(backend, sandbox_id,
                     "kill -s " + signal_name + " " + killTarget(pid, is_group_leader), deadline));
  return {};
}

Result<bool> killIfRunning(SandboxBackend& backend, const std::string& sandbox_id, int pid,
                           bool is_group_leader, Clock::time_point deadline) {
  const std::string p = std::to_string(pid);
  // State is the field after the command name, which ends at the last ") ".
  GRID_ASSIGN_OR_RETURN(const int status,
                        runHelper(backend, sandbox_id,
                                  "read -r s </proc/" + p +
                                      "/stat || exit 3; s=${s##*) }; "
                                      "case $s in Z*|X*|x*) exit 3;; esac; kill -s KILL " +
                                      killTarget(pid, is_group_leader) + " || exit 4",
                                  deadline));
  if (status == 0) return true;
  if (status == 3) return false;
  return fail(ErrorCode::kInternal,
              "killing process " + p + " in " + sandbox_id + ": status " + std::to_string(status));
}

Result<ExecResult> runStandalone(SandboxBackend& backend, const std::string& sandbox_id,
                                 const std::string& command, const ExecLimits& limits,
                                 ExecListener* listener) {
  const auto started = Clock::now();
  // The wrapper reports its pid (a marker line on stderr) so a timeout can kill its group. It
  // stays the command's parent (`; exit $?` keeps sh from exec'ing into it) and holds the
  // output pipes until the command ends, so EOF means the command is done even if it closed
  // its own stdout and stderr.
  const std::string token = randomHex(16);
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c",
               "printf '%s:pid:%d\\n' '" + token +
                   "' \"$$\" >&2; if command -v bash >/dev/null 2>&1; then bash -c \"$1\"; "
                   "else sh -c \"$1\"; fi; exit $?",
               "grid", command};
  auto opened = backend.startProcess(sandbox_id, spec);
  if (!opened.ok()) return opened.error();
  ProcessChannel& channel = *opened.value();  // valid until the timeout path releases it

  CappedOutput combined(limits.max_output_bytes);
  CappedOutput out(limits.max_output_bytes);
  CappedOutput err(limits.max_output_bytes);
  MarkerScanner stderr_scanner(token);
  int pid = 0;
  bool pid_known = false;
  ExecResult result;
  result.has_split_streams = true;
  const auto deadline = started + limits.timeout;
  auto answer_by = deadline + kAnswerSlack;
  bool eof = false;
  std::string text;
  bool listening = listener != nullptr;
  // A listener that refuses output is gone: the command is then killed as on a timeout.
  auto emit = [&](ExecOutputStream stream, std::string_view data) {
    if (listening && !data.empty() && !listener->onOutput(stream, data)) listening = false;
  };
  while (!eof) {
    // Checked before every read, not only when a read times out: a fast writer always has
    // data ready.
    if (Clock::now() >= deadline) {
      result.timed_out = true;
      break;
    }
    // A listener is asked at short intervals, so a client that went away is noticed also
    // while the command prints nothing.
    const auto read_until =
        listening ? std::min(deadline, Clock::now() + kListenerPollInterval) : deadline;
    GRID_ASSIGN_OR_RETURN(ReadResult chunk, channel.read(read_until));
    if (chunk.status == ReadResult::Status::kEof) {
      eof = true;
    } else if (chunk.status == ReadResult::Status::kTimeout) {
      if (listening && !listener->listening()) listening = false;
    } else if (chunk.stream == OutputStream::kStdout) {
      combined.append(chunk.data);
      out.append(chunk.data);
      emit(ExecOutputStream::kStdout, chunk.data);
    } else {
      text.clear();
      if (!pid_known) {
        if (auto marker = stderr_scanner.feed(chunk.data, text)) {
          pid_known = true;
          pid = std::atoi(marker->fields.c_str());
          text += stderr_scanner.flush();
        }
      } else {
        text = std::move(chunk.data);
      }
      combined.append(text);
      err.append(text);
      emit(ExecOutputStream::kStderr, text);
    }
    if (listener != nullptr && !listening) {
      spdlog::info("{}: live-output client went away; killing the standalone exec", sandbox_id);
      result.interrupted = true;
      break;
    }
  }
  if (!result.timed_out && !result.interrupted) {
    const auto status = exitCodeBy(channel, answer_by);
    if (!status) {
      return fail(ErrorCode::kUnavailable,
                  "lost the command's stream and its exit status is unknown (is the engine "
                  "still running?)");
    }
    result.exit_code = *status;
  } else {
    // Stop reading first: the engine stops pushing the command's output to us and the command
    // blocks on its full pipe, which leaves the CPU to the kill below.
    opened.value().reset();
    if (result.interrupted) answer_by = std::min(answer_by, Clock::now() + kAnswerSlack);
    if (pid > 0) {
      auto killed = signalInSandbox(backend, sandbox_id, pid, true, "KILL", answer_by);
      if (!killed.ok()) {
        spdlog::warn("{}: killing {} exec: {}", sandbox_id,
                     result.timed_out ? "timed-out" : "interrupted", killed.error().message);
      }
    }
    result.exit_code = 137;
  }
  if (!pid_known) {
    const std::string held = stderr_scanner.flush();  // one marker line at most
    combined.append(held);
    err.append(held);
    emit(ExecOutputStream::kStderr, held);
  }
  result.output = combined.str();
  result.stdout_text = out.str();
  result.stderr_text = err.str();
  result.truncated = combined.truncated() || out.truncated() || err.truncated();
  result.duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return result;
}

}  // namespace grid
