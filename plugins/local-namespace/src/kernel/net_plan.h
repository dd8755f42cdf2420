// Outbound networking of a sandbox (`network: true`), the pure part: the address pool, one
// point-to-point /30 per sandbox, interface names, the host's nftables ruleset and the
// sandbox's /etc/resolv.conf. Applied by net_link.cc (rtnetlink) and host_firewall.cc (nft).
// See docs/local-namespace.md "Network".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "grid/result.h"

namespace grid::localns {

/// Every host-side veth of every Grid server starts with this: the host rules match on it.
inline constexpr const char* kHostLinkPrefix = "gv-";
/// The sandbox's end of its link, inside its network namespace.
inline constexpr const char* kSandboxLinkName = "eth0";
inline constexpr const char* kDefaultNetworkSubnet = "10.89.0.0/16";
inline constexpr int kLinkPrefixLength = 30;

/// An IPv4 pool, host byte order.
struct Ipv4Pool {
  uint32_t network = 0;
  int prefix = 0;
  /// How many /30 links fit.
  uint32_t linkCount() const { return 1u << (kLinkPrefixLength - prefix); }
  std::string cidr() const;
};

/// "A.B.C.D/N" with 8 <= N <= 30 and no host bits set.
Result<Ipv4Pool> parseIpv4Pool(const std::string& cidr);
std::string formatIpv4(uint32_t address);
/// Dotted quad to host order; false if `text` is not one.
bool parseIpv4(const std::string& text, uint32_t* address);

/// One sandbox's link: a /30 whose first host address is the host side (the sandbox's
/// gateway) and whose second is the sandbox's eth0.
struct SandboxLinkPlan {
  uint32_t subnet = 0;  // network address of the /30
  uint32_t host_address = 0;
  uint32_t sandbox_address = 0;
  std::string host_name;  // host-side veth
  std::string subnetText() const { return formatIpv4(subnet); }
};

/// Link number `index` (< pool.linkCount()) of `pool` for sandbox `sandbox_id`.
SandboxLinkPlan planSandboxLink(const Ipv4Pool& pool, uint32_t index,
                                const std::string& sandbox_id);

/// "gv-" + the sandbox id (cut to IFNAMSIZ - 1 = 15 characters).
std::string hostLinkName(const std::string& sandbox_id);

/// `inet grid_<instance>` with every character outside [A-Za-z0-9_] turned into '_'.
std::string hostTableName(const std::string& instance);

/// `nft -f` input installing the instance's table atomically (replacing an older one):
/// input from Grid veths rejected (the host, its loopback services and every address it has,
/// Grid's API included), forwarding between Grid veths and new connections towards them
/// rejected, only the pool's addresses forwarded out, MASQUERADE of the pool.
std::string planHostRules(const std::string& instance, const Ipv4Pool& pool);
/// `nft -f` input removing the instance's table (an absent table is fine: created first).
std::string planHostRulesRemoval(const std::string& instance);

/// iptables arguments (after `iptables -w`, before the rule) accepting Grid's veths in the
/// legacy/iptables-nft `filter FORWARD` chain, where Docker sets a drop policy that our own
/// table cannot override (a drop in any base chain is final). `action` is -C, -I or -D.
std::vector<std::vector<std::string>> planForwardAccepts(const std::string& instance,
                                                         const std::string& action);

/// The sandbox's /etc/resolv.conf: `nameservers` if any, else the non-loopback `nameserver`
/// lines of `host_resolv_conf`, else those of `fallback_resolv_conf` (systemd-resolved's
/// upstream list, /run/systemd/resolve/resolv.conf, when the host itself uses its stub);
/// `search`/`options` lines of the host are kept. Sets `*no_resolver` when no nameserver is
/// left (the host only has loopback resolvers, which the sandbox cannot reach).
std::string planResolvConf(const std::vector<std::string>& nameservers,
                           const std::string& host_resolv_conf,
                           const std::string& fallback_resolv_conf, bool* no_resolver);

}  // namespace grid::localns
