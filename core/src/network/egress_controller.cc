#include "network/egress_controller.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "network/netns_exec.h"

namespace grid {

struct EgressController::Entry {
  struct Grant {
    std::string name;
    DnsGrant grant;
    std::chrono::steady_clock::time_point expires;
  };
  std::string id;
  std::optional<EgressPolicy> own;
  EgressPolicy effective;
  bool resolver = false;
  int netns_fd = -1;  // while attached
  bool installed = false;
  uint32_t generation = 0;
  uint64_t refused_base = 0;  // counted by rulesets since replaced
  std::vector<std::string> blocked;
  std::vector<Grant> grants;
  ~Entry() {
    if (netns_fd >= 0) ::close(netns_fd);
  }
};

EgressController::EgressController(SandboxBackend& backend, EgressOptions options)
    : backend_(backend), options_(std::move(options)) {}

EgressController::~EgressController() {
  resolver_.reset();  // its loop stops before the entries it calls back into go
}

Result<void> EgressController::init() {
  const auto version = runNft(-1, options_.nft_binary, {"--version"}, "");
  if (!version.ok()) {
    unavailable_reason_ =
        "this host cannot enforce egress rules (" + version.error().message + "; install nftables)";
    return fail(ErrorCode::kUnsupported, unavailable_reason_);
  }
  std::vector<std::string> upstreams = options_.upstream_dns;
  if (upstreams.empty()) {
    std::ifstream in("/etc/resolv.conf");
    std::stringstream text;
    text << in.rdbuf();
    upstreams = resolvConfNameservers(text.str());
  }
  available_ = true;
  if (upstreams.empty()) {
    spdlog::warn(
        "egress: no upstream DNS server (grid.ini [network] upstream_dns, or "
        "/etc/resolv.conf): domain rules are refused, sandboxes use their own DNS");
    return {};
  }
  auto resolver = DnsResolver::start(
      upstreams,
      [this](const std::string& id, const std::string& name, const NameVerdict& verdict,
             const std::vector<DnsAddress>& addresses) { grant(id, name, verdict, addresses); });
  if (!resolver.ok()) return resolver.error();
  resolver_ = std::move(resolver.value());
  std::string joined;
  for (const auto& upstream : upstreams) joined += (joined.empty() ? "" : ", ") + upstream;
  spdlog::info("egress: nftables rules in each sandbox; DNS through {}:53 to {}",
               DnsResolver::kAddress, joined);
  return {};
}

Result<void> EgressController::prepare(SandboxSpec& spec, const std::optional<EgressPolicy>& own) {
  GRID_ASSIGN_OR_RETURN(EgressPolicy effective,
                        mergeEgressPolicies(options_.default_policy, own, options_.limits));
  if (!spec.network) return {};
  const bool asked = own && !own->empty();
  const std::string whose = asked ? "an egress policy" : "the server's default egress policy";
  if (spec.isolation == Isolation::kGvisor) {
    if (!effective.empty()) {
      return fail(ErrorCode::kUnsupported,
                  whose +
                      " cannot be enforced on gVisor: its own network stack carries the "
                      "sandbox's traffic, where no host rule applies");
    }
    return {};
  }
  if (!available_) {
    if (!effective.empty()) return fail(ErrorCode::kUnsupported, unavailable_reason_);
    return {};
  }
  if (effective.hasDomains() && !resolver_) {
    return fail(ErrorCode::kUnsupported,
                "domain rules need Grid's resolver, which has no upstream DNS server "
                "(grid.ini [network] upstream_dns)");
  }
  auto entry = std::make_unique<Entry>();
  entry->id = spec.id;
  entry->own = own;
  entry->effective = std::move(effective);
  entry->resolver = resolver_ != nullptr;
  if (entry->resolver) spec.nameservers = {DnsResolver::kAddress};
  std::lock_guard lock(mutex_);
  entries_[spec.id] = std::move(entry);
  return {};
}

void EgressController::inherit(const std::string& source_id, SandboxSpec& child) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(source_id);
  if (it == entries_.end()) return;
  auto entry = std::make_unique<Entry>();
  entry->id = child.id;
  entry->own = it->second->own;
  entry->effective = it->second->effective;
  entry->resolver = it->second->resolver;
  entries_[child.id] = std::move(entry);
}

