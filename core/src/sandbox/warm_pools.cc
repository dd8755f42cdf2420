#include "sandbox/warm_pools.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

#include "util/random_token.h"

namespace grid {
namespace {

// How often a pool short of sandboxes looks for a free running slot: slots come free without
// telling the pools, and a refill must not take one from a start in line.
constexpr std::chrono::milliseconds kSlotPollInterval{250};

}  // namespace

WarmPools::WarmPools(SandboxBackend& backend, FifoSemaphore& slots,
                     std::vector<PoolDefinition> definitions, std::vector<SandboxSpec> specs)
    : backend_(backend), slots_(slots) {
  for (size_t i = 0; i < definitions.size() && i < specs.size(); ++i) {
    auto pool = std::make_unique<Pool>();
    pool->definition = std::move(definitions[i]);
    pool->spec = std::move(specs[i]);
    pools_.push_back(std::move(pool));
  }
}

WarmPools::~WarmPools() { stop(); }

Result<WarmSandbox> WarmPools::make(const Pool& pool, FifoSemaphore::Permit permit) {
  SandboxSpec spec = pool.spec;
  spec.id = randomUuid();
  const auto removeAfter = [&](const Error& error) -> Result<WarmSandbox> {
    // What a failed create left (a container made but not started) goes too.
    (void)backend_.destroySandbox(spec.id);
    return error;
  };
  if (auto created = backend_.createSandbox(spec); !created.ok()) {
    return removeAfter(created.error());
  }
  auto session = SessionShell::open(backend_, spec.id);
  if (!session.ok()) return removeAfter(session.error());
  return WarmSandbox{spec.id, pool.definition.name, std::move(session.value()), std::move(permit)};
}

void WarmPools::destroy(WarmSandbox sandbox) {
  sandbox.session.reset();
  if (auto removed = backend_.destroySandbox(sandbox.id); !removed.ok()) {
    spdlog::error("[pool.{}] removing pool sandbox {}: {}", sandbox.pool, sandbox.id,
                  removed.error().message);
  }
  // The permit goes last: its slot is free only once the container is gone.
}

Result<void> WarmPools::start() {
  if (pools_.empty()) return {};
  // Each pool's first sandbox, the pools in parallel: the proof its spec runs here.
  std::vector<std::future<Result<void>>> firsts;
  for (auto& owned : pools_) {
    Pool* pool = owned.get();
    firsts.push_back(std::async(std::launch::async, [this, pool]() -> Result<void> {
      const std::string section = "[pool." + pool->definition.name + "]";
      if (pool->spec.network) {
        spdlog::warn("{}: networked creates start cold (Grid serves their DNS and installs "
                     "their egress rules at start), so this pool's sandboxes are never taken "
                     "(docs/pools.md)",
                     section);
      }
      if (auto supported = backend_.checkSpec(pool->spec); !supported.ok()) {
        return fail(supported.error().code, section + ": " + supported.error().message);
      }
      if (pool->definition.size == 0) return {};
      FifoSemaphore::Permit permit;
      if (!slots_.tryAcquire(permit)) {
        return fail(ErrorCode::kResourceExhausted,
                    section +
                        ": no free running slot for its first sandbox; the pools' sizes "
                        "add up to more than server.max_running_sandboxes");
      }
      auto made = make(*pool, std::move(permit));
      if (!made.ok()) {
        return fail(made.error().code, section + ": making its first sandbox (image '" +
                                           pool->spec.image + "'): " + made.error().message);
      }
      std::lock_guard lock(mutex_);
      pool->ready.push_back(std::move(made.value()));
      return {};
    }));
  }
  std::string errors;
  ErrorCode code = ErrorCode::kInvalidArgument;
  for (auto& first : firsts) {
    if (auto made = first.get(); !made.ok()) {
      if (!errors.empty()) errors += "; ";
      errors += made.error().message;
      code = made.error().code;
    }
  }
  if (!errors.empty()) {
    stop();
    return fail(code, errors);
  }
  std::lock_guard lock(mutex_);
  for (auto& pool : pools_) {
    pool->refiller = std::thread([this, raw = pool.get()] { refillLoop(*raw); });
  }
  return {};
}

void WarmPools::refillLoop(Pool& pool) {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    const bool backing_off = now < pool.retry_at;
    const size_t wanted = refillCount(pool.definition.size, pool.ready.size(), pool.starting,
                                      slots_.available(), slots_.waiting(), backing_off);
    if (pool.ready.size() + pool.starting >= pool.definition.size) {
      changed_.wait(lock);  // full: a take, a yield or stop() wakes it
      continue;
    }
    if (wanted == 0) {
      changed_.wait_for(lock, backing_off ? std::min<std::chrono::steady_clock::duration>(
                                                pool.retry_at - now, kSlotPollInterval)
                                          : kSlotPollInterval);
      continue;
    }
    FifoSemaphore::Permit permit;
    if (!slots_.tryAcquire(permit)) {
      changed_.wait_for(lock, kSlotPollInterval);
      continue;
    }
    ++pool.starting;
    lock.unlock();
    auto made = make(pool, std::move(permit));
    lock.lock();
    --pool.starting;
    if (!made.ok()) {
      ++pool.failures;
      const auto wait = refillBackoff(pool.failures);
      pool.retry_at = std::chrono::steady_clock::now() + wait;
      pool.last_error = made.error().message;
      spdlog::warn("[pool.{}] refill failed ({} in a row), next try in {} ms: {}",
                   pool.definition.name, pool.failures, wait.count(), made.error().message);
      continue;
    }
    pool.failures = 0;
    if (stopping_) {
      lock.unlock();
      destroy(std::move(made.value()));
      lock.lock();
      continue;
    }
    pool.ready.push_back(std::move(made.value()));
  }
}

