#include "sandbox/transfer_set.h"

#include <utility>

namespace grid {

TransferSet::Registration::Registration(Registration&& other) noexcept
    : set_(std::exchange(other.set_, nullptr)), entry_(other.entry_) {}

TransferSet::Registration& TransferSet::Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    release();
    set_ = std::exchange(other.set_, nullptr);
    entry_ = other.entry_;
  }
  return *this;
}

TransferSet::Registration::~Registration() { release(); }

void TransferSet::Registration::release() {
  if (set_ == nullptr) return;
  std::lock_guard lock(set_->mutex_);
  set_->transfers_.erase(entry_);
  set_ = nullptr;
}

Result<TransferSet::Registration> TransferSet::add(Cancel cancel) {
  std::lock_guard lock(mutex_);
  if (closed_) return fail(ErrorCode::kConflict, "the sandbox is stopping");
  transfers_.push_back(std::move(cancel));
  return Registration(this, std::prev(transfers_.end()));
}

void TransferSet::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  // Under the lock, so no transfer leaves (and frees its socket) while it is being cut.
  for (const Cancel& cancel : transfers_) cancel();
}

size_t TransferSet::size() const {
  std::lock_guard lock(mutex_);
  return transfers_.size();
}

}  // namespace grid
