#pragma once

#include <string>

namespace grid {

/// `bytes` random bytes from the OS as lowercase hex (unguessable: used for ids and markers).
std::string randomHex(size_t bytes);

}  // namespace grid
