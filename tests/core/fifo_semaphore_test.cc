#include "sandbox/fifo_semaphore.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <vector>

namespace grid {
namespace {

using namespace std::chrono_literals;

void waitForWaiters(const FifoSemaphore& s, size_t n) {
  while (s.waiting() != n) std::this_thread::yield();
}

TEST(FifoSemaphoreTest, AcquireAndReleaseByPermit) {
  FifoSemaphore s(2);
  FifoSemaphore::Permit a, b, c;
  EXPECT_EQ(s.acquire(1s, a), FifoSemaphore::Outcome::kAcquired);
  EXPECT_EQ(s.acquire(1s, b), FifoSemaphore::Outcome::kAcquired);
  EXPECT_EQ(s.available(), 0u);
  EXPECT_EQ(s.acquire(1ms, c), FifoSemaphore::Outcome::kTimedOut);
  EXPECT_FALSE(c.held());
  a.reset();
  EXPECT_EQ(s.available(), 1u);
  { FifoSemaphore::Permit moved = std::move(b); }
  EXPECT_EQ(s.available(), 2u);
}

TEST(FifoSemaphoreTest, WaitersAreServedInArrivalOrder) {
  FifoSemaphore s(1);
  FifoSemaphore::Permit held;
  ASSERT_EQ(s.acquire(1s, held), FifoSemaphore::Outcome::kAcquired);
  std::mutex order_mutex;
  std::vector<int> order;
  std::vector<std::thread> threads;
  for (int i = 0; i < 5; ++i) {
    threads.emplace_back([&, i] {
      FifoSemaphore::Permit p;
      ASSERT_EQ(s.acquire(60s, p), FifoSemaphore::Outcome::kAcquired);
      std::lock_guard lock(order_mutex);
      order.push_back(i);
    });
    waitForWaiters(s, static_cast<size_t>(i + 1));  // thread i is in line before i+1 starts
  }
  held.reset();
  for (auto& t : threads) t.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(FifoSemaphoreTest, CancelledWaitGivesUpAndKeepsTheLineMoving) {
  FifoSemaphore s(1);
  FifoSemaphore::Permit held;
  ASSERT_EQ(s.acquire(1s, held), FifoSemaphore::Outcome::kAcquired);
  std::atomic<bool> cancel{false};
  auto first = std::async(std::launch::async, [&] {
    FifoSemaphore::Permit p;
    return s.acquire(60s, p, &cancel);
  });
  waitForWaiters(s, 1);
  auto second = std::async(std::launch::async, [&] {
    FifoSemaphore::Permit p;
    return s.acquire(60s, p);
  });
  waitForWaiters(s, 2);
  cancel = true;
  s.wakeAll();
  EXPECT_EQ(first.get(), FifoSemaphore::Outcome::kCancelled);
  held.reset();
  EXPECT_EQ(second.get(), FifoSemaphore::Outcome::kAcquired);
  EXPECT_EQ(s.available(), 1u);
}

}  // namespace
}  // namespace grid
