#include "docker_dialect.h"

#include <spdlog/spdlog.h>

#include "container_spec.h"
#include "engine_settings.h"
#include "grid/engine/container_conventions.h"

namespace grid::docker {

namespace {

constexpr char kStartHint[] =
    ": start it with `dockerd` or `systemctl start docker`, or set [backend.docker] socket";

constexpr char kRegisterHint[] =
    "register it with `dockerd --add-runtime NAME=/usr/bin/runsc` or in /etc/docker/daemon.json "
    "\"runtimes\" (then `kill -HUP` dockerd), or set [backend.docker] gvisor_runtime "
    "(scripts/start-engines.sh registers runsc)";

// "MAJOR.MINOR", digits only.
bool isApiVersion(const std::string& text) {
  const std::size_t dot = text.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == text.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i != dot && (text[i] < '0' || text[i] > '9')) return false;
  }
  return true;
}

Result<void> parseApiVersion(const std::map<std::string, std::string>& extra,
                             engine::EngineBackendSettings& settings) {
  auto version = extra.find("api_version");
  if (version == extra.end()) return {};
  if (!isApiVersion(version->second)) {
    return fail(ErrorCode::kInvalidArgument,
                "[backend.docker] api_version must look like 1.41, got '" + version->second + "'");
  }
  settings.api_version = version->second;
  return {};
}

// Negotiates the API version unless the settings fix it; then a ping checks the engine.
Result<void> connect(engine::EngineClient& client, const engine::EngineBackendSettings& settings) {
  if (settings.api_version.empty()) {
    auto version = client.negotiateApiVersion(kMaxApiVersion);
    if (!version.ok()) return engine::withStartHint(version.error(), kStartHint);
    spdlog::info("docker: Engine at unix://{} speaks API {}", settings.socket, version.value());
    return {};
  }
  client.setApiVersion(settings.api_version);
  auto ping = client.request("GET", "/_ping");
  if (!ping.ok()) return engine::withStartHint(ping.error(), kStartHint);
  if (!ping.value().ok()) return client.errorFor("GET", "/_ping", ping.value());
  return {};
}

std::string removePath(const std::string& name_or_id) {
  return "/containers/" + name_or_id + "?force=1&v=1";
}

std::string pullPath(const std::string& image) {
  const PullTarget target = pullTarget(image);
  std::string path = "/images/create?fromImage=" + engine::urlEncode(target.from_image);
  if (!target.tag.empty()) path += "&tag=" + engine::urlEncode(target.tag);
  return path;
}

engine::EngineDialect makeDialect() {
  engine::EngineDialect dialect;
  dialect.name = "docker";
  dialect.display_name = "Docker Engine";
  dialect.default_socket = [] { return std::string("/var/run/docker.sock"); };
  dialect.extra_keys = {"api_version", "seccomp"};
  dialect.parse_extra = parseApiVersion;
  dialect.connect = connect;
  dialect.list_path = [](const std::string& filter) {
    return "/containers/json?all=1&filters=" + engine::urlEncode(filter);
  };
  dialect.create_path = [](const std::string& container) {
    return "/containers/create?name=" + engine::urlEncode(container);
  };
  dialect.start_path = [](const std::string& container) {
    return "/containers/" + container + "/start";
  };
  dialect.remove_path = removePath;
  dialect.pause_path = [](const std::string& container) {
    return "/containers/" + container + "/pause";
  };
  dialect.unpause_path = [](const std::string& container) {
    return "/containers/" + container + "/unpause";
  };
  dialect.image_present_path = [](const std::string& image) {
    return "/images/" + image + "/json";
  };
  dialect.pull_path = pullPath;
  dialect.commit_path = [](const std::string& container, const std::string& repo,
                           const std::string& tag) {
    return "/commit?container=" + engine::urlEncode(container) + "&repo=" +
           engine::urlEncode(repo) + "&tag=" + engine::urlEncode(tag) + "&pause=true";
  };
  dialect.image_inspect_path = [](const std::string& image) {
    return "/images/" + image + "/json";
  };
  dialect.image_remove_path = [](const std::string& image) {
    return "/images/" + engine::urlEncode(image);
  };
  dialect.dangling_images_path = [](const std::string& filter) {
    return "/images/json?filters=" + engine::urlEncode(filter);
  };
  dialect.archive_path = [](const std::string& container) {
    return "/containers/" + container + "/archive";
  };
  // copyUIDGID: files are chowned to the container's configured user; with none (root) the
  // tar headers' owner is kept, which the core writes as 0:0.
  dialect.archive_put_query = "noOverwriteDirNonDir=true&copyUIDGID=true";
  dialect.create_body = buildCreateBody;
  dialect.apply_seccomp = applySeccomp;
  dialect.runtime_register_hint = kRegisterHint;
  return dialect;
}

}  // namespace

const engine::EngineDialect& dockerDialect() {
  static const engine::EngineDialect dialect = makeDialect();
  return dialect;
}

}  // namespace grid::docker
