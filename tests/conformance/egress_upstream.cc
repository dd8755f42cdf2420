#include "egress_upstream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "network/dns_message.h"
#include "network/netns_exec.h"

namespace grid::testing {
namespace {

bool sh(const std::string& command, std::string* error) {
  const int status = std::system((command + " >/dev/null 2>&1").c_str());
  if (status != 0 && error != nullptr && error->empty()) *error = "`" + command + "` failed";
  return status == 0;
}

int bindSocket(int type, const std::string& address, uint16_t port) {
  const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, address.c_str(), &a.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      (type == SOCK_STREAM && ::listen(fd, 64) != 0)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TcpTestServer::TcpTestServer(int listen_fd, std::string name)
    : listen_fd_(listen_fd), name_(std::move(name)) {
  sockaddr_in a{};
  socklen_t length = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &length);
  port_ = ntohs(a.sin_port);
  (void)::pipe2(wake_, O_CLOEXEC);
  thread_ = std::thread([this] { serve(); });
}

TcpTestServer::~TcpTestServer() {
  (void)::write(wake_[1], "x", 1);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void TcpTestServer::serve() {
  std::vector<int> connections;
  std::map<int, std::string> pending;
  for (;;) {
    std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (int fd : connections) fds.push_back({fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents) break;
    if (fds[1].revents & POLLIN) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        ++accepted_;
        const std::string hello = "hello " + name_ + "\n";
        (void)::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL);
        connections.push_back(fd);
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      char buffer[1024];
      const ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        ::close(fds[i].fd);
        connections.erase(std::find(connections.begin(), connections.end(), fds[i].fd));
        continue;
      }
      for (ssize_t j = 0; j < n; ++j) lines_ += buffer[j] == '\n';
      (void)::send(fds[i].fd, buffer, static_cast<size_t>(n), MSG_NOSIGNAL);
    }
  }
  for (int fd : connections) ::close(fd);
}

DnsTestServer::DnsTestServer(int udp_fd) : fd_(udp_fd) {
  (void)::pipe2(wake_, O_CLOEXEC);
  thread_ = std::thread([this] { serve(); });
}

DnsTestServer::~DnsTestServer() {
  (void)::write(wake_[1], "x", 1);
  thread_.join();
  ::close(fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

void DnsTestServer::setRecord(const std::string& name, const std::string& address, uint32_t ttl) {
  std::lock_guard lock(mutex_);
  records_[name] = {address, ttl};
}

int DnsTestServer::queriesFor(const std::string& name) {
  std::lock_guard lock(mutex_);
  return queries_[name];
}

void DnsTestServer::serve() {
  for (;;) {
    pollfd fds[2] = {{wake_[0], POLLIN, 0}, {fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[0].revents) return;
    char buffer[1500];
    sockaddr_in from{};
    socklen_t length = sizeof from;
    const ssize_t n =
        ::recvfrom(fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &length);
    if (n <= 0) continue;
    const std::string_view query(buffer, static_cast<size_t>(n));
    const auto question = parseDnsQuery(query);
    if (!question) continue;
    std::optional<std::pair<std::string, uint32_t>> record;
    {
      std::lock_guard lock(mutex_);
      ++queries_[question->name];
      if (auto it = records_.find(question->name); it != records_.end()) record = it->second;
    }
    std::string answer;
    if (!record) {
      answer = dnsErrorResponse(query, *question, 3);
    } else {
      answer = dnsErrorResponse(query, *question, 0);
      if (question->type == 1) {  // A; other types get an empty answer
        answer[7] = 1;
        const uint32_t ttl = record->second;
        answer += {static_cast<char>(0xC0),
                   12,
                   0,
                   1,
                   0,
                   1,
                   static_cast<char>(ttl >> 24),
                   static_cast<char>(ttl >> 16),
                   static_cast<char>(ttl >> 8),
                   static_cast<char>(ttl),
                   0,
                   4};
        in_addr a{};
        inet_pton(AF_INET, record->first.c_str(), &a);
        answer.append(reinterpret_cast<const char*>(&a), 4);
      }
    }
    (void)::sendto(fd_, answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&from),
                   length);
  }
}

Upstream::Upstream() {
  const int n = 20 + static_cast<int>(::getpid() % 200);
  link_prefix_ = "198.18." + std::to_string(n);
  routed_prefix_ = "198.19." + std::to_string(n);
  name_ = "egress-upstream-" + std::to_string(::getpid());
  host_if_ = "ge" + std::to_string(::getpid()) + "h";
  up_if_ = "ge" + std::to_string(::getpid()) + "u";
  const std::string ns = " -n " + name_ + " ";
  if (!sh("ip netns add " + name_, &error_) ||
      !sh("ip link add " + host_if_ + " type veth peer name " + up_if_, &error_) ||
      !sh("ip link set " + up_if_ + " netns " + name_, &error_) ||
      !sh("ip addr add " + hostAddress() + "/24 dev " + host_if_, &error_) ||
      !sh("ip link set " + host_if_ + " up", &error_) ||
      !sh("ip" + ns + "link set lo up", &error_) ||
      !sh("ip" + ns + "addr add " + linkAddress() + "/24 dev " + up_if_, &error_) ||
      !sh("ip" + ns + "addr add " + routedAddress() + "/24 dev lo", &error_) ||
      !sh("ip" + ns + "link set " + up_if_ + " up", &error_) ||
      !sh("ip" + ns + "route add default via " + hostAddress(), &error_) ||
      !sh("ip route add " + routedNetwork() + " via " + linkAddress(), &error_)) {
    return;
  }
  netns_fd_ = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
  if (netns_fd_ < 0) {
    error_ = "open /run/netns/" + name_ + ": " + std::strerror(errno);
    return;
  }
  int dns_fd = -1;
  (void)runInNetworkNamespace(netns_fd_, [&]() -> Result<void> {
    dns_fd = bindSocket(SOCK_DGRAM, dnsAddress(), 53);
    return {};
  });
  if (dns_fd < 0) {
    error_ = "binding the test DNS server";
    return;
  }
  dns_ = std::make_unique<DnsTestServer>(dns_fd);
}

TcpTestServer& Upstream::tcpServer(const std::string& address, uint16_t port, bool on_host) {
  int fd = -1;
  (void)runInNetworkNamespace(on_host ? -1 : netns_fd_, [&]() -> Result<void> {
    fd = bindSocket(SOCK_STREAM, address, port);
    return {};
  });
  if (fd < 0) std::abort();  // the test's own setup is broken
  servers_.push_back(std::make_unique<TcpTestServer>(fd, address + ":" + std::to_string(port)));
  return *servers_.back();
}

Upstream::~Upstream() {
  servers_.clear();
  dns_.reset();
  if (netns_fd_ >= 0) ::close(netns_fd_);
  sh("ip route del " + routedNetwork(), nullptr);
  sh("ip link del " + host_if_, nullptr);  // takes its peer with it
  sh("ip netns del " + name_, nullptr);
}

}  // namespace grid::testing
