// GET /metrics (Prometheus text exposition) and GET /sandboxes/{id}/stats (one sandbox's CPU
// and memory, for the dashboard). docs/metrics.md lists every series.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "api/reply.h"
#include "sandbox/sandbox_manager.h"

namespace grid {

/// How long one scrape may spend asking the backend for per-sandbox use, all sandboxes
/// together; sandboxes not reached in time are left out of that scrape (and counted).
inline constexpr std::chrono::milliseconds kScrapeStatsBudget{4000};
/// Backend calls one scrape makes at a time for per-sandbox use.
inline constexpr size_t kStatsWorkers = 32;
/// How long GET /sandboxes/{id}/stats waits for the backend.
inline constexpr std::chrono::milliseconds kStatsTimeout{5000};

/// The whole exposition: the manager's latencies and failures, then the gauges read now
/// (sandboxes by status, the running limit, pool levels, per-sandbox CPU and memory).
std::string metricsText(SandboxManager& manager,
                        std::chrono::milliseconds stats_budget = kScrapeStatsBudget);

/// The reply of GET /metrics.
Reply metricsReply(SandboxManager& manager);

/// The reply of GET /sandboxes/{id}/stats: {"id", "status", "cpu_seconds", "memory_bytes",
/// "memory_limit_bytes"}; a value the backend cannot tell is null. A sandbox that does not
/// run is 409, a backend that cannot tell at all 400 unsupported.
Reply sandboxStatsReply(SandboxManager& manager, const std::string& id);

}  // namespace grid
