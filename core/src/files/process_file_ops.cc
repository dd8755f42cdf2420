// The SandboxBackend file calls' defaults: standard tools (GNU tar, find, mkdir, rm) run inside
// the sandbox through startProcess, so paths resolve as the sandbox's own processes see them
// (its mounts, its symlinks, its root) and what they write is owned like the session's writes.
// Paths travel as argv, never inside a shell string. The tools are the tenant's (it may replace
// them): their output is bounded and strictly parsed, and every call ends by its deadline.
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "files/find_records.h"
#include "grid/sandbox_backend.h"
#include "session/process_io.h"
#include "util/printable.h"

namespace grid {
namespace {

using namespace std::chrono_literals;

constexpr size_t kChunkBytes = 64 << 10;
constexpr size_t kStderrExcerptBytes = 2048;
constexpr size_t kMaxPidLineBytes = 64;
constexpr const char* kMissingToolMarker = "grid-files: tool not found";

// The wrapper every tool runs under: reports its pid on stderr (so a deadline can kill it), sets
// a C locale (error texts are matched below), checks the tool exists, then becomes `body`. $0 is
// the tool's name, $1... its arguments.
std::string wrapperScript(const std::string& body) {
  return std::string("printf 'pid:%d\\n' \"$$\" >&2; LC_ALL=C; export LC_ALL; "
                     "command -v \"$0\" >/dev/null 2>&1 || { printf '") +
         kMissingToolMarker + "\\n' >&2; exit 127; }; " + body;
}

// One tool run in the sandbox. Its destructor kills the tool if it has not ended.
class SandboxTool {
 public:
  SandboxTool(SandboxBackend& backend, std::string sandbox_id, std::string tool,
              Clock::time_point deadline)
      : backend_(backend),
        sandbox_id_(std::move(sandbox_id)),
        tool_(std::move(tool)),
        deadline_(deadline) {}
  SandboxTool(const SandboxTool&) = delete;
  SandboxTool& operator=(const SandboxTool&) = delete;

  ~SandboxTool() {
    stopWatchdog();
    if (!ended_) kill();
  }

  /// Starts `body` (see wrapperScript) with `args` and waits for the pid line.
  Result<void> start(const std::string& body, const std::vector<std::string>& args,
                     bool attach_stdin) {
    ProcessSpec spec;
    spec.argv = {"/bin/sh", "-c", wrapperScript(body), tool_};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.attach_stdin = attach_stdin;
    GRID_ASSIGN_OR_RETURN(channel_, backend_.startProcess(sandbox_id_, spec));
    std::string line;
    while (line.find('\n') == std::string::npos) {
      GRID_ASSIGN_OR_RETURN(ReadResult read, channel_->read(deadline_));
      if (read.status == ReadResult::Status::kTimeout) return timedOut();
      if (read.status == ReadResult::Status::kEof) {
        ended_ = true;
        return fail(ErrorCode::kInternal, tool_ + " in the sandbox: /bin/sh ended at once");
      }
      if (read.stream == OutputStream::kStdout) continue;  // nothing prints before the line
      line += read.data;
      if (line.size() > kMaxPidLineBytes && line.find('\n') > kMaxPidLineBytes) {
        return fail(ErrorCode::kInternal, tool_ + " in the sandbox: no pid line");
      }
    }
    const size_t newline = line.find('\n');
    if (line.rfind("pid:", 0) != 0) {
      return fail(ErrorCode::kInternal, tool_ + " in the sandbox: no pid line");
    }
    pid_ = std::atoi(line.c_str() + 4);
    appendStderr(std::string_view(line).substr(newline + 1));
    return {};
  }

  /// A writer to stdin can block on a tool that stops reading: past the deadline this kills
  /// the tool from another thread, which ends the write with an error.
  void startWatchdog() {
    watchdog_ = std::thread([this] {
      std::unique_lock lock(watchdog_mutex_);
      if (!watchdog_cv_.wait_until(lock, deadline_, [this] { return watchdog_done_; })) {
        lock.unlock();
        watchdog_fired_ = true;
        kill();
      }
    });
  }

  Result<void> write(std::string_view data) {
    auto written = channel_->write(data);
    if (!written.ok() && watchdog_fired_) return timedOut();
    return written;
  }
  void closeStdin() { channel_->closeStdin(); }

