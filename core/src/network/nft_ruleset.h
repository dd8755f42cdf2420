// The nftables ruleset that enforces an egress policy inside a sandbox's network namespace
// (docs/networking.md): a pure plan -> text step, applied by netns_exec.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "network/egress_policy.h"

namespace grid {

/// An address the resolver learnt from an allowed answer: reachable (on `port`, or every port)
/// for `seconds`.
struct DnsGrant {
  std::string address;  // as inet_ntop writes it
  bool v6 = false;
  std::optional<uint16_t> port;
  uint32_t seconds = 0;
};

struct RulesetPlan {
  EgressPolicy policy;
  /// Always refused, before any policy: the host's addresses and the sandbox's own subnets
  /// (other sandboxes, the bridge's gateway). CIDR text, v4 and v6 mixed.
  std::vector<std::string> blocked;
  bool grid_dns = false;         // DNS (port 53) only to Grid's resolver on loopback
  uint32_t generation = 1;       // ct mark of connections a DNS grant let through (PATCH re-checks)
  std::vector<DnsGrant> grants;  // carried over into a replacement ruleset
};

inline constexpr const char* kNftTable = "grid";

/// One nft script (`nft -f -`) that replaces table `inet grid` atomically with the plan's.
std::string nftRuleset(const RulesetPlan& plan);

/// One nft script that adds (or refreshes) grants in the DNS sets.
std::string nftGrantScript(const std::vector<DnsGrant>& grants);

/// The packet count of `nft list counter inet grid refused`'s output; nullopt if none shows.
std::optional<uint64_t> parseRefusedCounter(std::string_view nft_output);

}  // namespace grid
