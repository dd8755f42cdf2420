#include "sandbox/expiry_scheduler.h"

#include <spdlog/spdlog.h>

namespace grid {

void DeadlineQueue::schedule(const std::string& key, TimePoint at) {
  const uint64_t generation = next_generation_++;
  live_[key] = generation;
  heap_.push(Entry{at, generation, key});
  compactIfStale();
}

void DeadlineQueue::cancel(const std::string& key) {
  live_.erase(key);
  compactIfStale();
}

bool DeadlineQueue::isLive(const Entry& entry) const {
  const auto it = live_.find(entry.key);
  return it != live_.end() && it->second == entry.generation;
}

void DeadlineQueue::dropStaleTop() {
  while (!heap_.empty() && !isLive(heap_.top())) heap_.pop();
}

void DeadlineQueue::compactIfStale() {
  if (heap_.size() <= 2 * live_.size() + 64) return;
  std::vector<Entry> kept;
  kept.reserve(live_.size());
  while (!heap_.empty()) {
    if (isLive(heap_.top())) kept.push_back(heap_.top());
    heap_.pop();
  }
  heap_ = decltype(heap_)(std::greater<>(), std::move(kept));
}

std::optional<DeadlineQueue::TimePoint> DeadlineQueue::next() {
  dropStaleTop();
  if (heap_.empty()) return std::nullopt;
  return heap_.top().at;
}

std::vector<std::string> DeadlineQueue::popDue(TimePoint now) {
  std::vector<std::string> due;
  for (dropStaleTop(); !heap_.empty() && heap_.top().at <= now; dropStaleTop()) {
    live_.erase(heap_.top().key);
    due.push_back(heap_.top().key);
    heap_.pop();
  }
  return due;
}

ExpiryScheduler::ExpiryScheduler(Handler handler) : handler_(std::move(handler)) {}

ExpiryScheduler::~ExpiryScheduler() { stop(); }

void ExpiryScheduler::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { loop(); });
}

void ExpiryScheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ExpiryScheduler::schedule(const std::string& key, Clock::time_point at) {
  bool earliest = false;
  {
    std::lock_guard lock(mutex_);
    const auto before = queue_.next();
    queue_.schedule(key, at);
    ++schedule_count_;
    earliest = !before || at < *before;
  }
  if (earliest) wake_.notify_all();
}

void ExpiryScheduler::cancel(const std::string& key) {
  std::lock_guard lock(mutex_);
  queue_.cancel(key);
}

size_t ExpiryScheduler::runDue(Clock::time_point now) {
  std::vector<std::string> due;
  {
    std::lock_guard lock(mutex_);
    due = queue_.popDue(now);
  }
  // Outside the lock: a handler schedules again.
  for (const auto& key : due) {
    try {
      handler_(key);
    } catch (const std::exception& e) {
      spdlog::error("{}: expiry check failed: {}", key, e.what());
    }
  }
  return due.size();
}

size_t ExpiryScheduler::scheduled() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

uint64_t ExpiryScheduler::scheduleCount() const {
  std::lock_guard lock(mutex_);
  return schedule_count_;
}

void ExpiryScheduler::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto next = queue_.next();
    if (!next) {
      wake_.wait(lock);
      continue;
    }
    if (Clock::now() < *next) {
      wake_.wait_until(lock, *next);
      continue;  // woken early (an earlier deadline, a stop) or on time: look again
    }
    lock.unlock();
    runDue(Clock::now());
    lock.lock();
  }
}

}  // namespace grid
