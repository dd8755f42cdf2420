// The outside world of the egress tests, made on this machine: a network namespace "upstream"
// joined to the host by a veth pair and a route (198.18.N.0/24 on the link, 198.19.N.0/24
// behind it), with tiny TCP servers and a tiny DNS server (A records from a table the test can
// change, for rebinding) whose sockets live in that namespace. Everything goes at destruction.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace grid::testing {

/// A TCP server: greets each connection with "hello <name>\n", then echoes lines.
class TcpTestServer {
 public:
  TcpTestServer(int listen_fd, std::string name);
  ~TcpTestServer();
  int accepted() const { return accepted_; }
  int linesReceived() const { return lines_; }
  uint16_t port() const { return port_; }

 private:
  void serve();
  int listen_fd_;
  int wake_[2] = {-1, -1};
  std::string name_;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<int> lines_{0};
  std::thread thread_;
};

class DnsTestServer {
 public:
  explicit DnsTestServer(int udp_fd);
  ~DnsTestServer();
  /// name -> IPv4 address; names not in the table answer NXDOMAIN.
  void setRecord(const std::string& name, const std::string& address, uint32_t ttl = 60);
  /// How many queries for `name` arrived.
  int queriesFor(const std::string& name);

 private:
  void serve();
  int fd_;
  int wake_[2] = {-1, -1};
  std::mutex mutex_;
  std::map<std::string, std::pair<std::string, uint32_t>> records_;
  std::map<std::string, int> queries_;
  std::thread thread_;
};

class Upstream {
 public:
  /// Builds the namespace and link; empty error() when it worked.
  Upstream();
  ~Upstream();
  const std::string& error() const { return error_; }

  std::string hostAddress() const { return link_prefix_ + ".1"; }      // the host's end
  std::string linkAddress() const { return link_prefix_ + ".2"; }      // the upstream's end
  std::string routedAddress() const { return routed_prefix_ + ".2"; }  // behind the upstream
  std::string routedNetwork() const { return routed_prefix_ + ".0/24"; }
  std::string dnsAddress() const { return linkAddress(); }

  /// A TCP server listening on `address:port` inside the upstream namespace (or on the host
  /// when `on_host`).
  TcpTestServer& tcpServer(const std::string& address, uint16_t port, bool on_host = false);
  DnsTestServer& dns() { return *dns_; }

 private:
  std::string error_;
  std::string name_, host_if_, up_if_;
  std::string link_prefix_, routed_prefix_;
  int netns_fd_ = -1;
  std::vector<std::unique_ptr<TcpTestServer>> servers_;
  std::unique_ptr<DnsTestServer> dns_;
};

}  // namespace grid::testing
