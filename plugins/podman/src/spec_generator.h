// The plan half of the Podman backend: pure functions from a SandboxSpec to libpod API bodies
// and from the environment to the default socket. No I/O, so they are unit-tested without a
// Podman service. Naming and labels shared with the Docker backend live in
// grid/engine/container_conventions.h.
#pragma once

#include <Poco/JSON/Object.h>
#include <sys/types.h>

#include <string>

#include "grid/sandbox_backend.h"

namespace grid::podman {

/// The libpod SpecGenerator body of POST /libpod/containers/create.
/// A non-empty `runtime` (engineRuntimeFor()) becomes oci_runtime; empty leaves the service's
/// default runtime.
Poco::JSON::Object::Ptr buildSpecGenerator(const std::string& instance, const SandboxSpec& spec,
                                           const std::string& runtime = "");

/// Where the Podman service listens by default: /run/podman/podman.sock for root, else
/// $XDG_RUNTIME_DIR/podman/podman.sock (/run/user/<uid>/... if XDG_RUNTIME_DIR is unset).
std::string defaultSocketPath(uid_t uid, const char* xdg_runtime_dir);

}  // namespace grid::podman