Result<void> EgressController::attach(const SandboxSpec& spec) {
  if (!spec.network) return {};
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(spec.id);
  if (it == entries_.end()) {
    if (!available_ && spec.isolation != Isolation::kGvisor) {
      spdlog::warn("{}: networked without base rules: {}", spec.id, unavailable_reason_);
    }
    return {};
  }
  Entry& entry = *it->second;
  GRID_ASSIGN_OR_RETURN(const int fd, backend_.openNetworkNamespace(spec.id));
  if (entry.netns_fd >= 0) ::close(entry.netns_fd);
  entry.netns_fd = fd;
  entry.installed = false;
  entry.grants.clear();
  // The base rules: the host's own addresses, and the networks the sandbox's interfaces are on
  // (the bridge or veth: its gateway and every other sandbox there).
  GRID_ASSIGN_OR_RETURN(auto blocked, interfaceNetworks(-1, true));
  GRID_ASSIGN_OR_RETURN(const auto own_networks, interfaceNetworks(fd, false));
  blocked.insert(blocked.end(), own_networks.begin(), own_networks.end());
  entry.blocked = std::move(blocked);
  if (auto installed = install(entry); !installed.ok()) {
    return fail(installed.error().code, "installing the egress rules of sandbox " + spec.id + ": " +
                                            installed.error().message);
  }
  if (entry.resolver) {
    const std::string id = spec.id;
    GRID_TRY(resolver_->addSandbox(id, fd, [this, id](const std::string& name) {
      std::lock_guard judge_lock(mutex_);
      const auto found = entries_.find(id);
      if (found == entries_.end()) return NameVerdict{};
      return judgeName(found->second->effective, name);
    }));
  }
  return {};
}

Result<void> EgressController::install(Entry& entry) {
  RulesetPlan plan;
  plan.policy = entry.effective;
  plan.blocked = entry.blocked;
  plan.grid_dns = entry.resolver;
  plan.generation = entry.generation + 1;
  // Grants of names the policy still allows carry over; the others lapse with the old ruleset.
  const auto now = std::chrono::steady_clock::now();
  std::vector<Entry::Grant> kept;
  for (const auto& grant : entry.grants) {
    if (grant.expires <= now) continue;
    const NameVerdict verdict = judgeName(entry.effective, grant.name);
    if (!verdict.allowed || entry.effective.allow.empty()) continue;
    if (grant.grant.port && !verdict.all_ports &&
        std::find(verdict.ports.begin(), verdict.ports.end(), *grant.grant.port) ==
            verdict.ports.end()) {
      continue;
    }
    if (!grant.grant.port && !verdict.all_ports) continue;
    DnsGrant carried = grant.grant;
    carried.seconds = static_cast<uint32_t>(std::max<int64_t>(
        1, std::chrono::duration_cast<std::chrono::seconds>(grant.expires - now).count()));
    plan.grants.push_back(carried);
    kept.push_back(grant);
  }
  uint64_t counted = 0;
  if (entry.installed) {
    const auto listed = runNft(entry.netns_fd, options_.nft_binary,
                               {"list", "counter", "inet", kNftTable, "refused"}, "");
    if (listed.ok()) counted = parseRefusedCounter(listed.value()).value_or(0);
  }
  GRID_TRY(runNft(entry.netns_fd, options_.nft_binary, {"-f", "-"}, nftRuleset(plan)));
  entry.refused_base += counted;
  entry.generation = plan.generation;
  entry.grants = std::move(kept);
  entry.installed = true;
  return {};
}

