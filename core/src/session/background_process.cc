#include "session/background_process.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "session/process_io.h"
#include "session/session_protocol.h"
#include "util/random_token.h"

namespace grid {
namespace {

using namespace std::chrono_literals;

// How long one read of the output may block: the reader notices a stop request this often.
constexpr auto kReadSlice = 200ms;
// An engine may record the exit status a moment after the stream ends.
constexpr auto kExitStatusWait = 2s;
// After SIGKILL, how long the output may stay open before Grid checks whether the process
// itself is gone (a descendant that left its group may hold the output open).
constexpr auto kKillGrace = 2s;
// What the wrapper may print before it reports (a cwd error) is kept up to this size.
constexpr size_t kStartErrorCap = 4096;

// The standard signals by number (Linux numbering, the same inside every sandbox).
constexpr const char* kSignalNames[] = {
    nullptr, "HUP",  "INT",  "QUIT", "ILL",    "TRAP",   "ABRT",  "BUS",  "FPE",  "KILL", "USR1",
    "SEGV",  "USR2", "PIPE", "ALRM", "TERM",   "STKFLT", "CHLD",  "CONT", "STOP", "TSTP", "TTIN",
    "TTOU",  "URG",  "XCPU", "XFSZ", "VTALRM", "PROF",   "WINCH", "IO",   "PWR",  "SYS"};
constexpr int kMaxSignal = 31;

// Signals whose default action does not end a process: sending them does not make a later
// end count as killed.
bool endsProcess(const std::string& name) {
  for (const char* harmless : {"CONT", "STOP", "TSTP", "TTIN", "TTOU", "CHLD", "URG", "WINCH"}) {
    if (name == harmless) return false;
  }
  return true;
}

bool validEnvName(std::string_view name) {
  if (name.empty()) return false;
  const auto head = static_cast<unsigned char>(name[0]);
  if (!(std::isalpha(head) || head == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x80 && (std::isalnum(u) || u == '_');
  });
}

// The wrapper: argv is [sh, -c, script, command, cwd, NAME=VALUE...], so $0 is the command
// and $1 the cwd. It reads its process group before exporting anything (an exported IFS
// would change how `read` splits) and reports before the command runs; it stays the
// command's parent (`; exit $?` keeps sh from exec'ing into it) and holds the output open
// until the command ends.
std::string wrapperScript(const std::string& token) {
  return "if [ -n \"$1\" ]; then cd -- \"$1\" 2>/dev/null || { printf 'cannot change to "
         "directory %s\\n' \"$1\" >&2; exit 126; }; fi; shift; "
         "read -r _ _ _ _ __grid_pgid _ </proc/$$/stat 2>/dev/null; "
         "printf '%s:pid:%d:%s\\n' '" +
         token +
         "' \"$$\" \"${__grid_pgid:-0}\" >&2; unset __grid_pgid; "
         "[ $# -eq 0 ] || export \"$@\"; "
         "if command -v bash >/dev/null 2>&1; then bash -c \"$0\"; else sh -c \"$0\"; fi; "
         "exit $?";
}

}  // namespace

const char* processStatusName(ProcessStatus status) {
  switch (status) {
    case ProcessStatus::kRunning:
      return "running";
    case ProcessStatus::kExited:
      return "exited";
    case ProcessStatus::kKilled:
      return "killed";
  }
  return "running";
}

Result<void> checkBackgroundProcessSpec(const BackgroundProcessSpec& spec) {
  const auto invalid = [](const std::string& message) {
    return fail(ErrorCode::kInvalidArgument, message);
  };
  if (spec.command.find_first_not_of(" \t\r\n") == std::string::npos) {
    return invalid("'command' must not be empty");
  }
  if (spec.command.find('\0') != std::string::npos) return invalid("'command' contains a NUL byte");
  if (spec.cwd.find('\0') != std::string::npos) return invalid("'cwd' contains a NUL byte");
  if (spec.cwd.size() > 4096) return invalid("'cwd' is longer than 4096 bytes");
  for (const auto& [name, value] : spec.env) {
    if (!validEnvName(name)) {
      return invalid("'env' name '" + name.substr(0, 64) +
                     "' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)");
    }
    if (value.find('\0') != std::string::npos) {
      return invalid("'env." + name + "' contains a NUL byte");
    }
  }
  return {};
}

std::vector<std::string> backgroundProcessArgv(const std::string& token,
                                               const BackgroundProcessSpec& spec) {
  std::vector<std::string> argv = {"/bin/sh", "-c", wrapperScript(token), spec.command, spec.cwd};
  for (const auto& [name, value] : spec.env) argv.push_back(name + "=" + value);
  return argv;
}

std::optional<std::string> signalName(int number) {
  if (number < 1 || number > kMaxSignal) return std::nullopt;
  return std::string(kSignalNames[number]);
}

std::optional<std::string> signalName(std::string_view text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return signalName(std::atoi(std::string(text).c_str()));
  }
  std::string upper;
  for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.rfind("SIG", 0) == 0) upper.erase(0, 3);
  for (int n = 1; n <= kMaxSignal; ++n) {
    if (upper == kSignalNames[n]) return upper;
  }
  return std::nullopt;
}

