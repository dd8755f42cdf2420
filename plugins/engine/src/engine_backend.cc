#include "engine_backend.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>

#include <fstream>
#include <utility>

#include "grid/engine/container_conventions.h"
#include "grid/engine/container_ops.h"
#include "grid/engine/initial_process.h"
#include "grid/seccomp/oci_profile.h"
#include "grid/sys/syscall_error.h"
#include "grid/sys/unique_fd.h"
#include "seccomp_profile_file.h"

namespace grid::engine {

Result<void> EngineBackend::init(const BackendConfig& config) {
  GRID_TRY(checkInstanceName(dialect_.name, config.instance));
  GRID_ASSIGN_OR_RETURN(settings_, parseSettings(dialect_, config.settings));
  instance_ = config.instance;
  seccomp_profile_ = seccomp::renderOciProfile(seccomp::sandboxPolicy());
  if (dialect_.seccomp_profile_file) {
    seccomp_profile_file_ = dialect_.seccomp_profile_file(seccomp_profile_);
  }
  seccomp::logSeccompMode(dialect_.name, settings_.seccomp);
  client_ = std::make_shared<EngineClient>(
      EngineEndpoint{settings_.socket, dialect_.name, dialect_.display_name});
  GRID_TRY(dialect_.connect(*client_, settings_));
  if (!dialect_.gvisor_service) return {};

  // The gVisor service is optional: without it only isolation = gvisor is refused (and
  // `grid serve` refuses to start when that is the configured default).
  gvisor_client_ = std::make_shared<EngineClient>(EngineEndpoint{
      settings_.gvisor_socket, dialect_.name, dialect_.gvisor_service->display_name});
  gvisor_client_->setApiVersion(client_->apiVersion());
  if (auto gvisor = checkGvisorService(); gvisor.ok()) {
    spdlog::info("{}: gVisor service ({}) at unix://{}", dialect_.name, settings_.gvisor_runtime,
                 settings_.gvisor_socket);
  } else {
    spdlog::info("{}: isolation gvisor unavailable: {}", dialect_.name, gvisor.error().message);
  }
  return {};
}

Result<void> EngineBackend::checkGvisorService() {
  std::lock_guard lock(gvisor_check_mutex_);
  if (gvisor_checked_) return {};
  GRID_TRY(dialect_.gvisor_service->check(*gvisor_client_, settings_));
  gvisor_checked_ = true;
  return {};
}

std::shared_ptr<EngineClient> EngineBackend::clientFor(const std::string& sandbox_id) {
  std::lock_guard lock(mutex_);
  return on_gvisor_.count(sandbox_id) != 0 ? gvisor_client_ : client_;
}

Result<std::vector<std::string>> EngineBackend::removeLeftoversOn(EngineClient& client,
                                                                  const std::string& filter) {
  return removeLeftoverContainers(client, dialect_.list_path(filter), dialect_.remove_path);
}

// With a gVisor service, both services see every container (shared storage). gVisor
// containers go first through the service that runs them, if it is up; the main service then
// removes whatever is left, runsc containers included (ci/containers.conf registers runsc), so
// each container is listed for removal once.
Result<std::vector<std::string>> EngineBackend::removeLeftovers() {
  std::vector<std::string> removed;
  if (gvisor_client_) {
    auto on_gvisor =
        removeLeftoversOn(*gvisor_client_, dialect_.gvisor_service->leftover_filter(instance_));
    if (on_gvisor.ok()) {
      removed = std::move(on_gvisor).value();
    } else if (on_gvisor.error().code != ErrorCode::kUnavailable) {
      spdlog::warn("{}: removing gVisor leftovers through unix://{}: {}; trying the main service",
                   dialect_.name, settings_.gvisor_socket, on_gvisor.error().message);
    }
  }
  GRID_ASSIGN_OR_RETURN(auto rest, removeLeftoversOn(*client_, leftoverFilter(instance_)));
  removed.insert(removed.end(), rest.begin(), rest.end());
  removeLeftoverForkImages();
  return removed;
}

Result<void> EngineBackend::checkSpec(const SandboxSpec& spec) {
  if (spec.isolation == Isolation::kDefault) return {};
  if (gvisor_client_) return checkGvisorService();
  // Asked each time: a runtime may be registered (dockerd reloads daemon.json on SIGHUP) or
  // dropped while Grid runs.
  return checkEngineRuntime(*client_, dialect_.name,
                            engineRuntimeFor(spec, settings_.gvisor_runtime),
                            dialect_.runtime_register_hint);
}

Result<void> EngineBackend::createSandbox(const SandboxSpec& spec) {
  GRID_TRY(checkSandboxSpec(dialect_.name, spec));
  GRID_TRY(checkSpec(spec));
  GRID_TRY(ensureImage(spec.image));
  const std::string name = containerName(instance_, spec.id);
  const bool profile_in_file = dialect_.seccomp_profile_file != nullptr;
  if (profile_in_file && settings_.seccomp == seccomp::SeccompMode::kGrid) {
    GRID_TRY(writeSeccompProfileFile(dialect_.name, seccomp_profile_file_, seccomp_profile_));
  }
  Poco::JSON::Object::Ptr body =
      dialect_.create_body(instance_, spec, engineRuntimeFor(spec, settings_.gvisor_runtime));
  dialect_.apply_seccomp(*body, settings_.seccomp,
                         profile_in_file ? seccomp_profile_file_ : seccomp_profile_);
  const bool on_gvisor = gvisor_client_ && spec.isolation == Isolation::kGvisor;
  const std::shared_ptr<EngineClient> client = on_gvisor ? gvisor_client_ : client_;
  ContainerCreation creation{spec.id,
                             dialect_.create_path(name),
                             toJson(body),
                             dialect_.start_path(name),
                             dialect_.remove_path(name),
                             nullptr};
  std::unique_ptr<InitialProcessChannel> initial;
  if (runsInitialProcess(spec)) {
    // Attached before the start, so nothing the process writes or reads is missed.
    creation.before_start = [&]() -> Result<void> {
      GRID_ASSIGN_OR_RETURN(initial, attachInitialProcess(client, name, spec.id));
      return {};
    };
  }
  auto created = createAndStartContainer(*client, creation);
  if (created.ok() && initial) {
    execs_.add(spec.id, initial->abortHandle());
    std::lock_guard lock(mutex_);
    initial_processes_[spec.id] = std::move(initial);
  }
  if (created.ok() && spec.isolation == Isolation::kGvisor) {
    std::lock_guard lock(mutex_);
    gvisor_sandboxes_.insert(spec.id);
    if (on_gvisor) on_gvisor_.insert(spec.id);
  }
  return created;
}

Result<void> EngineBackend::ensureImage(const std::string& image) {
  return engine::ensureImage(*client_, image, dialect_.image_present_path(image),
                             dialect_.pull_path(image), settings_.pull_timeout);
}

Result<std::unique_ptr<ProcessChannel>> EngineBackend::startProcess(const std::string& sandbox_id,
                                                                    const ProcessSpec& spec) {
  // runsc behind Podman's gVisor service ends a terminal exec's shell at once (docs/terminal.md).
  if (spec.tty && gvisor_client_ && clientFor(sandbox_id) == gvisor_client_) {
    return fail(ErrorCode::kUnsupported,
                dialect_.name + ": terminals are not available on the " +
                    dialect_.gvisor_service->display_name + " (its runsc ends a terminal's shell)");
  }
  // An exec runs through the service that created the container (its runtime runs the exec).
  return startSandboxProcess(clientFor(sandbox_id), instance_, sandbox_id, spec, &execs_);
}

Result<std::unique_ptr<ProcessChannel>> EngineBackend::takeInitialProcess(
    const std::string& sandbox_id) {
  std::lock_guard lock(mutex_);
  auto it = initial_processes_.find(sandbox_id);
  if (it == initial_processes_.end()) return std::unique_ptr<ProcessChannel>();
  std::unique_ptr<ProcessChannel> channel = std::move(it->second);
  initial_processes_.erase(it);
  return channel;
}

Result<void> EngineBackend::pauseSandbox(const std::string& sandbox_id) {
  if (!isValidSandboxId(sandbox_id)) {
    return fail(ErrorCode::kNotFound, dialect_.name + ": no sandbox '" + sandbox_id + "'");
  }
  GRID_TRY(pauseContainer(*clientFor(sandbox_id),
                          dialect_.pause_path(containerName(instance_, sandbox_id)), true));
  std::lock_guard lock(mutex_);
  paused_.insert(sandbox_id);
  return {};
}

Result<void> EngineBackend::resumeSandbox(const std::string& sandbox_id) {
  if (!isValidSandboxId(sandbox_id)) {
    return fail(ErrorCode::kNotFound, dialect_.name + ": no sandbox '" + sandbox_id + "'");
  }
  GRID_TRY(pauseContainer(*clientFor(sandbox_id),
                          dialect_.unpause_path(containerName(instance_, sandbox_id)), false));
  std::lock_guard lock(mutex_);
  paused_.erase(sandbox_id);
  return {};
}

Result<void> EngineBackend::destroySandbox(const std::string& sandbox_id) {
  bool paused = false;
  {
    std::lock_guard lock(mutex_);
    paused = paused_.erase(sandbox_id) != 0;
  }
  // Docker removes a paused gVisor container only after its 10 s stop timeout: thaw it first
  // (best effort; the forced removal follows either way). runc's paused containers go at once.
  if (paused && onGvisor(sandbox_id)) {
    if (auto thawed = resumeSandbox(sandbox_id); !thawed.ok()) {
      spdlog::warn("{}: unpausing sandbox {} before removing it: {}", dialect_.name, sandbox_id,
                   thawed.error().message);
    }
  }
  GRID_TRY(
      removeSandboxContainer(*clientFor(sandbox_id), instance_, sandbox_id, dialect_.remove_path));
  {
    std::lock_guard lock(mutex_);
    on_gvisor_.erase(sandbox_id);
    gvisor_sandboxes_.erase(sandbox_id);
  }
  // runsc may keep an exec's stream open after its container is gone: end them here, or a
  // session exec (and the stop waiting for it) would last until its deadline.
  execs_.abortAll(sandbox_id);
  std::unique_ptr<ProcessChannel> untaken;  // closed outside the lock
  {
    std::lock_guard lock(mutex_);
    if (auto it = initial_processes_.find(sandbox_id); it != initial_processes_.end()) {
      untaken = std::move(it->second);
      initial_processes_.erase(it);
    }
  }
  releaseForkImage(sandbox_id);
  return {};
}

Result<SandboxStats> EngineBackend::sandboxStats(const std::string& sandbox_id,
                                                 Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) {
    return fail(ErrorCode::kTimeout, dialect_.name + ": no time left to read sandbox stats");
  }
  // one-shot: Docker answers at once instead of waiting a second for a second CPU sample.
  const std::string path =
      "/containers/" + containerName(instance_, sandbox_id) + "/stats?stream=false&one-shot=true";
  GRID_ASSIGN_OR_RETURN(const Response answer,
                        clientFor(sandbox_id)->request("GET", path, std::nullopt, left));
  if (!answer.ok()) return clientFor(sandbox_id)->errorFor("GET", path, answer);
  return parseContainerStats(dialect_.name, answer.body);
}

