// The plan half of the Podman backend: pure functions from a SandboxSpec to libpod API bodies
// and from the environment to the default socket. No I/O, so they are unit-tested without a
// Podman service. Naming and labels shared with the Docker backend live in
// grid/engine/container_conventions.h.
#pragma once

#include <Poco/JSON/Object.h>
#include <sys/types.h>

#include <string>

#include "grid/sandbox_backend.h"
#include "grid/seccomp/policy.h"

namespace grid::podman {

/// The libpod SpecGenerator body of POST /libpod/containers/create.
Poco::JSON::Object::Ptr buildSpecGenerator(const std::string& instance, const SandboxSpec& spec);

/// Where the Podman service listens by default: /run/podman/podman.sock for root, else
/// $XDG_RUNTIME_DIR/podman/podman.sock (/run/user/<uid>/... if XDG_RUNTIME_DIR is unset).
std::string defaultSocketPath(uid_t uid, const char* xdg_runtime_dir);

/// Sets the SpecGenerator's seccomp_profile_path: `profile_path` for kGrid (Podman 4 reads a
/// profile only from a file on its host), "unconfined" for kUnconfined; nothing for
/// kEngineDefault.
void applySeccomp(Poco::JSON::Object& body, seccomp::SeccompMode mode,
                  const std::string& profile_path);

/// Where the backend writes the profile file for the Podman service to read: /run/grid for
/// root, else $XDG_RUNTIME_DIR/grid (/run/user/<uid>/grid). The name carries a hash of the
/// profile, so a changed policy never reuses an old file: <dir>/seccomp-<hex>.json.
std::string seccompProfilePath(uid_t uid, const char* xdg_runtime_dir,
                               const std::string& profile_json);

}  // namespace grid::podman
