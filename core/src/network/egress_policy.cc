#include "network/egress_policy.h"

#include <Poco/JSON/Array.h>
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace grid {
namespace {

Error invalid(std::string message) { return fail(ErrorCode::kInvalidArgument, std::move(message)); }

std::string quoted(std::string_view text) {
  std::string out = "'";
  for (const char c : text.substr(0, 80)) {
    out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  }
  if (text.size() > 80) out += "...";
  return out + "'";
}

Result<uint16_t> parsePort(std::string_view text, std::string_view rule) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 1 ||
      value > 65535) {
    return invalid("egress rule " + quoted(rule) + ": the port must be a number from 1 to 65535");
  }
  return static_cast<uint16_t>(value);
}

// Parses "a.b.c.d", "a.b.c.d/n", "v6", "v6/n" into a rule; nullopt when it is not an address.
std::optional<Result<EgressRule>> parseCidr(std::string_view text, std::string_view rule) {
  const size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  EgressRule out;
  if (inet_pton(AF_INET, address.c_str(), out.address.data()) == 1) {
    out.v6 = false;
  } else if (inet_pton(AF_INET6, address.c_str(), out.address.data()) == 1) {
    out.v6 = true;
  } else {
    // Looks like an address (digits, dots, colons) but is not one: a bad CIDR, not a domain.
    const bool address_like =
        !address.empty() && std::all_of(address.begin(), address.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == ':';
        });
    if (address_like || slash != std::string_view::npos) {
      return Result<EgressRule>(
          invalid("egress rule " + quoted(rule) + ": not a valid IPv4/IPv6 address or CIDR"));
    }
    return std::nullopt;
  }
  const int bits = out.v6 ? 128 : 32;
  out.prefix = bits;
  if (slash != std::string_view::npos) {
    const std::string_view length = text.substr(slash + 1);
    int value = -1;
    const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), value);
    if (length.empty() || ec != std::errc() || end != length.data() + length.size() || value < 0 ||
        value > bits) {
      return Result<EgressRule>(invalid("egress rule " + quoted(rule) +
                                        ": the prefix length must be 0 to " +
                                        std::to_string(bits)));
    }
    out.prefix = value;
  }
  // Host bits set ("10.1.2.3/8") are a likely mistake: refuse rather than guess.
  for (int bit = out.prefix; bit < bits; ++bit) {
    if (out.address[bit / 8] & (0x80 >> (bit % 8))) {
      return Result<EgressRule>(invalid("egress rule " + quoted(rule) +
                                        ": host bits are set past the prefix (write the network "
                                        "address, e.g. " +
                                        [&] {
                                          EgressRule masked = out;
                                          for (int b = out.prefix; b < bits; ++b)
                                            masked.address[b / 8] &= ~(0x80 >> (b % 8));
                                          return masked.cidrText();
                                        }() +
                                        ")"));
    }
  }
  out.kind = EgressRule::Kind::kCidr;
  return Result<EgressRule>(out);
}

Result<std::string> parseDomain(std::string_view text, std::string_view rule, bool& wildcard) {
  wildcard = false;
  if (text.substr(0, 2) == "*.") {
    wildcard = true;
    text.remove_prefix(2);
  }
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);  // the root, as in DNS
  if (text.empty() || text.size() > 253) {
    return invalid("egress rule " + quoted(rule) + ": not a CIDR, address or domain name");
  }
  std::string name;
  size_t label = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    if (c == '*') {
      return invalid("egress rule " + quoted(rule) +
                     ": a wildcard is allowed only as the first label (\"*.example.com\")");
    }
    if (c == '.') {
      if (label == 0 || name.back() == '-') {
        return invalid("egress rule " + quoted(rule) +
                       ": not a valid domain name (empty label or "
                       "label ending in '-')");
      }
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
      if ((label == 0 && c == '-') || ++label > 63) {
        return invalid("egress rule " + quoted(rule) +
                       ": not a valid domain name (a label starts with '-' or is over 63 bytes)");
      }
    } else {
      return invalid("egress rule " + quoted(rule) + ": not a CIDR, address or domain name");
    }
    name += c;
  }
  if (label == 0 || name.back() == '-') {
    return invalid("egress rule " + quoted(rule) + ": not a valid domain name");
  }
  return name;
}

