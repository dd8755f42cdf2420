#include "network/nft_ruleset.h"

#include <charconv>

namespace grid {
namespace {

struct SetElements {
  std::vector<std::string> v4, v6, v4_port, v6_port;
};

SetElements elementsOf(const std::vector<EgressRule>& rules) {
  SetElements out;
  for (const auto& rule : rules) {
    if (rule.kind != EgressRule::Kind::kCidr) continue;
    if (rule.port) {
      (rule.v6 ? out.v6_port : out.v4_port)
          .push_back(rule.cidrText() + " . " + std::to_string(*rule.port));
    } else {
      (rule.v6 ? out.v6 : out.v4).push_back(rule.cidrText());
    }
  }
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

void addSet(std::string& out, const std::string& name, const std::string& type,
            const std::string& flags, const std::vector<std::string>& elements) {
  out += "  set " + name + " {\n    type " + type + "\n    flags " + flags + "\n";
  if (flags == "interval") out += "    auto-merge\n";
  if (!elements.empty()) out += "    elements = { " + joined(elements) + " }\n";
  out += "  }\n";
}

std::string grantElement(const DnsGrant& grant) {
  std::string element = grant.address;
  if (grant.port) element += " . " + std::to_string(*grant.port);
  return element + " timeout " + std::to_string(grant.seconds) + "s";
}

std::string grantSet(const DnsGrant& grant) {
  return std::string(grant.v6 ? "dns6" : "dns4") + (grant.port ? "p" : "");
}

}  // namespace

std::string nftRuleset(const RulesetPlan& plan) {
  const std::string table = std::string("inet ") + kNftTable;
  // Declaring the table first makes the delete valid when none exists yet; the whole script is
  // one transaction, so packets see the old ruleset or the new one, never a gap.
  std::string out = "table " + table + "\ndelete table " + table + "\ntable " + table + " {\n";
  out += "  counter refused {\n  }\n";

  std::vector<std::string> blocked4, blocked6;
  for (const auto& cidr : plan.blocked) {
    (cidr.find(':') != std::string::npos ? blocked6 : blocked4).push_back(cidr);
  }
  const SetElements deny = elementsOf(plan.policy.deny);
  const SetElements allow = elementsOf(plan.policy.allow);
  std::vector<std::string> dns4, dns6, dns4p, dns6p;
  for (const auto& grant : plan.grants) {
    const std::string element = grantElement(grant);
    (grant.v6 ? (grant.port ? dns6p : dns6) : (grant.port ? dns4p : dns4)).push_back(element);
  }
  addSet(out, "base4", "ipv4_addr", "interval", blocked4);
  addSet(out, "base6", "ipv6_addr", "interval", blocked6);
  addSet(out, "deny4", "ipv4_addr", "interval", deny.v4);
  addSet(out, "deny6", "ipv6_addr", "interval", deny.v6);
  addSet(out, "deny4p", "ipv4_addr . inet_service", "interval", deny.v4_port);
  addSet(out, "deny6p", "ipv6_addr . inet_service", "interval", deny.v6_port);
  addSet(out, "allow4", "ipv4_addr", "interval", allow.v4);
  addSet(out, "allow6", "ipv6_addr", "interval", allow.v6);
  addSet(out, "allow4p", "ipv4_addr . inet_service", "interval", allow.v4_port);
  addSet(out, "allow6p", "ipv6_addr . inet_service", "interval", allow.v6_port);
  addSet(out, "dns4", "ipv4_addr", "timeout", dns4);
  addSet(out, "dns6", "ipv6_addr", "timeout", dns6);
  addSet(out, "dns4p", "ipv4_addr . inet_service", "timeout", dns4p);
  addSet(out, "dns6p", "ipv6_addr . inet_service", "timeout", dns6p);

  const std::string mark = std::to_string(plan.generation);
  out +=
      "  chain output {\n"
      "    type filter hook output priority 0; policy accept;\n"
      "    oifname \"lo\" accept\n"
      // IPv6 needs neighbour discovery on its link to send anything at all.
      "    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept\n"
      // Base rules, then deny: they win over every allow, a DNS grant included (rebinding).
      "    ip daddr @base4 goto refuse\n"
      "    ip6 daddr @base6 goto refuse\n";
  if (plan.grid_dns) out += "    meta l4proto { tcp, udp } th dport 53 goto refuse\n";
  out +=
      "    ip daddr @deny4 goto refuse\n"
      "    ip6 daddr @deny6 goto refuse\n"
      "    meta l4proto { tcp, udp } ip daddr . th dport @deny4p goto refuse\n"
      "    meta l4proto { tcp, udp } ip6 daddr . th dport @deny6p goto refuse\n";
  if (plan.policy.allow.empty()) {
    out += "    accept\n";
  } else {
    out +=
        "    ip daddr @allow4 accept\n"
        "    ip6 daddr @allow6 accept\n"
        "    meta l4proto { tcp, udp } ip daddr . th dport @allow4p accept\n"
        "    meta l4proto { tcp, udp } ip6 daddr . th dport @allow6p accept\n"
        "    ip daddr @dns4 ct mark set " +
        mark +
        " accept\n"
        "    ip6 daddr @dns6 ct mark set " +
        mark +
        " accept\n"
        "    meta l4proto { tcp, udp } ip daddr . th dport @dns4p ct mark set " +
        mark +
        " accept\n"
        "    meta l4proto { tcp, udp } ip6 daddr . th dport @dns6p ct mark set " +
        mark +
        " accept\n"
        // A connection a grant let in outlives the grant's TTL, until a PATCH re-checks it.
        "    ct state established,related ct mark " +
        mark +
        " accept\n"
        "    goto refuse\n";
  }
  out +=
      "  }\n"
      "  chain refuse {\n"
      "    counter name \"refused\"\n"
      "    meta l4proto tcp reject with tcp reset\n"
      "    reject with icmpx admin-prohibited\n"
      "  }\n"
      "}\n";
  return out;
}

std::string nftGrantScript(const std::vector<DnsGrant>& grants) {
  std::string out;
  const std::string table = std::string("inet ") + kNftTable;
  for (const auto& grant : grants) {
    std::string element = grant.address;
    if (grant.port) element += " . " + std::to_string(*grant.port);
    // add (a no-op if present), delete, add: refreshes the timeout of an existing grant.
    out += "add element " + table + " " + grantSet(grant) + " { " + element + " }\n";
    out += "delete element " + table + " " + grantSet(grant) + " { " + element + " }\n";
    out += "add element " + table + " " + grantSet(grant) + " { " + grantElement(grant) + " }\n";
  }
  return out;
}

std::optional<uint64_t> parseRefusedCounter(std::string_view nft_output) {
  const size_t at = nft_output.find("packets ");
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view digits = nft_output.substr(at + 8);
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end == digits.data()) return std::nullopt;
  return value;
}

}  // namespace grid
