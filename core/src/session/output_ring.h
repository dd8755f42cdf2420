// The output store of a background process: bytes are appended as the process writes them and
// read back by absolute byte offset, also while the process runs (live following). Memory is
// bounded by the budget: as for an exec's output (CappedOutput in session_protocol.h), the
// first half of the budget keeps the head of the stream and the second half its latest tail;
// the middle is dropped and only counted. Offsets stay absolute, so a reader that falls behind
// into the dropped middle is told so and resumes at the first kept byte of the tail.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "grid/result.h"

namespace grid {

/// The notice that stands for `dropped` bytes between head and tail, the same text as an
/// exec's truncated output carries: "\n[... N bytes truncated ...]\n".
std::string outputTruncationNotice(uint64_t dropped);

/// Thread-safe: one writer (append/close) and any number of readers.
class OutputRing {
 public:
  /// What read() returns.
  struct Chunk {
    std::string data;
    uint64_t offset = 0;       // absolute offset of data[0]
    uint64_t next_offset = 0;  // offset + data.size(): where to read next
    uint64_t dropped = 0;      // bytes skipped between the requested offset and `offset`
    bool eof = false;          // closed, and nothing follows next_offset
  };

  /// What waitBeyond() found.
  enum class Wait {
    kReady,     // bytes beyond the offset exist
    kClosed,    // closed, and nothing beyond the offset will come
    kTimedOut,  // the deadline passed first
  };

  /// `max_bytes` is the budget: max_bytes / 2 for the head, the rest for the tail.
  explicit OutputRing(size_t max_bytes);
  OutputRing(const OutputRing&) = delete;
  OutputRing& operator=(const OutputRing&) = delete;

  /// Stores the next bytes of output and wakes waiting readers. Ignored after close().
  void append(std::string_view data);
  /// Marks the end of the output (the process exited) and wakes waiting readers.
  void close();

  /// Up to `max_bytes` of the output from absolute `offset`. An offset in the dropped middle
  /// resumes at the tail's first kept byte (Chunk::dropped says how many were skipped); an
  /// offset beyond totalBytes() is kInvalidArgument.
  Result<Chunk> read(uint64_t offset, size_t max_bytes) const;

  /// Blocks until output beyond `offset` exists, the ring is closed, or `deadline` passes.
  Wait waitBeyond(uint64_t offset, std::chrono::steady_clock::time_point deadline) const;

  /// When bytes were last appended (the epoch before any): one clock read per append, under
  /// the lock the append takes anyway.
  std::chrono::steady_clock::time_point lastAppendAt() const;
  /// Bytes ever appended.
  uint64_t totalBytes() const;
  /// Bytes dropped from the middle so far.
  uint64_t droppedBytes() const;
  bool truncated() const { return droppedBytes() > 0; }
  bool closed() const;
  /// The kept bytes, with the truncation notice between head and tail where some were dropped
  /// (what CappedOutput::str() gives for an exec).
  std::string str() const;

 private:
  uint64_t tailStartLocked() const { return total_ - tail_len_; }
  void appendTailLocked(std::string_view data);
  void copyTailLocked(uint64_t from, size_t count, std::string& out) const;

  const size_t head_budget_;
  const size_t tail_budget_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::string head_;  // the first bytes, up to head_budget_
  std::string tail_;  // a ring of up to tail_budget_ bytes, oldest at tail_start_
  size_t tail_start_ = 0;
  size_t tail_len_ = 0;
  uint64_t total_ = 0;
  bool closed_ = false;
  std::chrono::steady_clock::time_point last_append_at_{};
};

}  // namespace grid
