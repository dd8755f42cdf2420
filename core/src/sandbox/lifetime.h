// How long a sandbox may live (docs/lifetimes.md): its hard maximum life from start (ttl), the
// idle time after which it expires, and what expiry does. Activity is what a client does
// through the API (execs, file operations, background-process calls) and the output of its
// background processes; an operation in flight counts as activity until it ends, so what
// is measured is the time nobody used the sandbox (a model thinking), not a long build.
// Pure but for the atomics of ActivityTracker: the decision (checkExpiry) takes the clock's
// reading as an argument.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "grid/result.h"

namespace grid {

/// What an expired sandbox undergoes.
enum class ExpiryAction {
  kStop,   // torn down like a client's stop; the record stays, saying why it ended
  kPause,  // frozen (pause), so it can be resumed; where pausing fails, stopped instead
};

/// "stop", "pause".
const char* expiryActionName(ExpiryAction action);
std::optional<ExpiryAction> expiryActionFromName(std::string_view name);
inline constexpr char kExpiryActionNames[] = "stop, pause";

/// One sandbox's lifetime. A zero duration means none.
struct LifetimePolicy {
  std::chrono::milliseconds ttl{0};
  std::chrono::milliseconds idle_timeout{0};
  ExpiryAction action = ExpiryAction::kStop;

  bool limited() const { return ttl.count() > 0 || idle_timeout.count() > 0; }
};

/// The server's defaults and bound ([lifetimes] in grid.ini).
struct LifetimeDefaults {
  std::chrono::milliseconds ttl{0};
  std::chrono::milliseconds idle_timeout{0};
  ExpiryAction action = ExpiryAction::kStop;
  std::chrono::milliseconds max_ttl{0};  // 0: no bound; else no sandbox lives longer
};

/// What a create request names; nullopt takes the server's default. A zero ttl or idle
/// timeout asks for none.
struct LifetimeRequest {
  std::optional<std::chrono::milliseconds> ttl;
  std::optional<std::chrono::milliseconds> idle_timeout;
  std::optional<ExpiryAction> action;
};

/// The policy of one sandbox: the request's values over the defaults, checked against the
/// bound. Where max_ttl is set, an unset ttl (request and default) becomes max_ttl, and a ttl
/// above it, or a request for none, is kInvalidArgument naming ttl_seconds.
Result<LifetimePolicy> resolveLifetime(const LifetimeRequest& request,
                                       const LifetimeDefaults& defaults);

/// Why a check found a sandbox expired.
enum class ExpiryCause { kNone, kTtl, kIdle };

/// What checkExpiry decided: expired (and why), or when to look again.
struct ExpiryCheck {
  using TimePoint = std::chrono::steady_clock::time_point;
  ExpiryCause cause = ExpiryCause::kNone;
  TimePoint recheck_at;  // when cause is kNone: the earliest moment it may expire
};

/// The decision for one sandbox at `now`: `started` is when it started running,
/// `last_activity` its latest activity, `busy` whether an operation is in flight (which keeps
/// the idle deadline at least `idle_timeout` ahead). The ttl wins when both have passed.
ExpiryCheck checkExpiry(const LifetimePolicy& policy, ExpiryCheck::TimePoint started,
                        ExpiryCheck::TimePoint last_activity, bool busy,
                        ExpiryCheck::TimePoint now);

/// The earlier of the ttl and idle deadlines as they stand at `now` (nullopt when unlimited):
/// what GET shows as expires_at. An idle deadline may move later with activity; the ttl's
/// never does.
std::optional<ExpiryCheck::TimePoint> expiryDeadline(const LifetimePolicy& policy,
                                                     ExpiryCheck::TimePoint started,
                                                     ExpiryCheck::TimePoint last_activity,
                                                     bool busy, ExpiryCheck::TimePoint now);

/// A sandbox's activity: its latest moment and the operations in flight. Lock-free, so
/// activity costs two atomic stores and the expiry scheduler is never told (it re-reads this
/// when a deadline comes).
class ActivityTracker {
 public:
  using Clock = std::chrono::steady_clock;

  /// Counts as activity from construction to destruction.
  class Scope {
   public:
    explicit Scope(ActivityTracker* tracker) : tracker_(tracker) {}
    Scope(Scope&& other) noexcept : tracker_(other.tracker_) { other.tracker_ = nullptr; }
    Scope& operator=(Scope&&) = delete;
    Scope(const Scope&) = delete;
    ~Scope();

   private:
    ActivityTracker* tracker_;
  };

  /// Activity at `now` (later than what is recorded; an earlier stamp is ignored).
  void touch(Clock::time_point now = Clock::now());
  /// An operation begins: in flight until the Scope ends.
  Scope begin();

  Clock::time_point last() const;
  bool busy() const { return in_flight_.load() > 0; }

 private:
  std::atomic<int64_t> last_ns_{0};  // steady clock, nanoseconds since its epoch
  std::atomic<int> in_flight_{0};
};

}  // namespace grid
