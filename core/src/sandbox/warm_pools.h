// Warm pools (docs/pools.md): sandboxes made, started and with their session open ahead of
// need, one refill thread per `[pool.NAME]`. A create request that matches a pool takes one of
// its ready sandboxes whole (container, session and running slot); the pool refills in the
// background, only with slots nobody waits for.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "grid/sandbox_backend.h"
#include "sandbox/fifo_semaphore.h"
#include "sandbox/pool_plan.h"
#include "session/session_shell.h"

namespace grid {

/// A ready pool sandbox: its container runs, its session is open and it holds a running slot.
/// Handed over whole by WarmPools::take().
struct WarmSandbox {
  std::string id;
  std::string pool;
  std::unique_ptr<SessionShell> session;
  FifoSemaphore::Permit permit;
};

/// One pool's levels and counters, for GET /pools and /metrics.
struct PoolStatus {
  std::string name;
  SandboxSpec spec;  // resolved; id empty
  size_t size = 0;
  size_t ready = 0;
  size_t starting = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  std::string last_error;  // the latest refill failure; empty when none
};

class WarmPools {
 public:
  /// `specs[i]` is `definitions[i]`'s resolved spec. Starts nothing: see start().
  WarmPools(SandboxBackend& backend, FifoSemaphore& slots, std::vector<PoolDefinition> definitions,
            std::vector<SandboxSpec> specs);
  ~WarmPools();
  WarmPools(const WarmPools&) = delete;
  WarmPools& operator=(const WarmPools&) = delete;

  /// Makes each pool's first sandbox now, the pools in parallel, so a spec the backend cannot
  /// run (an unknown image) fails start-up with an error naming `[pool.NAME]`; then starts the
  /// refill threads. A pool of size 0 is checked with backend.checkSpec only.
  Result<void> start();

  /// A ready sandbox of the first pool `wanted` matches (pool_plan.h): a hit. A matching pool
  /// with none ready counts a miss, and a spec matching no pool counts as unmatched; both are
  /// nullopt, a cold start.
  std::optional<WarmSandbox> take(const SandboxSpec& wanted);

  /// Removes one ready pool sandbox (from the pool with the most ready) and hands over its
  /// running slot, for a start that finds none free. An empty permit when no pool has one.
  FifoSemaphore::Permit yieldSlot();

  std::vector<PoolStatus> status() const;
  /// Create requests that matched no pool.
  uint64_t unmatched() const;

  /// Stops the refill threads (a sandbox being made is finished, then removed) and removes
  /// every ready sandbox. Idempotent.
  void stop();

 private:
  struct Pool {
    PoolDefinition definition;
    SandboxSpec spec;
    std::deque<WarmSandbox> ready;
    size_t starting = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;
    size_t failures = 0;  // refills in a row that failed
    std::chrono::steady_clock::time_point retry_at;
    std::string last_error;
    std::thread refiller;
  };

  void refillLoop(Pool& pool);
  /// Creates a sandbox of `spec` under a fresh id and opens its session; removes what it made
  /// on failure.
  Result<WarmSandbox> make(const Pool& pool, FifoSemaphore::Permit permit);
  void destroy(WarmSandbox sandbox);

  SandboxBackend& backend_;
  FifoSemaphore& slots_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  uint64_t unmatched_ = 0;
  std::vector<std::unique_ptr<Pool>> pools_;
};

}  // namespace grid
