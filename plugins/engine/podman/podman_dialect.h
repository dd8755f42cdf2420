// Podman as an EngineDialect: containers made through the libpod API (fixed version
// kLibpodApiVersion, create bodies from spec_generator.h), execs through Podman's
// Docker-compatible exec endpoints, the seccomp profile as a file on the service's host.
// isolation = gvisor sandboxes go to a second Podman service whose default runtime is runsc
// (Podman 4.3 ignores a per-container runtime over its API); both services share one
// container storage (docs/podman.md, "gVisor").
#pragma once

#include "engine_dialect.h"

namespace grid::podman {

/// The libpod API version prefixed to every path ("/v4.0.0/libpod/..."). Podman 4 serves its
/// compat endpoints (exec) under the same prefix.
inline constexpr char kLibpodApiVersion[] = "4.0.0";

/// The dialect of [backend.podman]; lives as long as the program.
const engine::EngineDialect& podmanDialect();

}  // namespace grid::podman
