// The shared engine suite's hooks for the in-tree dialects, against the engines scripts/
// start-engines.sh runs.
#pragma once

#include "engine_backend_suite.h"

namespace grid::testing {

/// EngineBackend with dockerDialect() on /var/run/docker.sock.
EngineBackendHooks dockerHooks();

/// EngineBackend with podmanDialect() on /run/podman/podman.sock.
EngineBackendHooks podmanHooks();

}  // namespace grid::testing
