#include "config/server_config.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/NumberParser.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/LayeredConfiguration.h>
#include <Poco/Util/MapConfiguration.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include "plugin/plugin_loader.h"

extern char** environ;

namespace grid {
namespace {

using Poco::AutoPtr;
using Poco::Util::AbstractConfiguration;

const char* const kKnownKeys[] = {
    "backend",
    "instance",
    "log_level",
    "plugin_dir",
    "auth_token",
    "auth_token_file",
    "server.insecure",
    "server.max_json_depth",
    "server.bind",
    "server.port",
    "server.max_running_sandboxes",
    "server.max_sandbox_records",
    "server.max_sandboxes",  // deprecated: server.max_sandbox_records
    "server.start_wait_timeout",
    "server.max_threads",
    "server.max_body_bytes",
    "exec.default_timeout",
    "exec.max_timeout",
    "exec.max_output_bytes",
    "exec.max_command_bytes",
    "exec.max_trajectory_bytes",
    "files.max_file_bytes",
    "files.max_list_entries",
    "files.timeout",
    "sandbox.default_image",
    "sandbox.cpus",
    "sandbox.memory_mb",
    "sandbox.pids",
    "sandbox.isolation",
    "processes.max_per_sandbox",
    "processes.max_output_bytes",
    "lifetimes.default_ttl",
    "lifetimes.default_idle_timeout",
    "lifetimes.default_action",
    "lifetimes.max_ttl",
    "metrics.bind",
    "ui.dir",
    "terminal.max_per_sandbox",
    "network.allow",
    "network.deny",
    "network.upstream_dns",
    "network.dns_ttl_floor",
    "network.max_rules",
    "network.nft",
};

std::string upperSnake(std::string s) {
  for (char& c : s) {
    c = (c == '.' || c == '-') ? '_'
                               : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

class Reader {
 public:
  explicit Reader(const AbstractConfiguration& config) : config_(config) {}

  void text(const std::string& key, std::string& out) {
    if (config_.hasProperty(key)) out = config_.getString(key);
  }
  template <typename Int>
  void integer(const std::string& key, Int& out, long long min, long long max) {
    if (!config_.hasProperty(key)) return;
    const std::string raw = config_.getString(key);
    Poco::Int64 value;
    if (!Poco::NumberParser::tryParse64(trim(raw), value) || value < min || value > max) {
      addError(key, raw,
               "a whole number from " + std::to_string(min) + " to " + std::to_string(max));
      return;
    }
    out = static_cast<Int>(value);
  }
  void real(const std::string& key, double& out, double min) {
    if (!config_.hasProperty(key)) return;
    const std::string raw = config_.getString(key);
    double value;
    if (!Poco::NumberParser::tryParseFloat(trim(raw), value) || value < min) {
      addError(key, raw, "a number >= " + std::to_string(min));
      return;
    }
    out = value;
  }
  // Durations are written in seconds, fractions allowed.
  template <typename Duration>
  void seconds(const std::string& key, Duration& out) {
    double value = -1;
    real(key, value, 0.001);
    if (value > 0) {
      out = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(value));
    }
  }
  // A duration in seconds where 0 means none.
  void secondsOrNone(const std::string& key, std::chrono::milliseconds& out) {
    double value = -1;
    real(key, value, 0);
    if (value < 0) return;
    if (value > 1e9) {
      addError(key, config_.getString(key), "a number of seconds from 0 to 1000000000");
      return;
    }
    out = std::chrono::milliseconds(static_cast<int64_t>(value * 1000 + 0.5));
  }
  const std::string& errors() const { return errors_; }

 private:
  static std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t");
    const auto e = s.find_last_not_of(" \t");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
  }
  void addError(const std::string& key, const std::string& raw, const std::string& expected) {
    if (!errors_.empty()) errors_ += "; ";
    errors_ += key + " = '" + raw + "' is not " + expected;
  }

  const AbstractConfiguration& config_;
  std::string errors_;
};

std::optional<std::string> findConfigFile(const ConfigSources& sources) {
  if (sources.file) return sources.file;
  for (const char* candidate : {"grid.ini", "/etc/grid/grid.ini"}) {
    if (Poco::File(candidate).exists()) return std::string(candidate);
  }
  return std::nullopt;
}

Result<ServerConfig> loadServerConfigOrThrow(const ConfigSources& sources) {
  AutoPtr<Poco::Util::LayeredConfiguration> layered(new Poco::Util::LayeredConfiguration);
  const auto file = findConfigFile(sources);
  if (file) {
    try {
      AutoPtr<AbstractConfiguration> ini(new Poco::Util::IniFileConfiguration(*file));
      layered->add(ini, 30);
    } catch (const Poco::Exception& e) {
      return fail(ErrorCode::kInvalidArgument,
                  "cannot read config file " + *file + ": " + e.displayText());
    }
  }
  AutoPtr<Poco::Util::MapConfiguration> env(new Poco::Util::MapConfiguration);
  for (const char* key : kKnownKeys) {
    if (auto it = sources.environment.find(environmentNameFor(key));
        it != sources.environment.end()) {
      env->setString(key, it->second);
    }
  }
  layered->add(env, 20);
  AutoPtr<Poco::Util::MapConfiguration> flags(new Poco::Util::MapConfiguration);
  for (const auto& [key, value] : sources.flags) flags->setString(key, value);
  layered->add(flags, 10);

  ServerConfig config;
  // A renamed key is read under the name the sources used; the new name wins when both are.
  const auto keyFor = [&](const std::string& new_key) {
    for (const auto& renamed : kRenamedKeys) {
      if (new_key != renamed.new_key || !layered->hasProperty(renamed.old_key)) continue;
      const std::string names =
          std::string(renamed.old_key) + " (" + environmentNameFor(renamed.old_key) + ")";
      const std::string replacement =
          std::string(renamed.new_key) + " (" + environmentNameFor(renamed.new_key) + ")";
      if (layered->hasProperty(renamed.new_key)) {
        config.warnings.push_back(
            names + " and " + replacement + " are both set: " + renamed.new_key + " wins; " +
            renamed.old_key + " is deprecated and removed in " + renamed.removed_in);
        return new_key;
      }
      config.warnings.push_back(names + " is deprecated and removed in " + renamed.removed_in +
                                ": use " + replacement);
      return std::string(renamed.old_key);
    }
    return new_key;
  };
  Reader read(*layered);
  read.text("backend", config.backend);
  read.text("instance", config.instance);
  read.text("log_level", config.log_level);
  read.text("plugin_dir", config.plugin_dir);
  read.text("auth_token", config.auth_token);
  read.text("auth_token_file", config.auth_token_file);
  std::string insecure;
  read.text("server.insecure", insecure);
  config.insecure = insecure == "true" || insecure == "1" || insecure == "yes";
  read.integer("server.max_json_depth", config.max_json_depth, 2, 1000);
  read.text("server.bind", config.bind);
  read.integer("server.port", config.port, 0, 65535);
  read.integer("server.max_running_sandboxes", config.max_running_sandboxes, 1, 100000);
  read.integer(keyFor("server.max_sandbox_records"), config.max_sandbox_records, 1, 10000000);
  read.seconds("server.start_wait_timeout", config.start_wait_timeout);
  read.integer("server.max_threads", config.max_threads, 0, 100000);
  read.integer("server.max_body_bytes", config.max_body_bytes, 1024, 1LL << 32);
  read.seconds("exec.default_timeout", config.default_exec_timeout);
  read.seconds("exec.max_timeout", config.max_exec_timeout);
  read.integer("exec.max_output_bytes", config.max_output_bytes, 1024, 1LL << 32);
  read.integer("exec.max_command_bytes", config.max_command_bytes, 16, 1LL << 30);
  read.integer("exec.max_trajectory_bytes", config.max_trajectory_bytes, 0, 1LL << 40);
  read.integer("processes.max_per_sandbox", config.max_processes_per_sandbox, 1, 4096);
  read.integer("processes.max_output_bytes", config.max_process_output_bytes, 1024, 1LL << 32);
  read.integer("terminal.max_per_sandbox", config.max_terminals_per_sandbox, 1, 64);
  read.integer("files.max_file_bytes", config.max_file_bytes, 0, 1LL << 50);
  read.integer("files.max_list_entries", config.max_list_entries, 1, 10000000);
  read.seconds("files.timeout", config.file_timeout);
  read.text("sandbox.default_image", config.default_image);
  read.real("sandbox.cpus", config.default_limits.cpus, 0);
  read.integer("sandbox.memory_mb", config.default_limits.memory_mb, 0, 1LL << 40);
  read.integer("sandbox.pids", config.default_limits.pids, 0, 1LL << 31);
  read.text("metrics.bind", config.metrics_bind);
  read.text("ui.dir", config.ui_dir);
  std::string isolation = isolationName(config.default_isolation);
  read.text("sandbox.isolation", isolation);
  read.secondsOrNone("lifetimes.default_ttl", config.default_ttl);
  read.secondsOrNone("lifetimes.default_idle_timeout", config.default_idle_timeout);
  read.text("lifetimes.default_action", config.default_expiry_action);
  read.secondsOrNone("lifetimes.max_ttl", config.max_ttl);
  std::string network_allow, network_deny, upstream_dns;
  read.text("network.allow", network_allow);
  read.text("network.deny", network_deny);
  read.text("network.upstream_dns", upstream_dns);
  read.seconds("network.dns_ttl_floor", config.dns_ttl_floor);
  read.integer("network.max_rules", config.max_egress_rules, 1, 65536);
  read.text("network.nft", config.nft_binary);

  // [backend.NAME] sections from the file, then GRID_BACKEND_<NAME>_<KEY> for the chosen one.
  AbstractConfiguration::Keys names;
  layered->keys("backend", names);
  for (const auto& name : names) {
    AbstractConfiguration::Keys keys;
    layered->keys("backend." + name, keys);
    for (const auto& key : keys) {
      // "a.b = 1" in a section makes "a" a key without a value of its own.
      const std::string full = "backend." + name + "." + key;
      if (layered->hasProperty(full)) config.backend_settings[name][key] = layered->getString(full);
    }
  }
  const std::string env_prefix = environmentNameFor("backend." + config.backend) + "_";
  for (const auto& [var, value] : sources.environment) {
    if (var.rfind(env_prefix, 0) == 0 && var.size() > env_prefix.size()) {
      std::string key = var.substr(env_prefix.size());
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      config.backend_settings[config.backend][key] = value;
    }
  }

  std::string errors = read.errors();
  config.pools = readPoolSections(*layered, errors);
  const auto addError = [&](const std::string& message) {
    if (!errors.empty()) errors += "; ";
    errors += message;
  };
  if (config.backend.empty()) addError("backend is empty");
  if (config.instance.empty() ||
      config.instance.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
          std::string::npos) {
    addError("instance = '" + config.instance + "' must be lowercase letters, digits and '-'");
  }
  static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                "error", "critical", "off"};
  if (!kLevels.count(config.log_level))
    addError("log_level = '" + config.log_level +
             "' is not one of trace, debug, info, warn, error, critical, off");
  if (!config.auth_token_file.empty() && config.auth_token.empty()) {
    std::ifstream token_file(config.auth_token_file);
    if (!token_file || !std::getline(token_file, config.auth_token) || config.auth_token.empty()) {
      addError("auth_token_file = '" + config.auth_token_file + "' cannot be read or is empty");
    }
  }
  if (const auto level = isolationFromName(isolation)) {
    config.default_isolation = *level;
  } else {
    addError("sandbox.isolation = '" + isolation + "' is not one of " + kIsolationNames);
  }
  // The names of sandbox/lifetime.h's ExpiryAction (this layer does not include sandbox/).
  if (config.default_expiry_action != "stop" && config.default_expiry_action != "pause") {
    addError("lifetimes.default_action = '" + config.default_expiry_action +
             "' is not one of stop, pause");
  }
  if (config.max_ttl.count() > 0 && config.default_ttl > config.max_ttl) {
    addError("lifetimes.default_ttl exceeds lifetimes.max_ttl");
  }
  if (config.default_exec_timeout > config.max_exec_timeout) {
    addError("exec.default_timeout exceeds exec.max_timeout");
  }
  size_t pooled = 0;  // warm pool sandboxes hold running slots (docs/pools.md)
  for (const auto& pool : config.pools) pooled += pool.size;
  if (pooled > config.max_running_sandboxes) {
    addError("the [pool.*] sizes add up to " + std::to_string(pooled) +
             ", more than server.max_running_sandboxes = " +
             std::to_string(config.max_running_sandboxes));
  }
  if (auto allow = parseEgressList(network_allow, "network.allow"); allow.ok()) {
    config.network_default_policy.allow = std::move(allow.value());
  } else {
    addError(allow.error().message);
  }
  if (auto deny = parseEgressList(network_deny, "network.deny"); deny.ok()) {
    config.network_default_policy.deny = std::move(deny.value());
    for (const auto& rule : config.network_default_policy.deny) {
      if (rule.kind == EgressRule::Kind::kDomain && rule.port) {
        addError("network.deny: domain rule '" + rule.text() + "' takes no port");
      }
    }
  } else {
    addError(deny.error().message);
  }
  if (config.network_default_policy.allow.size() + config.network_default_policy.deny.size() >
      config.max_egress_rules) {
    addError("network.allow and network.deny hold more than network.max_rules rules");
  }
  for (size_t i = 0; i < upstream_dns.size();) {
    const size_t end = upstream_dns.find_first_of(", \t", i);
    const std::string server =
        upstream_dns.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (!server.empty()) config.upstream_dns.push_back(server);
    if (end == std::string::npos) break;
    i = end + 1;
  }
  if (!errors.empty()) {
    return fail(
        ErrorCode::kInvalidArgument,
        "invalid configuration" + (file ? " (" + *file + ")" : std::string()) + ": " + errors);
  }
  return config;
}

}  // namespace

