#include "engine_settings.h"

#include "engine_dialect.h"
#include "grid/engine/container_conventions.h"

namespace grid::engine {

Result<EngineBackendSettings> parseSettings(const EngineDialect& dialect,
                                            const std::map<std::string, std::string>& settings) {
  GRID_ASSIGN_OR_RETURN(
      EngineSettings common,
      parseEngineSettings(dialect.name, settings, dialect.default_socket(), dialect.extra_keys));
  EngineBackendSettings parsed;
  parsed.socket = common.socket;
  parsed.pull_timeout = common.pull_timeout;
  parsed.gvisor_runtime = common.gvisor_runtime;
  if (dialect.parse_extra) GRID_TRY(dialect.parse_extra(common.extra, parsed));
  if (auto mode = common.extra.find("seccomp"); mode != common.extra.end()) {
    GRID_ASSIGN_OR_RETURN(
        parsed.seccomp, seccomp::parseSeccompMode("[backend." + dialect.name + "]", mode->second));
  }
  return parsed;
}

}  // namespace grid::engine
