// grid.ini's `[pool.NAME]` sections (docs/pools.md): warm pools, read and checked here; the
// image is checked at start-up by the backend (the pool's first sandbox is made then).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "grid/sandbox_backend.h"

namespace Poco::Util {
class AbstractConfiguration;
}

namespace grid {

struct PoolConfig {
  std::string name;                  // NAME of [pool.NAME]: letters, digits, '-', '_'
  size_t size = 0;                   // sandboxes kept ready; required
  std::optional<std::string> image;  // unset: the server's default image
  ResourceLimits limits;             // 0: the [sandbox] default of that limit
  bool network = false;
  std::optional<Isolation> isolation;      // unset: [sandbox] isolation
  std::map<std::string, std::string> env;  // env.KEY = value
};

/// Largest `size` a pool may ask for.
inline constexpr size_t kMaxPoolSize = 1000;

/// Every [pool.NAME] of `config`, in name order. Each problem is appended to `errors` (joined
/// with "; "), naming its section: "[pool.web] size = '-1' is not a whole number from 0 to
/// 1000", "[pool.web] unknown key 'imag' (known: ...)".
std::vector<PoolConfig> readPoolSections(const Poco::Util::AbstractConfiguration& config,
                                         std::string& errors);

}  // namespace grid
