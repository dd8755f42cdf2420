// The pure parts of lifetimes (docs/lifetimes.md): the deadline heap, the scheduler run on a
// clock of the test's own (no sleeps), the expiry decision and the lifetime's resolution.
#include "sandbox/expiry_scheduler.h"

#include <gtest/gtest.h>

#include <thread>

#include "sandbox/lifetime.h"

namespace grid {
namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

const TimePoint kT0 = TimePoint(std::chrono::hours(1000));

TEST(DeadlineQueueTest, PopsDueKeysEarliestFirst) {
  DeadlineQueue q;
  q.schedule("b", kT0 + 2s);
  q.schedule("a", kT0 + 1s);
  q.schedule("c", kT0 + 5s);
  EXPECT_EQ(q.next(), kT0 + 1s);
  EXPECT_TRUE(q.popDue(kT0).empty());
  EXPECT_EQ(q.popDue(kT0 + 2s), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.next(), kT0 + 5s);
}

TEST(DeadlineQueueTest, RescheduleReplacesAndCancelForgets) {
  DeadlineQueue q;
  q.schedule("a", kT0 + 1s);
  q.schedule("a", kT0 + 10s);  // moved later: the first entry is stale
  q.schedule("b", kT0 + 3s);
  q.cancel("b");
  EXPECT_EQ(q.next(), kT0 + 10s);
  EXPECT_TRUE(q.popDue(kT0 + 9s).empty());
  EXPECT_EQ(q.popDue(kT0 + 10s), std::vector<std::string>{"a"});
  EXPECT_EQ(q.size(), 0u);
  EXPECT_FALSE(q.next());
}

TEST(DeadlineQueueTest, StaleEntriesStayBounded) {
  DeadlineQueue q;
  for (int i = 0; i < 100000; ++i) q.schedule("a", kT0 + std::chrono::seconds(i % 7));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_LE(q.heapSize(), 2 * q.size() + 65);
}

TEST(ExpirySchedulerTest, RunDueCallsTheHandlerOncePerDeadline) {
  std::vector<std::string> fired;
  ExpiryScheduler scheduler([&](const std::string& key) { fired.push_back(key); });
  scheduler.schedule("x", kT0 + 1s);
  scheduler.schedule("y", kT0 + 2s);
  EXPECT_EQ(scheduler.runDue(kT0 + 1500ms), 1u);
  EXPECT_EQ(fired, std::vector<std::string>{"x"});
  EXPECT_EQ(scheduler.runDue(kT0 + 1500ms), 0u);
  EXPECT_EQ(scheduler.scheduled(), 1u);
  scheduler.cancel("y");
  EXPECT_EQ(scheduler.runDue(kT0 + 1h), 0u);
  EXPECT_EQ(scheduler.scheduleCount(), 2u);
}

TEST(ExpirySchedulerTest, AHandlerMaySetTheNextDeadline) {
  ExpiryScheduler* self = nullptr;
  int fired = 0;
  ExpiryScheduler scheduler([&](const std::string& key) {
    if (++fired < 3) self->schedule(key, kT0 + std::chrono::seconds(fired + 1));
  });
  self = &scheduler;
  scheduler.schedule("x", kT0 + 1s);
  for (int second = 1; second <= 5; ++second) scheduler.runDue(kT0 + std::chrono::seconds(second));
  EXPECT_EQ(fired, 3);
  EXPECT_EQ(scheduler.scheduled(), 0u);
}

// The thread itself, on the real clock: a deadline already past fires promptly, with a
// generous bound that only detects a hang.
TEST(ExpirySchedulerTest, ThreadFiresPastDeadlinesAndStops) {
  std::mutex mutex;
  std::condition_variable fired_cv;
  std::vector<std::string> fired;
  ExpiryScheduler scheduler([&](const std::string& key) {
    std::lock_guard lock(mutex);
    fired.push_back(key);
    fired_cv.notify_all();
  });
  scheduler.start();
  scheduler.schedule("later", std::chrono::steady_clock::now() + 1h);
  scheduler.schedule("now", std::chrono::steady_clock::now());
  std::unique_lock lock(mutex);
  EXPECT_TRUE(fired_cv.wait_for(lock, 30s, [&] { return !fired.empty(); }));
  EXPECT_EQ(fired, std::vector<std::string>{"now"});
  lock.unlock();
  scheduler.stop();  // returns although "later" is an hour away
  EXPECT_EQ(scheduler.scheduled(), 1u);
}

LifetimePolicy policy(std::chrono::milliseconds ttl, std::chrono::milliseconds idle) {
  LifetimePolicy p;
  p.ttl = ttl;
  p.idle_timeout = idle;
  return p;
}

TEST(CheckExpiryTest, TtlCountsFromTheStartWhateverTheActivity) {
  const auto p = policy(10s, 0s);
  EXPECT_EQ(checkExpiry(p, kT0, kT0 + 9s, true, kT0 + 9s).cause, ExpiryCause::kNone);
  EXPECT_EQ(checkExpiry(p, kT0, kT0 + 9s, true, kT0 + 9s).recheck_at, kT0 + 10s);
  EXPECT_EQ(checkExpiry(p, kT0, kT0 + 10s, true, kT0 + 10s).cause, ExpiryCause::kTtl);
}

TEST(CheckExpiryTest, IdleCountsFromTheLastActivity) {
  const auto p = policy(0s, 5s);
  // Activity at +3 s: the deadline moved from +5 s to +8 s; the check at +5 s says so.
  auto c = checkExpiry(p, kT0, kT0 + 3s, false, kT0 + 5s);
  EXPECT_EQ(c.cause, ExpiryCause::kNone);
  EXPECT_EQ(c.recheck_at, kT0 + 8s);
  EXPECT_EQ(checkExpiry(p, kT0, kT0 + 3s, false, kT0 + 8s).cause, ExpiryCause::kIdle);
  // Activity stamped before the start (a clock read just before it) counts from the start.
  EXPECT_EQ(checkExpiry(p, kT0, kT0 - 1h, false, kT0 + 4s).cause, ExpiryCause::kNone);
}

TEST(CheckExpiryTest, AnOperationInFlightKeepsItAliveButNotPastTheTtl) {
  const auto p = policy(60s, 5s);
  // A 30 s exec began at +1 s: at +20 s it is still running, so not idle.
  auto c = checkExpiry(p, kT0, kT0 + 1s, true, kT0 + 20s);
  EXPECT_EQ(c.cause, ExpiryCause::kNone);
  EXPECT_EQ(c.recheck_at, kT0 + 25s);
  // It ended at +31 s: idle from then.
  EXPECT_EQ(checkExpiry(p, kT0, kT0 + 31s, false, kT0 + 35s).cause, ExpiryCause::kNone);
  EXPECT_EQ(checkExpiry(p, kT0, kT0 + 31s, false, kT0 + 36s).cause, ExpiryCause::kIdle);
  EXPECT_EQ(checkExpiry(p, kT0, kT0 + 59s, true, kT0 + 60s).cause, ExpiryCause::kTtl);
}

TEST(CheckExpiryTest, TheDeadlineShownIsTheEarlier) {
  EXPECT_EQ(expiryDeadline(policy(60s, 5s), kT0, kT0 + 2s, false, kT0 + 3s), kT0 + 7s);
  EXPECT_EQ(expiryDeadline(policy(6s, 5s), kT0, kT0 + 2s, false, kT0 + 3s), kT0 + 6s);
  EXPECT_EQ(expiryDeadline(policy(0s, 5s), kT0, kT0 + 2s, true, kT0 + 3s), kT0 + 8s);
  EXPECT_FALSE(expiryDeadline(policy(0s, 0s), kT0, kT0, false, kT0));
}

TEST(ResolveLifetimeTest, RequestOverDefaults) {
  LifetimeDefaults defaults;
  defaults.ttl = 3600s;
  defaults.idle_timeout = 600s;
  LifetimeRequest request;
  auto p = resolveLifetime(request, defaults);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value().ttl, 3600s);
  EXPECT_EQ(p.value().idle_timeout, 600s);
  EXPECT_EQ(p.value().action, ExpiryAction::kStop);
  request.ttl = 0s;  // none
  request.idle_timeout = 30s;
  request.action = ExpiryAction::kPause;
  p = resolveLifetime(request, defaults);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value().ttl, 0s);
  EXPECT_FALSE(p.value().ttl.count() > 0);
  EXPECT_EQ(p.value().idle_timeout, 30s);
  EXPECT_EQ(p.value().action, ExpiryAction::kPause);
}

