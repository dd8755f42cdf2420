// The background processes of one sandbox (docs/processes.md): Grid's handles for them, the
// bound on how many a sandbox holds, and their end with the sandbox. Each process has one
// reader thread, so the bound also bounds the threads a sandbox can make the server run.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "grid/sandbox_backend.h"
#include "session/background_process.h"

namespace grid {

struct ProcessTableLimits {
  size_t max_processes = 32;          // held per sandbox, running or ended
  size_t max_output_bytes = 1 << 20;  // each process's output ring
};

/// A process with its handle: Grid's own number, 1, 2, ... per sandbox, never reused.
struct ProcessEntry {
  uint64_t handle = 0;
  std::shared_ptr<BackgroundProcess> process;
};

/// Thread-safe. Takes no lock of the sandbox: a long exec does not delay it.
class ProcessTable {
 public:
  ProcessTable() = default;
  ~ProcessTable() { closeAll(); }
  ProcessTable(const ProcessTable&) = delete;
  ProcessTable& operator=(const ProcessTable&) = delete;

  /// Starts a process. At the limit the oldest ended process makes room (its record and output
  /// are gone); when all run, kResourceExhausted. After closeAll(), kConflict.
  Result<ProcessEntry> start(SandboxBackend& backend, const std::string& sandbox_id,
                             const BackgroundProcessSpec& spec, const ProcessTableLimits& limits,
                             Clock::time_point deadline);

  /// Every process held, by handle.
  std::vector<ProcessEntry> list() const;

  /// kNotFound for a handle the table does not hold (never given, or made room for).
  Result<std::shared_ptr<BackgroundProcess>> find(uint64_t handle) const;

  /// When one of its processes last printed (the epoch when none has): process output is
  /// activity for the idle timeout, read only when a deadline comes (docs/lifetimes.md).
  std::chrono::steady_clock::time_point lastOutputAt() const;

  /// Called before the sandbox is destroyed: every process ends as killed (not as exited when
  /// the destroy ends its output first), and later starts are refused.
  void markSandboxEnding();

  /// The sandbox is going away (its backend destroy has killed everything): stops every
  /// reader, joins them and forgets the processes; later starts are refused.
  void closeAll();

 private:
  mutable std::mutex mutex_;
  bool closed_ = false;
  uint64_t next_handle_ = 1;
  size_t starting_ = 0;  // starts under way, counted against the limit
  std::map<uint64_t, std::shared_ptr<BackgroundProcess>> processes_;
};

}  // namespace grid
