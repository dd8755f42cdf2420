#include "sandbox/sandbox_manager.h"

#include <spdlog/spdlog.h>

#include <future>

#include "session/process_io.h"
#include "util/random_token.h"

namespace grid {
namespace {

std::string durationText(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

// kConflict saying why, when the sandbox ended by expiry; `then` ends the sentence.
std::optional<Error> expiredError(const Sandbox& sandbox, const std::string& then) {
  const auto reason = sandbox.lifecycle().endReason();
  if (reason != EndReason::kTtl && reason != EndReason::kIdle) return std::nullopt;
  const LifetimePolicy& lifetime = sandbox.lifetime();
  return fail(ErrorCode::kConflict,
              "sandbox " + sandbox.spec().id + " expired: " +
                  (reason == EndReason::kTtl
                       ? "its ttl of " + durationText(lifetime.ttl) + " ran out"
                       : "it was idle for its idle timeout of " +
                             durationText(lifetime.idle_timeout)) +
                  then);
}

std::vector<SandboxSpec> poolSpecsOf(const ManagerOptions& options) {
  std::vector<SandboxSpec> specs;
  for (const auto& pool : options.pools) {
    specs.push_back(resolvePoolSpec(pool.request, options.default_image, options.default_limits,
                                    options.default_isolation));
  }
  return specs;
}

}  // namespace

std::string SandboxManager::joinSetupCommands(const std::vector<std::string>& commands) {
  std::string joined;
  for (const auto& command : commands) {
    if (!joined.empty()) joined += " && ";
    joined += command;
  }
  return joined;
}

SandboxManager::SandboxManager(SandboxBackend& backend, ManagerOptions options)
    : backend_(backend),
      options_(std::move(options)),
      slots_(options_.max_running_sandboxes),
      pools_(backend_, slots_, options_.pools, poolSpecsOf(options_)),
      expiry_([this](const std::string& id) { onExpiryDue(id); }) {
  expiry_.start();
}

SandboxManager::~SandboxManager() { shutdown(); }

void SandboxManager::advance(Sandbox& sandbox, SandboxEvent event, std::string error) {
  if (auto moved = sandbox.advance(event, std::move(error)); !moved.ok()) {
    spdlog::error("{}: {}", sandbox.spec().id, moved.error().message);
  }
}

Result<std::shared_ptr<Sandbox>> SandboxManager::create(CreateRequest request) {
  if (shutting_down_) return fail(ErrorCode::kUnavailable, "the server is shutting down");
  SandboxSpec spec;
  spec.id = randomUuid();
  spec.image = request.image.value_or(options_.default_image);
  // Each limit the request names overrides its default; the others keep the default.
  spec.limits = options_.default_limits;
  if (request.limits) {
    if (request.limits->cpus > 0) spec.limits.cpus = request.limits->cpus;
    if (request.limits->memory_mb > 0) spec.limits.memory_mb = request.limits->memory_mb;
    if (request.limits->pids > 0) spec.limits.pids = request.limits->pids;
  }
  spec.network = request.network;
  spec.env = std::move(request.env);
  spec.labels = std::move(request.labels);
  spec.isolation = request.isolation.value_or(options_.default_isolation);
  spec.initial_process = SessionShell::launchSpec();  // forks and resets inherit it
  GRID_ASSIGN_OR_RETURN(const LifetimePolicy lifetime,
                        resolveLifetime(request.lifetime, options_.lifetimes));
  GRID_TRY(backend_.checkSpec(spec));
  // A matching warm pool hands over a running sandbox: its id, container, session and slot
  // (docs/pools.md); start() then only runs the setup commands. A networked sandbox whose DNS
  // Grid serves starts cold: a pool sandbox's resolv.conf was written before it had a policy.
  std::optional<WarmSandbox> warm;
  if (!(spec.network && options_.egress)) warm = pools_.take(spec);
  if (warm) spec.id = warm->id;
  if (auto prepared = prepareEgress(spec, request.egress); !prepared.ok()) {
    if (warm) {
      auto unused = std::make_shared<Sandbox>(std::move(spec), std::vector<std::string>{},
                                              options_.backend_name, lifetime);
      unused->runtime().session = std::move(warm->session);
      unused->runtime().permit = std::move(warm->permit);
      unused->runtime().container_exists = true;
      teardown(*unused);
    }
    return prepared.error();
  }
  auto sandbox = std::make_shared<Sandbox>(std::move(spec), std::move(request.setup_commands),
                                           options_.backend_name, lifetime);
  if (warm) {
    SandboxRuntime& runtime = sandbox->runtime();
    runtime.session = std::move(warm->session);
    runtime.permit = std::move(warm->permit);
    runtime.container_exists = true;
    runtime.pool = warm->pool;
  }
  std::lock_guard lock(registry_mutex_);
  if (sandboxes_.size() >= options_.max_sandbox_records) {
    if (warm) teardown(*sandbox);  // never published: nobody else holds it
    if (options_.egress) options_.egress->forget(sandbox->spec().id);
    return fail(ErrorCode::kResourceExhausted, "the server holds its maximum of " +
                                                   std::to_string(options_.max_sandbox_records) +
                                                   " sandboxes; delete some first");
  }
  sandboxes_.emplace(sandbox->spec().id, sandbox);
  return sandbox;
}

Result<std::shared_ptr<Sandbox>> SandboxManager::find(const std::string& id) const {
  std::lock_guard lock(registry_mutex_);
  const auto it = sandboxes_.find(id);
  if (it == sandboxes_.end()) return fail(ErrorCode::kNotFound, "no sandbox with id '" + id + "'");
  return it->second;
}

Result<std::shared_ptr<Sandbox>> SandboxManager::findRunning(const std::string& id) const {
  GRID_ASSIGN_OR_RETURN(std::shared_ptr<Sandbox> found, find(id));
  const SandboxLifecycle lifecycle = found->lifecycle();
  if (lifecycle.status() == SandboxStatus::kPaused) {
    return fail(ErrorCode::kConflict,
                "sandbox " + id + " is paused; POST /sandboxes/" + id + "/resume first");
  }
  if (lifecycle.status() != SandboxStatus::kRunning &&
      lifecycle.status() != SandboxStatus::kExited) {
    if (auto expired = expiredError(*found, "; it is stopped")) return *expired;
    return fail(ErrorCode::kConflict, "sandbox " + id + " is not running (status " +
                                          statusName(lifecycle.status()) + ")");
  }
  return found;
}

std::vector<std::shared_ptr<Sandbox>> SandboxManager::all() const {
  std::lock_guard lock(registry_mutex_);
  std::vector<std::shared_ptr<Sandbox>> list;
  list.reserve(sandboxes_.size());
  for (const auto& [id, sandbox] : sandboxes_) list.push_back(sandbox);
  return list;
}

size_t SandboxManager::runningSlotsInUse() const { return slots_.capacity() - slots_.available(); }

Result<void> SandboxManager::start(const std::string& id, std::optional<ExecResult>* setup_result) {
  GRID_ASSIGN_OR_RETURN(const std::shared_ptr<Sandbox> found, find(id));
  Sandbox& sandbox = *found;
  GRID_TRY(sandbox.advance(SandboxEvent::kStart));
  SandboxRuntime& runtime = sandbox.runtime();
  std::lock_guard operation(sandbox.operationMutex());
  if (shutting_down_) {
    // The shutdown's stop may have taken the operation lock first; then the sandbox stays
    // stopped, which the table rightly refuses to turn into failed.
    (void)sandbox.advance(SandboxEvent::kStartFailed, "the server is shutting down");
    return fail(ErrorCode::kUnavailable, "the server is shutting down");
  }
  // Taken from a warm pool at create: its container runs and its session is open already.
  const bool warm = runtime.session != nullptr;
  const auto queued_at = std::chrono::steady_clock::now();
  if (!warm && slots_.available() == 0) {
    // Idle pool sandboxes give way to a user's start (docs/pools.md): one stops, and its slot
    // goes to this start when nobody is ahead in line, else to the line.
    FifoSemaphore::Permit freed = pools_.yieldSlot();
    if (freed.held() && slots_.waiting() == 0) runtime.permit = std::move(freed);
  }
  const auto outcome =
      runtime.permit.held()
          ? FifoSemaphore::Outcome::kAcquired
          : slots_.acquire(options_.start_wait_timeout, runtime.permit, &runtime.stopping);
  const auto slot_at = std::chrono::steady_clock::now();
  metrics_.slotWaited(slot_at - queued_at);
  if (outcome == FifoSemaphore::Outcome::kTimedOut) {
    advance(sandbox, SandboxEvent::kSlotTimedOut);
    return fail(ErrorCode::kUnavailable,
                "no free sandbox slot within " +
                    std::to_string(options_.start_wait_timeout.count() / 1000) + " s (" +
                    std::to_string(options_.max_running_sandboxes) + " running); retry later");
  }
  if (outcome == FifoSemaphore::Outcome::kCancelled) {
    return fail(ErrorCode::kConflict, "sandbox was stopped while waiting to start");
  }

  const auto failStart = [&](const Error& error) -> Result<void> {
    if (runtime.container_exists) {
      if (auto removed = backend_.destroySandbox(id); !removed.ok()) {
        spdlog::error("{}: removing after failed start: {}", id, removed.error().message);
      }
      runtime.container_exists = false;
    }
    runtime.session.reset();  // a warm sandbox's, opened before its setup failed
    runtime.permit.reset();
    advance(sandbox, SandboxEvent::kStartFailed, error.message);
    spdlog::warn("{}: start failed: {}", id, error.message);
    return error;
  };

  runtime.container_exists = true;  // from here a failure must remove what exists
  if (!warm) {
    if (auto created = backend_.createSandbox(sandbox.spec()); !created.ok()) {
      return failStart(created.error());
    }
  }
  if (runtime.stopping)
    return failStart(fail(ErrorCode::kConflict, "sandbox was stopped while starting"));
  // The egress rules hold before the setup commands run.
  if (options_.egress) {
    if (auto attached = options_.egress->attach(sandbox.spec()); !attached.ok()) {
      return failStart(attached.error());
    }
  }

  if (!sandbox.setupCommands().empty()) {
    ExecLimits limits{options_.max_exec_timeout, options_.max_output_bytes};
    auto setup = runStandalone(backend_, id, joinSetupCommands(sandbox.setupCommands()), limits);
    if (!setup.ok()) return failStart(setup.error());
    if (setup.value().exit_code != 0 || setup.value().timed_out) {
      const int status = setup.value().exit_code;
      const bool timed_out = setup.value().timed_out;
      if (setup_result != nullptr) *setup_result = std::move(setup.value());
      return failStart(
          fail(ErrorCode::kInvalidArgument,
               timed_out ? "setup commands timed out"
                         : "setup commands failed with exit code " + std::to_string(status)));
    }
  }
  if (!warm) {
    auto session = SessionShell::open(backend_, id);
    if (!session.ok()) return failStart(session.error());
    runtime.session = std::move(session.value());
  }
  if (runtime.stopping)
    return failStart(fail(ErrorCode::kConflict, "sandbox was stopped while starting"));
  advance(sandbox, SandboxEvent::kStarted);
  armLifetime(sandbox);
  metrics_.startFinished(std::chrono::steady_clock::now() - slot_at);
  return {};
}

Result<ExecResult> SandboxManager::exec(const std::string& id, const std::string& command,
                                        bool standalone,
                                        std::optional<std::chrono::milliseconds> timeout,
                                        ExecListener* listener, bool auto_resume) {
  GRID_ASSIGN_OR_RETURN(const std::shared_ptr<Sandbox> found, find(id));
  Sandbox& sandbox = *found;
  SandboxRuntime& runtime = sandbox.runtime();
  const auto refuse = [&]() -> std::optional<Error> {
    const SandboxLifecycle lifecycle = sandbox.lifecycle();
    switch (lifecycle.status()) {
      case SandboxStatus::kCreated:
        return fail(ErrorCode::kConflict,
                    "sandbox is not started; POST /sandboxes/" + id + "/start first");
      case SandboxStatus::kStarting:
      case SandboxStatus::kRunning:
        return std::nullopt;
      case SandboxStatus::kExited:
        if (standalone) return std::nullopt;
        return fail(ErrorCode::kConflict,
                    "the session has ended (exit status " +
                        std::to_string(lifecycle.sessionExitCode().value_or(-1)) +
                        "); standalone execs still work");
      case SandboxStatus::kStopped:
        if (auto expired = expiredError(sandbox, "; it is stopped")) return *expired;
        return fail(ErrorCode::kConflict, "sandbox is stopped");
      case SandboxStatus::kFailed:
        return fail(ErrorCode::kConflict, "sandbox failed to start: " + lifecycle.error());
      case SandboxStatus::kPaused:
        if (auto_resume) return std::nullopt;
        return fail(ErrorCode::kConflict, "sandbox is paused; POST /sandboxes/" + id +
                                              "/resume first, or send \"auto_resume\": true");
    }
    return std::nullopt;
  };
  if (auto refused = refuse()) return *refused;

  // Activity from here until the command ends, waiting for the lock included.
  const ActivityTracker::Scope active = sandbox.activity().begin();
  std::lock_guard operation(sandbox.operationMutex());
  // The state may have moved while we waited behind another operation.
  if (auto refused = refuse()) return *refused;
  if (sandbox.lifecycle().status() == SandboxStatus::kStarting) {
    return fail(ErrorCode::kConflict, "sandbox is still starting");
  }
  if (sandbox.lifecycle().status() == SandboxStatus::kPaused) GRID_TRY(resumeLocked(sandbox));

  ExecLimits limits{
      std::min(timeout.value_or(options_.default_exec_timeout), options_.max_exec_timeout),
      options_.max_output_bytes};
  if (listener != nullptr && !listener->onStart()) {
    return fail(ErrorCode::kUnavailable, "the client went away before the command ran");
  }
  const auto at = std::chrono::system_clock::now();
  const auto exec_started = std::chrono::steady_clock::now();
  Result<ExecResult> result = standalone ? runStandalone(backend_, id, command, limits, listener)
                                         : runtime.session->run(command, limits, listener);
  // Its expiry killed the sandbox under the command: whatever the run made of that, the
  // answer says so (the output so far stays in the trajectory).
  const auto expired = expiredError(sandbox, "; the command was cut short");
  if (expired && result.ok()) {
    sandbox.recordExec(
        TrajectoryEntry{TrajectoryKind::kExec, command, standalone, at, result.value()},
        options_.max_trajectory_bytes, false, std::nullopt);
  }
  if (expired) return *expired;
  if (!result.ok()) {
    if (!standalone && !runtime.session->alive()) advance(sandbox, SandboxEvent::kSessionEnded);
    return result.error();
  }
  metrics_.execFinished(standalone, std::chrono::steady_clock::now() - exec_started);
  const bool session_ended = !standalone && result.value().exited;
  sandbox.recordExec(
      TrajectoryEntry{TrajectoryKind::kExec, command, standalone, at, result.value()},
      options_.max_trajectory_bytes, session_ended,
      session_ended ? std::optional<int>(result.value().exit_code) : std::nullopt);
  return result;
}

Result<void> SandboxManager::pause(const std::string& id) {
  GRID_ASSIGN_OR_RETURN(const std::shared_ptr<Sandbox> found, find(id));
  Sandbox& sandbox = *found;
  // Refused before waiting behind an exec: a repeated pause answers at once.
  if (auto allowed = nextStatus(sandbox.lifecycle().status(), SandboxEvent::kPause); !allowed) {
    SandboxLifecycle copy = sandbox.lifecycle();
    return copy.apply(SandboxEvent::kPause, std::chrono::system_clock::now());
  }
  // Behind an exec in progress: freezing its command would only run its deadline down.
  std::lock_guard operation(sandbox.operationMutex());
  if (shutting_down_) return fail(ErrorCode::kUnavailable, "the server is shutting down");
  SandboxLifecycle copy = sandbox.lifecycle();
  GRID_TRY(copy.apply(SandboxEvent::kPause, std::chrono::system_clock::now()));
  if (auto paused = backend_.pauseSandbox(id); !paused.ok()) {
    spdlog::warn("{}: pause failed: {}", id, paused.error().message);
    return paused.error();
  }
  advance(sandbox, SandboxEvent::kPause);
  sandbox.runtime().permit.reset();
  return {};
}

Result<void> SandboxManager::resume(const std::string& id) {
  GRID_ASSIGN_OR_RETURN(const std::shared_ptr<Sandbox> found, find(id));
  Sandbox& sandbox = *found;
  if (sandbox.lifecycle().status() != SandboxStatus::kPaused) {
    SandboxLifecycle copy = sandbox.lifecycle();
    return copy.apply(SandboxEvent::kResume, std::chrono::system_clock::now());
  }
  std::lock_guard operation(sandbox.operationMutex());
  return resumeLocked(sandbox);
}

Result<void> SandboxManager::resumeLocked(Sandbox& sandbox) {
  const std::string& id = sandbox.spec().id;
  SandboxRuntime& runtime = sandbox.runtime();
  if (shutting_down_) return fail(ErrorCode::kUnavailable, "the server is shutting down");
  // The state may have moved while we waited behind another operation.
  SandboxLifecycle copy = sandbox.lifecycle();
  GRID_TRY(copy.apply(SandboxEvent::kResume, std::chrono::system_clock::now()));
  const auto outcome =
      slots_.acquire(options_.start_wait_timeout, runtime.permit, &runtime.stopping);
  if (outcome == FifoSemaphore::Outcome::kTimedOut) {
    return fail(ErrorCode::kUnavailable,
                "no free sandbox slot within " +
                    std::to_string(options_.start_wait_timeout.count() / 1000) + " s (" +
                    std::to_string(options_.max_running_sandboxes) +
                    " running) to resume in; it stays paused, retry later");
  }
  if (outcome == FifoSemaphore::Outcome::kCancelled) {
    return fail(ErrorCode::kConflict, "sandbox was stopped while waiting to resume");
  }
  if (auto resumed = backend_.resumeSandbox(id); !resumed.ok()) {
    runtime.permit.reset();
    spdlog::warn("{}: resume failed: {}", id, resumed.error().message);
    return resumed.error();
  }
  advance(sandbox, SandboxEvent::kResume);
  // Its ttl and idle clocks start again: a sandbox paused on expiry would otherwise be due at
  // once.
  armLifetime(sandbox);
  return {};
}

void SandboxManager::teardown(Sandbox& sandbox) {
  const std::string& id = sandbox.spec().id;
  expiry_.cancel(id);
  SandboxRuntime& runtime = sandbox.runtime();
  runtime.stopping = true;
  slots_.wakeAll();
  const SandboxStatus status = sandbox.lifecycle().status();
  // Its background processes end as killed, and no new one starts.
  sandbox.processes().markSandboxEnding();
  // Its file transfers end now: an engine may wait for them before it removes the container.
  sandbox.transfers().close();
  // Its terminals end too (their shells die with the sandbox).
  sandbox.terminals().close();
  // Its preview links stop working (docs/ports.md).
  sandbox.portShares().clear();
  if (options_.egress) options_.egress->detach(id);
  // Kill the sandbox before waiting for its operation lock, so a running exec ends now.
  if (status != SandboxStatus::kCreated && status != SandboxStatus::kStopped) {
    if (auto removed = backend_.destroySandbox(id); !removed.ok()) {
      spdlog::error("{}: removing: {}", id, removed.error().message);
    }
  }
  // The destroy killed its background processes; their readers end and their records go.
  sandbox.processes().closeAll();
  std::lock_guard operation(sandbox.operationMutex());
  if (runtime.container_exists) {
    if (auto removed = backend_.destroySandbox(id); !removed.ok()) {
      spdlog::error("{}: removing: {}", id, removed.error().message);
    }
    runtime.container_exists = false;
  }
  runtime.session.reset();
  runtime.permit.reset();
  advance(sandbox, SandboxEvent::kStop);
}

Result<void> SandboxManager::stop(const std::string& id, bool remove) {
  GRID_ASSIGN_OR_RETURN(const std::shared_ptr<Sandbox> found, find(id));
  teardown(*found);
  if (remove) {
    std::lock_guard lock(registry_mutex_);
    sandboxes_.erase(id);
    if (options_.egress) options_.egress->forget(id);
  }
  return {};
}

Result<void> SandboxManager::prepareEgress(SandboxSpec& spec,
                                           const std::optional<EgressPolicy>& egress) const {
  if (options_.egress) return options_.egress->prepare(spec, egress);
  if (egress && !egress->empty()) {
    return fail(ErrorCode::kUnsupported, "this server enforces no egress policy");
  }
  return {};
}

void SandboxManager::shutdown() {
  if (shutting_down_.exchange(true)) return;
  pools_.stop();
  expiry_.stop();
  {
    std::lock_guard lock(expiring_mutex_);
    for (auto& f : expiring_) f.wait();
    expiring_.clear();
  }
  auto sandboxes = all();
  if (!sandboxes.empty()) spdlog::info("shutting down: removing {} sandboxes", sandboxes.size());
  std::vector<std::future<void>> pending;
  for (auto& sandbox : sandboxes) {
    pending.push_back(std::async(std::launch::async, [this, sandbox] {
      sandbox->setEndReason(EndReason::kShutdown);
      teardown(*sandbox);
    }));
  }
  for (auto& f : pending) f.wait();
  std::lock_guard lock(registry_mutex_);
  sandboxes_.clear();
}

void SandboxManager::armLifetime(Sandbox& sandbox) {
  const auto now = ActivityTracker::Clock::now();
  sandbox.startLifetime(now);
  if (!sandbox.lifetime().limited()) return;
  const ExpiryCheck first = grid::checkExpiry(sandbox.lifetime(), now, now, false, now);
  expiry_.schedule(sandbox.spec().id, first.recheck_at);
}

void SandboxManager::onExpiryDue(const std::string& id) {
  if (shutting_down_) return;
  auto found = find(id);
  if (!found.ok()) return;  // deleted meanwhile
  const std::shared_ptr<Sandbox> sandbox = found.value();
  const SandboxStatus status = sandbox->lifecycle().status();
  // Only a sandbox whose container runs expires; a stopped (or paused) one has no deadline.
  if (status != SandboxStatus::kRunning && status != SandboxStatus::kExited) return;
  const auto start = sandbox->lifetimeStart();
  if (!start) return;
  const LifetimePolicy& lifetime = sandbox->lifetime();
  const ExpiryCheck check =
      grid::checkExpiry(lifetime, *start, sandbox->lastActivity(), sandbox->activity().busy(),
                        ActivityTracker::Clock::now());
  if (check.cause == ExpiryCause::kNone) {
    expiry_.schedule(id, check.recheck_at);  // activity moved the idle deadline
    return;
  }
  const EndReason reason = check.cause == ExpiryCause::kTtl ? EndReason::kTtl : EndReason::kIdle;
  spdlog::info("{}: expired ({} of {}); {}", id,
               reason == EndReason::kTtl ? "ttl" : "idle timeout",
               durationText(reason == EndReason::kTtl ? lifetime.ttl : lifetime.idle_timeout),
               expiryActionName(lifetime.action));
  // On a thread of its own: one engine's slow removal (or a pause waiting behind an exec) must
  // not hold up other expiries.
  std::lock_guard lock(expiring_mutex_);
  std::erase_if(expiring_, [](const std::future<void>& f) {
    return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  });
  expiring_.push_back(std::async(std::launch::async, [this, sandbox, reason] {
    if (sandbox->lifetime().action == ExpiryAction::kPause) {
      auto paused = pause(sandbox->spec().id);
      if (paused.ok()) return;
      // An exited session's sandbox, or a backend that cannot pause: it ends instead.
      spdlog::warn("{}: pausing on expiry failed: {}; stopping it instead", sandbox->spec().id,
                   paused.error().message);
    }
    sandbox->setEndReason(reason);
    teardown(*sandbox);
  }));
}

}  // namespace grid
