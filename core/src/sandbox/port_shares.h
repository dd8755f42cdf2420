// The share tokens of one sandbox's ports (docs/ports.md): each lets a preview link reach that
// one port of that one sandbox without the server's token. Kept in memory with the sandbox and
// revoked when it stops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "grid/result.h"

namespace grid {

class PortShares {
 public:
  /// Ports one sandbox may share at once.
  static constexpr size_t kMaxPorts = 64;

  /// The token of `port`, made (random, 32 bytes) if it has none; kResourceExhausted past
  /// kMaxPorts shared ports.
  Result<std::string> share(uint16_t port);
  /// Revokes the token of `port`; false if it had none.
  bool revoke(uint16_t port);
  /// True when `token` is the token of `port` (compared in constant time).
  bool allows(uint16_t port, std::string_view token) const;
  /// Revokes every token (the sandbox stopped).
  void clear();

 private:
  struct Share {
    uint16_t port;
    std::string token;
  };
  mutable std::mutex mutex_;
  std::vector<Share> shares_;
};

}  // namespace grid