void EgressController::grant(const std::string& id, const std::string& name,
                             const NameVerdict& verdict, const std::vector<DnsAddress>& addresses) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end() || !it->second->installed) return;
  Entry& entry = *it->second;
  if (entry.effective.allow.empty()) return;  // everything not denied is open anyway
  const auto now = std::chrono::steady_clock::now();
  std::vector<DnsGrant> grants;
  for (const auto& address : addresses) {
    const auto seconds =
        std::clamp<int64_t>(address.ttl, options_.ttl_floor.count(), options_.ttl_cap.count());
    const auto add = [&](std::optional<uint16_t> port) {
      grants.push_back({address.address, address.v6, port, static_cast<uint32_t>(seconds)});
    };
    if (verdict.all_ports) {
      add(std::nullopt);
    } else {
      for (const uint16_t port : verdict.ports) add(port);
    }
  }
  if (grants.empty()) return;
  if (auto added = runNft(entry.netns_fd, options_.nft_binary, {"-f", "-"}, nftGrantScript(grants));
      !added.ok()) {
    spdlog::warn("{}: granting resolved addresses: {}", id, added.error().message);
    return;
  }
  // Remembered (bounded) so that a PATCH can carry them over.
  std::erase_if(entry.grants, [&](const Entry::Grant& g) { return g.expires <= now; });
  for (const auto& granted : grants) {
    if (entry.grants.size() >= options_.max_grants_per_sandbox)
      entry.grants.erase(entry.grants.begin());
    entry.grants.push_back({name, granted, now + std::chrono::seconds(granted.seconds)});
  }
}

Result<EgressStatus> EgressController::update(const std::string& id, const EgressPolicy& own) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) {
    if (!available_) return fail(ErrorCode::kUnsupported, unavailable_reason_);
    return fail(ErrorCode::kInvalidArgument,
                "sandbox " + id +
                    " has no egress rules to change: it was created without "
                    "network (or on gVisor, where they cannot apply)");
  }
  Entry& entry = *it->second;
  GRID_ASSIGN_OR_RETURN(EgressPolicy effective,
                        mergeEgressPolicies(options_.default_policy, own, options_.limits));
  if (effective.hasDomains() && !entry.resolver) {
    return fail(ErrorCode::kUnsupported,
                "domain rules need Grid's resolver, which this sandbox does not use");
  }
  const EgressPolicy previous = entry.effective;
  const auto previous_own = entry.own;
  entry.effective = std::move(effective);
  entry.own = own;
  if (entry.netns_fd >= 0) {
    if (auto installed = install(entry); !installed.ok()) {
      entry.effective = previous;
      entry.own = previous_own;
      return fail(ErrorCode::kInternal,
                  "replacing the egress rules of sandbox " + id + ": " + installed.error().message);
    }
  }
  EgressStatus status;
  status.own = entry.own;
  status.effective = entry.effective;
  status.enforced = entry.installed;
  status.resolver = entry.resolver;
  status.refused = entry.refused_base;
  return status;
}

void EgressController::detach(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return;
  Entry& entry = *it->second;
  if (resolver_) resolver_->removeSandbox(id);
  if (entry.installed && entry.netns_fd >= 0) {
    const auto listed = runNft(entry.netns_fd, options_.nft_binary,
                               {"list", "counter", "inet", kNftTable, "refused"}, "");
    if (listed.ok()) entry.refused_base += parseRefusedCounter(listed.value()).value_or(0);
  }
  if (entry.netns_fd >= 0) ::close(entry.netns_fd);
  entry.netns_fd = -1;
  entry.installed = false;
  entry.grants.clear();
}

void EgressController::forget(const std::string& id) {
  detach(id);
  std::lock_guard lock(mutex_);
  entries_.erase(id);
}

std::optional<EgressStatus> EgressController::status(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  const Entry& entry = *it->second;
  EgressStatus status;
  status.own = entry.own;
  status.effective = entry.effective;
  status.enforced = entry.installed;
  status.resolver = entry.resolver;
  status.refused = entry.refused_base;
  if (entry.installed && entry.netns_fd >= 0) {
    const auto listed = runNft(entry.netns_fd, options_.nft_binary,
                               {"list", "counter", "inet", kNftTable, "refused"}, "");
    if (listed.ok()) status.refused += parseRefusedCounter(listed.value()).value_or(0);
  }
  return status;
}

}  // namespace grid
