// Grid's DNS resolver for sandboxes with an egress policy (docs/networking.md): one UDP socket
// on 127.0.0.53:53 inside each sandbox's network namespace, all served by one poll loop thread.
// Names the policy refuses get NXDOMAIN; the others are forwarded to the upstream resolvers and
// their answers' addresses are granted (in the sandbox's nft sets) before the answer goes back.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "grid/result.h"
#include "network/dns_message.h"
#include "network/egress_policy.h"

namespace grid {

/// "192.0.2.1", "192.0.2.1:5353", "2001:db8::1", "[2001:db8::1]:53" into a socket address.
Result<sockaddr_storage> parseDnsServer(const std::string& text);

/// The `nameserver` lines of a resolv.conf text.
std::vector<std::string> resolvConfNameservers(std::string_view text);

class DnsResolver {
 public:
  /// What a sandbox's policy says of a name, asked for each query.
  using Judge = std::function<NameVerdict(const std::string& name)>;
  /// Makes an allowed answer's addresses reachable; the answer is sent once it returns.
  using Grant =
      std::function<void(const std::string& sandbox_id, const std::string& name,
                         const NameVerdict& verdict, const std::vector<DnsAddress>& addresses)>;

  static constexpr const char* kAddress = "127.0.0.53";
  static constexpr size_t kMaxPending = 4096;           // queries waiting for an upstream
  static constexpr size_t kMaxPendingPerSandbox = 256;  // so one sandbox cannot take them all
  static constexpr std::chrono::seconds kUpstreamTimeout{5};

  /// Starts the loop; `upstreams` must not be empty.
  static Result<std::unique_ptr<DnsResolver>> start(const std::vector<std::string>& upstreams,
                                                    Grant grant);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  /// Binds 127.0.0.53:53 (UDP) inside `netns_fd` and serves it with `judge`.
  Result<void> addSandbox(const std::string& id, int netns_fd, Judge judge);
  void removeSandbox(const std::string& id);

  uint64_t refusedQueries() const { return refused_queries_; }

 private:
  struct Served;
  struct Pending;
  DnsResolver(std::vector<sockaddr_storage> upstreams, Grant grant);
  void loop();
  void onQuery(const std::shared_ptr<Served>& served);
  void onUpstreamAnswer(int fd);
  void expirePending();

  const std::vector<sockaddr_storage> upstreams_;
  const Grant grant_;
  int wake_fd_ = -1;
  int upstream4_fd_ = -1;
  int upstream6_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> refused_queries_{0};
  std::mutex mutex_;  // guards served_
  std::map<std::string, std::shared_ptr<Served>> served_;
  // Touched only by the loop thread.
  std::map<uint16_t, std::unique_ptr<Pending>> pending_;
  uint16_t next_id_ = 0;
  std::thread thread_;
};

}  // namespace grid
