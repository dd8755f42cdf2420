// Enforces egress policies on running sandboxes (docs/networking.md): the base rules on every
// networked sandbox, the policy's nft ruleset inside its network namespace, and Grid's resolver
// for it. The manager calls it around a sandbox's life; the API reads and changes policies.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "grid/sandbox_backend.h"
#include "network/dns_resolver.h"
#include "network/egress_policy.h"
#include "network/nft_ruleset.h"

namespace grid {

struct EgressOptions {
  std::string nft_binary = "/usr/sbin/nft";
  EgressPolicy default_policy;  // grid.ini [network] allow / deny
  EgressLimits limits;
  std::vector<std::string> upstream_dns;  // empty: the host's /etc/resolv.conf
  std::chrono::seconds ttl_floor{30};     // a granted address stays open at least this long
  std::chrono::seconds ttl_cap{3600};
  size_t max_grants_per_sandbox = 4096;  // remembered for a PATCH to carry over
};

struct EgressStatus {
  std::optional<EgressPolicy> own;  // what the sandbox asked for
  EgressPolicy effective;           // joined with the server's default
  bool enforced = false;            // its ruleset is installed (it runs)
  bool resolver = false;            // Grid serves its DNS
  uint64_t refused = 0;             // packets refused since it started
};

class EgressController {
 public:
  EgressController(SandboxBackend& backend, EgressOptions options);
  ~EgressController();
  EgressController(const EgressController&) = delete;
  EgressController& operator=(const EgressController&) = delete;

  /// Checks that `nft` runs and starts the resolver. Until it succeeds, a policy is refused
  /// (kUnsupported) and networked sandboxes run without base rules (logged once).
  Result<void> init();
  bool available() const { return available_; }
  const std::string& unavailableReason() const { return unavailable_reason_; }

  /// At create: validates the request's policy for this server and sandbox, records it, and
  /// fills `spec.nameservers` when Grid will serve the sandbox's DNS.
  Result<void> prepare(SandboxSpec& spec, const std::optional<EgressPolicy>& own);
  /// A fork's child inherits its source's policy.
  void inherit(const std::string& source_id, SandboxSpec& child);
  /// Once the backend made the sandbox (before its setup runs): installs the ruleset inside its
  /// namespace and serves its DNS. A sandbox without network has nothing to do.
  Result<void> attach(const SandboxSpec& spec);
  /// PATCH: replaces the sandbox's own policy, in one nft transaction when it runs.
  Result<EgressStatus> update(const std::string& id, const EgressPolicy& own);
  /// Its resolver socket and namespace go (the sandbox stopped); its policy stays recorded.
  void detach(const std::string& id);
  /// Its record goes too (the sandbox was removed).
  void forget(const std::string& id);
  std::optional<EgressStatus> status(const std::string& id);

 private:
  struct Entry;
  Result<void> install(Entry& entry);
  void grant(const std::string& id, const std::string& name, const NameVerdict& verdict,
             const std::vector<DnsAddress>& addresses);

  SandboxBackend& backend_;
  const EgressOptions options_;
  bool available_ = false;
  std::string unavailable_reason_ = "the egress controller is not initialised";
  std::vector<std::string> host_addresses_;
  std::unique_ptr<DnsResolver> resolver_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;
};

}  // namespace grid
