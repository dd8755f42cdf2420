#include "util/utf8.h"

#include <algorithm>

namespace grid {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Length of the valid UTF-8 sequence starting at `s[i]`, or 0 if it is invalid (overlongs,
// surrogates and code points past U+10FFFF included).
size_t validSequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

// Length of a sequence whose lead byte is `lead`, and the range of its second byte; 0 for a
// byte that leads no sequence.
size_t sequenceLength(unsigned char lead, unsigned char* lo, unsigned char* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (lead == 0xE0) *lo = 0xA0;
    if (lead == 0xED) *hi = 0x9F;
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (lead == 0xF0) *lo = 0x90;
    if (lead == 0xF4) *hi = 0x8F;
    return 4;
  }
  return 0;
}

// Bytes at the end of `s` that begin a valid sequence but do not complete it (0 to 3).
size_t incompleteTail(std::string_view s) {
  const size_t look = std::min<size_t>(3, s.size());
  for (size_t back = 1; back <= look; ++back) {
    const size_t at = s.size() - back;
    const auto lead = static_cast<unsigned char>(s[at]);
    if (lead >= 0x80 && lead <= 0xBF) continue;  // a continuation byte: look further back
    unsigned char lo, hi;
    const size_t len = sequenceLength(lead, &lo, &hi);
    if (len <= back) return 0;  // complete (or invalid): nothing to carry
    for (size_t k = at + 1; k < s.size(); ++k) {
      const auto c = static_cast<unsigned char>(s[k]);
      if (k == at + 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return 0;
    }
    return back;
  }
  return 0;
}

}  // namespace

std::string Utf8StreamSanitizer::feed(std::string_view bytes) {
  std::string joined;
  if (!carry_.empty()) {
    joined = carry_ + std::string(bytes);
    bytes = joined;
  }
  const size_t keep = incompleteTail(bytes);
  std::string text = sanitizeUtf8(bytes.substr(0, bytes.size() - keep));
  carry_.assign(bytes.substr(bytes.size() - keep));
  return text;
}

std::string Utf8StreamSanitizer::finish() {
  std::string text = sanitizeUtf8(carry_);
  carry_.clear();
  return text;
}

std::string sanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const size_t len = validSequenceLength(bytes, i);
    if (len == 0) {
      out.append(kReplacement);
      ++i;
    } else {
      out.append(bytes.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace grid
