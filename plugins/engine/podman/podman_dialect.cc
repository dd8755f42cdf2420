#include "podman_dialect.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>

#include "engine_settings.h"
#include "grid/engine/container_conventions.h"
#include "spec_generator.h"

namespace grid::podman {

namespace {

constexpr char kStartHint[] =
    ": start it with `podman system service --time=0 unix:///run/podman/podman.sock` "
    "(rootless: `systemctl --user start podman.socket`), or set [backend.podman] socket";

std::string gvisorStartHint(const std::string& socket) {
  return "start it with `CONTAINERS_CONF=ci/containers-gvisor.conf podman system service "
         "--time=0 unix://" +
         socket +
         "` (a containers.conf whose [engine] runtime is runsc; scripts/start-engines.sh does "
         "this), or set [backend.podman] gvisor_socket";
}

Result<void> parseGvisorSocket(const std::map<std::string, std::string>& extra,
                               engine::EngineBackendSettings& settings) {
  settings.gvisor_socket = defaultGvisorSocketPath(geteuid(), std::getenv("XDG_RUNTIME_DIR"));
  if (auto socket = extra.find("gvisor_socket"); socket != extra.end()) {
    GRID_ASSIGN_OR_RETURN(settings.gvisor_socket,
                          engine::parseSocketSetting("[backend.podman]", socket->second));
  }
  if (settings.gvisor_socket == settings.socket) {
    return fail(ErrorCode::kInvalidArgument,
                "[backend.podman] gvisor_socket must differ from socket (" + settings.socket +
                    "): gVisor sandboxes need a service of their own whose default runtime is "
                    "runsc");
  }
  return {};
}

// The libpod version endpoint tells a Podman service from a Docker Engine on the socket.
Result<void> connect(engine::EngineClient& client, const engine::EngineBackendSettings& settings) {
  client.setApiVersion(kLibpodApiVersion);
  auto version = client.request("GET", "/libpod/version");
  if (!version.ok()) return engine::withStartHint(version.error(), kStartHint);
  if (!version.value().ok()) {
    // A Docker Engine on the socket answers 404 here.
    return fail(ErrorCode::kUnavailable,
                "podman: unix://" + settings.socket + " does not serve the libpod API (" +
                    client.errorFor("GET", "/libpod/version", version.value()).message +
                    "): is it a Podman service?" + kStartHint);
  }
  std::string podman_version = "unknown";
  if (auto body = engine::parseJsonObject(version.value().body)) {
    podman_version = body->optValue<std::string>("Version", podman_version);
  }
  spdlog::info("podman: Podman {} at unix://{}", podman_version, settings.socket);
  return {};
}

Result<void> checkGvisorService(engine::EngineClient& service,
                                const engine::EngineBackendSettings& settings) {
  auto info = service.request("GET", "/libpod/info");
  if (!info.ok()) {
    return fail(ErrorCode::kUnsupported,
                "podman: isolation 'gvisor' is unsupported: " + info.error().message + ": " +
                    gvisorStartHint(settings.gvisor_socket));
  }
  if (!info.value().ok()) {
    return fail(ErrorCode::kUnsupported,
                "podman: isolation 'gvisor': unix://" + settings.gvisor_socket +
                    " does not serve the libpod API (" +
                    service.errorFor("GET", "/libpod/info", info.value()).message +
                    "): " + gvisorStartHint(settings.gvisor_socket));
  }
  return checkGvisorServiceRuntime(info.value().body, settings.gvisor_runtime,
                                   settings.gvisor_socket);
}

engine::EngineDialect makeDialect() {
  engine::EngineDialect dialect;
  dialect.name = "podman";
  dialect.display_name = "Podman service";
  dialect.default_socket = [] {
    return defaultSocketPath(geteuid(), std::getenv("XDG_RUNTIME_DIR"));
  };
  dialect.extra_keys = {"seccomp", "gvisor_socket"};
  dialect.parse_extra = parseGvisorSocket;
  dialect.connect = connect;
  dialect.list_path = [](const std::string& filter) {
    return "/libpod/containers/json?all=true&filters=" + engine::urlEncode(filter);
  };
  // The name goes in the SpecGenerator body.
  dialect.create_path = [](const std::string&) { return std::string("/libpod/containers/create"); };
  dialect.start_path = [](const std::string& container) {
    return "/libpod/containers/" + container + "/start";
  };
  // timeout=0: libpod otherwise waits the stop timeout (10 s) for the PID 1 that ignores
  // SIGTERM.
  dialect.remove_path = [](const std::string& name_or_id) {
    return "/libpod/containers/" + name_or_id + "?force=true&timeout=0";
  };
  dialect.pause_path = [](const std::string& container) {
    return "/libpod/containers/" + container + "/pause";
  };
  dialect.unpause_path = [](const std::string& container) {
    return "/libpod/containers/" + container + "/unpause";
  };
  // Short names ("grid-test/debian:bookworm") resolve to localhost/... like `podman run` does.
  dialect.image_present_path = [](const std::string& image) {
    return "/libpod/images/" + image + "/exists";
  };
  dialect.pull_path = [](const std::string& image) {
    return "/libpod/images/pull?reference=" + engine::urlEncode(image) + "&quiet=true";
  };
  dialect.commit_path = [](const std::string& container, const std::string& repo,
                           const std::string& tag) {
    std::string path = "/libpod/commit?container=" + engine::urlEncode(container) + "&pause=true";
    if (!repo.empty()) path += "&repo=" + engine::urlEncode(repo) + "&tag=" + engine::urlEncode(tag);
    return path;
  };
  dialect.image_inspect_path = [](const std::string& image) {
    return "/libpod/images/" + image + "/json";
  };
  dialect.image_remove_path = [](const std::string& image) {
    return "/libpod/images/" + engine::urlEncode(image);
  };
  dialect.dangling_images_path = [](const std::string& filter) {
    return "/libpod/images/json?filters=" + engine::urlEncode(filter);
  };
  // libpod chowns what it writes to the container's user (the compat endpoint only with
  // copyUIDGID=true); it also creates a missing target directory, which the backend checks
  // first.
  dialect.archive_path = [](const std::string& container) {
    return "/libpod/containers/" + container + "/archive";
  };
  dialect.archive_put_query = "noOverwriteDirNonDir=true";
  dialect.archive_follows_symlinks = true;
  dialect.create_body = buildSpecGenerator;
  dialect.apply_seccomp = applySeccomp;
  dialect.seccomp_profile_file = [](const std::string& profile_json) {
    return seccompProfilePath(geteuid(), std::getenv("XDG_RUNTIME_DIR"), profile_json);
  };
  dialect.gvisor_service = engine::GvisorServiceDialect{"gVisor Podman service", checkGvisorService,
                                                        gvisorLeftoverFilter};
  return dialect;
}

}  // namespace

const engine::EngineDialect& podmanDialect() {
  static const engine::EngineDialect dialect = makeDialect();
  return dialect;
}

}  // namespace grid::podman
