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

constexpr char kRegisterHint[] =
    "register it in containers.conf [engine.runtimes] (e.g. runsc = [\"/usr/bin/runsc\"], as "
    "ci/containers.conf does) and restart the Podman service, or set [backend.podman] "
    "gvisor_runtime";

Error withStartHint(Error error) {
  if (error.code == ErrorCode::kUnavailable) error.message += kStartHint;
  return error;
}

// timeout=0: libpod otherwise waits the stop timeout (10 s) for the PID 1 that ignores SIGTERM.
std::string removePath(const std::string& name_or_id) {
  return "/libpod/containers/" + name_or_id + "?force=true&timeout=0";
}

}  // namespace

Result<PodmanSettings> parseSettings(const std::map<std::string, std::string>& settings) {
  auto common = engine::parseEngineSettings(
      kProduct, settings, defaultSocketPath(geteuid(), std::getenv("XDG_RUNTIME_DIR")),
      {"seccomp"});
  if (!common.ok()) return common.error();
  PodmanSettings parsed{common.value().socket, common.value().pull_timeout};
  parsed.gvisor_runtime = common.value().gvisor_runtime;
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
  if (settings_.seccomp == seccomp::SeccompMode::kUnconfined) {
    spdlog::warn(
        "podman: [backend.podman] seccomp = unconfined: sandboxes run WITHOUT any seccomp "
        "filter; every syscall (io_uring, bpf, keyctl, mount attempts...) reaches the kernel");
  } else if (settings_.seccomp == seccomp::SeccompMode::kEngineDefault) {
    spdlog::info("podman: sandboxes use the engine's default seccomp profile");
  }
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
  return {};
}

Result<std::vector<std::string>> PodmanBackend::removeLeftovers() {
  return engine::removeLeftoverContainers(*client_,
                                          "/libpod/containers/json?all=true&filters=" +
                                              engine::urlEncode(engine::leftoverFilter(instance_)),
                                          removePath);
}

Result<void> PodmanBackend::checkSpec(const SandboxSpec& spec) {
  if (spec.isolation == Isolation::kDefault) return {};
  const std::string runtime = engine::engineRuntimeFor(spec, settings_.gvisor_runtime);
  // libpod's own /info names only the default runtime; the compat /info lists every runtime
  // of containers.conf [engine.runtimes] (Podman 4.3).
  if (auto listed = engine::checkEngineRuntime(*client_, kProduct, runtime, kRegisterHint);
      !listed.ok()) {
    return listed;
  }
  auto honoured = ociRuntimeHonoured(spec, runtime);
  if (!honoured.ok()) return honoured.error();
  if (!honoured.value()) {
    return fail(ErrorCode::kUnsupported,
                "podman: isolation 'gvisor' is unsupported by this Podman service: it creates "
                "containers on its default runtime whatever oci_runtime the API request names "
                "(containers/podman#28429, Podman 4.x), so '" +
                    runtime + "' cannot be chosen per sandbox; use the docker backend for gVisor");
  }
  return {};
}

Result<bool> PodmanBackend::ociRuntimeHonoured(const SandboxSpec& spec,
                                               const std::string& runtime) {
  std::lock_guard lock(runtime_probe_mutex_);
  if (oci_runtime_honoured_) return *oci_runtime_honoured_;
  if (auto image = ensureImage(spec.image); !image.ok()) return image.error();
  SandboxSpec probe;
  probe.id = "oci-runtime-probe";  // labelled like a sandbox, so a crash leaves no leftover
  probe.image = spec.image;
  probe.isolation = spec.isolation;
  const std::string name = engine::containerName(instance_, probe.id);
  (void)engine::removeContainer(*client_, removePath(name));  // one a crash left behind
  const std::string create_path = "/libpod/containers/create";
  auto created = client_->request("POST", create_path,
                                  engine::toJson(buildSpecGenerator(instance_, probe, runtime)));
  if (!created.ok()) return created.error();
  if (!created.value().ok()) return client_->errorFor("POST", create_path, created.value());
  const std::string inspect_path = "/libpod/containers/" + name + "/json";
  auto inspected = client_->request("GET", inspect_path);
  (void)engine::removeContainer(*client_, removePath(name));
  if (!inspected.ok()) return inspected.error();
  if (!inspected.value().ok()) return client_->errorFor("GET", inspect_path, inspected.value());
  auto body = engine::parseJsonObject(inspected.value().body);
  if (!body) return fail(ErrorCode::kInternal, "podman: GET " + inspect_path + ": not JSON");
  const std::string used = body->optValue<std::string>("OCIRuntime", "");
  oci_runtime_honoured_ = used == runtime;
  if (!*oci_runtime_honoured_) {
    spdlog::warn(
        "podman: a container created with oci_runtime '{}' got runtime '{}': this service "
        "ignores per-container runtimes, so isolation gvisor is unsupported",
        runtime, used);
  }
  return *oci_runtime_honoured_;
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
  return engine::createAndStartContainer(
      *client_,
      engine::ContainerCreation{spec.id, "/libpod/containers/create", engine::toJson(body),
                                "/libpod/containers/" + name + "/start", removePath(name)});
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
  return engine::startSandboxProcess(client_, instance_, sandbox_id, spec, &execs_);
}

Result<void> PodmanBackend::destroySandbox(const std::string& sandbox_id) {
  auto removed = engine::removeSandboxContainer(*client_, instance_, sandbox_id, removePath);
  // runsc may keep an exec's stream open after its container is gone: end them here, or a
  // session exec (and the stop waiting for it) would last until its deadline.
  if (removed.ok()) execs_.abortAll(sandbox_id);
  return removed;
}

}  // namespace grid::podman
