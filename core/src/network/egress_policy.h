// An egress policy: which destinations a sandbox's outbound traffic may reach (docs/networking.md).
// Parsing, validation and merging are pure, so they are unit-tested without root.
#pragma once

#include <Poco/JSON/Object.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grid/result.h"

namespace grid {

/// One entry of an allow or deny list: an address block or a domain name, optionally one port.
struct EgressRule {
  enum class Kind { kCidr, kDomain };
  Kind kind = Kind::kCidr;
  // kCidr: the network address (host bits zero) of `prefix` bits; v4 uses the first 4 bytes.
  bool v6 = false;
  std::array<uint8_t, 16> address{};
  int prefix = 0;
  // kDomain: lower case, without the "*." of a wildcard; `wildcard` matches subdomains only.
  std::string domain;
  bool wildcard = false;
  std::optional<uint16_t> port;  // nullopt: every port

  /// The canonical text ("10.0.0.0/8:443", "*.example.com"): parses back to the same rule.
  std::string text() const;
  /// The address block alone as nft writes it ("10.0.0.0/8", "2001:db8::/32").
  std::string cidrText() const;
  bool operator==(const EgressRule& other) const { return text() == other.text(); }
};

struct EgressPolicy {
  std::vector<EgressRule> allow;  // non-empty: everything else is refused
  std::vector<EgressRule> deny;   // wins over allow
  bool empty() const { return allow.empty() && deny.empty(); }
  bool hasDomains() const;
  bool operator==(const EgressPolicy& other) const = default;
};

struct EgressLimits {
  size_t max_rules = 256;  // allow + deny, each list's own entries plus the server's default
};

/// Parses one rule: a CIDR or address ("10.0.0.0/8", "192.0.2.1", "2001:db8::/32"), with an
/// optional ":port" ("[2001:db8::1]:443" for v6), or a domain ("example.com", "*.example.com",
/// "example.com:443"). kInvalidArgument names the rule and what is wrong with it.
Result<EgressRule> parseEgressRule(std::string_view text);

/// Parses `{"allow": [...], "deny": [...]}` (both optional, no other keys); `field` names the
/// object in error messages ("network.egress").
Result<EgressPolicy> parseEgressPolicy(const Poco::JSON::Object& object, const std::string& field,
                                       const EgressLimits& limits);

/// Parses the `network` field of a create request: false/true/null, or an object
/// `{"egress": {...}}` (network on). Sets `network` and `egress`.
Result<void> parseNetworkField(const Poco::JSON::Object& request, const EgressLimits& limits,
                               bool& network, std::optional<EgressPolicy>& egress);

/// A comma/space separated list of rules (grid.ini, the CLI): "10.0.0.0/8, example.com".
Result<std::vector<EgressRule>> parseEgressList(std::string_view text, const std::string& field);

/// The policy a sandbox runs under: the server's deny list always holds (joined with the
/// sandbox's); the sandbox's allow list, when it gives one, replaces the server's default allow
/// list. kInvalidArgument when the result exceeds `limits.max_rules`.
Result<EgressPolicy> mergeEgressPolicies(const EgressPolicy& server_default,
                                         const std::optional<EgressPolicy>& sandbox,
                                         const EgressLimits& limits);

/// Whether a domain rule matches `name` (lower case, no trailing dot).
bool domainMatches(const EgressRule& rule, std::string_view name);

/// The answer a name gets under `policy`: refused when a deny domain matches it, or when the
/// allow list is non-empty and no allow domain matches it. `ports` receives the ports the
/// matching allow rules name (empty with `all_ports`).
struct NameVerdict {
  bool allowed = false;
  bool all_ports = false;
  std::vector<uint16_t> ports;
};
NameVerdict judgeName(const EgressPolicy& policy, std::string_view name);

Poco::JSON::Object::Ptr egressPolicyJson(const EgressPolicy& policy);

}  // namespace grid
