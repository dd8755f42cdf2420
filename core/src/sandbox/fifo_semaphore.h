// The running-sandbox limit: a counting semaphore that serves waiters strictly in arrival
// order, so a start that queued first gets the first free slot.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <utility>

namespace grid {

class FifoSemaphore {
 public:
  explicit FifoSemaphore(size_t permits) : available_(permits), capacity_(permits) {}

  /// A held slot; returns it on destruction. Move-only.
  class Permit {
   public:
    Permit() = default;
    explicit Permit(FifoSemaphore* owner) : owner_(owner) {}
    Permit(Permit&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() { reset(); }
    void reset();
    bool held() const { return owner_ != nullptr; }

   private:
    FifoSemaphore* owner_ = nullptr;
  };

  enum class Outcome { kAcquired, kTimedOut, kCancelled };

  /// Waits in line for a slot up to `timeout`. `cancelled`, when it becomes true (followed by
  /// wakeAll()), makes the wait give up.
  Outcome acquire(std::chrono::milliseconds timeout, Permit& permit,
                  const std::atomic<bool>* cancelled = nullptr);

  /// Takes a slot only when one is free and nobody waits in line: for work that must never
  /// delay a waiting start (refilling warm pools). Whether it took one.
  bool tryAcquire(Permit& permit);

  /// Wakes every waiter so it can re-check its cancel flag.
  void wakeAll();

  size_t available() const;
  size_t waiting() const;
  size_t capacity() const { return capacity_; }

 private:
  void release();

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<uint64_t> queue_;  // tickets of waiters, oldest first
  uint64_t next_ticket_ = 0;
  size_t available_;
  const size_t capacity_;
};

}  // namespace grid
