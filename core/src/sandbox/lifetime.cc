#include "sandbox/lifetime.h"

#include <algorithm>

namespace grid {

const char* expiryActionName(ExpiryAction action) {
  switch (action) {
    case ExpiryAction::kStop:
      return "stop";
    case ExpiryAction::kPause:
      return "pause";
  }
  return "stop";
}

std::optional<ExpiryAction> expiryActionFromName(std::string_view name) {
  if (name == "stop") return ExpiryAction::kStop;
  if (name == "pause") return ExpiryAction::kPause;
  return std::nullopt;
}

namespace {

std::string secondsText(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

}  // namespace

Result<LifetimePolicy> resolveLifetime(const LifetimeRequest& request,
                                       const LifetimeDefaults& defaults) {
  LifetimePolicy policy;
  policy.ttl = request.ttl.value_or(defaults.ttl);
  policy.idle_timeout = request.idle_timeout.value_or(defaults.idle_timeout);
  policy.action = request.action.value_or(defaults.action);
  if (defaults.max_ttl.count() > 0) {
    if (policy.ttl.count() == 0 && request.ttl) {
      return fail(ErrorCode::kInvalidArgument,
                  "'ttl_seconds' 0 (no limit) is not allowed: this server's maximum is " +
                      secondsText(defaults.max_ttl));
    }
    if (policy.ttl.count() == 0) policy.ttl = defaults.max_ttl;
    if (policy.ttl > defaults.max_ttl) {
      return fail(ErrorCode::kInvalidArgument, "'ttl_seconds' " + secondsText(policy.ttl) +
                                                   " exceeds this server's maximum of " +
                                                   secondsText(defaults.max_ttl));
    }
  }
  return policy;
}

namespace {

struct Deadlines {
  std::optional<ExpiryCheck::TimePoint> ttl;
  std::optional<ExpiryCheck::TimePoint> idle;
};

Deadlines deadlinesOf(const LifetimePolicy& policy, ExpiryCheck::TimePoint started,
                      ExpiryCheck::TimePoint last_activity, bool busy, ExpiryCheck::TimePoint now) {
  Deadlines d;
  if (policy.ttl.count() > 0) d.ttl = started + policy.ttl;
  if (policy.idle_timeout.count() > 0) {
    // An operation in flight is activity right now; activity before the start counts from it.
    const auto since = busy ? now : std::max(last_activity, started);
    d.idle = since + policy.idle_timeout;
  }
  return d;
}

}  // namespace

ExpiryCheck checkExpiry(const LifetimePolicy& policy, ExpiryCheck::TimePoint started,
                        ExpiryCheck::TimePoint last_activity, bool busy,
                        ExpiryCheck::TimePoint now) {
  const Deadlines d = deadlinesOf(policy, started, last_activity, busy, now);
  ExpiryCheck check;
  if (d.ttl && now >= *d.ttl) {
    check.cause = ExpiryCause::kTtl;
    return check;
  }
  if (d.idle && now >= *d.idle) {
    check.cause = ExpiryCause::kIdle;
    return check;
  }
  check.recheck_at = ExpiryCheck::TimePoint::max();
  if (d.ttl) check.recheck_at = *d.ttl;
  if (d.idle) check.recheck_at = std::min(check.recheck_at, *d.idle);
  return check;
}

std::optional<ExpiryCheck::TimePoint> expiryDeadline(const LifetimePolicy& policy,
                                                     ExpiryCheck::TimePoint started,
                                                     ExpiryCheck::TimePoint last_activity,
                                                     bool busy, ExpiryCheck::TimePoint now) {
  const Deadlines d = deadlinesOf(policy, started, last_activity, busy, now);
  if (d.ttl && d.idle) return std::min(*d.ttl, *d.idle);
  return d.ttl ? d.ttl : d.idle;
}

ActivityTracker::Scope::~Scope() {
  if (tracker_ == nullptr) return;
  // Stamped before the count drops, so a check that sees the sandbox idle sees this end.
  tracker_->touch();
  tracker_->in_flight_.fetch_sub(1);
}

void ActivityTracker::touch(Clock::time_point now) {
  const int64_t stamp =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  int64_t seen = last_ns_.load(std::memory_order_relaxed);
  while (seen < stamp && !last_ns_.compare_exchange_weak(seen, stamp)) {
  }
}

ActivityTracker::Scope ActivityTracker::begin() {
  in_flight_.fetch_add(1);
  touch();
  return Scope(this);
}

ActivityTracker::Clock::time_point ActivityTracker::last() const {
  return Clock::time_point(std::chrono::nanoseconds(last_ns_.load()));
}

}  // namespace grid
