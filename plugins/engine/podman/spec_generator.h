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

/// Label on the containers of isolation = gvisor sandboxes ("gvisor"), so that leftovers are
/// removed through the service that runs them.
inline constexpr char kIsolationLabel[] = "grid.isolation";

/// The libpod SpecGenerator body of POST /libpod/containers/create.
/// A non-empty `runtime` (engineRuntimeFor()) becomes oci_runtime; empty leaves the service's
/// default runtime. A gvisor spec also gets the label kIsolationLabel=gvisor.
Poco::JSON::Object::Ptr buildSpecGenerator(const std::string& instance, const SandboxSpec& spec,
                                           const std::string& runtime = "");

/// Where the Podman service listens by default: /run/podman/podman.sock for root, else
/// $XDG_RUNTIME_DIR/podman/podman.sock (/run/user/<uid>/... if XDG_RUNTIME_DIR is unset).
std::string defaultSocketPath(uid_t uid, const char* xdg_runtime_dir);

/// Where the gVisor Podman service (the one whose default runtime is runsc, which creates the
/// isolation = gvisor sandboxes) listens by default: podman-gvisor.sock beside
/// defaultSocketPath().
std::string defaultGvisorSocketPath(uid_t uid, const char* xdg_runtime_dir);

/// The `filters` query value selecting this instance's gvisor containers (leftoverFilter()
/// plus kIsolationLabel=gvisor); URL-encode it.
std::string gvisorLeftoverFilter(const std::string& instance);

/// Whether the libpod GET /info answer `info_body` of the gVisor service says its default
/// runtime (host.ociRuntime.name) is `runtime`. kUnsupported naming both runtimes and
/// `socket` when it is another one (a service started without ci/containers-gvisor.conf would
/// run "gvisor" sandboxes on runc); kInternal for an answer without that field.
Result<void> checkGvisorServiceRuntime(const std::string& info_body, const std::string& runtime,
                                       const std::string& socket);

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
