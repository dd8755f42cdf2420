// Warm pools' pure decisions (docs/pools.md): which pool a create request matches, how many
// sandboxes a pool should start now, and how long a pool waits after a failed refill. No
// threads, no backend: unit-tested as is.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "grid/sandbox_backend.h"
#include "sandbox/create_request.h"

namespace grid {

/// One `[pool.NAME]` of grid.ini: `size` sandboxes kept running, made from `request` (no setup
/// commands, no labels, no lifetime: those belong to the taker).
struct PoolDefinition {
  std::string name;
  size_t size = 0;
  CreateRequest request;
};

/// A pool's spec as the manager resolves a create request with the same fields: the image,
/// each limit and the isolation the request leaves out take the server's defaults. The id is
/// left empty (each pool sandbox gets its own).
SandboxSpec resolvePoolSpec(const CreateRequest& request, const std::string& default_image,
                            const ResourceLimits& default_limits, Isolation default_isolation);

/// Whether a create request's resolved spec (defaults applied) may take a sandbox of a pool
/// whose resolved spec is `pool`: the same image reference (as written, not resolved to a
/// digest), limits, network, isolation, env and nameservers, and no labels (a pool sandbox
/// was made without any). The ids are not compared.
bool specMatchesPool(const SandboxSpec& wanted, const SandboxSpec& pool);

/// The first of `pools` (in grid.ini order) whose spec matches `wanted`, by index.
std::optional<size_t> matchingPool(const SandboxSpec& wanted,
                                   const std::vector<SandboxSpec>& pools);

/// Sandboxes a pool should begin making now: what it lacks of `size` (ready and starting
/// counted), never more than the slots free, and none while starts wait in line for a slot
/// (refilling never makes a user's start wait), nor before `retry_at` after a failure.
size_t refillCount(size_t size, size_t ready, size_t starting, size_t free_slots,
                   size_t starts_waiting, bool backing_off);

/// The wait after `failures` refills in a row failed: 1 s, doubling, at most 60 s.
std::chrono::milliseconds refillBackoff(size_t failures);

}  // namespace grid
