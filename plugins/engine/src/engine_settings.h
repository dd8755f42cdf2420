// The settings of an engine backend's [backend.NAME] section, parsed by the rules every
// dialect shares plus the dialect's own keys.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "grid/result.h"
#include "grid/seccomp/policy.h"

namespace grid::engine {

struct EngineDialect;

/// Settings of [backend.NAME], validated by EngineBackend::init().
struct EngineBackendSettings {
  std::string socket;       // default: the dialect's default_socket()
  std::string api_version;  // Docker: empty negotiates the version
  std::chrono::seconds pull_timeout{300};
  seccomp::SeccompMode seccomp = seccomp::SeccompMode::kGrid;
  std::string gvisor_runtime = "runsc";  // engine runtime of isolation = gvisor sandboxes
  std::string gvisor_socket;             // dialects with a gVisor service: where it listens
};

/// Parses `settings` of [backend.<dialect.name>]; unknown keys and bad values are
/// kInvalidArgument.
Result<EngineBackendSettings> parseSettings(const EngineDialect& dialect,
                                            const std::map<std::string, std::string>& settings);

}  // namespace grid::engine
