#include "docker_backend.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <charconv>
#include <utility>

#include "container_spec.h"
#include "grid/engine/exec_channel.h"

namespace grid::docker {

namespace {

constexpr char kProduct[] = "docker";
constexpr char kUnixScheme[] = "unix://";
constexpr char kStartHint[] =
    ": start it with `dockerd` or `systemctl start docker`, or set [backend.docker] socket";

Error withStartHint(Error error) {
  if (error.code == ErrorCode::kUnavailable) error.message += kStartHint;
  return error;
}

bool isValidSandboxId(const std::string& id) {
  if (id.empty()) return false;
  for (unsigned char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// The image goes into URL paths unescaped (the engine routes /images/{name:.*}/json), so only
// characters of Docker image references are accepted.
bool isPlausibleImageReference(const std::string& image) {
  if (image.empty()) return false;
  for (unsigned char c : image) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-' && c != '/' && c != ':' && c != '@') {
      return false;
    }
  }
  return true;
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

// Docker 20.10 reports a missing init binary only when the container starts.
bool mentionsMissingInit(const Error& error) {
  return error.message.find("docker-init") != std::string::npos;
}

// Errors can also arrive inside a 200 pull answer, as {"error": ...} progress lines.
std::string pullStreamError(const std::string& body) {
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    if (auto line = engine::parseJsonObject(body.substr(start, end - start))) {
      std::string error = line->optValue<std::string>("error", "");
      if (!error.empty()) return error;
    }
    start = end + 1;
  }
  return "";
}

}  // namespace

Result<DockerSettings> parseSettings(const std::map<std::string, std::string>& settings) {
  DockerSettings parsed;
  for (const auto& [key, value] : settings) {
    if (key == "socket") {
      parsed.socket = value.rfind(kUnixScheme, 0) == 0 ? value.substr(7) : value;
      if (parsed.socket.empty() || parsed.socket[0] != '/') {
        return fail(ErrorCode::kInvalidArgument,
                    "[backend.docker] socket must be an absolute path, got '" + value + "'");
      }
    } else if (key == "api_version") {
      if (!isApiVersion(value)) {
        return fail(ErrorCode::kInvalidArgument,
                    "[backend.docker] api_version must look like 1.41, got '" + value + "'");
      }
      parsed.api_version = value;
    } else if (key == "pull_timeout") {
      long seconds = 0;
      auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
      if (error != std::errc() || end != value.data() + value.size() || seconds <= 0) {
        return fail(ErrorCode::kInvalidArgument,
                    "[backend.docker] pull_timeout must be a positive number of seconds, got '" +
                        value + "'");
      }
      parsed.pull_timeout = std::chrono::seconds(seconds);
    } else {
      return fail(ErrorCode::kInvalidArgument, "[backend.docker] has no setting '" + key +
                                                   "' (known: socket, api_version, pull_timeout)");
    }
  }
  return parsed;
}

Result<void> DockerBackend::init(const BackendConfig& config) {
  if (!isValidNamePart(config.instance)) {
    return fail(ErrorCode::kInvalidArgument,
                "docker: instance name '" + config.instance +
                    "' cannot be part of a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)");
  }
  auto settings = parseSettings(config.settings);
  if (!settings.ok()) return settings.error();
  instance_ = config.instance;
  settings_ = std::move(settings).value();
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
  const std::string path =
      "/containers/json?all=1&filters=" + engine::urlEncode(leftoverFilter(instance_));
  auto listed = client_->request("GET", path);
  if (!listed.ok()) return listed.error();
  if (!listed.value().ok()) return client_->errorFor("GET", path, listed.value());
  Poco::JSON::Array::Ptr containers = engine::parseJsonArray(listed.value().body);
  if (!containers) {
    return fail(ErrorCode::kInternal, "docker: GET /containers/json: answer is not a list");
  }
  std::vector<std::string> removed;
  std::string failures;
  for (std::size_t i = 0; i < containers->size(); ++i) {
    Poco::JSON::Object::Ptr container = containers->getObject(static_cast<unsigned>(i));
    if (!container) continue;
    const std::string id = container->optValue<std::string>("Id", "");
    std::string sandbox_id;
    if (Poco::JSON::Object::Ptr labels = container->getObject("Labels")) {
      sandbox_id = labels->optValue<std::string>(kSandboxIdLabel, "");
    }
    if (id.empty()) continue;
    if (auto result = removeContainer(id); !result.ok()) {
      failures += (failures.empty() ? "" : "; ") + result.error().message;
      continue;
    }
    spdlog::info("docker: removed leftover container {} (sandbox '{}')", id.substr(0, 12),
                 sandbox_id);
    if (!sandbox_id.empty()) removed.push_back(sandbox_id);
  }
  if (!failures.empty()) return fail(ErrorCode::kInternal, failures);
  return removed;
}

Result<void> DockerBackend::createSandbox(const SandboxSpec& spec) {
  if (!isValidSandboxId(spec.id)) {
    return fail(ErrorCode::kInvalidArgument, "docker: invalid sandbox id '" + spec.id + "'");
  }
  if (!isPlausibleImageReference(spec.image)) {
    return fail(ErrorCode::kInvalidArgument,
                "docker: invalid image reference '" + spec.image + "'");
  }
  if (auto image = ensureImage(spec.image); !image.ok()) return image;

  const bool use_init = use_init_.load();
  auto created = createAndStart(spec, use_init);
  if (!created.ok() && use_init && mentionsMissingInit(created.error())) {
    spdlog::warn("docker: engine has no docker-init ({}); sandboxes run without an init",
                 created.error().message);
    use_init_.store(false);
    created = createAndStart(spec, false);
  }
  return created;
}

Result<void> DockerBackend::ensureImage(const std::string& image) {
  const std::string path = "/images/" + image + "/json";
  auto inspected = client_->request("GET", path);
  if (!inspected.ok()) return inspected.error();
  if (inspected.value().ok()) return {};
  if (inspected.value().status != 404) return client_->errorFor("GET", path, inspected.value());
  return pullImage(image);
}

Result<void> DockerBackend::pullImage(const std::string& image) {
  const PullTarget target = pullTarget(image);
  std::string path = "/images/create?fromImage=" + engine::urlEncode(target.from_image);
  if (!target.tag.empty()) path += "&tag=" + engine::urlEncode(target.tag);
  const auto not_found = [&image](const std::string& why) {
    return fail(ErrorCode::kImageNotFound,
                "image '" + image + "' is not present locally and could not be pulled: " + why);
  };
  auto pulled = client_->request("POST", path, std::nullopt, settings_.pull_timeout);
  if (!pulled.ok()) {
    if (pulled.error().code == ErrorCode::kUnavailable) return pulled.error();
    return not_found(pulled.error().message);
  }
  if (!pulled.value().ok()) return not_found(engine::engineMessage(pulled.value().body));
  if (std::string error = pullStreamError(pulled.value().body); !error.empty()) {
    return not_found(error);
  }
  auto inspected = client_->request("GET", "/images/" + image + "/json");
  if (!inspected.ok()) return inspected.error();
  if (!inspected.value().ok()) return not_found("the pull finished but the image is missing");
  return {};
}

Result<void> DockerBackend::createAndStart(const SandboxSpec& spec, bool use_init) {
  const std::string name = containerName(instance_, spec.id);
  const std::string create_path = "/containers/create?name=" + engine::urlEncode(name);
  auto created = client_->request("POST", create_path,
                                  engine::toJson(buildCreateBody(instance_, spec, use_init)));
  if (!created.ok()) {
    // The engine may have created it before the connection failed.
    (void)removeContainer(name);
    return created.error();
  }
  if (!created.value().ok()) {
    Error error = client_->errorFor("POST", create_path, created.value());
    if (created.value().status == 404) {
      error.code = ErrorCode::kImageNotFound;  // removed between the check and the create
    } else if (created.value().status == 409) {
      error.message = "docker: sandbox '" + spec.id + "' already exists (" + error.message + ")";
    }
    return error;
  }

  const std::string start_path = "/containers/" + name + "/start";
  auto started = client_->request("POST", start_path);
  Result<void> result;
  if (!started.ok()) {
    result = started.error();
  } else if (!started.value().ok() && started.value().status != 304) {
    result = client_->errorFor("POST", start_path, started.value());
  }
  if (!result.ok()) {
    if (auto removed = removeContainer(name); !removed.ok()) {
      spdlog::error("docker: container {} leaked after a failed start: {}", name,
                    removed.error().message);
    }
  }
  return result;
}

Result<std::unique_ptr<ProcessChannel>> DockerBackend::startProcess(const std::string& sandbox_id,
                                                                    const ProcessSpec& spec) {
  if (!isValidSandboxId(sandbox_id)) {
    return fail(ErrorCode::kNotFound, "docker: no sandbox '" + sandbox_id + "'");
  }
  engine::ExecOptions options;
  options.argv = spec.argv;
  options.attach_stdin = spec.attach_stdin;
  auto channel = engine::startExec(client_, containerName(instance_, sandbox_id), options);
  if (!channel.ok()) return channel.error();
  return std::unique_ptr<ProcessChannel>(std::move(channel).value());
}

Result<void> DockerBackend::destroySandbox(const std::string& sandbox_id) {
  if (!isValidSandboxId(sandbox_id)) return {};  // could never have been created
  return removeContainer(containerName(instance_, sandbox_id));
}

Result<void> DockerBackend::removeContainer(const std::string& name_or_id) {
  const std::string path = "/containers/" + name_or_id + "?force=1&v=1";
  auto removed = client_->request("DELETE", path);
  if (!removed.ok()) return removed.error();
  const engine::Response& answer = removed.value();
  if (answer.ok() || answer.status == 404) return {};
  // A concurrent destroy of the same sandbox is already doing the work.
  if (answer.status == 409 &&
      engine::engineMessage(answer.body).find("already in progress") != std::string::npos) {
    return {};
  }
  return client_->errorFor("DELETE", path, answer);
}

}  // namespace grid::docker
