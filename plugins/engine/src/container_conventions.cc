#include "grid/engine/container_conventions.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <optional>
#include <utility>

#include "grid/engine/engine_client.h"

namespace grid::engine {

namespace {

constexpr std::int64_t kMiB = 1024 * 1024;
constexpr double kNanoCpusPerCpu = 1e9;
constexpr char kUnixScheme[] = "unix://";

}  // namespace

std::string containerName(const std::string& instance, const std::string& sandbox_id) {
  return "grid-" + instance + "-" + sandbox_id;
}

std::map<std::string, std::string> containerLabels(const std::string& instance,
                                                   const SandboxSpec& spec) {
  std::map<std::string, std::string> labels = spec.labels;
  // Ours last: a user label must not make a sandbox look like another instance's.
  labels[kManagedByLabel] = kManagedByValue;
  labels[kInstanceLabel] = instance;
  labels[kSandboxIdLabel] = spec.id;
  return labels;
}

std::string leftoverFilter(const std::string& instance) {
  Poco::JSON::Array::Ptr labels = new Poco::JSON::Array;
  labels->add(std::string(kManagedByLabel) + "=" + kManagedByValue);
  labels->add(std::string(kInstanceLabel) + "=" + instance);
  Poco::JSON::Object::Ptr filter = new Poco::JSON::Object;
  filter->set("label", labels);
  return toJson(filter);
}

bool isValidNamePart(const std::string& text) {
  if (text.empty() || !std::isalnum(static_cast<unsigned char>(text[0]))) return false;
  for (unsigned char c : text) {
    if (!std::isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool isValidSandboxId(const std::string& id) {
  if (id.empty()) return false;
  for (unsigned char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool isPlausibleImageReference(const std::string& image) {
  if (image.empty()) return false;
  for (unsigned char c : image) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '-' && c != '/' && c != ':' && c != '@') {
      return false;
    }
  }
  return true;
}

Result<void> checkInstanceName(const std::string& product, const std::string& instance) {
  if (isValidNamePart(instance)) return {};
  return fail(ErrorCode::kInvalidArgument,
              product + ": instance name '" + instance +
                  "' cannot be part of a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)");
}

Result<void> checkSandboxSpec(const std::string& product, const SandboxSpec& spec) {
  if (!isValidSandboxId(spec.id)) {
    return fail(ErrorCode::kInvalidArgument, product + ": invalid sandbox id '" + spec.id + "'");
  }
  if (!isPlausibleImageReference(spec.image)) {
    return fail(ErrorCode::kInvalidArgument,
                product + ": invalid image reference '" + spec.image + "'");
  }
  return {};
}

std::string engineRuntimeFor(const SandboxSpec& spec, const std::string& gvisor_runtime) {
  return spec.isolation == Isolation::kGvisor ? gvisor_runtime : std::string();
}

Result<void> checkRuntimeListed(const std::string& product, const std::string& info_body,
                                const std::string& runtime, const std::string& register_hint) {
  Poco::JSON::Object::Ptr info = parseJsonObject(info_body);
  Poco::JSON::Object::Ptr runtimes = info ? info->getObject("Runtimes") : nullptr;
  if (!runtimes) {
    return fail(ErrorCode::kInternal,
                product + ": GET /info answered without a \"Runtimes\" object, so the runtime '" +
                    runtime + "' of isolation gvisor cannot be checked");
  }
  if (runtimes->has(runtime)) return {};
  std::string known;
  for (const auto& [name, value] : *runtimes) known += (known.empty() ? "" : ", ") + name;
  return fail(ErrorCode::kUnsupported,
              product + ": isolation 'gvisor' needs the engine runtime '" + runtime +
                  "', which the engine does not have (it has: " + known + "); " + register_hint);
}

std::int64_t memoryLimitBytes(std::int64_t memory_mb) { return memory_mb * kMiB; }

std::int64_t nanoCpus(double cpus) {
  return static_cast<std::int64_t>(std::llround(cpus * kNanoCpusPerCpu));
}

std::vector<std::string> keepAliveCommand() {
  // `wait` returns for any child, adopted orphans included (dash and bash wait for pid -1).
  return {"/bin/sh", "-c", "while :; do sleep 86400 & wait; done"};
}

bool runsInitialProcess(const SandboxSpec& spec) {
  return spec.initial_process && !spec.initial_process->argv.empty() &&
         !spec.initial_process->tty && spec.isolation == Isolation::kDefault;
}

std::string initialProcessEndMarker(const std::string& sandbox_id) {
  return "grid-initial-process-ended-" + sandbox_id;
}

std::vector<std::string> containerCommand(const SandboxSpec& spec) {
  if (!runsInitialProcess(spec)) return keepAliveCommand();
  std::vector<std::string> command = {
      "/bin/sh", "-c",
      "m=$1; shift; if command -v setsid >/dev/null 2>&1; then setsid \"$@\"; else \"$@\"; fi;"
      " s=$?; printf '%s:%d\\n' \"$m\" $s; printf '%s:%d\\n' \"$m\" $s >&2;"
      " exec </dev/null >/dev/null 2>&1;"
      " while :; do sleep 86400 & wait; done",
      "grid-sandbox", initialProcessEndMarker(spec.id)};
  command.insert(command.end(), spec.initial_process->argv.begin(),
                 spec.initial_process->argv.end());
  return command;
}

std::int64_t cpuQuotaMicros(double cpus) {
  return static_cast<std::int64_t>(std::llround(cpus * static_cast<double>(kCpuPeriodMicros)));
}

Error imageNotFound(const std::string& image, const std::string& why) {
  return fail(ErrorCode::kImageNotFound,
              "image '" + image + "' is not present locally and could not be pulled: " + why);
}

Error withStartHint(Error error, const std::string& hint) {
  if (error.code == ErrorCode::kUnavailable) error.message += hint;
  return error;
}

std::string pullStreamError(const std::string& body) {
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    if (auto line = parseJsonObject(body.substr(start, end - start))) {
      std::string error = line->optValue<std::string>("error", "");
      if (!error.empty()) return error;
    }
    start = end + 1;
  }
  return "";
}

Result<EngineSettings> parseEngineSettings(const std::string& product,
                                           const std::map<std::string, std::string>& settings,
                                           std::string default_socket,
                                           const std::vector<std::string>& extra_keys) {
  const std::string section = "[backend." + product + "]";
  EngineSettings parsed;
  parsed.socket = std::move(default_socket);
  for (const auto& [key, value] : settings) {
    if (key == "socket") {
      GRID_ASSIGN_OR_RETURN(parsed.socket, parseSocketSetting(section, value));
    } else if (key == "pull_timeout") {
      GRID_ASSIGN_OR_RETURN(parsed.pull_timeout, parseSecondsSetting(section, key, value));
    } else if (key == "gvisor_runtime") {
      // A runtime name goes into JSON only, but a plausible one keeps messages readable.
      if (value.empty() || value.size() > 128 ||
          value.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789_.-/") != std::string::npos) {
        return fail(
            ErrorCode::kInvalidArgument,
            section + " gvisor_runtime must be a runtime name or path, got '" + value + "'");
      }
      parsed.gvisor_runtime = value;
    } else if (std::find(extra_keys.begin(), extra_keys.end(), key) != extra_keys.end()) {
      parsed.extra[key] = value;
    } else {
      std::string known = "socket, pull_timeout, gvisor_runtime";
      for (const auto& extra : extra_keys) known += ", " + extra;
      return fail(ErrorCode::kInvalidArgument,
                  section + " has no setting '" + key + "' (known: " + known + ")");
    }
  }
  return parsed;
}

Result<std::string> parseSocketSetting(const std::string& section, const std::string& value) {
  std::string path =
      value.rfind(kUnixScheme, 0) == 0 ? value.substr(sizeof kUnixScheme - 1) : value;
  if (path.empty() || path[0] != '/') {
    return fail(ErrorCode::kInvalidArgument,
                section + " socket must be an absolute path, got '" + value + "'");
  }
  return path;
}

Result<std::chrono::seconds> parseSecondsSetting(const std::string& section, const std::string& key,
                                                 const std::string& value) {
  long seconds = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (error != std::errc() || end != value.data() + value.size() || seconds <= 0) {
    return fail(ErrorCode::kInvalidArgument,
                section + " " + key + " must be a positive number of seconds, got '" + value + "'");
  }
  return std::chrono::seconds(seconds);
}

namespace {

// The number at `path` (object keys) under `root`, when every step is there and it is numeric.
std::optional<double> numberAt(const Poco::JSON::Object::Ptr& root,
                               std::initializer_list<const char*> path) {
  Poco::JSON::Object::Ptr node = root;
  size_t step = 0;
  for (const char* key : path) {
    if (!node || !node->has(key)) return std::nullopt;
    if (++step == path.size()) {
      const Poco::Dynamic::Var value = node->get(key);
      if (!value.isNumeric()) return std::nullopt;
      return value.convert<double>();
    }
    node = node->getObject(key);
  }
  return std::nullopt;
}

}  // namespace

Result<SandboxStats> parseContainerStats(const std::string& product, const std::string& body) {
  Poco::JSON::Object::Ptr root;
  try {
    root = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kInternal,
                product + ": container stats are not a JSON object: " + e.displayText());
  }
  SandboxStats stats;
  if (auto ns = numberAt(root, {"cpu_stats", "cpu_usage", "total_usage"}); ns && *ns > 0) {
    stats.cpu_seconds = *ns / 1e9;
  }
  if (auto usage = numberAt(root, {"memory_stats", "usage"}); usage && *usage > 0) {
    double cache = 0;
    // cgroup v1 names it total_inactive_file, v2 inactive_file.
    for (const char* key : {"total_inactive_file", "inactive_file"}) {
      if (auto inactive = numberAt(root, {"memory_stats", "stats", key})) {
        cache = *inactive;
        break;
      }
    }
    stats.memory_bytes = static_cast<uint64_t>(cache < *usage ? *usage - cache : *usage);
  }
  return stats;
}

Result<ContainerProcess> parseContainerProcess(const std::string& product,
                                              const std::string& body) {
  Poco::JSON::Object::Ptr root;
  try {
    root = Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kInternal,
                product + ": container inspect is not a JSON object: " + e.displayText());
  }
  ContainerProcess process;
  process.id = root->optValue<std::string>("Id", "");
  if (process.id.empty()) {
    return fail(ErrorCode::kInternal, product + ": container inspect names no Id");
  }
  if (auto pid = numberAt(root, {"State", "Pid"})) process.pid = static_cast<int64_t>(*pid);
  return process;
}

}  // namespace grid::engine