Result<std::vector<EgressRule>> parseList(const Poco::JSON::Object& object, const std::string& key,
                                          const std::string& field, size_t max_rules) {
  std::vector<EgressRule> rules;
  if (!object.has(key) || object.isNull(key)) return rules;
  const auto list = object.getArray(key);
  if (!list) return invalid("'" + field + "." + key + "' must be an array of strings");
  if (list->size() > max_rules) {
    return invalid("'" + field + "." + key + "' has more than " + std::to_string(max_rules) +
                   " rules");
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const Poco::Dynamic::Var v = list->get(i);
    if (!v.isString()) {
      return invalid("'" + field + "." + key + "[" + std::to_string(i) + "]' must be a string");
    }
    GRID_ASSIGN_OR_RETURN(EgressRule rule, parseEgressRule(v.extract<std::string>()));
    if (std::find(rules.begin(), rules.end(), rule) == rules.end()) rules.push_back(rule);
  }
  return rules;
}

}  // namespace

std::string EgressRule::cidrText() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, address.data(), buffer, sizeof buffer);
  return std::string(buffer) + "/" + std::to_string(prefix);
}

std::string EgressRule::text() const {
  std::string out;
  if (kind == Kind::kDomain) {
    out = (wildcard ? "*." : "") + domain;
  } else if (v6 && port) {
    out = "[" + cidrText() + "]";
  } else {
    out = cidrText();
  }
  if (port) out += ":" + std::to_string(*port);
  return out;
}

bool EgressPolicy::hasDomains() const {
  const auto isDomain = [](const EgressRule& r) { return r.kind == EgressRule::Kind::kDomain; };
  return std::any_of(allow.begin(), allow.end(), isDomain) ||
         std::any_of(deny.begin(), deny.end(), isDomain);
}

Result<EgressRule> parseEgressRule(std::string_view text) {
  if (text.empty()) return invalid("an egress rule is empty");
  if (text.size() > 300) return invalid("egress rule " + quoted(text) + " is too long");
  std::string_view host = text;
  std::optional<uint16_t> port;
  if (text.front() == '[') {  // [v6] or [v6/n], then optionally :port
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return invalid("egress rule " + quoted(text) + ": '[' without ']'");
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return invalid("egress rule " + quoted(text) + ": junk after ']'");
      GRID_ASSIGN_OR_RETURN(port, parsePort(rest.substr(1), text));
    }
    auto cidr = parseCidr(host, text);
    if (!cidr || !cidr->ok() || !cidr->value().v6) {
      return invalid("egress rule " + quoted(text) + ": brackets hold an IPv6 address or CIDR");
    }
    EgressRule rule = cidr->value();
    rule.port = port;
    return rule;
  }
  // One colon: host:port. More: a bare IPv6 address or CIDR (no port; use brackets for one).
  const size_t colons = static_cast<size_t>(std::count(text.begin(), text.end(), ':'));
  if (colons == 1) {
    const size_t colon = text.find(':');
    host = text.substr(0, colon);
    GRID_ASSIGN_OR_RETURN(port, parsePort(text.substr(colon + 1), text));
  }
  if (auto cidr = parseCidr(host, text)) {
    if (!cidr->ok()) return cidr->error();
    EgressRule rule = cidr->value();
    rule.port = port;
    return rule;
  }
  EgressRule rule;
  rule.kind = EgressRule::Kind::kDomain;
  GRID_ASSIGN_OR_RETURN(rule.domain, parseDomain(host, text, rule.wildcard));
  rule.port = port;
  return rule;
}

Result<EgressPolicy> parseEgressPolicy(const Poco::JSON::Object& object, const std::string& field,
                                       const EgressLimits& limits) {
  for (const auto& [name, value] : object) {
    if (name != "allow" && name != "deny") {
      return invalid("unknown key '" + field + "." + name + "' (known: allow, deny)");
    }
  }
  EgressPolicy policy;
  GRID_ASSIGN_OR_RETURN(policy.allow, parseList(object, "allow", field, limits.max_rules));
  GRID_ASSIGN_OR_RETURN(policy.deny, parseList(object, "deny", field, limits.max_rules));
  for (const auto& rule : policy.deny) {
    // A name is refused or resolved as a whole; a port of it is denied through its addresses.
    if (rule.kind == EgressRule::Kind::kDomain && rule.port) {
      return invalid("'" + field + ".deny': domain rule '" + rule.text() +
                     "' takes no port (deny the name, or its addresses with a port)");
    }
  }
  if (policy.allow.size() + policy.deny.size() > limits.max_rules) {
    return invalid("'" + field + "' has more than " + std::to_string(limits.max_rules) + " rules");
  }
  return policy;
}

