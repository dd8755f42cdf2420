// The plan half of the Docker backend: pure functions from a SandboxSpec to names, labels and
// Engine API bodies. No I/O, so they are unit-tested without a daemon.
#pragma once

#include <Poco/JSON/Object.h>

#include <map>
#include <string>

#include "grid/sandbox_backend.h"

namespace grid::docker {

inline constexpr char kManagedByLabel[] = "grid.managed-by";
inline constexpr char kManagedByValue[] = "grid";
inline constexpr char kInstanceLabel[] = "grid.instance";
inline constexpr char kSandboxIdLabel[] = "grid.sandbox-id";

/// "grid-<instance>-<sandbox id>": containers are addressed by this name, so the backend
/// keeps no id map.
std::string containerName(const std::string& instance, const std::string& sandbox_id);

/// The spec's user labels plus Grid's own (which win over user labels of the same key).
std::map<std::string, std::string> containerLabels(const std::string& instance,
                                                   const SandboxSpec& spec);

/// The body of POST /containers/create. `use_init` runs docker-init as PID 1.
Poco::JSON::Object::Ptr buildCreateBody(const std::string& instance, const SandboxSpec& spec,
                                        bool use_init);

/// The `filters` query value selecting this instance's containers (URL-encode it).
std::string leftoverFilter(const std::string& instance);

/// fromImage/tag for POST /images/create. A reference without tag or digest gets "latest",
/// since an empty tag would make the engine pull every tag of the repository.
struct PullTarget {
  std::string from_image;
  std::string tag;  // empty when from_image carries a digest
};
PullTarget pullTarget(const std::string& image);

/// True for a name part Docker accepts in a container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*).
bool isValidNamePart(const std::string& text);

}  // namespace grid::docker
