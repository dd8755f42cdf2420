#include "session/terminal_shell.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>
#include <utility>

#include "session/process_io.h"
#include "util/random_token.h"

namespace grid {
namespace {

// The pid line comes first; anything longer before it is not our wrapper speaking.
constexpr size_t kMaxPidLineSearch = 4096;
// Killing what is left of a closed terminal's session.
constexpr auto kKillTimeout = std::chrono::seconds(10);

// argv: [sh, -c, script, grid-terminal, token, term, cols, rows]: $0 names it. The size is
// also set from inside before the shell starts: an engine sets it only once the exec runs, and
// a shell that started on a 0x0 terminal may draw its first prompt out of sight.
constexpr char kShellScript[] =
    "printf '%s:pid:%d\\n' \"$1\" \"$$\"\n"
    "stty cols \"$3\" rows \"$4\" 2>/dev/null\n"
    "export TERM=\"$2\"\n"
    "cd \"${HOME:-/}\" 2>/dev/null || cd /\n"
    "if command -v bash >/dev/null 2>&1; then exec bash -l; fi\n"
    "exec sh -l\n";

}  // namespace

Result<void> checkTerminalSize(TerminalSize size) {
  if (size.cols < 1 || size.rows < 1 || size.cols > kMaxTerminalCells ||
      size.rows > kMaxTerminalCells) {
    return fail(ErrorCode::kInvalidArgument, "terminal size " + std::to_string(size.cols) + "x" +
                                                 std::to_string(size.rows) +
                                                 " is out of range: cols and rows must be 1.." +
                                                 std::to_string(kMaxTerminalCells));
  }
  return {};
}

Result<void> checkTerminalName(std::string_view term) {
  bool valid = !term.empty() && term.size() <= 64;
  for (char c : term) {
    valid = valid && (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' ||
                      c == '+' || c == '-');
  }
  if (!valid) {
    return fail(ErrorCode::kInvalidArgument,
                "term must be 1 to 64 characters of A-Z a-z 0-9 . _ + - (like xterm-256color)");
  }
  return {};
}

std::vector<std::string> terminalShellArgv(const std::string& token, const std::string& term,
                                           TerminalSize size) {
  return {"/bin/sh",
          "-c",
          kShellScript,
          "grid-terminal",
          token,
          term,
          std::to_string(size.cols),
          std::to_string(size.rows)};
}

std::string killSessionCommand(int sid) {
  // Zombies keep their session in /proc until reaped: they are skipped, not counted. The
  // shell itself is matched by pid too, for an engine that did not make it a session leader.
  return "sid=" + std::to_string(sid) +
         "\n"
         "for round in 1 2 3 4 5; do\n"
         "  found=\n"
         "  for d in /proc/[0-9]*; do\n"
         "    p=${d#/proc/}\n"
         "    [ \"$p\" = \"$$\" ] && continue\n"
         "    { read -r st < \"$d/stat\"; } 2>/dev/null || continue\n"
         "    st=${st##*) }\n"
         "    set -- $st\n"
         "    [ \"$1\" = Z ] && continue\n"
         "    if [ \"$4\" = \"$sid\" ] || [ \"$p\" = \"$sid\" ]; then\n"
         "      kill -9 \"$p\" 2>/dev/null; found=1\n"
         "    fi\n"
         "  done\n"
         "  [ -z \"$found\" ] && exit 0\n"
         "  sleep 0.1 2>/dev/null\n"
         "done\n"
         "exit 1\n";
}

std::optional<int> parseShellPidLine(std::string_view output, const std::string& token,
                                     std::string* rest) {
  const std::string marker = token + ":pid:";
  const size_t at = output.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  size_t i = at + marker.size();
  long pid = 0;
  size_t digits = 0;
  while (i < output.size() && std::isdigit(static_cast<unsigned char>(output[i])) != 0 &&
         digits < 9) {
    pid = pid * 10 + (output[i] - '0');
    ++i;
    ++digits;
  }
  // A terminal turns "\n" into "\r\n".
  if (i < output.size() && output[i] == '\r') ++i;
  if (i >= output.size() || output[i] != '\n' || digits == 0 || pid <= 1) return std::nullopt;
  *rest = std::string(output.substr(i + 1));
  return static_cast<int>(pid);
}

Result<std::unique_ptr<TerminalShell>> TerminalShell::start(SandboxBackend& backend,
                                                            const std::string& sandbox_id,
                                                            const TerminalOptions& options,
                                                            Clock::time_point deadline) {
  GRID_TRY(checkTerminalSize(options.size));
  GRID_TRY(checkTerminalName(options.term));
  const std::string token = "grid-terminal-" + randomHex(8);
  ProcessSpec spec;
  spec.argv = terminalShellArgv(token, options.term, options.size);
  spec.attach_stdin = true;
  spec.tty = options.size;
  GRID_ASSIGN_OR_RETURN(auto channel, backend.startProcess(sandbox_id, spec));
  std::string seen;
  for (;;) {
    GRID_ASSIGN_OR_RETURN(ReadResult step, channel->read(deadline));
    if (step.status == ReadResult::Status::kData) {
      seen += step.data;
      std::string rest;
      if (auto pid = parseShellPidLine(seen, token, &rest)) {
        return std::unique_ptr<TerminalShell>(
            new TerminalShell(backend, sandbox_id, std::move(channel), *pid, std::move(rest)));
      }
      if (seen.size() <= kMaxPidLineSearch) continue;
      return fail(ErrorCode::kInternal, "terminal shell: no pid line in its first " +
                                            std::to_string(kMaxPidLineSearch) + " bytes");
    }
    if (step.status == ReadResult::Status::kEof) {
      return fail(ErrorCode::kInternal, "terminal shell ended before it started");
    }
    return fail(ErrorCode::kTimeout, "terminal shell did not start in time");
  }
}

TerminalShell::TerminalShell(SandboxBackend& backend, std::string sandbox_id,
                             std::unique_ptr<ProcessChannel> channel, int pid, std::string pending)
    : backend_(backend),
      sandbox_id_(std::move(sandbox_id)),
      channel_(std::move(channel)),
      pid_(pid),
      pending_(std::move(pending)) {}

TerminalShell::~TerminalShell() { close(); }

Result<ReadResult> TerminalShell::read(Clock::time_point deadline) {
  if (!pending_.empty()) {
    ReadResult result;
    result.status = ReadResult::Status::kData;
    result.data = std::move(pending_);
    pending_.clear();
    return result;
  }
  return channel_->read(deadline);
}

Result<void> TerminalShell::write(std::string_view data) { return channel_->write(data); }

Result<void> TerminalShell::resize(TerminalSize size) {
  GRID_TRY(checkTerminalSize(size));
  return channel_->resize(size);
}

std::optional<int> TerminalShell::exitCode(Clock::time_point deadline) {
  return exitCodeBy(*channel_, deadline);
}

void TerminalShell::close() {
  if (closed_) return;
  closed_ = true;
  // Closing the channel hangs the terminal up where the backend holds the master (SIGHUP to
  // the session); the engines keep the exec alive, so the session is killed explicitly.
  channel_.reset();
  ExecLimits limits;
  limits.timeout = kKillTimeout;
  limits.max_output_bytes = 4096;
  auto killed = runStandalone(backend_, sandbox_id_, killSessionCommand(pid_), limits);
  if (!killed.ok()) {
    spdlog::debug("{}: terminal shell {}: killing its session: {}", sandbox_id_, pid_,
                  killed.error().message);
  } else if (killed.value().exit_code != 0) {
    spdlog::warn("{}: terminal shell {}: processes of its session survived SIGKILL", sandbox_id_,
                 pid_);
  }
}

}  // namespace grid
