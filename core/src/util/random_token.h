#pragma once

#include <string>

namespace grid {

/// `bytes` random bytes from the OS as lowercase hex (unguessable: used for ids and markers).
std::string randomHex(size_t bytes);

/// A random UUID v4 (the layout of sandbox ids: familiar to clients, valid in container names).
std::string randomUuid();

}  // namespace grid
