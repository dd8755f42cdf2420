#pragma once

#include <string>
#include <string_view>

namespace grid {

/// Returns `bytes` as valid UTF-8: every invalid or truncated sequence becomes U+FFFD.
std::string sanitizeUtf8(std::string_view bytes);

/// sanitizeUtf8 for a byte stream that arrives in pieces: a multi-byte sequence split across
/// pieces is carried over to the next one (at most 3 bytes), not replaced.
class Utf8StreamSanitizer {
 public:
  /// The valid UTF-8 text of `bytes` after what was carried over, minus an incomplete
  /// sequence at its end, which is kept for the next call.
  std::string feed(std::string_view bytes);
  /// What is still carried over (an incomplete sequence: U+FFFD per byte); call at the end.
  std::string finish();
  size_t carried() const { return carry_.size(); }

 private:
  std::string carry_;
};

}  // namespace grid
