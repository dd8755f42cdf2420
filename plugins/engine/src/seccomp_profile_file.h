// The apply step of file-delivered seccomp profiles (EngineDialect::seccomp_profile_file):
// the engine reads the profile from its host's filesystem at each create.
#pragma once

#include <string>

#include "grid/result.h"

namespace grid::engine {

/// Writes `profile_json` to `path` (its directory created as needed) through a temporary
/// file renamed over it, mode 0644, so that a cleaned /run or a concurrent create never
/// leaves the engine a missing or half-written profile. `product` prefixes messages.
Result<void> writeSeccompProfileFile(const std::string& product, const std::string& path,
                                     const std::string& profile_json);

}  // namespace grid::engine
