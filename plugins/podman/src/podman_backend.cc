#include "podman_backend.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

#include "grid/engine/container_conventions.h"
#include "grid/engine/container_ops.h"
#include "spec_generator.h"

namespace grid::podman {

namespace {

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
      kProduct, settings, defaultSocketPath(geteuid(), std::getenv("XDG_RUNTIME_DIR")));
  if (!common.ok()) return common.error();
  return PodmanSettings{common.value().socket, common.value().pull_timeout,
                        common.value().gvisor_runtime};
}

Result<void> PodmanBackend::init(const BackendConfig& config) {
  if (auto instance = engine::checkInstanceName(kProduct, config.instance); !instance.ok()) {
    return instance;
  }
  auto settings = parseSettings(config.settings);
  if (!settings.ok()) return settings.error();
  instance_ = config.instance;
  settings_ = std::move(settings).value();
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
  // libpod's own /info names only the default runtime; the compat /info lists every runtime
  // of containers.conf [engine.runtimes] (Podman 4.3).
  return engine::checkEngineRuntime(
      *client_, kProduct, engine::engineRuntimeFor(spec, settings_.gvisor_runtime), kRegisterHint);
}

Result<void> PodmanBackend::createSandbox(const SandboxSpec& spec) {
  if (auto valid = engine::checkSandboxSpec(kProduct, spec); !valid.ok()) return valid;
  if (auto supported = checkSpec(spec); !supported.ok()) return supported;
  if (auto image = ensureImage(spec.image); !image.ok()) return image;
  const std::string name = engine::containerName(instance_, spec.id);
  return engine::createAndStartContainer(
      *client_, engine::ContainerCreation{
                    spec.id, "/libpod/containers/create",
                    engine::toJson(buildSpecGenerator(
                        instance_, spec, engine::engineRuntimeFor(spec, settings_.gvisor_runtime))),
                    "/libpod/containers/" + name + "/start", removePath(name)});
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
  return engine::startSandboxProcess(client_, instance_, sandbox_id, spec);
}

Result<void> PodmanBackend::destroySandbox(const std::string& sandbox_id) {
  return engine::removeSandboxContainer(*client_, instance_, sandbox_id, removePath);
}

}  // namespace grid::podman
