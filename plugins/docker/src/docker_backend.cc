#include "docker_backend.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "container_spec.h"
#include "grid/engine/container_conventions.h"
#include "grid/engine/container_ops.h"
#include "grid/seccomp/oci_profile.h"

namespace grid::docker {

namespace {

constexpr char kProduct[] = "docker";
constexpr char kStartHint[] =
    ": start it with `dockerd` or `systemctl start docker`, or set [backend.docker] socket";

constexpr char kRegisterHint[] =
    "register it with `dockerd --add-runtime NAME=/usr/bin/runsc` or in /etc/docker/daemon.json "
    "\"runtimes\" (then `kill -HUP` dockerd), or set [backend.docker] gvisor_runtime "
    "(scripts/start-engines.sh registers runsc)";

Error withStartHint(Error error) {
  if (error.code == ErrorCode::kUnavailable) error.message += kStartHint;
  return error;
}

// "MAJOR.MINOR", digits only.
bool isApiVersion(const std::string& text) {
  const std::size_t dot = text.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == text.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i != dot && (text[i] < '0' || text[i] > '9')) return false;
  }
  return true;
}

std::string removePath(const std::string& name_or_id) {
  return "/containers/" + name_or_id + "?force=1&v=1";
}

}  // namespace

Result<DockerSettings> parseSettings(const std::map<std::string, std::string>& settings) {
  auto common = engine::parseEngineSettings(kProduct, settings, DockerSettings().socket,
                                            {"api_version", "seccomp"});
  if (!common.ok()) return common.error();
  DockerSettings parsed;
  parsed.socket = common.value().socket;
  parsed.pull_timeout = common.value().pull_timeout;
  parsed.gvisor_runtime = common.value().gvisor_runtime;
  if (auto version = common.value().extra.find("api_version");
      version != common.value().extra.end()) {
    if (!isApiVersion(version->second)) {
      return fail(
          ErrorCode::kInvalidArgument,
          "[backend.docker] api_version must look like 1.41, got '" + version->second + "'");
    }
    parsed.api_version = version->second;
  }
  if (auto mode = common.value().extra.find("seccomp"); mode != common.value().extra.end()) {
    auto parsed_mode = seccomp::parseSeccompMode("[backend.docker]", mode->second);
    if (!parsed_mode.ok()) return parsed_mode.error();
    parsed.seccomp = parsed_mode.value();
  }
  return parsed;
}

Result<void> DockerBackend::init(const BackendConfig& config) {
  if (auto instance = engine::checkInstanceName(kProduct, config.instance); !instance.ok()) {
    return instance;
  }
  auto settings = parseSettings(config.settings);
  if (!settings.ok()) return settings.error();
  instance_ = config.instance;
  settings_ = std::move(settings).value();
  seccomp_profile_ = seccomp::renderOciProfile(seccomp::sandboxPolicy());
  seccomp::logSeccompMode(kProduct, settings_.seccomp);
  client_ = std::make_shared<engine::EngineClient>(
      engine::EngineEndpoint{settings_.socket, kProduct, "Docker Engine"});

  if (settings_.api_version.empty()) {
    auto version = client_->negotiateApiVersion(kMaxApiVersion);
    if (!version.ok()) return withStartHint(version.error());
    spdlog::info("docker: Engine at unix://{} speaks API {}", settings_.socket, version.value());
    return {};
  }
  client_->setApiVersion(settings_.api_version);
  auto ping = client_->request("GET", "/_ping");
  if (!ping.ok()) return withStartHint(ping.error());
  if (!ping.value().ok()) return client_->errorFor("GET", "/_ping", ping.value());
  return {};
}

Result<std::vector<std::string>> DockerBackend::removeLeftovers() {
  return engine::removeLeftoverContainers(
      *client_,
      "/containers/json?all=1&filters=" + engine::urlEncode(engine::leftoverFilter(instance_)),
      removePath);
}

Result<void> DockerBackend::checkSpec(const SandboxSpec& spec) {
  if (spec.isolation == Isolation::kDefault) return {};
  // Asked each time: a runtime may be registered (dockerd reloads daemon.json on SIGHUP) or
  // dropped while Grid runs.
  return engine::checkEngineRuntime(
      *client_, kProduct, engine::engineRuntimeFor(spec, settings_.gvisor_runtime), kRegisterHint);
}

Result<void> DockerBackend::createSandbox(const SandboxSpec& spec) {
  if (auto valid = engine::checkSandboxSpec(kProduct, spec); !valid.ok()) return valid;
  if (auto supported = checkSpec(spec); !supported.ok()) return supported;
  if (auto image = ensureImage(spec.image); !image.ok()) return image;
  const std::string name = engine::containerName(instance_, spec.id);
  Poco::JSON::Object::Ptr body =
      buildCreateBody(instance_, spec, engine::engineRuntimeFor(spec, settings_.gvisor_runtime));
  applySeccomp(*body, settings_.seccomp, seccomp_profile_);
  return engine::createAndStartContainer(
      *client_, engine::ContainerCreation{
                    spec.id, "/containers/create?name=" + engine::urlEncode(name),
                    engine::toJson(body), "/containers/" + name + "/start", removePath(name)});
}

Result<void> DockerBackend::ensureImage(const std::string& image) {
  const PullTarget target = pullTarget(image);
  std::string pull_path = "/images/create?fromImage=" + engine::urlEncode(target.from_image);
  if (!target.tag.empty()) pull_path += "&tag=" + engine::urlEncode(target.tag);
  return engine::ensureImage(*client_, image, "/images/" + image + "/json", pull_path,
                             settings_.pull_timeout);
}

Result<std::unique_ptr<ProcessChannel>> DockerBackend::startProcess(const std::string& sandbox_id,
                                                                    const ProcessSpec& spec) {
  return engine::startSandboxProcess(client_, instance_, sandbox_id, spec, &execs_);
}

Result<void> DockerBackend::destroySandbox(const std::string& sandbox_id) {
  auto removed = engine::removeSandboxContainer(*client_, instance_, sandbox_id, removePath);
  // runsc may keep an exec's stream open after its container is gone: end them here, or a
  // session exec (and the stop waiting for it) would last until its deadline.
  if (removed.ok()) execs_.abortAll(sandbox_id);
  return removed;
}

}  // namespace grid::docker
