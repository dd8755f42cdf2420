#include "sandbox/fifo_semaphore.h"

#include <algorithm>

namespace grid {

FifoSemaphore::Permit& FifoSemaphore::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    reset();
    owner_ = std::exchange(other.owner_, nullptr);
  }
  return *this;
}

void FifoSemaphore::Permit::reset() {
  if (owner_ != nullptr) std::exchange(owner_, nullptr)->release();
}

FifoSemaphore::Outcome FifoSemaphore::acquire(std::chrono::milliseconds timeout, Permit& permit,
                                              const std::atomic<bool>* cancelled) {
  std::unique_lock lock(mutex_);
  const uint64_t ticket = next_ticket_++;
  queue_.push_back(ticket);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const auto myTurn = [&] {
    return (cancelled != nullptr && cancelled->load()) ||
           (available_ > 0 && queue_.front() == ticket);
  };
  const bool ready = changed_.wait_until(lock, deadline, myTurn);
  Outcome outcome;
  if (cancelled != nullptr && cancelled->load()) {
    outcome = Outcome::kCancelled;
  } else if (ready) {
    outcome = Outcome::kAcquired;
    --available_;
  } else {
    outcome = Outcome::kTimedOut;
  }
  queue_.erase(std::find(queue_.begin(), queue_.end(), ticket));
  lock.unlock();
  // The head of the line changed: the next waiter may now proceed.
  changed_.notify_all();
  if (outcome == Outcome::kAcquired) permit = Permit(this);
  return outcome;
}

bool FifoSemaphore::tryAcquire(Permit& permit) {
  {
    std::lock_guard lock(mutex_);
    if (available_ == 0 || !queue_.empty()) return false;
    --available_;
  }
  permit = Permit(this);
  return true;
}

void FifoSemaphore::release() {
  {
    std::lock_guard lock(mutex_);
    ++available_;
  }
  changed_.notify_all();
}

void FifoSemaphore::wakeAll() {
  { std::lock_guard lock(mutex_); }
  changed_.notify_all();
}

size_t FifoSemaphore::available() const {
  std::lock_guard lock(mutex_);
  return available_;
}

size_t FifoSemaphore::waiting() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

}  // namespace grid