TEST(ResolveLifetimeTest, TheMaximumBoundsEveryTtl) {
  LifetimeDefaults defaults;
  defaults.max_ttl = 7200s;
  auto p = resolveLifetime({}, defaults);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.value().ttl, 7200s);  // no ttl asked, none by default: the maximum
  LifetimeRequest over;
  over.ttl = 7201s;
  auto refused = resolveLifetime(over, defaults);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("7201 s exceeds"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("7200 s"), std::string::npos);
  LifetimeRequest none;
  none.ttl = 0s;
  refused = resolveLifetime(none, defaults);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("ttl_seconds"), std::string::npos);
}

TEST(ExpiryActionTest, NamesRoundTrip) {
  for (const auto action : {ExpiryAction::kStop, ExpiryAction::kPause}) {
    EXPECT_EQ(expiryActionFromName(expiryActionName(action)), action);
  }
  EXPECT_FALSE(expiryActionFromName("delete"));
  EXPECT_FALSE(expiryActionFromName("STOP"));
}

TEST(ActivityTrackerTest, ScopesCountAsInFlightAndStampTheirEnd) {
  const TimePoint early = TimePoint(1s);  // before any real reading of the clock
  ActivityTracker tracker;
  tracker.touch(early);
  EXPECT_EQ(tracker.last(), early);
  tracker.touch(early - 1ms);  // an older stamp never moves it back
  EXPECT_EQ(tracker.last(), early);
  EXPECT_FALSE(tracker.busy());
  {
    auto outer = tracker.begin();
    auto inner = tracker.begin();
    EXPECT_TRUE(tracker.busy());
  }
  EXPECT_FALSE(tracker.busy());
  EXPECT_GT(tracker.last(), early);  // stamped by the scopes, on the real clock
}

}  // namespace
}  // namespace grid
