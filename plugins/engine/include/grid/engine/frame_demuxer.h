// Splits the engine's multiplexed non-TTY attach stream into stdout/stderr chunks. Each frame
// is an 8-byte header (stream type 0=stdin 1=stdout 2=stderr, 3 zero bytes, big-endian
// 32-bit length) followed by that many bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "grid/sandbox_backend.h"

namespace grid::engine {

struct Frame {
  OutputStream stream = OutputStream::kStdout;
  std::string data;
};

class FrameDemuxer {
 public:
  /// Appends raw bytes from the connection.
  void feed(std::string_view bytes);

  /// The next complete frame, if any; with `merge_limit` > 0 also appends the frames after it
  /// of the same stream until that many bytes (fewer, larger reads). Empty frames are skipped.
  std::optional<Frame> next(std::size_t merge_limit = 0);

  /// True once a header with an unknown stream type arrived; the stream is then unusable.
  bool corrupt() const { return corrupt_; }

  /// Bytes received but not yet returned (a partial frame at EOF means a cut stream).
  std::size_t pending() const { return buffer_.size() - offset_; }

 private:
  std::optional<Frame> take();
  std::optional<OutputStream> peekStream() const;

  std::string buffer_;
  std::size_t offset_ = 0;  // consumed prefix of buffer_, compacted lazily
  bool corrupt_ = false;
};

}  // namespace grid::engine
