// PATCH /sandboxes/{id}/network and the "egress" part of a sandbox's description
// (docs/networking.md).
#pragma once

#include <Poco/JSON/Object.h>

#include <string>

#include "api/api_requests.h"
#include "api/reply.h"

namespace grid {

class SandboxManager;

/// Adds "egress": {"allow", "deny", "own", "enforced", "resolver", "refused"} to a sandbox's
/// description when the server holds egress state for it.
void addEgressJson(Poco::JSON::Object& description, SandboxManager& manager, const std::string& id);

/// Replaces the egress policy of sandbox `id` with the one in `body`; answers its description.
Reply patchNetworkRoute(SandboxManager& manager, const RequestLimits& limits, const std::string& id,
                        const std::string& body);

}  // namespace grid
