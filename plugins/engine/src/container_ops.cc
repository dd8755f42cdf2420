#include "grid/engine/container_ops.h"

#include <spdlog/spdlog.h>

#include "grid/engine/container_conventions.h"
#include "grid/engine/exec_channel.h"

namespace grid::engine {

namespace {

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

// Docker answers 404 "No such image"; Podman's libpod answers 500 "image not known".
bool meansMissingImage(const Response& answer) {
  return answer.status == 404 || contains(engineMessage(answer.body), "image not known");
}

// Docker answers 409; Podman's libpod answers 500 "... is already in use ...".
bool meansNameTaken(const Response& answer) {
  return answer.status == 409 || contains(engineMessage(answer.body), "is already in use");
}

}  // namespace

Result<void> checkEngineRuntime(EngineClient& client, const std::string& product,
                                const std::string& runtime, const std::string& register_hint) {
  GRID_ASSIGN_OR_RETURN(const Response answer, client.request("GET", "/info"));
  if (!answer.ok()) return client.errorFor("GET", "/info", answer);
  return checkRuntimeListed(product, answer.body, runtime, register_hint);
}

Result<bool> imagePresent(EngineClient& client, const std::string& path) {
  GRID_ASSIGN_OR_RETURN(const Response answer, client.request("GET", path));
  if (answer.ok()) return true;
  if (answer.status == 404) return false;
  return client.errorFor("GET", path, answer);
}

Result<void> checkPullAnswer(const std::string& image, const Result<Response>& pulled) {
  if (!pulled.ok()) {
    if (pulled.error().code == ErrorCode::kUnavailable) return pulled.error();
    return imageNotFound(image, pulled.error().message);
  }
  if (!pulled.value().ok()) return imageNotFound(image, engineMessage(pulled.value().body));
  if (std::string error = pullStreamError(pulled.value().body); !error.empty()) {
    return imageNotFound(image, error);
  }
  return {};
}

Result<void> ensureImage(EngineClient& client, const std::string& image,
                         const std::string& present_path, const std::string& pull_path,
                         std::chrono::milliseconds pull_timeout) {
  GRID_ASSIGN_OR_RETURN(bool present, imagePresent(client, present_path));
  if (present) return {};
  GRID_TRY(checkPullAnswer(image, client.request("POST", pull_path, std::nullopt, pull_timeout)));
  GRID_ASSIGN_OR_RETURN(present, imagePresent(client, present_path));
  if (!present) return imageNotFound(image, "the pull finished but the image is missing");
  return {};
}

Result<void> createAndStartContainer(EngineClient& client, const ContainerCreation& creation) {
  const std::string& product = client.endpoint().product;
  auto created = client.request("POST", creation.create_path, creation.body);
  if (!created.ok()) {
    // The engine may have created it before the connection failed.
    (void)removeContainer(client, creation.remove_path);
    return created.error();
  }
  if (!created.value().ok()) {
    Error error = client.errorFor("POST", creation.create_path, created.value());
    if (meansNameTaken(created.value())) {
      error.code = ErrorCode::kConflict;
      error.message = product + ": sandbox '" + creation.sandbox_id + "' already exists (" +
                      error.message + ")";
    } else if (meansMissingImage(created.value())) {
      error.code = ErrorCode::kImageNotFound;  // removed between the check and the create
    }
    return error;
  }

  if (creation.before_start) {
    if (auto prepared = creation.before_start(); !prepared.ok()) {
      if (auto removed = removeContainer(client, creation.remove_path); !removed.ok()) {
        spdlog::error("{}: container of sandbox '{}' leaked after a failed attach: {}", product,
                      creation.sandbox_id, removed.error().message);
      }
      return prepared.error();
    }
  }
  auto started = client.request("POST", creation.start_path);
  Result<void> result;
  if (!started.ok()) {
    result = started.error();
  } else if (!started.value().ok() && started.value().status != 304) {
    result = client.errorFor("POST", creation.start_path, started.value());
  }
  if (!result.ok()) {
    if (auto removed = removeContainer(client, creation.remove_path); !removed.ok()) {
      spdlog::error("{}: container of sandbox '{}' leaked after a failed start: {}", product,
                    creation.sandbox_id, removed.error().message);
    }
  }
  return result;
}

Result<void> removeContainer(EngineClient& client, const std::string& path) {
  GRID_ASSIGN_OR_RETURN(const Response answer, client.request("DELETE", path));
  if (answer.ok() || answer.status == 404) return {};
  // A concurrent destroy of the same sandbox is already doing the work.
  if (answer.status == 409 && contains(engineMessage(answer.body), "already in progress")) {
    return {};
  }
  return client.errorFor("DELETE", path, answer);
}

Result<void> pauseContainer(EngineClient& client, const std::string& path, bool pause) {
  GRID_ASSIGN_OR_RETURN(const Response answer, client.request("POST", path));
  if (answer.ok()) return {};
  // Docker answers 500 "... is not paused", Podman 500 "... is not paused, can't unpause".
  const std::string message = engineMessage(answer.body);
  if (!pause && contains(message, "is not paused")) return {};
  Error error = client.errorFor("POST", path, answer);
  if (answer.status == 404) {
    error.code = ErrorCode::kNotFound;
  } else if (answer.status == 409 || contains(message, "already paused") ||
             contains(message, "state improper")) {
    // Docker answers 409, Podman 500 "... container state improper".
    error.code = ErrorCode::kConflict;
  }
  return error;
}

Result<void> removeSandboxContainer(
    EngineClient& client, const std::string& instance, const std::string& sandbox_id,
    const std::function<std::string(const std::string& name)>& remove_path) {
  if (!isValidSandboxId(sandbox_id)) return {};  // could never have been created
  return removeContainer(client, remove_path(containerName(instance, sandbox_id)));
}

Result<std::vector<std::string>> removeLeftoverContainers(
    EngineClient& client, const std::string& list_path,
    const std::function<std::string(const std::string& id)>& remove_path) {
  const std::string& product = client.endpoint().product;
  GRID_ASSIGN_OR_RETURN(const Response listed, client.request("GET", list_path));
  if (!listed.ok()) return client.errorFor("GET", list_path, listed);
  Poco::JSON::Array::Ptr containers = parseJsonArray(listed.body);
  if (!containers) {
    return fail(
        ErrorCode::kInternal,
        product + ": GET " + list_path.substr(0, list_path.find('?')) + ": answer is not a list");
  }
  std::vector<std::string> removed;
  std::string failures;
  for (std::size_t i = 0; i < containers->size(); ++i) {
    Poco::JSON::Object::Ptr container = containers->getObject(static_cast<unsigned>(i));
    if (!container) continue;
    const std::string id = container->optValue<std::string>("Id", "");
    if (id.empty()) continue;
    std::string sandbox_id;
    if (Poco::JSON::Object::Ptr labels = container->getObject("Labels")) {
      sandbox_id = labels->optValue<std::string>(kSandboxIdLabel, "");
    }
    if (auto result = removeContainer(client, remove_path(id)); !result.ok()) {
      failures += (failures.empty() ? "" : "; ") + result.error().message;
      continue;
    }
    spdlog::info("{}: removed leftover container {} (sandbox '{}')", product, id.substr(0, 12),
                 sandbox_id);
    if (!sandbox_id.empty()) removed.push_back(sandbox_id);
  }
  if (!failures.empty()) return fail(ErrorCode::kInternal, failures);
  return removed;
}

Result<std::unique_ptr<ProcessChannel>> startSandboxProcess(
    const std::shared_ptr<EngineClient>& client, const std::string& instance,
    const std::string& sandbox_id, const ProcessSpec& spec, ExecRegistry* registry) {
  if (!isValidSandboxId(sandbox_id)) {
    return fail(ErrorCode::kNotFound,
                client->endpoint().product + ": no sandbox '" + sandbox_id + "'");
  }
  ExecOptions options;
  options.argv = spec.argv;
  options.attach_stdin = spec.attach_stdin;
  options.tty = spec.tty;
  auto channel = startExec(client, containerName(instance, sandbox_id), options);
  if (!channel.ok()) {
    Error error = channel.error();
    // Podman answers 500 "... container state improper" where Docker answers 409.
    if (contains(error.message, "container state improper")) error.code = ErrorCode::kConflict;
    return error;
  }
  if (registry != nullptr) registry->add(sandbox_id, channel.value()->abortHandle());
  return std::unique_ptr<ProcessChannel>(std::move(channel).value());
}

}  // namespace grid::engine