Result<void> parseNetworkField(const Poco::JSON::Object& request, const EgressLimits& limits,
                               bool& network, std::optional<EgressPolicy>& egress) {
  network = false;
  egress.reset();
  if (!request.has("network") || request.isNull("network")) return {};
  const Poco::Dynamic::Var value = request.get("network");
  if (value.isBoolean()) {
    network = value.extract<bool>();
    return {};
  }
  const auto object = request.getObject("network");
  if (!object) return invalid("'network' must be a boolean or an object {\"egress\": {...}}");
  for (const auto& [name, v] : *object) {
    if (name != "egress") return invalid("unknown key 'network." + name + "' (known: egress)");
  }
  network = true;  // a policy implies network
  if (!object->has("egress") || object->isNull("egress")) return {};
  const auto policy = object->getObject("egress");
  if (!policy)
    return invalid("'network.egress' must be an object {\"allow\": [...], \"deny\": [...]}");
  GRID_ASSIGN_OR_RETURN(EgressPolicy parsed, parseEgressPolicy(*policy, "network.egress", limits));
  egress = std::move(parsed);
  return {};
}

Result<std::vector<EgressRule>> parseEgressList(std::string_view text, const std::string& field) {
  std::vector<EgressRule> rules;
  size_t i = 0;
  while (i < text.size()) {
    const size_t end = text.find_first_of(", \t", i);
    const std::string_view item = text.substr(i, end == std::string_view::npos ? end : end - i);
    if (!item.empty()) {
      auto rule = parseEgressRule(item);
      if (!rule.ok()) return invalid(field + ": " + rule.error().message);
      if (std::find(rules.begin(), rules.end(), rule.value()) == rules.end())
        rules.push_back(rule.value());
    }
    if (end == std::string_view::npos) break;
    i = end + 1;
  }
  return rules;
}

Result<EgressPolicy> mergeEgressPolicies(const EgressPolicy& server_default,
                                         const std::optional<EgressPolicy>& sandbox,
                                         const EgressLimits& limits) {
  EgressPolicy merged;
  merged.allow = sandbox && !sandbox->allow.empty() ? sandbox->allow : server_default.allow;
  merged.deny = server_default.deny;
  if (sandbox) {
    for (const auto& rule : sandbox->deny) {
      if (std::find(merged.deny.begin(), merged.deny.end(), rule) == merged.deny.end())
        merged.deny.push_back(rule);
    }
  }
  if (merged.allow.size() + merged.deny.size() > limits.max_rules) {
    return invalid("the egress policy, joined with the server's default, has more than " +
                   std::to_string(limits.max_rules) + " rules");
  }
  return merged;
}

bool domainMatches(const EgressRule& rule, std::string_view name) {
  if (rule.kind != EgressRule::Kind::kDomain) return false;
  if (!rule.wildcard) return name == rule.domain;
  return name.size() > rule.domain.size() + 1 &&
         name.substr(name.size() - rule.domain.size()) == rule.domain &&
         name[name.size() - rule.domain.size() - 1] == '.';
}

NameVerdict judgeName(const EgressPolicy& policy, std::string_view name) {
  NameVerdict verdict;
  for (const auto& rule : policy.deny) {
    if (domainMatches(rule, name)) return verdict;
  }
  if (policy.allow.empty()) {
    verdict.allowed = true;
    verdict.all_ports = true;
    return verdict;
  }
  for (const auto& rule : policy.allow) {
    if (!domainMatches(rule, name)) continue;
    verdict.allowed = true;
    if (!rule.port) {
      verdict.all_ports = true;
    } else if (std::find(verdict.ports.begin(), verdict.ports.end(), *rule.port) ==
               verdict.ports.end()) {
      verdict.ports.push_back(*rule.port);
    }
  }
  if (verdict.all_ports) verdict.ports.clear();
  return verdict;
}

Poco::JSON::Object::Ptr egressPolicyJson(const EgressPolicy& policy) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  Poco::JSON::Array::Ptr allow = new Poco::JSON::Array;
  for (const auto& rule : policy.allow) allow->add(rule.text());
  Poco::JSON::Array::Ptr deny = new Poco::JSON::Array;
  for (const auto& rule : policy.deny) deny->add(rule.text());
  o->set("allow", allow);
  o->set("deny", deny);
  return o;
}

}  // namespace grid
