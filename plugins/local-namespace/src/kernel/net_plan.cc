#include "kernel/net_plan.h"

#include <net/if.h>

#include <sstream>

namespace grid::localns {
namespace {

std::string trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

bool isLoopbackResolver(const std::string& address) {
  uint32_t v4 = 0;
  if (parseIpv4(address, &v4)) return (v4 >> 24) == 127;
  return address == "::1" || address == "0:0:0:0:0:0:0:1";
}

// The `nameserver` values of a resolv.conf that a sandbox can reach (not loopback).
std::vector<std::string> reachableNameservers(const std::string& resolv_conf) {
  std::vector<std::string> out;
  std::istringstream in(resolv_conf);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, value;
    if (!(words >> key >> value) || key != "nameserver") continue;
    if (!isLoopbackResolver(value)) out.push_back(value);
  }
  return out;
}

}  // namespace

bool parseIpv4(const std::string& text, uint32_t* address) {
  uint32_t value = 0;
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
    uint32_t part = 0;
    size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      part = part * 10 + static_cast<uint32_t>(text[i++] - '0');
      if (++digits > 3 || part > 255) return false;
    }
    value = (value << 8) | part;
    if (++parts < 4) {
      if (i >= text.size() || text[i] != '.') return false;
      ++i;
    }
  }
  if (i != text.size()) return false;
  *address = value;
  return true;
}

std::string formatIpv4(uint32_t address) {
  return std::to_string(address >> 24) + "." + std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." + std::to_string(address & 0xff);
}

std::string Ipv4Pool::cidr() const { return formatIpv4(network) + "/" + std::to_string(prefix); }

Result<Ipv4Pool> parseIpv4Pool(const std::string& cidr) {
  auto invalid = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: network_subnet '" + cidr + "' " + why);
  };
  const size_t slash = cidr.find('/');
  if (slash == std::string::npos) return invalid("must be an IPv4 CIDR such as 10.89.0.0/16");
  Ipv4Pool pool;
  if (!parseIpv4(cidr.substr(0, slash), &pool.network)) {
    return invalid("must be an IPv4 CIDR such as 10.89.0.0/16");
  }
  const std::string length = cidr.substr(slash + 1);
  if (length.empty() || length.size() > 2 ||
      length.find_first_not_of("0123456789") != std::string::npos) {
    return invalid("must be an IPv4 CIDR such as 10.89.0.0/16");
  }
  pool.prefix = std::stoi(length);
  if (pool.prefix < 8 || pool.prefix > kLinkPrefixLength) {
    return invalid("needs a prefix length from /8 to /30 (one /30 per sandbox)");
  }
  const uint32_t host_mask = (1u << (32 - pool.prefix)) - 1;
  if ((pool.network & host_mask) != 0) {
    return invalid("has host bits set (did you mean " + formatIpv4(pool.network & ~host_mask) +
                   "/" + length + "?)");
  }
  return pool;
}

std::string hostLinkName(const std::string& sandbox_id) {
  const std::string prefix = kHostLinkPrefix;
  return prefix + sandbox_id.substr(0, IFNAMSIZ - 1 - prefix.size());
}

SandboxLinkPlan planSandboxLink(const Ipv4Pool& pool, uint32_t index,
                                const std::string& sandbox_id) {
  SandboxLinkPlan plan;
  plan.subnet = pool.network + (index << (32 - kLinkPrefixLength));
  plan.host_address = plan.subnet + 1;
  plan.sandbox_address = plan.subnet + 2;
  plan.host_name = hostLinkName(sandbox_id);
  return plan;
}

std::string hostTableName(const std::string& instance) {
  std::string name = "grid_";
  for (char c : instance) {
    const bool keep =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    name += keep ? c : '_';
  }
  return name.substr(0, 200);
}

std::string planHostRules(const std::string& instance, const Ipv4Pool& pool) {
  const std::string table = "inet " + hostTableName(instance);
  const std::string veths = "\"" + std::string(kHostLinkPrefix) + "*\"";
  const std::string subnet = pool.cidr();
  std::ostringstream out;
  // Declaring then deleting makes the replacement work whether or not the table exists; nft
  // applies the file as one transaction.
  out << "table " << table << " {}\n"
      << "delete table " << table << "\n"
      << "table " << table
      << " {\n"
      // The host itself (any of its addresses, its loopback services, Grid's API): refused.
      << "  chain input {\n"
      << "    type filter hook input priority filter; policy accept;\n"
      << "    iifname " << veths << " meta l4proto tcp reject with tcp reset\n"
      << "    iifname " << veths << " reject with icmpx admin-prohibited\n"
      << "  }\n"
      // Nothing reaches a sandbox but replies: not another sandbox, not the outside.
      << "  chain forward {\n"
      << "    type filter hook forward priority filter; policy accept;\n"
      << "    oifname " << veths << " ct state established,related accept\n"
      << "    oifname " << veths << " meta l4proto tcp reject with tcp reset\n"
      << "    oifname " << veths << " reject with icmpx admin-prohibited\n"
      << "    iifname " << veths << " meta nfproto != ipv4 drop\n"
      << "    iifname " << veths << " ip saddr != " << subnet << " drop\n"
      << "  }\n"
      << "  chain postrouting {\n"
      << "    type nat hook postrouting priority srcnat; policy accept;\n"
      << "    ip saddr " << subnet << " oifname != " << veths << " masquerade\n"
      << "  }\n"
      << "}\n";
  return out.str();
}

std::string planHostRulesRemoval(const std::string& instance) {
  const std::string table = "inet " + hostTableName(instance);
  return "table " + table + " {}\ndelete table " + table + "\n";
}

std::vector<std::vector<std::string>> planForwardAccepts(const std::string& instance,
                                                         const std::string& action) {
  const std::string veths = std::string(kHostLinkPrefix) + "+";
  const std::string comment = hostTableName(instance);
  std::vector<std::string> out_rule = {action,    "FORWARD",   "-i",    veths, "-m",
                                       "comment", "--comment", comment, "-j",  "ACCEPT"};
  std::vector<std::string> back_rule = {action, "FORWARD",   "-o",        veths,
                                        "-m",   "conntrack", "--ctstate", "RELATED,ESTABLISHED",
                                        "-m",   "comment",   "--comment", comment,
                                        "-j",   "ACCEPT"};
  return {out_rule, back_rule};
}

std::string planResolvConf(const std::vector<std::string>& nameservers,
                           const std::string& host_resolv_conf,
                           const std::string& fallback_resolv_conf, bool* no_resolver) {
  std::vector<std::string> servers = nameservers;
  std::string kept;
  if (servers.empty()) {
    servers = reachableNameservers(host_resolv_conf);
    if (servers.empty()) servers = reachableNameservers(fallback_resolv_conf);
    // The host's search domains and options still apply to its upstream resolvers.
    std::istringstream in(host_resolv_conf);
    std::string line;
    while (std::getline(in, line)) {
      line = trim(line);
      if (line.rfind("search", 0) == 0 || line.rfind("domain", 0) == 0 ||
          line.rfind("options", 0) == 0) {
        kept += line + "\n";
      }
    }
  }
  *no_resolver = servers.empty();
  std::string text = "# Generated by Grid (local-namespace) for this sandbox.\n";
  for (const auto& server : servers) text += "nameserver " + server + "\n";
  return text + kept;
}

}  // namespace grid::localns
