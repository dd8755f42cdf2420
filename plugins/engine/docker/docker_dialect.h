// The Docker Engine as an EngineDialect: the Engine API (negotiated version, at most
// kMaxApiVersion), create bodies from container_spec.h, the seccomp profile inline in the
// create body, gVisor as a per-container runtime registered with dockerd.
#pragma once

#include "engine_dialect.h"

namespace grid::docker {

inline constexpr char kMaxApiVersion[] = "1.41";

/// The dialect of [backend.docker]; lives as long as the program.
const engine::EngineDialect& dockerDialect();

}  // namespace grid::docker
