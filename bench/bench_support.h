// Shared pieces of the benchmark suite: per-iteration latency percentiles, child processes,
// /proc readings, failure policy (skip outside CI, fail in CI) and iteration counts.
#pragma once

#include <benchmark/benchmark.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace grid::bench {

using Clock = std::chrono::steady_clock;

/// Something the benchmark needs is not on this machine (engine, plugin, tool, root). Outside
/// CI the benchmark is skipped; with CI=true it counts as a failure.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A baseline's tool (bwrap) is not installed: skipped even under CI, since it measures a
/// comparison point, not Grid.
class ToolMissing : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Collects one latency per iteration and reports percentiles as benchmark counters.
class LatencyRecorder {
 public:
  void add(Clock::duration latency) { samples_.push_back(latency); }
  /// Times `fn` and records it.
  template <typename Fn>
  void time(Fn&& fn) {
    const auto begin = Clock::now();
    fn();
    add(Clock::now() - begin);
  }
  size_t size() const { return samples_.size(); }
  /// The `p`-th percentile (0..100, nearest rank) in milliseconds; 0 without samples.
  double percentileMs(double p) const;
  /// Sets counters "<prefix>p50_ms", "<prefix>p90_ms", "<prefix>p99_ms" (and mean).
  void report(benchmark::State& state, const std::string& prefix = "") const;

 private:
  std::vector<Clock::duration> samples_;
};

/// What a finished child process left.
struct CommandResult {
  int exit_status = -1;  // exit code, or 128 + signal
  std::string output;    // stdout when captured
};

/// Runs `argv` (PATH lookup) with `extra_env` added, stdin and stderr on /dev/null, stdout
/// captured when `capture_stdout` (else /dev/null). Throws when it cannot be started.
CommandResult runCommand(const std::vector<std::string>& argv, bool capture_stdout = false,
                         const std::vector<std::string>& extra_env = {});

/// runCommand that throws unless the command exits 0; returns its trimmed stdout.
std::string runChecked(const std::vector<std::string>& argv,
                       const std::vector<std::string>& extra_env = {});

/// True if `name` is an executable on PATH.
bool haveExecutable(const std::string& name);

/// VmRSS/VmHWM (KiB) and thread count of a process, from /proc/PID/status.
struct ProcStatus {
  int64_t rss_kb = 0;
  int64_t hwm_kb = 0;
  int threads = 0;
};
ProcStatus readProcStatus(pid_t pid);

/// Resets VmHWM to the current RSS (writes 5 to /proc/PID/clear_refs), so a later reading
/// shows the peak of what ran in between.
void resetPeakRss(pid_t pid);

/// A TCP port that was free on 127.0.0.1 a moment ago.
int freePort();

/// CI=true in the environment: absent engines are failures, not skips.
bool inCi();

/// --smoke: every benchmark runs one iteration (the ctest smoke test).
void setSmoke(bool smoke);
bool smoke();
/// `n`, or 1 in smoke mode.
int64_t iterations(int64_t n);

/// Runs `body`; an Unavailable or any other exception becomes state.SkipWithError. Failures
/// (and, under CI, unavailability) are counted for the exit status.
void guarded(benchmark::State& state, const std::function<void()>& body);
int failureCount();

/// The directory of this executable (grid and the plugins are found relative to it).
std::string executableDir();

/// Runs `count` jobs on `workers` threads; job i gets i. The first exception is rethrown
/// after every thread has finished.
void runParallel(int count, int workers, const std::function<void(int)>& job);

}  // namespace grid::bench
