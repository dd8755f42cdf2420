#pragma once

#include <string>
#include <string_view>

namespace grid {

/// Returns `bytes` as valid UTF-8: every invalid or truncated sequence becomes U+FFFD.
std::string sanitizeUtf8(std::string_view bytes);

}  // namespace grid