  /// Reads until the tool's output ends; stdout goes to `on_stdout` (which may stop the read
  /// by returning false: the tool is killed then). Returns the exit status, or nullopt when
  /// stopped early.
  Result<std::optional<int>> drain(const std::function<Result<bool>(std::string_view)>& on_stdout,
                                   Clock::time_point until) {
    while (true) {
      GRID_ASSIGN_OR_RETURN(ReadResult read, channel_->read(until));
      if (read.status == ReadResult::Status::kTimeout) {
        if (until < deadline_) return std::optional<int>();  // a poll, not the deadline
        return timedOut();
      }
      if (read.status == ReadResult::Status::kEof) break;
      if (read.stream == OutputStream::kStderr) {
        appendStderr(read.data);
      } else if (on_stdout) {
        GRID_ASSIGN_OR_RETURN(const bool more, on_stdout(read.data));
        if (!more) {
          channel_.reset();
          kill();
          return std::optional<int>();
        }
      }
    }
    ended_ = true;
    const auto status = exitCodeBy(*channel_, deadline_ + 1s);
    if (!status) return fail(ErrorCode::kUnavailable, tool_ + " in the sandbox: exit status unknown");
    return std::optional<int>(*status);
  }

  /// drain() to the end; Ok when the tool exited 0, else its failure as an Error.
  Result<void> finish(const std::function<Result<bool>(std::string_view)>& on_stdout,
                      const std::string& what) {
    GRID_ASSIGN_OR_RETURN(const auto status, drain(on_stdout, deadline_));
    stopWatchdog();
    if (watchdog_fired_) return timedOut();
    if (!status) return {};
    if (*status != 0) return failure(*status, what);
    return {};
  }

  /// The tool's failure, mapped from its (C locale) error text.
  Error failure(int status, const std::string& what) const {
    const auto has = [&](const char* text) { return stderr_.find(text) != std::string::npos; };
    const std::string detail = what + ": " + tool_ + " in the sandbox exited with status " +
                               std::to_string(status) + ": " +
                               printablePrefix(stderr_, kStderrExcerptBytes);
    if (status == 127 && has(kMissingToolMarker)) {
      return fail(ErrorCode::kUnsupported,
                  what + ": the sandbox's image has no `" + tool_ +
                      "` (the files API runs it inside the sandbox; install it in the image)");
    }
    if (has("No such file or directory")) return fail(ErrorCode::kNotFound, detail);
    if (has("No space left on device") || has("Disk quota exceeded")) {
      return fail(ErrorCode::kNoSpace, detail);
    }
    if (has("Not a directory") || has("Is a directory") || has("File exists") ||
        has("Directory not empty")) {
      return fail(ErrorCode::kConflict, detail);
    }
    return fail(ErrorCode::kInternal, detail);
  }

  const std::string& stderrText() const { return stderr_; }

 private:
  Error timedOut() {
    kill();
    return fail(ErrorCode::kTimeout, tool_ + " in the sandbox did not finish by its deadline");
  }

  void appendStderr(std::string_view data) {
    if (stderr_.size() < kStderrExcerptBytes) {
      stderr_.append(data.substr(0, kStderrExcerptBytes - stderr_.size()));
    }
  }

  void kill() {
    std::lock_guard lock(kill_mutex_);
    if (killed_ || pid_ <= 0) return;
    killed_ = true;
    auto killed = killIfRunning(backend_, sandbox_id_, pid_, false, Clock::now() + 5s);
    if (!killed.ok()) {
      spdlog::warn("{}: killing {} (pid {}): {}", sandbox_id_, tool_, pid_,
                   killed.error().message);
    }
  }

  void stopWatchdog() {
    if (!watchdog_.joinable()) return;
    {
      std::lock_guard lock(watchdog_mutex_);
      watchdog_done_ = true;
    }
    watchdog_cv_.notify_all();
    watchdog_.join();
  }

