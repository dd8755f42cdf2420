// POST /sandboxes/{id}/fork, /snapshot and /reset (docs/fork-snapshot.md).
#pragma once

#include <string>
#include <string_view>

#include "api/reply.h"
#include "grid/result.h"

namespace grid {

class SandboxManager;

struct ForkRequest {
  int64_t count = 1;
};

struct SnapshotRequest {
  std::string image;  // "name:tag"
  bool overwrite = false;
};

/// {"count"?: N}, N an integer (range checked by the manager); kInvalidArgument otherwise.
Result<ForkRequest> parseForkRequest(std::string_view body);
/// {"image": "name:tag", "overwrite"?: bool}. The name is [a-z0-9] runs joined by '.', '_',
/// '-' or '/' (at most 128 bytes); the tag [A-Za-z0-9_.-]{1,64}, not starting with '.' or '-'.
Result<SnapshotRequest> parseSnapshotRequest(std::string_view body);

/// Answers `action` ("fork", "snapshot", "reset") on sandbox `id` with the request `body`.
Reply forkRoute(SandboxManager& manager, const std::string& action, const std::string& id,
                const std::string& body);

/// Whether `action` is one of forkRoute's.
bool isForkAction(const std::string& action);

}  // namespace grid
