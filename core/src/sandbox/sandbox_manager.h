// The registry of sandboxes and their lifecycle: create, start (under the FIFO running limit),
// exec (serialized per sandbox, parallel across sandboxes), stop, shutdown.
#pragma once

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "grid/sandbox_backend.h"
#include "network/egress_controller.h"
#include "sandbox/create_request.h"
#include "sandbox/expiry_scheduler.h"
#include "sandbox/fifo_semaphore.h"
#include "sandbox/sandbox.h"
#include "sandbox/sandbox_metrics.h"
#include "sandbox/warm_pools.h"
#include "session/exec_listener.h"
#include "session/exec_result.h"

namespace grid {

struct ManagerOptions {
  std::string backend_name;
  size_t max_running_sandboxes = 10;
  size_t max_sandbox_records = 1000;  // sandboxes held in any state; create beyond is 429
  std::chrono::milliseconds start_wait_timeout{600000};
  std::string default_image = "ubuntu:latest";
  ResourceLimits default_limits;
  Isolation default_isolation = Isolation::kDefault;
  std::chrono::milliseconds default_exec_timeout{30000};
  std::chrono::milliseconds max_exec_timeout{3600000};
  size_t max_output_bytes = 1 << 20;
  // Output bytes a sandbox's trajectory keeps; past it the oldest entries lose their output
  // (command, status and times stay), so a long rollout cannot grow the server without bound.
  size_t max_trajectory_bytes = 64 << 20;
  ProcessTableLimits process_limits;  // background processes per sandbox ([processes])
  LifetimeDefaults lifetimes;         // ttl and idle timeout ([lifetimes]; docs/lifetimes.md)
  size_t max_fork_count = 64;         // children one fork may ask for
  std::vector<PoolDefinition> pools;  // [pool.NAME] sections (docs/pools.md)
  EgressController* egress = nullptr; // egress rules and DNS of networked sandboxes; may be null
};

class SandboxManager {
 public:
  SandboxManager(SandboxBackend& backend, ManagerOptions options);
  ~SandboxManager();
  SandboxManager(const SandboxManager&) = delete;
  SandboxManager& operator=(const SandboxManager&) = delete;

  /// Registers a sandbox in state `created`. A spec the backend cannot honour (checkSpec) is
  /// refused here, so the client learns it before starting.
  Result<std::shared_ptr<Sandbox>> create(CreateRequest request);

  /// Waits for a slot, creates the container, runs the setup commands and opens the session.
  /// When setup fails, `setup_result` receives its output and status.
  Result<void> start(const std::string& id, std::optional<ExecResult>* setup_result = nullptr);

  /// Runs a command in the session or standalone. With a `listener` (live output), it is told
  /// once the command starts and gets the output as it is read (session/exec_listener.h).
  /// On a paused sandbox it is kConflict, unless `auto_resume`: then it resumes the sandbox
  /// first (waiting for a slot as resume() does).
  Result<ExecResult> exec(const std::string& id, const std::string& command, bool standalone,
                          std::optional<std::chrono::milliseconds> timeout,
                          ExecListener* listener = nullptr, bool auto_resume = false);

  /// Freezes every process of a running sandbox (the backend's pauseSandbox) and frees its
  /// running slot. Waits for an exec in progress to end first. Not running, or already
  /// paused: kConflict; a backend that cannot pause: kUnsupported, and it runs on.
  Result<void> pause(const std::string& id);

  /// Waits for a running slot like start() does (same timeout, same line), then thaws a paused
  /// sandbox. Not paused: kConflict; no slot in time: kUnavailable, and it stays paused.
  Result<void> resume(const std::string& id);

  /// Stops the sandbox, removes its container and frees its slot; `remove` also forgets it.
  Result<void> stop(const std::string& id, bool remove);

  /// Forks running sandbox `id` into `count` new running sandboxes (docs/fork-snapshot.md):
  /// each starts with the source's filesystem and session state at one instant. Each child
  /// takes a running slot at once; fewer free slots than `count` is kResourceExhausted (no
  /// queueing: the instant is now). All or nothing.
  Result<std::vector<std::shared_ptr<Sandbox>>> fork(const std::string& id, size_t count);

  /// Saves running sandbox `id`'s filesystem as image `image` of this backend.
  Result<void> snapshot(const std::string& id, const std::string& image, bool overwrite);

  /// Returns running sandbox `id` to its state right after its setup commands: its container
  /// is made anew from its image and the setup replayed (the cost of a start). A failed
  /// setup leaves it stopped, with `setup_result` holding the output.
  Result<void> reset(const std::string& id, std::optional<ExecResult>* setup_result = nullptr);

  Result<std::shared_ptr<Sandbox>> find(const std::string& id) const;
  /// A sandbox whose container runs (its session may have ended), for the files API, which
  /// does not take the operation lock: a stop meanwhile makes its backend calls fail.
  Result<std::shared_ptr<Sandbox>> findRunning(const std::string& id) const;
  std::vector<std::shared_ptr<Sandbox>> all() const;

  /// Fills the warm pools of ManagerOptions::pools: each pool's first sandbox now (an error
  /// names its [pool.NAME]: the server must not start), the rest in the background.
  Result<void> startPools() { return pools_.start(); }
  /// Levels and counters of the warm pools, for GET /pools and /metrics.
  const WarmPools& pools() const { return pools_; }

  /// Stops every sandbox (in parallel) and refuses new work. Idempotent.
  void shutdown();

  size_t runningSlotsInUse() const;
  size_t startsWaiting() const { return slots_.waiting(); }
  const ManagerOptions& options() const { return options_; }
  /// For calls the routes make themselves without the operation lock (files, background
  /// processes).
  SandboxBackend& backend() const { return backend_; }
  /// Deadlines the expiry scheduler has been given so far: activity must not add to them
  /// (docs/lifetimes.md), which tests check.
  uint64_t expiryScheduleCount() const { return expiry_.scheduleCount(); }
  /// Latencies and failures for GET /metrics.
  SandboxMetrics& metrics() { return metrics_; }

 private:
  /// Applies an event the manager's own sequence guarantees; a refusal is a bug, logged.
  static void advance(Sandbox& sandbox, SandboxEvent event, std::string error = {});
  void teardown(Sandbox& sandbox);
  /// The setup commands as one command line, joined with `&&` (start and reset run it).
  static std::string joinSetupCommands(const std::vector<std::string>& commands);
  /// The expiry scheduler's handler: expires the sandbox whose deadline came, or sets its next.
  void onExpiryDue(const std::string& id);
  /// Schedules the first expiry check of a sandbox that just started, if it has a lifetime.
  void armLifetime(Sandbox& sandbox);
  /// resume() with the sandbox's operation lock held.
  Result<void> resumeLocked(Sandbox& sandbox);
  // Validates a create's egress policy and fills the spec's nameservers (docs/networking.md).
  Result<void> prepareEgress(SandboxSpec& spec, const std::optional<EgressPolicy>& egress) const;

  SandboxBackend& backend_;
  const ManagerOptions options_;
  FifoSemaphore slots_;
  WarmPools pools_;  // holds slots_ permits: stopped in shutdown(), destroyed before slots_
  SandboxMetrics metrics_{options_.backend_name};
  std::atomic<bool> shutting_down_{false};
  mutable std::mutex registry_mutex_;
  std::map<std::string, std::shared_ptr<Sandbox>> sandboxes_;
  std::mutex expiring_mutex_;
  std::vector<std::future<void>> expiring_;  // teardowns of expired sandboxes under way
  // Last: its thread calls into the members above, and stops first on destruction.
  ExpiryScheduler expiry_;
};

}  // namespace grid
