// The plan half of the Docker backend: pure functions from a SandboxSpec to Engine API bodies.
// No I/O, so they are unit-tested without a daemon. Naming and labels shared with the Podman
// backend live in grid/engine/container_conventions.h.
#pragma once

#include <Poco/JSON/Object.h>

#include <string>

#include "grid/sandbox_backend.h"
#include "grid/seccomp/policy.h"

namespace grid::docker {

/// The body of POST /containers/create. A non-empty `runtime` (engineRuntimeFor()) becomes
/// HostConfig.Runtime; empty leaves the engine's default runtime.
Poco::JSON::Object::Ptr buildCreateBody(const std::string& instance, const SandboxSpec& spec,
                                        const std::string& runtime = "");

/// fromImage/tag for POST /images/create. A reference without tag or digest gets "latest",
/// since an empty tag would make the engine pull every tag of the repository.
struct PullTarget {
  std::string from_image;
  std::string tag;  // empty when from_image carries a digest
};
PullTarget pullTarget(const std::string& image);

/// Adds the seccomp choice to a create body's HostConfig.SecurityOpt: "seccomp=<profile>"
/// (the profile's JSON itself, as the docker CLI sends it) for kGrid, "seccomp=unconfined" for
/// kUnconfined, nothing for kEngineDefault.
void applySeccomp(Poco::JSON::Object& body, seccomp::SeccompMode mode,
                  const std::string& profile_json);

}  // namespace grid::docker
