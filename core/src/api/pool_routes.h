// GET /pools: the warm pools' levels and counters (docs/pools.md).
#pragma once

#include "api/reply.h"
#include "sandbox/sandbox_manager.h"

namespace grid {

/// {"pools": [{"name", "image", "limits", "network", "isolation", "size", "ready", "starting",
/// "hits", "misses", "last_error"}], "unmatched"}: pools in grid.ini order; `unmatched` counts
/// create requests that matched no pool.
Reply poolsReply(const SandboxManager& manager);

}  // namespace grid
