#include "process_io.h"

#include <spdlog/spdlog.h>

#include "random_token.h"
#include "session_protocol.h"

namespace grid {
namespace {

using namespace std::chrono_literals;

constexpr auto kSignalTimeout = 5s;

// Drains a channel until EOF or the deadline; returns false on timeout.
Result<bool> drainUntil(ProcessChannel& channel, Clock::time_point deadline, std::string* sink) {
  while (true) {
    auto read = channel.read(deadline);
    if (!read.ok()) return read.error();
    switch (read.value().status) {
      case ReadResult::Status::kEof: return true;
      case ReadResult::Status::kTimeout: return false;
      case ReadResult::Status::kData:
        if (sink != nullptr) sink->append(read.value().data);
        break;
    }
  }
}

}  // namespace

Result<void> signalInSandbox(SandboxBackend& backend, const std::string& sandbox_id, int pid,
                             bool is_group_leader, const std::string& signal_name) {
  const std::string target = is_group_leader ? "-- -" + std::to_string(pid)
                                             : std::to_string(pid);
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "kill -s " + signal_name + " " + target};
  auto channel = backend.startProcess(sandbox_id, spec);
  if (!channel.ok()) return channel.error();
  std::string output;
  auto done = drainUntil(*channel.value(), Clock::now() + kSignalTimeout, &output);
  if (!done.ok()) return done.error();
  if (!done.value()) return fail(ErrorCode::kTimeout, "kill -s " + signal_name + " timed out");
  const auto status = channel.value()->exitCode();
  if (status.value_or(0) != 0) {
    spdlog::debug("kill -s {} {} in {}: status {}: {}", signal_name, target, sandbox_id,
                  *status, output);
  }
  return {};
}

Result<ExecResult> runStandalone(SandboxBackend& backend, const std::string& sandbox_id,
                                 const std::string& command, const ExecLimits& limits) {
  const auto started = Clock::now();
  // The wrapper reports its pid (a marker line on stderr) so a timeout can kill its group.
  const std::string token = randomHex(16);
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c",
               "printf '%s:pid:%d\\n' '" + token +
                   "' \"$$\" >&2; if command -v bash >/dev/null 2>&1; then exec bash -c \"$1\"; "
                   "else exec sh -c \"$1\"; fi",
               "grid", command};
  auto opened = backend.startProcess(sandbox_id, spec);
  if (!opened.ok()) return opened.error();
  ProcessChannel& channel = *opened.value();

  CappedOutput combined(limits.max_output_bytes);
  CappedOutput out(limits.max_output_bytes);
  CappedOutput err(limits.max_output_bytes);
  MarkerScanner stderr_scanner(token);
  int pid = 0;
  bool pid_known = false;
  ExecResult result;
  result.has_split_streams = true;
  const auto deadline = started + limits.timeout;
  bool eof = false;
  while (!eof) {
    auto read = channel.read(deadline);
    if (!read.ok()) return read.error();
    ReadResult& chunk = read.value();
    if (chunk.status == ReadResult::Status::kEof) {
      eof = true;
    } else if (chunk.status == ReadResult::Status::kTimeout) {
      result.timed_out = true;
      break;
    } else if (chunk.stream == OutputStream::kStdout) {
      combined.append(chunk.data);
      out.append(chunk.data);
    } else {
      std::string text;
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
    }
  }
  if (result.timed_out) {
    if (pid > 0) {
      auto killed = signalInSandbox(backend, sandbox_id, pid, true, "KILL");
      if (!killed.ok()) spdlog::warn("{}: killing timed-out exec: {}", sandbox_id, killed.error().message);
    }
    result.exit_code = 137;
  } else if (const auto status = channel.exitCode()) {
    result.exit_code = *status;
  } else {
    return fail(ErrorCode::kUnavailable,
                "lost the command's stream and its exit status is unknown (is the engine still "
                "running?)");
  }
  result.output = combined.str();
  result.stdout_text = out.str();
  result.stderr_text = err.str();
  result.truncated = combined.truncated() || out.truncated() || err.truncated();
  result.duration_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return result;
}

}  // namespace grid