std::string environmentNameFor(const std::string& key) { return "GRID_" + upperSnake(key); }

std::map<std::string, std::string> processEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

size_t ServerConfig::httpThreads() const {
  // Poco serves a connection on one thread for its whole life, idle keep-alive included: each
  // running sandbox may hold a thread in a long exec, each queued start waits on one, clients
  // keep idle connections; the rest serves list/health/create/delete.
  return max_threads != 0 ? max_threads : max_running_sandboxes * 4 + 64;
}

std::string ServerConfig::defaultImage() const {
  if (!default_image.empty()) return default_image;
  const auto& settings = settingsOf(backend);
  if (auto it = settings.find("default_image"); it != settings.end() && !it->second.empty()) {
    return it->second;
  }
  return backend == "local-namespace" ? "host" : "ubuntu:latest";
}

const std::map<std::string, std::string>& ServerConfig::settingsOf(
    const std::string& backend_name) const {
  static const std::map<std::string, std::string> kNone;
  const auto it = backend_settings.find(backend_name);
  return it == backend_settings.end() ? kNone : it->second;
}

std::map<std::string, std::string> ServerConfig::backendOwnSettings(
    const std::string& backend_name) const {
  auto settings = settingsOf(backend_name);
  for (const char* core_key : {"plugin", "default_image", "test_image"}) settings.erase(core_key);
  return settings;
}

std::string ServerConfig::pluginPath(const std::string& backend_name) const {
  const auto& settings = settingsOf(backend_name);
  const auto it = settings.find("plugin");
  return pluginPathFor(backend_name, plugin_dir, it == settings.end() ? "" : it->second);
}

Result<ServerConfig> loadServerConfig(const ConfigSources& sources) {
  try {
    return loadServerConfigOrThrow(sources);
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kInvalidArgument, "invalid configuration: " + e.displayText());
  }
}

}  // namespace grid
