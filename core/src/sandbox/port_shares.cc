#include "sandbox/port_shares.h"

#include <algorithm>

#include "util/random_token.h"

namespace grid {

Result<std::string> PortShares::share(uint16_t port) {
  std::lock_guard lock(mutex_);
  for (const Share& share : shares_) {
    if (share.port == port) return share.token;
  }
  if (shares_.size() >= kMaxPorts) {
    return fail(ErrorCode::kResourceExhausted,
                "a sandbox shares at most " + std::to_string(kMaxPorts) + " ports at once");
  }
  shares_.push_back(Share{port, randomHex(32)});
  return shares_.back().token;
}

bool PortShares::revoke(uint16_t port) {
  std::lock_guard lock(mutex_);
  const auto before = shares_.size();
  std::erase_if(shares_, [port](const Share& share) { return share.port == port; });
  return shares_.size() != before;
}

bool PortShares::allows(uint16_t port, std::string_view token) const {
  std::lock_guard lock(mutex_);
  for (const Share& share : shares_) {
    if (share.port != port) continue;
    const std::string& expected = share.token;
    unsigned char diff = token.size() == expected.size() ? 0 : 1;
    for (size_t i = 0; i < expected.size(); ++i) {
      diff |= static_cast<unsigned char>(expected[i] ^ (i < token.size() ? token[i] : 0));
    }
    return diff == 0;
  }
  return false;
}

void PortShares::clear() {
  std::lock_guard lock(mutex_);
  shares_.clear();
}

}  // namespace grid
