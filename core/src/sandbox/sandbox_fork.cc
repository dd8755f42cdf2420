// SandboxManager's fork, snapshot and reset (docs/fork-snapshot.md).
#include <spdlog/spdlog.h>

#include <future>

#include "sandbox/sandbox_manager.h"
#include "session/process_io.h"
#include "session/session_state.h"
#include "util/random_token.h"

namespace grid {
namespace {

// The session commands of a fork are the server's own; they get a fixed, short budget.
constexpr std::chrono::milliseconds kStateCommandTimeout{20000};
constexpr size_t kStateCommandOutputBytes = 4096;

Result<void> requireRunning(const Sandbox& sandbox, const char* operation) {
  const SandboxLifecycle lifecycle = sandbox.lifecycle();
  if (lifecycle.status() == SandboxStatus::kRunning) return {};
  return fail(ErrorCode::kConflict, std::string("cannot ") + operation + " sandbox " +
                                        sandbox.spec().id + ": it is " +
                                        statusName(lifecycle.status()) + ", not running");
}

}  // namespace

Result<std::vector<std::shared_ptr<Sandbox>>> SandboxManager::fork(const std::string& id,
                                                                   size_t count) {
  if (shutting_down_) return fail(ErrorCode::kUnavailable, "the server is shutting down");
  if (count < 1 || count > options_.max_fork_count) {
    return fail(ErrorCode::kInvalidArgument, "count must be between 1 and " +
                                                 std::to_string(options_.max_fork_count) +
                                                 ", got " + std::to_string(count));
  }
  GRID_ASSIGN_OR_RETURN(const std::shared_ptr<Sandbox> found, find(id));
  Sandbox& source = *found;
  GRID_TRY(requireRunning(source, "fork"));
  std::lock_guard operation(source.operationMutex());
  GRID_TRY(requireRunning(source, "fork"));
  SandboxRuntime& source_runtime = source.runtime();
  if (!source_runtime.session || !source_runtime.session->alive()) {
    return fail(ErrorCode::kConflict, "cannot fork sandbox " + id + ": its session has ended");
  }
  {
    std::lock_guard lock(registry_mutex_);
    if (sandboxes_.size() + count > options_.max_sandbox_records) {
      return fail(ErrorCode::kResourceExhausted,
                  "a fork of " + std::to_string(count) + " would pass the server's maximum of " +
                      std::to_string(options_.max_sandbox_records) + " sandboxes");
    }
  }
  // Every child runs at once, so each needs a free slot now; waiting in line would fork a
  // later state than the caller asked for.
  const size_t free_before = slots_.available();
  std::vector<FifoSemaphore::Permit> permits(count);
  for (auto& permit : permits) {
    if (slots_.acquire(std::chrono::milliseconds(0), permit) != FifoSemaphore::Outcome::kAcquired &&
        slots_.waiting() == 0) {
      permit = pools_.yieldSlot();  // idle pool sandboxes give way, as to a start (pools.md)
    }
    if (!permit.held()) {
      return fail(ErrorCode::kResourceExhausted,
                  "a fork of " + std::to_string(count) + " needs as many free running slots; " +
                      std::to_string(free_before) + " of " +
                      std::to_string(options_.max_running_sandboxes) +
                      " are free now (queued starts go first); retry later or ask for fewer");
    }
  }

  GRID_TRY(backend_.forkSandbox(id, {}));  // can it fork at all? (nothing is made)
  // The session's state goes into a file of the source's filesystem, so the fork carries it.
  const std::string state_path = sessionStatePath(randomHex(8));
  const ExecLimits state_limits{kStateCommandTimeout, kStateCommandOutputBytes};
  GRID_ASSIGN_OR_RETURN(ExecResult captured,
                        source_runtime.session->run(captureStateCommand(state_path), state_limits));
  if (captured.exit_code != 0 || captured.timed_out || captured.exited) {
    if (captured.exited) advance(source, SandboxEvent::kSessionEnded);
    if (captured.exit_code == kStateTooLargeStatus) {
      return fail(ErrorCode::kInvalidArgument,
                  "cannot fork sandbox " + id + ": its session state exceeds " +
                      std::to_string(kMaxSessionStateBytes) + " bytes");
    }
    return fail(ErrorCode::kConflict, "cannot fork sandbox " + id +
                                          ": saving its session state to " + state_path +
                                          " failed (is / writable?)");
  }
  const auto removeSourceState = [&] {
    if (source_runtime.session && source_runtime.session->alive()) {
      (void)source_runtime.session->run(removeStateCommand(state_path), state_limits);
    }
  };

  std::vector<std::shared_ptr<Sandbox>> children;
  std::vector<SandboxSpec> specs;
  for (size_t i = 0; i < count; ++i) {
    SandboxSpec spec = source.spec();
    spec.id = randomUuid();
    auto child = std::make_shared<Sandbox>(spec, source.setupCommands(), options_.backend_name);
    advance(*child, SandboxEvent::kStart);
    child->runtime().permit = std::move(permits[i]);
    children.push_back(child);
    specs.push_back(std::move(spec));
  }
  const auto failChildren = [&](const Error& error) {
    for (auto& child : children) {
      if (options_.egress) options_.egress->forget(child->spec().id);
      if (child->runtime().container_exists) (void)backend_.destroySandbox(child->spec().id);
      child->runtime().container_exists = false;
      child->runtime().session.reset();
      child->runtime().permit.reset();
      advance(*child, SandboxEvent::kStartFailed, error.message);
    }
    spdlog::warn("{}: fork failed: {}", id, error.message);
    return error;
  };

  auto forked = backend_.forkSandbox(id, specs);
  removeSourceState();
  if (!forked.ok()) return failChildren(forked.error());
  for (auto& child : children) child->runtime().container_exists = true;
  // Each child runs under its source's egress policy, in its own namespace.
  if (options_.egress) {
    for (auto& spec : specs) {
      options_.egress->inherit(id, spec);
      if (auto attached = options_.egress->attach(spec); !attached.ok()) {
        return failChildren(attached.error());
      }
    }
  }

  // Each child's session opens and replays the state, in parallel: they are independent.
  std::vector<std::future<Result<std::unique_ptr<SessionShell>>>> sessions;
  for (auto& child : children) {
    sessions.push_back(std::async(
        std::launch::async,
        [this, &state_path, &state_limits,
         child_id = child->spec().id]() -> Result<std::unique_ptr<SessionShell>> {
          GRID_ASSIGN_OR_RETURN(auto session, SessionShell::open(backend_, child_id));
          GRID_ASSIGN_OR_RETURN(ExecResult restored,
                                session->run(restoreStateCommand(state_path), state_limits));
          if (restored.exited || restored.timed_out || !session->alive()) {
            return fail(ErrorCode::kConflict,
                        "the session of fork child " + child_id +
                            " ended while replaying the source's state (an `exit` in a trap "
                            "or function of the source's session?)");
          }
          return session;
        }));
  }
  std::optional<Error> first_error;
  for (size_t i = 0; i < children.size(); ++i) {
    auto session = sessions[i].get();
    if (!session.ok()) {
      if (!first_error) first_error = session.error();
      continue;
    }
    children[i]->runtime().session = std::move(session.value());
  }
  if (first_error) return failChildren(*first_error);

  std::string child_ids;
  {
    std::lock_guard lock(registry_mutex_);
    for (auto& child : children) {
      sandboxes_.emplace(child->spec().id, child);
      if (!child_ids.empty()) child_ids += ", ";
      child_ids += child->spec().id;
    }
  }
  if (shutting_down_) {  // a shutdown that listed the sandboxes before these were added
    for (auto& child : children) teardown(*child);
    return fail(ErrorCode::kUnavailable, "the server is shutting down");
  }
  for (auto& child : children) {
    advance(*child, SandboxEvent::kStarted);
    child->recordOperation(TrajectoryKind::kFork, "forked from " + id);
  }
  source.recordOperation(TrajectoryKind::kFork,
                         "forked into " + std::to_string(count) + ": " + child_ids);
  return children;
}

Result<void> SandboxManager::snapshot(const std::string& id, const std::string& image,
                                      bool overwrite) {
  if (shutting_down_) return fail(ErrorCode::kUnavailable, "the server is shutting down");
  GRID_ASSIGN_OR_RETURN(const std::shared_ptr<Sandbox> found, find(id));
  Sandbox& sandbox = *found;
  GRID_TRY(requireRunning(sandbox, "snapshot"));
  std::lock_guard operation(sandbox.operationMutex());
  GRID_TRY(requireRunning(sandbox, "snapshot"));
  GRID_TRY(backend_.snapshotSandbox(id, image, overwrite));
  sandbox.recordOperation(TrajectoryKind::kSnapshot,
                          "saved as image " + image + (overwrite ? " (overwrite)" : ""));
  return {};
}

Result<void> SandboxManager::reset(const std::string& id, std::optional<ExecResult>* setup_result) {
  if (shutting_down_) return fail(ErrorCode::kUnavailable, "the server is shutting down");
  GRID_ASSIGN_OR_RETURN(const std::shared_ptr<Sandbox> found, find(id));
  Sandbox& sandbox = *found;
  GRID_TRY(requireRunning(sandbox, "reset"));
  std::lock_guard operation(sandbox.operationMutex());
  GRID_TRY(requireRunning(sandbox, "reset"));
  SandboxRuntime& runtime = sandbox.runtime();
  // It keeps its running slot: the container is replaced, the sandbox goes on.
  runtime.session.reset();
  const auto failReset = [&](const Error& error) -> Result<void> {
    if (runtime.container_exists) (void)backend_.destroySandbox(id);
    runtime.container_exists = false;
    runtime.session.reset();
    runtime.permit.reset();
    advance(sandbox, SandboxEvent::kStop, "reset failed: " + error.message);
    spdlog::warn("{}: reset failed: {}", id, error.message);
    return error;
  };
  if (auto removed = backend_.destroySandbox(id); !removed.ok()) return failReset(removed.error());
  runtime.container_exists = false;
  if (runtime.stopping) return fail(ErrorCode::kConflict, "sandbox was stopped while resetting");
  runtime.container_exists = true;
  if (auto created = backend_.createSandbox(sandbox.spec()); !created.ok()) {
    return failReset(created.error());
  }
  if (options_.egress) {
    if (auto attached = options_.egress->attach(sandbox.spec()); !attached.ok()) {
      return failReset(attached.error());
    }
  }
  if (!sandbox.setupCommands().empty()) {
    ExecLimits limits{options_.max_exec_timeout, options_.max_output_bytes};
    auto setup = runStandalone(backend_, id, joinSetupCommands(sandbox.setupCommands()), limits);
    if (!setup.ok()) return failReset(setup.error());
    if (setup.value().exit_code != 0 || setup.value().timed_out) {
      const int status = setup.value().exit_code;
      const bool timed_out = setup.value().timed_out;
      if (setup_result != nullptr) *setup_result = std::move(setup.value());
      return failReset(fail(
          ErrorCode::kInvalidArgument,
          timed_out ? "setup commands timed out on reset"
                    : "setup commands failed on reset with exit code " + std::to_string(status)));
    }
  }
  auto session = SessionShell::open(backend_, id);
  if (!session.ok()) return failReset(session.error());
  runtime.session = std::move(session.value());
  sandbox.recordOperation(TrajectoryKind::kReset, "reset to the state after setup");
  return {};
}

}  // namespace grid
