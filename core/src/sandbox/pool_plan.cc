#include "sandbox/pool_plan.h"

#include <algorithm>

namespace grid {

SandboxSpec resolvePoolSpec(const CreateRequest& request, const std::string& default_image,
                            const ResourceLimits& default_limits, Isolation default_isolation) {
  // The same rules as SandboxManager::create, so a request naming the pool's fields matches.
  SandboxSpec spec;
  spec.image = request.image.value_or(default_image);
  spec.limits = default_limits;
  if (request.limits) {
    if (request.limits->cpus > 0) spec.limits.cpus = request.limits->cpus;
    if (request.limits->memory_mb > 0) spec.limits.memory_mb = request.limits->memory_mb;
    if (request.limits->pids > 0) spec.limits.pids = request.limits->pids;
  }
  spec.network = request.network;
  spec.env = request.env;
  spec.labels = request.labels;
  spec.isolation = request.isolation.value_or(default_isolation);
  return spec;
}

bool specMatchesPool(const SandboxSpec& wanted, const SandboxSpec& pool) {
  return wanted.image == pool.image && wanted.limits.cpus == pool.limits.cpus &&
         wanted.limits.memory_mb == pool.limits.memory_mb &&
         wanted.limits.pids == pool.limits.pids && wanted.network == pool.network &&
         wanted.isolation == pool.isolation && wanted.env == pool.env &&
         wanted.nameservers == pool.nameservers && wanted.labels.empty() && pool.labels.empty();
}

std::optional<size_t> matchingPool(const SandboxSpec& wanted,
                                   const std::vector<SandboxSpec>& pools) {
  for (size_t i = 0; i < pools.size(); ++i) {
    if (specMatchesPool(wanted, pools[i])) return i;
  }
  return std::nullopt;
}

size_t refillCount(size_t size, size_t ready, size_t starting, size_t free_slots,
                   size_t starts_waiting, bool backing_off) {
  if (backing_off || starts_waiting > 0) return 0;
  const size_t have = ready + starting;
  if (have >= size) return 0;
  return std::min(size - have, free_slots);
}

std::chrono::milliseconds refillBackoff(size_t failures) {
  if (failures == 0) return std::chrono::milliseconds(0);
  const size_t doublings = std::min<size_t>(failures - 1, 6);  // 2^6 s > 60 s
  return std::min(std::chrono::milliseconds(1000LL << doublings), std::chrono::milliseconds(60000));
}

}  // namespace grid
