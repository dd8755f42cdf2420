// What a client asks for when it creates a sandbox, before the manager fills in the defaults.
// Apart from the manager so the API's request parsing needs only this.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "grid/sandbox_backend.h"
#include "network/egress_policy.h"
#include "sandbox/lifetime.h"

namespace grid {

struct CreateRequest {
  std::optional<std::string> image;
  std::vector<std::string> setup_commands;
  std::optional<ResourceLimits> limits;
  bool network = false;
  std::optional<EgressPolicy> egress;  // "network": {"egress": ...} (docs/networking.md)
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> labels;
  std::optional<Isolation> isolation;  // nullopt: ManagerOptions::default_isolation
  LifetimeRequest lifetime;            // unset values: ManagerOptions::lifetimes
};

}  // namespace grid