size_t incompleteUtf8Tail(std::string_view bytes) {
  // Look back at most 3 bytes for a lead byte whose sequence runs past the end.
  const size_t n = bytes.size();
  for (size_t back = 1; back <= std::min<size_t>(3, n); ++back) {
    const auto b = static_cast<unsigned char>(bytes[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // a continuation byte: keep looking for the lead
    size_t len = 0;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
    }
    return len > back ? back : 0;
  }
  return 0;
}

Result<OutputRing::Chunk> readOutputWhole(const OutputRing& ring, uint64_t offset,
                                          size_t max_bytes) {
  GRID_ASSIGN_OR_RETURN(OutputRing::Chunk chunk, ring.read(offset, std::max<size_t>(max_bytes, 4)));
  const size_t cut = incompleteUtf8Tail(chunk.data);
  if (cut == 0 || chunk.eof) return chunk;
  // Keep the partial character where no byte can complete it: a gap follows (the dropped
  // middle), or the output has ended.
  GRID_ASSIGN_OR_RETURN(const OutputRing::Chunk after, ring.read(chunk.next_offset, 1));
  if (after.dropped > 0 || after.eof) return chunk;
  chunk.data.resize(chunk.data.size() - cut);
  chunk.next_offset -= cut;
  return chunk;
}

BackgroundProcess::BackgroundProcess(SandboxBackend& backend, std::string sandbox_id,
                                     std::string command, size_t max_output_bytes)
    : backend_(backend),
      sandbox_id_(std::move(sandbox_id)),
      command_(std::move(command)),
      ring_(max_output_bytes),
      started_at_(std::chrono::system_clock::now()) {}

BackgroundProcess::~BackgroundProcess() { stop(); }

Result<std::unique_ptr<BackgroundProcess>> BackgroundProcess::start(
    SandboxBackend& backend, const std::string& sandbox_id, const BackgroundProcessSpec& spec,
    size_t max_output_bytes, Clock::time_point deadline) {
  GRID_TRY(checkBackgroundProcessSpec(spec));
  std::unique_ptr<BackgroundProcess> process(
      new BackgroundProcess(backend, sandbox_id, spec.command, max_output_bytes));
  const std::string token = randomHex(16);
  ProcessSpec process_spec;
  process_spec.argv = backgroundProcessArgv(token, spec);
  GRID_ASSIGN_OR_RETURN(auto channel, backend.startProcess(sandbox_id, process_spec));

  MarkerScanner scanner(token);
  std::string early;  // what the wrapper printed before its report: an error, if anything
  std::string text;
  while (true) {
    if (Clock::now() >= deadline) {
      return fail(ErrorCode::kTimeout, "the process did not report its start in time");
    }
    GRID_ASSIGN_OR_RETURN(ReadResult chunk, channel->read(deadline));
    if (chunk.status == ReadResult::Status::kTimeout) continue;
    if (chunk.status == ReadResult::Status::kEof) {
      early += scanner.flush();
      const auto status = exitCodeBy(*channel, Clock::now() + kExitStatusWait);
      while (!early.empty() && (early.back() == '\n' || early.back() == '\r')) early.pop_back();
      if (status == 126 && early.rfind("cannot change to directory", 0) == 0) {
        return fail(ErrorCode::kInvalidArgument, "'cwd': " + early);
      }
      return fail(ErrorCode::kInternal, "the process ended before it started (status " +
                                            std::to_string(status.value_or(-1)) + ")" +
                                            (early.empty() ? "" : ": " + early));
    }
    if (chunk.stream == OutputStream::kStdout) {
      process->ring_.append(chunk.data);
      continue;
    }
    text.clear();
    auto marker = scanner.feed(chunk.data, text);
    if (early.size() < kStartErrorCap) early.append(text, 0, kStartErrorCap - early.size());
    process->ring_.append(text);
    if (!marker || marker->kind != "pid") continue;
    process->sandbox_pid_ = std::atoi(marker->fields.c_str());
    const size_t colon = marker->fields.find(':');
    const int pgid = colon == std::string::npos ? 0 : std::atoi(marker->fields.c_str() + colon + 1);
    process->leads_group_ = pgid == process->sandbox_pid_;
    if (!process->leads_group_) {
      spdlog::warn(
          "{}: background process {} leads no process group (pgid {}): signals reach "
          "only its wrapper shell",
          sandbox_id, process->sandbox_pid_, pgid);
    }
    process->ring_.append(scanner.flush());
    break;
  }
  process->channel_ = std::move(channel);
  process->reader_ = std::thread([p = process.get()] { p->readLoop(); });
  return process;
}

void BackgroundProcess::readLoop() {
  while (!stop_) {
    auto read = channel_->read(Clock::now() + kReadSlice);
    if (!read.ok()) {
      spdlog::debug("{}: background process {}: {}", sandbox_id_, sandbox_pid_,
                    read.error().message);
      finish(ProcessStatus::kExited, std::nullopt);
      break;
    }
    ReadResult& chunk = read.value();
    if (chunk.status == ReadResult::Status::kData) {
      ring_.append(chunk.data);
    } else if (chunk.status == ReadResult::Status::kEof) {
      finish(ProcessStatus::kExited, exitCodeBy(*channel_, Clock::now() + kExitStatusWait));
      break;
    }
  }
  channel_.reset();
}

void BackgroundProcess::finish(ProcessStatus status, std::optional<int> exit_code) {
  {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    ended_ = true;
    status_ = signalled_ ? ProcessStatus::kKilled : status;
    exit_code_ = exit_code;
    ended_at_ = std::chrono::system_clock::now();
    ring_.close();
  }
  ended_cv_.notify_all();
}

ProcessState BackgroundProcess::state() const {
  std::lock_guard lock(mutex_);
  ProcessState state;
  state.status = status_;
  state.exit_code = exit_code_;
  state.sandbox_pid = sandbox_pid_;
  state.started_at = started_at_;
  state.ended_at = ended_at_;
  return state;
}

Result<void> BackgroundProcess::signal(const std::string& signal_name, Clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    // Its pid may belong to another process by now.
    if (ended_) return fail(ErrorCode::kConflict, "the process has ended");
    if (endsProcess(signal_name)) signalled_ = true;
  }
  return signalInSandbox(backend_, sandbox_id_, sandbox_pid_, leads_group_, signal_name, deadline);
}