std::optional<WarmSandbox> WarmPools::take(const SandboxSpec& wanted) {
  std::vector<WarmSandbox> dead;
  std::optional<WarmSandbox> taken;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return std::nullopt;
    std::vector<SandboxSpec> specs;
    for (const auto& pool : pools_) specs.push_back(pool->spec);
    const auto index = matchingPool(wanted, specs);
    if (!index) {
      ++unmatched_;
      return std::nullopt;
    }
    Pool& pool = *pools_[*index];
    // A sandbox whose session died while it waited (killed from outside) is not handed out.
    while (!pool.ready.empty() && !taken) {
      WarmSandbox front = std::move(pool.ready.front());
      pool.ready.pop_front();
      if (front.session && front.session->alive()) {
        taken = std::move(front);
      } else {
        dead.push_back(std::move(front));
      }
    }
    if (taken) {
      ++pool.hits;
    } else {
      ++pool.misses;
    }
  }
  changed_.notify_all();
  for (auto& sandbox : dead) {
    spdlog::warn("[pool.{}] pool sandbox {} lost its session; removed", sandbox.pool, sandbox.id);
    destroy(std::move(sandbox));
  }
  return taken;
}

FifoSemaphore::Permit WarmPools::yieldSlot() {
  std::optional<WarmSandbox> victim;
  {
    std::lock_guard lock(mutex_);
    Pool* fullest = nullptr;
    for (auto& pool : pools_) {
      if (!pool->ready.empty() && (!fullest || pool->ready.size() > fullest->ready.size())) {
        fullest = pool.get();
      }
    }
    if (fullest == nullptr) return {};
    victim = std::move(fullest->ready.back());
    fullest->ready.pop_back();
  }
  changed_.notify_all();  // its pool is short now: its refiller looks for a free slot again
  spdlog::info("[pool.{}] pool sandbox {} stopped to free its running slot for a cold start",
               victim->pool, victim->id);
  FifoSemaphore::Permit permit = std::move(victim->permit);
  destroy(std::move(*victim));
  return permit;
}

std::vector<PoolStatus> WarmPools::status() const {
  std::lock_guard lock(mutex_);
  std::vector<PoolStatus> list;
  for (const auto& pool : pools_) {
    list.push_back(PoolStatus{pool->definition.name, pool->spec, pool->definition.size,
                              pool->ready.size(), pool->starting, pool->hits, pool->misses,
                              pool->last_error});
  }
  return list;
}

uint64_t WarmPools::unmatched() const {
  std::lock_guard lock(mutex_);
  return unmatched_;
}

void WarmPools::stop() {
  std::vector<WarmSandbox> leftover;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& pool : pools_) {
    if (pool->refiller.joinable()) pool->refiller.join();
  }
  {
    std::lock_guard lock(mutex_);
    for (auto& pool : pools_) {
      for (auto& sandbox : pool->ready) leftover.push_back(std::move(sandbox));
      pool->ready.clear();
    }
  }
  if (leftover.empty()) return;
  spdlog::info("removing {} pool sandboxes", leftover.size());
  std::vector<std::future<void>> pending;
  for (auto& sandbox : leftover) {
    pending.push_back(std::async(
        std::launch::async, [this, s = std::move(sandbox)]() mutable { destroy(std::move(s)); }));
  }
  for (auto& f : pending) f.wait();
}

}  // namespace grid
