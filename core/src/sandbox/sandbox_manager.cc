#include "sandbox/sandbox_manager.h"

#include <spdlog/spdlog.h>

#include <future>

#include "session/process_io.h"
#include "util/random_token.h"

namespace grid {
namespace {

std::string newSandboxId() {
  // UUID v4 layout: familiar to clients, and valid in container names.
  std::string hex = randomHex(16);
  hex[12] = '4';
  hex[16] = "89ab"[hex[16] % 4];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

size_t outputBytes(const ExecResult& result) {
  return result.output.size() + result.stdout_text.size() + result.stderr_text.size();
}

std::string joinSetup(const std::vector<std::string>& commands) {
  std::string joined;
  for (const auto& command : commands) {
    if (!joined.empty()) joined += " && ";
    joined += command;
  }
  return joined;
}

}  // namespace

SandboxManager::SandboxManager(SandboxBackend& backend, ManagerOptions options)
    : backend_(backend), options_(std::move(options)), slots_(options_.max_running_sandboxes) {}

SandboxManager::~SandboxManager() { shutdown(); }

void SandboxManager::setStatus(Sandbox& sandbox, SandboxStatus status, std::string error) {
  std::lock_guard lock(sandbox.state_mutex_);
  sandbox.status_ = status;
  if (!error.empty()) sandbox.error_ = std::move(error);
  const auto now = std::chrono::system_clock::now();
  if (status == SandboxStatus::kRunning && !sandbox.started_at_) sandbox.started_at_ = now;
  if (status == SandboxStatus::kStopped) sandbox.stopped_at_ = now;
}

Result<std::shared_ptr<Sandbox>> SandboxManager::create(CreateRequest request) {
  if (shutting_down_) return fail(ErrorCode::kUnavailable, "the server is shutting down");
  SandboxSpec spec;
  spec.id = newSandboxId();
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
  if (auto supported = backend_.checkSpec(spec); !supported.ok()) return supported.error();
  auto sandbox = std::make_shared<Sandbox>(std::move(spec), std::move(request.setup_commands),
                                           options_.backend_name);
  std::lock_guard lock(registry_mutex_);
  if (sandboxes_.size() >= options_.max_sandboxes) {
    return fail(ErrorCode::kResourceExhausted,
                "the server holds its maximum of " + std::to_string(options_.max_sandboxes) +
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

std::vector<std::shared_ptr<Sandbox>> SandboxManager::all() const {
  std::lock_guard lock(registry_mutex_);
  std::vector<std::shared_ptr<Sandbox>> list;
  list.reserve(sandboxes_.size());
  for (const auto& [id, sandbox] : sandboxes_) list.push_back(sandbox);
  return list;
}

size_t SandboxManager::runningSlotsInUse() const {
  return slots_.capacity() - slots_.available();
}

Result<void> SandboxManager::start(const std::string& id,
                                   std::optional<ExecResult>* setup_result) {
  auto found = find(id);
  if (!found.ok()) return found.error();
  Sandbox& sandbox = *found.value();
  {
    std::lock_guard lock(sandbox.state_mutex_);
    if (sandbox.status_ != SandboxStatus::kCreated) {
      return fail(ErrorCode::kConflict, std::string("sandbox is already ") +
                                            statusName(sandbox.status_) + "; start it only once");
    }
    sandbox.status_ = SandboxStatus::kStarting;
  }
  std::lock_guard operation(sandbox.operation_mutex_);
  if (shutting_down_) {
    setStatus(sandbox, SandboxStatus::kFailed, "the server is shutting down");
    return fail(ErrorCode::kUnavailable, "the server is shutting down");
  }
  const auto outcome = slots_.acquire(options_.start_wait_timeout, sandbox.permit_, &sandbox.stopping_);
  if (outcome == FifoSemaphore::Outcome::kTimedOut) {
    setStatus(sandbox, SandboxStatus::kCreated);
    return fail(ErrorCode::kUnavailable,
                "no free sandbox slot within " +
                    std::to_string(options_.start_wait_timeout.count() / 1000) + " s (" +
                    std::to_string(options_.max_running_sandboxes) + " running); retry later");
  }
  if (outcome == FifoSemaphore::Outcome::kCancelled) {
    return fail(ErrorCode::kConflict, "sandbox was stopped while waiting to start");
  }

  const auto failStart = [&](const Error& error) -> Result<void> {
    if (sandbox.container_exists_) {
      if (auto removed = backend_.destroySandbox(id); !removed.ok()) {
        spdlog::error("{}: removing after failed start: {}", id, removed.error().message);
      }
      sandbox.container_exists_ = false;
    }
    sandbox.permit_.reset();
    setStatus(sandbox, SandboxStatus::kFailed, error.message);
    spdlog::warn("{}: start failed: {}", id, error.message);
    return error;
  };

  sandbox.container_exists_ = true;  // from here a failure must remove what exists
  if (auto created = backend_.createSandbox(sandbox.spec()); !created.ok()) {
    return failStart(created.error());
  }
  if (sandbox.stopping_) return failStart(fail(ErrorCode::kConflict, "sandbox was stopped while starting"));

  if (!sandbox.setup_commands_.empty()) {
    ExecLimits limits{options_.max_exec_timeout, options_.max_output_bytes};
    auto setup = runStandalone(backend_, id, joinSetup(sandbox.setup_commands_), limits);
    if (!setup.ok()) return failStart(setup.error());
    if (setup.value().exit_code != 0 || setup.value().timed_out) {
      const int status = setup.value().exit_code;
      const bool timed_out = setup.value().timed_out;
      if (setup_result != nullptr) *setup_result = std::move(setup.value());
      return failStart(fail(ErrorCode::kInvalidArgument,
                            timed_out ? "setup commands timed out"
                                      : "setup commands failed with exit code " +
                                            std::to_string(status)));
    }
  }
  auto session = SessionShell::open(backend_, id);
  if (!session.ok()) return failStart(session.error());
  sandbox.session_ = std::move(session.value());
  if (sandbox.stopping_) return failStart(fail(ErrorCode::kConflict, "sandbox was stopped while starting"));
  setStatus(sandbox, SandboxStatus::kRunning);
  return {};
}

Result<ExecResult> SandboxManager::exec(const std::string& id, const std::string& command,
                                        bool standalone,
                                        std::optional<std::chrono::milliseconds> timeout) {
  auto found = find(id);
  if (!found.ok()) return found.error();
  Sandbox& sandbox = *found.value();
  const auto refuse = [&]() -> std::optional<Error> {
    std::lock_guard lock(sandbox.state_mutex_);
    switch (sandbox.status_) {
      case SandboxStatus::kCreated:
        return fail(ErrorCode::kConflict, "sandbox is not started; POST /sandboxes/" + id + "/start first");
      case SandboxStatus::kStarting:
      case SandboxStatus::kRunning:
        return std::nullopt;
      case SandboxStatus::kExited:
        if (standalone) return std::nullopt;
        return fail(ErrorCode::kConflict,
                    "the session has ended (exit status " +
                        std::to_string(sandbox.session_exit_code_.value_or(-1)) +
                        "); standalone execs still work");
      case SandboxStatus::kStopped:
        return fail(ErrorCode::kConflict, "sandbox is stopped");
      case SandboxStatus::kFailed:
        return fail(ErrorCode::kConflict, "sandbox failed to start: " + sandbox.error_);
    }
    return std::nullopt;
  };
  if (auto refused = refuse()) return *refused;

  std::lock_guard operation(sandbox.operation_mutex_);
  // The state may have moved while we waited behind another operation.
  if (auto refused = refuse()) return *refused;
  if (sandbox.status_ == SandboxStatus::kStarting) {
    return fail(ErrorCode::kConflict, "sandbox is still starting");
  }

  ExecLimits limits{std::min(timeout.value_or(options_.default_exec_timeout), options_.max_exec_timeout),
                    options_.max_output_bytes};
  const auto at = std::chrono::system_clock::now();
  Result<ExecResult> result = standalone ? runStandalone(backend_, id, command, limits)
                                         : sandbox.session_->run(command, limits);
  if (!result.ok()) {
    if (!standalone && !sandbox.session_->alive()) {
      std::lock_guard lock(sandbox.state_mutex_);
      sandbox.status_ = SandboxStatus::kExited;
    }
    return result.error();
  }
  std::lock_guard lock(sandbox.state_mutex_);
  if (!standalone && result.value().exited) {
    sandbox.status_ = SandboxStatus::kExited;
    sandbox.session_exit_code_ = result.value().exit_code;
  }
  sandbox.trajectory_.push_back(TrajectoryEntry{command, standalone, at, result.value()});
  sandbox.trajectory_bytes_ += outputBytes(result.value());
  for (auto& entry : sandbox.trajectory_) {
    if (sandbox.trajectory_bytes_ <= options_.max_trajectory_bytes) break;
    if (entry.output_dropped) continue;
    sandbox.trajectory_bytes_ -= outputBytes(entry.result);
    entry.result.output = "[output dropped: the trajectory keeps at most " +
                          std::to_string(options_.max_trajectory_bytes) + " bytes of output]";
    entry.result.stdout_text.clear();
    entry.result.stderr_text.clear();
    entry.output_dropped = true;
  }
  return result;
}

void SandboxManager::teardown(Sandbox& sandbox) {
  const std::string& id = sandbox.spec().id;
  sandbox.stopping_ = true;
  slots_.wakeAll();
  SandboxStatus status;
  {
    std::lock_guard lock(sandbox.state_mutex_);
    status = sandbox.status_;
  }
  // Kill the sandbox before waiting for its operation lock, so a running exec ends now.
  if (status != SandboxStatus::kCreated && status != SandboxStatus::kStopped) {
    if (auto removed = backend_.destroySandbox(id); !removed.ok()) {
      spdlog::error("{}: removing: {}", id, removed.error().message);
    }
  }
  std::lock_guard operation(sandbox.operation_mutex_);
  if (sandbox.container_exists_) {
    if (auto removed = backend_.destroySandbox(id); !removed.ok()) {
      spdlog::error("{}: removing: {}", id, removed.error().message);
    }
    sandbox.container_exists_ = false;
  }
  sandbox.session_.reset();
  sandbox.permit_.reset();
  setStatus(sandbox, SandboxStatus::kStopped);
}

Result<void> SandboxManager::stop(const std::string& id, bool remove) {
  auto found = find(id);
  if (!found.ok()) return found.error();
  teardown(*found.value());
  if (remove) {
    std::lock_guard lock(registry_mutex_);
    sandboxes_.erase(id);
  }
  return {};
}

void SandboxManager::shutdown() {
  if (shutting_down_.exchange(true)) return;
  auto sandboxes = all();
  if (!sandboxes.empty()) spdlog::info("shutting down: removing {} sandboxes", sandboxes.size());
  std::vector<std::future<void>> pending;
  for (auto& sandbox : sandboxes) {
    pending.push_back(std::async(std::launch::async, [this, sandbox] { teardown(*sandbox); }));
  }
  for (auto& f : pending) f.wait();
  std::lock_guard lock(registry_mutex_);
  sandboxes_.clear();
}

}  // namespace grid