Result<int> EngineBackend::openNetworkNamespace(const std::string& sandbox_id) {
  if (onGvisor(sandbox_id)) {
    return fail(ErrorCode::kUnsupported,
                dialect_.name + ": sandbox " + sandbox_id +
                    " runs on gVisor, whose own network stack no host namespace carries");
  }
  const std::string path = "/containers/" + containerName(instance_, sandbox_id) + "/json";
  auto client = clientFor(sandbox_id);
  GRID_ASSIGN_OR_RETURN(const Response answer, client->request("GET", path));
  if (!answer.ok()) return client->errorFor("GET", path, answer);
  GRID_ASSIGN_OR_RETURN(const ContainerProcess process,
                        parseContainerProcess(dialect_.name, answer.body));
  if (process.pid <= 0) {
    return fail(ErrorCode::kConflict, dialect_.name + ": sandbox " + sandbox_id + " is not running");
  }
  const std::string proc = "/proc/" + std::to_string(process.pid);
  sys::UniqueFd netns(::open((proc + "/ns/net").c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns.valid()) {
    return sys::sysFail(ErrorCode::kUnsupported, dialect_.name, "open", proc + "/ns/net", errno);
  }
  // Opened first, checked after: the fd is the namespace of a process that was, at the check,
  // still in the container's cgroup (a container's processes share its namespace).
  std::ifstream cgroups(proc + "/cgroup");
  std::string line;
  bool in_container = false;
  while (!in_container && std::getline(cgroups, line)) {
    in_container = line.find(process.id) != std::string::npos;
  }
  if (!in_container) {
    return fail(ErrorCode::kUnsupported,
                dialect_.name + ": the process of sandbox " + sandbox_id +
                    " is not on this host (an engine elsewhere, or it has just ended)");
  }
  return netns.release();
}

bool EngineBackend::onGvisor(const std::string& sandbox_id) {
  std::lock_guard lock(mutex_);
  return gvisor_sandboxes_.count(sandbox_id) != 0;
}

ArchiveEndpoint EngineBackend::archiveEndpoint(const std::string& sandbox_id) const {
  return ArchiveEndpoint{dialect_.archive_path(containerName(instance_, sandbox_id)),
                         dialect_.archive_put_query};
}

Result<FileInfo> EngineBackend::statPath(const std::string& sandbox_id, const std::string& path,
                                         Clock::time_point deadline) {
  if (onGvisor(sandbox_id)) return SandboxBackend::statPath(sandbox_id, path, deadline);
  auto client = clientFor(sandbox_id);
  auto answered = statThroughArchive(*client, archiveEndpoint(sandbox_id), path, deadline);
  // A HEAD answer carries no message (Docker answers a path below a regular file with a bare
  // 500): the default, run inside the sandbox, says what is wrong.
  if (!answered.ok() && answered.error().code == ErrorCode::kInternal) {
    return SandboxBackend::statPath(sandbox_id, path, deadline);
  }
  GRID_ASSIGN_OR_RETURN(auto stat, std::move(answered));
  const Error not_found =
      fail(ErrorCode::kNotFound, dialect_.name + ": no such file or directory: " + path);
  if (!stat) {
    if (!dialect_.archive_follows_symlinks) return not_found;
    // It may be a dangling symlink, which this engine cannot stat: the default can.
    auto fallback = SandboxBackend::statPath(sandbox_id, path, deadline);
    if (!fallback.ok() && fallback.error().code == ErrorCode::kUnsupported) return not_found;
    return fallback;
  }
  if (stat->type != FileType::kSymlink) return std::move(*stat);
  if (dialect_.archive_follows_symlinks) {
    return SandboxBackend::statPath(sandbox_id, path, deadline);
  }
  GRID_ASSIGN_OR_RETURN(
      stat->link_target,
      readLinkThroughArchive(*client, archiveEndpoint(sandbox_id), path, deadline));
  return std::move(*stat);
}

Result<void> EngineBackend::makeDirectory(const std::string& sandbox_id, const std::string& path,
                                          uint32_t mode, Clock::time_point deadline) {
  if (!onGvisor(sandbox_id)) {
    auto stat =
        statThroughArchive(*clientFor(sandbox_id), archiveEndpoint(sandbox_id), path, deadline);
    if (stat.ok() && stat.value() && stat.value()->type == FileType::kDirectory) return {};
  }
  return SandboxBackend::makeDirectory(sandbox_id, path, mode, deadline);
}

Result<void> EngineBackend::extractArchive(const std::string& sandbox_id,
                                           const std::string& directory, ByteSource& tar,
                                           Clock::time_point deadline) {
  if (onGvisor(sandbox_id))
    return SandboxBackend::extractArchive(sandbox_id, directory, tar, deadline);
  auto client = clientFor(sandbox_id);
  const ArchiveEndpoint endpoint = archiveEndpoint(sandbox_id);
  // Checked first: Podman would create a missing directory, and an engine that refuses one
  // may do so only after reading the body.
  GRID_ASSIGN_OR_RETURN(auto target, statThroughArchive(*client, endpoint, directory, deadline));
  if (!target) {
    return fail(ErrorCode::kNotFound, dialect_.name + ": no such directory: " + directory);
  }
  if (target->type != FileType::kDirectory) {
    return fail(ErrorCode::kConflict, dialect_.name + ": not a directory: " + directory);
  }
  return extractThroughArchive(*client, endpoint, directory, tar, deadline);
}

Result<void> EngineBackend::createArchive(const std::string& sandbox_id, const std::string& path,
                                          ByteSink& out, Clock::time_point deadline) {
  if (onGvisor(sandbox_id)) return SandboxBackend::createArchive(sandbox_id, path, out, deadline);
  auto client = clientFor(sandbox_id);
  const ArchiveEndpoint endpoint = archiveEndpoint(sandbox_id);
  if (dialect_.archive_follows_symlinks) {
    // This engine would archive a symlink's target under the link's name (and cannot tell a
    // dangling link from a missing path): statPath() settles both.
    GRID_ASSIGN_OR_RETURN(const FileInfo stat, statPath(sandbox_id, path, deadline));
    if (stat.type == FileType::kSymlink) {
      return SandboxBackend::createArchive(sandbox_id, path, out, deadline);
    }
  }
  return archiveThroughEngine(*client, endpoint, path, out, deadline);
}

}  // namespace grid::engine
