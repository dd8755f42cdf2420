// Names and paths in error messages come from requests or out of a sandbox: they are shortened
// and their control bytes replaced, so a message stays one readable line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace grid {

/// At most `max_bytes` of `text`, control bytes as '?', "..." where it was cut.
inline std::string printablePrefix(std::string_view text, size_t max_bytes) {
  std::string out;
  for (const char c : text.substr(0, max_bytes)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

}  // namespace grid