Result<void> BackgroundProcess::kill(Clock::time_point deadline) {
  bool already_ended = false;
  {
    std::lock_guard lock(mutex_);
    already_ended = ended_;
    signalled_ = true;
  }
  if (already_ended && !leads_group_) return {};
  // Also after its end, what is left of its group dies: an engine may end the output when the
  // wrapper dies (docker does), while children that ignored the signal that ended it live on.
  // The group's id cannot be another process's while any member of the group lives.
  auto sent = signalInSandbox(backend_, sandbox_id_, sandbox_pid_, leads_group_, "KILL", deadline);
  if (already_ended) return {};
  if (!sent.ok()) return sent.error();
  if (waitEnded(std::min(deadline, Clock::now() + kKillGrace))) return {};
  // The output is still open: a descendant outside the group holds it. Once the process
  // itself is gone, stop waiting for it.
  GRID_ASSIGN_OR_RETURN(const bool was_running,
                        killIfRunning(backend_, sandbox_id_, sandbox_pid_, leads_group_, deadline));
  if (!was_running) {
    stop_ = true;
    finish(ProcessStatus::kKilled, std::nullopt);
    return {};
  }
  if (waitEnded(deadline)) return {};
  return fail(ErrorCode::kTimeout, "the process did not end after SIGKILL");
}

bool BackgroundProcess::waitEnded(Clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  return ended_cv_.wait_until(lock, deadline, [&] { return ended_; });
}

void BackgroundProcess::markKilled() {
  std::lock_guard lock(mutex_);
  signalled_ = true;
}

void BackgroundProcess::requestStop() { stop_ = true; }

void BackgroundProcess::stop() {
  stop_ = true;
  if (reader_.joinable()) reader_.join();
  markKilled();  // whatever still ran was killed with its sandbox
  finish(ProcessStatus::kKilled, std::nullopt);
}

}  // namespace grid