  SandboxBackend& backend_;
  const std::string sandbox_id_;
  const std::string tool_;
  const Clock::time_point deadline_;
  std::unique_ptr<ProcessChannel> channel_;
  int pid_ = 0;
  bool ended_ = false;
  std::string stderr_;
  std::mutex kill_mutex_;
  bool killed_ = false;
  std::thread watchdog_;
  std::mutex watchdog_mutex_;
  std::condition_variable watchdog_cv_;
  bool watchdog_done_ = false;
  std::atomic<bool> watchdog_fired_{false};
};

// Runs `find` with kFindRecordFormat and parses up to `max_records` records.
Result<std::vector<FileInfo>> findRecords(SandboxBackend& backend, const std::string& sandbox_id,
                                          const std::string& body,
                                          const std::vector<std::string>& args,
                                          size_t max_records, bool entry_names,
                                          const std::string& what, Clock::time_point deadline) {
  SandboxTool tool(backend, sandbox_id, "find", deadline);
  GRID_TRY(tool.start(body, args, false));
  FindRecordParser parser(max_records, entry_names);
  GRID_TRY(tool.finish(
      [&](std::string_view data) -> Result<bool> {
        GRID_TRY(parser.feed(data));
        return !parser.full();
      },
      what));
  GRID_TRY(parser.finish());
  return std::move(parser.records());
}

}  // namespace

Result<FileInfo> SandboxBackend::statPath(const std::string& sandbox_id, const std::string& path,
                                          Clock::time_point deadline) {
  GRID_ASSIGN_OR_RETURN(
      auto records,
      findRecords(*this, sandbox_id,
                  std::string("exec find \"$1\" -maxdepth 0 -printf '") + kFindRecordFormat + "'",
                  {path}, 1, false, "stat " + printablePrefix(path, 200), deadline));
  if (records.empty()) {
    return fail(ErrorCode::kInternal, "stat " + printablePrefix(path, 200) + ": find printed nothing");
  }
  FileInfo info = std::move(records.front());
  const size_t slash = path.find_last_of('/');
  info.name = slash == std::string::npos ? path : path.substr(slash + 1);
  return info;
}

Result<std::vector<FileInfo>> SandboxBackend::listDirectory(const std::string& sandbox_id,
                                                            const std::string& path,
                                                            size_t max_entries,
                                                            Clock::time_point deadline) {
  // `cd` makes a file "Not a directory" (409) and a missing path "No such file" (404).
  return findRecords(*this, sandbox_id,
                     std::string("cd -- \"$1\" || exit 2; exec find . -mindepth 1 -maxdepth 1 "
                                 "-printf '") +
                         kFindRecordFormat + "'",
                     {path}, max_entries, true, "list " + printablePrefix(path, 200), deadline);
}

Result<void> SandboxBackend::makeDirectory(const std::string& sandbox_id, const std::string& path,
                                           uint32_t mode, Clock::time_point deadline) {
  char octal[8];
  std::snprintf(octal, sizeof octal, "%o", mode & 07777);
  SandboxTool tool(*this, sandbox_id, "mkdir", deadline);
  GRID_TRY(tool.start("exec mkdir -p -m \"$1\" -- \"$2\"", {octal, path}, false));
  return tool.finish(nullptr, "mkdir " + printablePrefix(path, 200));
}

Result<void> SandboxBackend::removePath(const std::string& sandbox_id, const std::string& path,
                                        Clock::time_point deadline) {
  // rm -f would answer a missing path with success: the test says "not found".
  SandboxTool tool(*this, sandbox_id, "rm", deadline);
  GRID_TRY(tool.start("[ -e \"$1\" ] || [ -L \"$1\" ] || { echo \"$1: No such file or directory\" "
                      ">&2; exit 2; }; exec rm -rf -- \"$1\"",
                      {path}, false));
  return tool.finish(nullptr, "remove " + printablePrefix(path, 200));
}

Result<void> SandboxBackend::extractArchive(const std::string& sandbox_id,
                                            const std::string& directory, ByteSource& tar,
                                            Clock::time_point deadline) {
  // --no-same-owner: files belong to the sandbox user extracting them, as the session's writes
  // do, whatever uid the archive names. `cd` first so a missing or non-directory target is
  // told apart from an error inside the archive.
  SandboxTool tool(*this, sandbox_id, "tar", deadline);
  GRID_TRY(tool.start("cd -- \"$1\" || exit 2; exec tar -x -f - --no-same-owner", {directory},
                      true));
  tool.startWatchdog();
  std::vector<char> buffer(kChunkBytes);
  Result<void> fed;
  while (true) {
    auto got = tar.read(buffer.data(), buffer.size());
    if (!got.ok()) {
      fed = got.error();
      break;
    }
    if (got.value() == 0) break;
    auto written = tool.write(std::string_view(buffer.data(), got.value()));
    if (!written.ok()) {
      fed = written.error();
      break;
    }
    // Keep the tool's stderr from filling its pipe while we only write.
    auto polled = tool.drain(nullptr, Clock::now());
    if (!polled.ok()) return polled.error();
    if (polled.value()) {  // the tool ended before its input did
      return *polled.value() == 0
                 ? Result<void>()
                 : Result<void>(tool.failure(*polled.value(), "extract into " +
                                                                  printablePrefix(directory, 200)));
    }
  }
  if (!fed.ok()) return fed;  // the destructor kills the tool: a half archive is not extracted
  tool.closeStdin();
  return tool.finish(nullptr, "extract into " + printablePrefix(directory, 200));
}

Result<void> SandboxBackend::createArchive(const std::string& sandbox_id, const std::string& path,
                                           ByteSink& out, Clock::time_point deadline) {
  // `cd` to the parent, archive the last component: member names are "name" and "name/...".
  const size_t slash = path.find_last_of('/');
  std::string parent = slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty()) name = ".";  // the root: its tree under "./"
  SandboxTool tool(*this, sandbox_id, "tar", deadline);
  GRID_TRY(tool.start("cd -- \"$1\" || exit 2; exec tar -c -f - -- \"$2\"", {parent, name}, false));
  return tool.finish(
      [&](std::string_view data) -> Result<bool> {
        GRID_TRY(out.write(data));
        return true;
      },
      "archive " + printablePrefix(path, 200));
}

}  // namespace grid
