#include "podman_backend.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include "grid/engine/container_conventions.h"
#include "grid/engine/container_ops.h"
#include "grid/seccomp/oci_profile.h"
#include "spec_generator.h"

namespace grid::podman {

namespace {

namespace fs = std::filesystem;

constexpr char kProduct[] = "podman";
constexpr char kStartHint[] =
    ": start it with `podman system service --time=0 unix:///run/podman/podman.sock` "
    "(rootless: `systemctl --user start podman.socket`), or set [backend.podman] socket";

Error withStartHint(Error error) {
  if (error.code == ErrorCode::kUnavailable) error.message += kStartHint;
  return error;
}

std::string gvisorStartHint(const std::string& socket) {
  return "start it with `CONTAINERS_CONF=ci/containers-gvisor.conf podman system service "
         "--time=0 unix://" +
         socket +
         "` (a containers.conf whose [engine] runtime is runsc; scripts/start-engines.sh does "
         "this), or set [backend.podman] gvisor_socket";
}

// timeout=0: libpod otherwise waits the stop timeout (10 s) for the PID 1 that ignores SIGTERM.
std::string removePath(const std::string& name_or_id) {
  return "/libpod/containers/" + name_or_id + "?force=true&timeout=0";
}

}  // namespace

Result<PodmanSettings> parseSettings(const std::map<std::string, std::string>& settings) {
  auto common = engine::parseEngineSettings(
      kProduct, settings, defaultSocketPath(geteuid(), std::getenv("XDG_RUNTIME_DIR")),
      {"seccomp", "gvisor_socket"});
  if (!common.ok()) return common.error();
  PodmanSettings parsed;
  parsed.socket = common.value().socket;
  parsed.pull_timeout = common.value().pull_timeout;
  parsed.gvisor_runtime = common.value().gvisor_runtime;
  parsed.gvisor_socket = defaultGvisorSocketPath(geteuid(), std::getenv("XDG_RUNTIME_DIR"));
  if (auto socket = common.value().extra.find("gvisor_socket");
      socket != common.value().extra.end()) {
    auto parsed_socket = engine::parseSocketSetting("[backend.podman]", socket->second);
    if (!parsed_socket.ok()) return parsed_socket.error();
    parsed.gvisor_socket = std::move(parsed_socket).value();
  }
  if (parsed.gvisor_socket == parsed.socket) {
    return fail(ErrorCode::kInvalidArgument,
                "[backend.podman] gvisor_socket must differ from socket (" + parsed.socket +
                    "): gVisor sandboxes need a service of their own whose default runtime is "
                    "runsc");
  }
  if (auto mode = common.value().extra.find("seccomp"); mode != common.value().extra.end()) {
    auto parsed_mode = seccomp::parseSeccompMode("[backend.podman]", mode->second);
    if (!parsed_mode.ok()) return parsed_mode.error();
    parsed.seccomp = parsed_mode.value();
  }
  return parsed;
}

Result<void> PodmanBackend::init(const BackendConfig& config) {
  if (auto instance = engine::checkInstanceName(kProduct, config.instance); !instance.ok()) {
    return instance;
  }
  auto settings = parseSettings(config.settings);
  if (!settings.ok()) return settings.error();
  instance_ = config.instance;
  settings_ = std::move(settings).value();
  seccomp_profile_ = seccomp::renderOciProfile(seccomp::sandboxPolicy());
  seccomp_profile_path_ =
      seccompProfilePath(geteuid(), std::getenv("XDG_RUNTIME_DIR"), seccomp_profile_);
  seccomp::logSeccompMode(kProduct, settings_.seccomp);
  client_ = std::make_shared<engine::EngineClient>(
      engine::EngineEndpoint{settings_.socket, kProduct, "Podman service"});
  client_->setApiVersion(kLibpodApiVersion);

  auto version = client_->request("GET", "/libpod/version");
  if (!version.ok()) return withStartHint(version.error());
  if (!version.value().ok()) {
    // A Docker Engine on the socket answers 404 here.
    return fail(ErrorCode::kUnavailable,
                "podman: unix://" + settings_.socket + " does not serve the libpod API (" +
                    client_->errorFor("GET", "/libpod/version", version.value()).message +
                    "): is it a Podman service?" + kStartHint);
  }
  std::string podman_version = "unknown";
  if (auto body = engine::parseJsonObject(version.value().body)) {
    podman_version = body->optValue<std::string>("Version", podman_version);
  }
  spdlog::info("podman: Podman {} at unix://{}", podman_version, settings_.socket);

  // The gVisor service is optional: without it only isolation = gvisor is refused (and
  // `grid serve` refuses to start when that is the configured default).
  gvisor_client_ = std::make_shared<engine::EngineClient>(
      engine::EngineEndpoint{settings_.gvisor_socket, kProduct, "gVisor Podman service"});
  gvisor_client_->setApiVersion(kLibpodApiVersion);
  if (auto gvisor = checkGvisorService(); gvisor.ok()) {
    spdlog::info("podman: gVisor service ({}) at unix://{}", settings_.gvisor_runtime,
                 settings_.gvisor_socket);
  } else {
    spdlog::info("podman: isolation gvisor unavailable: {}", gvisor.error().message);
  }
  return {};
}

Result<void> PodmanBackend::checkGvisorService() {
  std::lock_guard lock(gvisor_check_mutex_);
  if (gvisor_checked_) return {};
  auto info = gvisor_client_->request("GET", "/libpod/info");
  if (!info.ok()) {
    return fail(ErrorCode::kUnsupported,
                "podman: isolation 'gvisor' is unsupported: " + info.error().message + ": " +
                    gvisorStartHint(settings_.gvisor_socket));
  }
  if (!info.value().ok()) {
    return fail(ErrorCode::kUnsupported,
                "podman: isolation 'gvisor': unix://" + settings_.gvisor_socket +
                    " does not serve the libpod API (" +
                    gvisor_client_->errorFor("GET", "/libpod/info", info.value()).message +
                    "): " + gvisorStartHint(settings_.gvisor_socket));
  }
  if (auto runtime = checkGvisorServiceRuntime(info.value().body, settings_.gvisor_runtime,
                                               settings_.gvisor_socket);
      !runtime.ok()) {
    return runtime;
  }
  gvisor_checked_ = true;
  return {};
}

std::shared_ptr<engine::EngineClient> PodmanBackend::clientFor(const std::string& sandbox_id) {
  std::lock_guard lock(mutex_);
  return on_gvisor_.count(sandbox_id) != 0 ? gvisor_client_ : client_;
}

// Both services see every container (shared storage). gVisor containers go first through the
// service that runs them, if it is up; the main service then removes whatever is left, runsc
// containers included (ci/containers.conf registers runsc), so each container is listed for
// removal once.
Result<std::vector<std::string>> PodmanBackend::removeLeftovers() {
  std::vector<std::string> removed;
  auto on_gvisor =
      engine::removeLeftoverContainers(*gvisor_client_,
                                       "/libpod/containers/json?all=true&filters=" +
                                           engine::urlEncode(gvisorLeftoverFilter(instance_)),
                                       removePath);
  if (on_gvisor.ok()) {
    removed = std::move(on_gvisor).value();
  } else if (on_gvisor.error().code != ErrorCode::kUnavailable) {
    spdlog::warn(
        "podman: removing gVisor leftovers through unix://{}: {}; trying the main "
        "service",
        settings_.gvisor_socket, on_gvisor.error().message);
  }
  auto rest =
      engine::removeLeftoverContainers(*client_,
                                       "/libpod/containers/json?all=true&filters=" +
                                           engine::urlEncode(engine::leftoverFilter(instance_)),
                                       removePath);
  if (!rest.ok()) return rest.error();
  removed.insert(removed.end(), rest.value().begin(), rest.value().end());
  return removed;
}

Result<void> PodmanBackend::checkSpec(const SandboxSpec& spec) {
  if (serviceFor(spec) == Service::kMain) return {};
  return checkGvisorService();
}

Result<void> PodmanBackend::createSandbox(const SandboxSpec& spec) {
  if (auto valid = engine::checkSandboxSpec(kProduct, spec); !valid.ok()) return valid;
  if (auto supported = checkSpec(spec); !supported.ok()) return supported;
  if (auto image = ensureImage(spec.image); !image.ok()) return image;
  const std::string name = engine::containerName(instance_, spec.id);
  if (settings_.seccomp == seccomp::SeccompMode::kGrid) {
    if (auto written = writeSeccompProfile(); !written.ok()) return written;
  }
  Poco::JSON::Object::Ptr body =
      buildSpecGenerator(instance_, spec, engine::engineRuntimeFor(spec, settings_.gvisor_runtime));
  applySeccomp(*body, settings_.seccomp, seccomp_profile_path_);
  const bool on_gvisor = serviceFor(spec) == Service::kGvisor;
  auto created = engine::createAndStartContainer(
      on_gvisor ? *gvisor_client_ : *client_,
      engine::ContainerCreation{spec.id, "/libpod/containers/create", engine::toJson(body),
                                "/libpod/containers/" + name + "/start", removePath(name)});
  if (created.ok() && on_gvisor) {
    std::lock_guard lock(mutex_);
    on_gvisor_.insert(spec.id);
  }
  return created;
}

// Podman reads the profile from its host's filesystem at each create. Written before every
// create (a temporary file renamed over it) so that a cleaned /run or a concurrent create
// never leaves the service a missing or half-written profile.
Result<void> PodmanBackend::writeSeccompProfile() const {
  const fs::path path = seccomp_profile_path_;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) {
    return fail(ErrorCode::kInternal, "podman: mkdir " + path.parent_path().string() +
                                          " for the seccomp profile: " + ec.message());
  }
  std::string temp = path.string() + ".XXXXXX";
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) {
    return fail(ErrorCode::kInternal, "podman: mkostemp(" + temp + "): " + std::strerror(errno));
  }
  const char* data = seccomp_profile_.data();
  std::size_t left = seccomp_profile_.size();
  int err = 0;
  while (left > 0) {
    const ssize_t n = ::write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  // Readable by a Podman service running as another user (the profile is no secret).
  if (err == 0 && ::fchmod(fd, 0644) != 0) err = errno;
  ::close(fd);
  if (err == 0 && ::rename(temp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    ::unlink(temp.c_str());
    return fail(ErrorCode::kInternal,
                "podman: write seccomp profile " + path.string() + ": " + std::strerror(err));
  }
  return {};
}

Result<void> PodmanBackend::ensureImage(const std::string& image) {
  // Short names ("grid-test/debian:bookworm") resolve to localhost/... like `podman run` does.
  return engine::ensureImage(
      *client_, image, "/libpod/images/" + image + "/exists",
      "/libpod/images/pull?reference=" + engine::urlEncode(image) + "&quiet=true",
      settings_.pull_timeout);
}

Result<std::unique_ptr<ProcessChannel>> PodmanBackend::startProcess(const std::string& sandbox_id,
                                                                    const ProcessSpec& spec) {
  // Podman serves the Docker-compatible exec endpoints and their hijacked stream unchanged.
  // An exec runs through the service that created the container (its runtime runs the exec).
  return engine::startSandboxProcess(clientFor(sandbox_id), instance_, sandbox_id, spec, &execs_);
}

Result<void> PodmanBackend::destroySandbox(const std::string& sandbox_id) {
  auto removed =
      engine::removeSandboxContainer(*clientFor(sandbox_id), instance_, sandbox_id, removePath);
  if (removed.ok()) {
    {
      std::lock_guard lock(mutex_);
      on_gvisor_.erase(sandbox_id);
    }
    // runsc may keep an exec's stream open after its container is gone: end them here, or a
    // session exec (and the stop waiting for it) would last until its deadline.
    execs_.abortAll(sandbox_id);
  }
  return removed;
}

}  // namespace grid::podman
