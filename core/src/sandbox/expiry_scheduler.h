// The one thread that expires sandboxes (docs/lifetimes.md): a deadline per sandbox in a
// binary heap, earliest first, and a thread that sleeps until the earliest comes. Activity
// never touches it: when a deadline comes, its handler re-reads the sandbox's activity and
// either expires it or schedules the next deadline, so a busy sandbox costs one heap operation
// per idle period, however much it does.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace grid {

/// Deadlines by key, earliest first. Scheduling a key again replaces its deadline; the old
/// entry stays in the heap, stale, until it surfaces or the heap is compacted, so both
/// operations are O(log n). Pure and not thread-safe.
class DeadlineQueue {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  void schedule(const std::string& key, TimePoint at);
  void cancel(const std::string& key);
  /// The earliest live deadline.
  std::optional<TimePoint> next();
  /// Removes and returns the keys whose deadline is at or before `now`, earliest first.
  std::vector<std::string> popDue(TimePoint now);
  /// Keys with a deadline.
  size_t size() const { return live_.size(); }
  /// Entries held, stale ones included (bounded: see compactIfStale).
  size_t heapSize() const { return heap_.size(); }

 private:
  struct Entry {
    TimePoint at;
    uint64_t generation;
    std::string key;
    bool operator>(const Entry& other) const { return at > other.at; }
  };
  bool isLive(const Entry& entry) const;
  void dropStaleTop();
  // Rebuilds the heap from the live entries once stale ones outnumber them.
  void compactIfStale();

  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  std::unordered_map<std::string, uint64_t> live_;  // key -> generation of its live entry
  uint64_t next_generation_ = 1;
};

/// Runs `handler(key)` on its own thread once each key's deadline comes. Thread-safe.
class ExpiryScheduler {
 public:
  using Clock = std::chrono::steady_clock;
  using Handler = std::function<void(const std::string& key)>;

  /// Does not start the thread (start()); runDue() works without it.
  explicit ExpiryScheduler(Handler handler);
  ~ExpiryScheduler();
  ExpiryScheduler(const ExpiryScheduler&) = delete;
  ExpiryScheduler& operator=(const ExpiryScheduler&) = delete;

  /// Starts the thread. Idempotent.
  void start();
  /// Stops and joins the thread; scheduled keys are kept but no handler runs any more.
  void stop();

  /// Sets `key`'s deadline (replacing an earlier one); wakes the thread when it is the new
  /// earliest.
  void schedule(const std::string& key, Clock::time_point at);
  void cancel(const std::string& key);

  /// Calls the handler for every key due at `now`, on the calling thread; returns how many.
  /// What the thread does at each wake-up; tests call it with a clock of their own.
  size_t runDue(Clock::time_point now);

  /// Keys with a deadline.
  size_t scheduled() const;
  /// Deadlines set so far (schedule calls): a measure of the scheduler's work.
  uint64_t scheduleCount() const;

 private:
  void loop();

  const Handler handler_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  DeadlineQueue queue_;
  uint64_t schedule_count_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace grid
