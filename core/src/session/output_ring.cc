#include "session/output_ring.h"

#include <algorithm>

namespace grid {

namespace {

// Grows `buffer`'s capacity geometrically but never past `limit`, so appends stay amortised
// O(n) and the memory stays within the budget.
void reserveWithin(std::string& buffer, size_t needed, size_t limit) {
  if (needed <= buffer.capacity()) return;
  buffer.reserve(std::min(limit, std::max(needed, 2 * buffer.capacity())));
}

}  // namespace

std::string outputTruncationNotice(uint64_t dropped) {
  return "\n[... " + std::to_string(dropped) + " bytes truncated ...]\n";
}

OutputRing::OutputRing(size_t max_bytes)
    : head_budget_(max_bytes / 2), tail_budget_(max_bytes - max_bytes / 2) {}

void OutputRing::append(std::string_view data) {
  if (data.empty()) return;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    total_ += data.size();
    last_append_at_ = std::chrono::steady_clock::now();
    if (head_.size() < head_budget_) {
      const size_t take = std::min(data.size(), head_budget_ - head_.size());
      reserveWithin(head_, head_.size() + take, head_budget_);
      head_.append(data.substr(0, take));
      data.remove_prefix(take);
    }
    appendTailLocked(data);
  }
  changed_.notify_all();
}

void OutputRing::appendTailLocked(std::string_view data) {
  if (data.empty() || tail_budget_ == 0) return;
  if (data.size() >= tail_budget_) {
    // Only the last tail_budget_ bytes survive; lay them out unwrapped.
    tail_.assign(data.substr(data.size() - tail_budget_));
    tail_start_ = 0;
    tail_len_ = tail_budget_;
    return;
  }
  if (tail_.size() < tail_budget_) {
    // Not wrapped yet: tail_ holds tail_len_ bytes from index 0.
    if (tail_len_ + data.size() <= tail_budget_) {
      reserveWithin(tail_, tail_len_ + data.size(), tail_budget_);
      tail_.append(data);
      tail_len_ += data.size();
      return;
    }
    tail_.reserve(tail_budget_);
    tail_.resize(tail_budget_);
  }
  // A full-size ring: write at the end position, wrapping, and move the start past overwrites.
  size_t write_at = (tail_start_ + tail_len_) % tail_budget_;
  const size_t first = std::min(data.size(), tail_budget_ - write_at);
  std::copy_n(data.data(), first, tail_.begin() + static_cast<std::ptrdiff_t>(write_at));
  std::copy_n(data.data() + first, data.size() - first, tail_.begin());
  const size_t new_len = tail_len_ + data.size();
  if (new_len > tail_budget_) {
    tail_start_ = (tail_start_ + new_len - tail_budget_) % tail_budget_;
    tail_len_ = tail_budget_;
  } else {
    tail_len_ = new_len;
  }
}

void OutputRing::copyTailLocked(uint64_t from, size_t count, std::string& out) const {
  const size_t index = static_cast<size_t>(from - tailStartLocked());
  const size_t ring_size = tail_.size();
  size_t at = ring_size == 0 ? 0 : (tail_start_ + index) % ring_size;
  while (count > 0) {
    const size_t n = std::min(count, ring_size - at);
    out.append(tail_, at, n);
    count -= n;
    at = 0;
  }
}

void OutputRing::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

Result<OutputRing::Chunk> OutputRing::read(uint64_t offset, size_t max_bytes) const {
  std::lock_guard lock(mutex_);
  if (offset > total_) {
    return Error{ErrorCode::kInvalidArgument, "offset " + std::to_string(offset) +
                                                  " is beyond the " + std::to_string(total_) +
                                                  " bytes of output so far"};
  }
  Chunk chunk;
  const uint64_t head_end = head_.size();
  const uint64_t tail_start = tailStartLocked();
  if (offset >= head_end && offset < tail_start) {
    chunk.dropped = tail_start - offset;
    offset = tail_start;
  }
  chunk.offset = offset;
  size_t room = max_bytes;
  if (offset < head_end) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(room, head_end - offset));
    chunk.data.reserve(n);
    chunk.data.append(head_, static_cast<size_t>(offset), n);
    room -= n;
    offset += n;
  }
  // Past the head, read on only where the tail continues it without a gap.
  if (room > 0 && offset >= tail_start && offset < total_) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(room, total_ - offset));
    copyTailLocked(offset, n, chunk.data);
    offset += n;
  }
  chunk.next_offset = offset;
  chunk.eof = closed_ && offset == total_;
  return chunk;
}

OutputRing::Wait OutputRing::waitBeyond(uint64_t offset,
                                        std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline, [&] { return total_ > offset || closed_; });
  if (total_ > offset) return Wait::kReady;
  return closed_ ? Wait::kClosed : Wait::kTimedOut;
}

std::chrono::steady_clock::time_point OutputRing::lastAppendAt() const {
  std::lock_guard lock(mutex_);
  return last_append_at_;
}

uint64_t OutputRing::totalBytes() const {
  std::lock_guard lock(mutex_);
  return total_;
}

uint64_t OutputRing::droppedBytes() const {
  std::lock_guard lock(mutex_);
  return total_ - head_.size() - tail_len_;
}

bool OutputRing::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::string OutputRing::str() const {
  std::lock_guard lock(mutex_);
  const uint64_t dropped = total_ - head_.size() - tail_len_;
  std::string out = head_;
  if (dropped > 0) out += outputTruncationNotice(dropped);
  copyTailLocked(tailStartLocked(), tail_len_, out);
  return out;
}

}  // namespace grid
