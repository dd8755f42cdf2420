#include "grid/engine/frame_demuxer.h"

#include <cstdint>

namespace grid::engine {

namespace {

constexpr std::size_t kHeaderSize = 8;

}  // namespace

void FrameDemuxer::feed(std::string_view bytes) {
  // Compact before growing so the buffer stays about one frame long.
  if (offset_ > 0 && offset_ >= buffer_.size() / 2) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<OutputStream> FrameDemuxer::peekStream() const {
  if (pending() < kHeaderSize) return std::nullopt;
  switch (static_cast<unsigned char>(buffer_[offset_])) {
    case 0:  // stdin: the engine documents it as written on stdout
    case 1:
      return OutputStream::kStdout;
    case 2:
      return OutputStream::kStderr;
    default:
      return std::nullopt;
  }
}

std::optional<Frame> FrameDemuxer::take() {
  if (corrupt_ || pending() < kHeaderSize) return std::nullopt;
  const auto* header = reinterpret_cast<const unsigned char*>(buffer_.data() + offset_);
  std::optional<OutputStream> stream = peekStream();
  if (!stream || header[1] != 0 || header[2] != 0 || header[3] != 0) {
    corrupt_ = true;
    return std::nullopt;
  }
  const std::size_t length = (std::uint32_t{header[4]} << 24) | (std::uint32_t{header[5]} << 16) |
                             (std::uint32_t{header[6]} << 8) | std::uint32_t{header[7]};
  if (pending() < kHeaderSize + length) return std::nullopt;
  Frame frame{*stream, buffer_.substr(offset_ + kHeaderSize, length)};
  offset_ += kHeaderSize + length;
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  return frame;
}

std::optional<Frame> FrameDemuxer::next(std::size_t merge_limit) {
  std::optional<Frame> frame;
  while (!frame || frame->data.empty()) {
    frame = take();
    if (!frame) return std::nullopt;
  }
  // take() may return an incomplete-frame nullopt; peekStream() only looks at the header, so
  // a following frame of the same stream is merged only once it is complete.
  while (frame->data.size() < merge_limit && peekStream() == frame->stream) {
    std::optional<Frame> more = take();
    if (!more) break;
    frame->data += more->data;
  }
  return frame;
}

}  // namespace grid::engine
