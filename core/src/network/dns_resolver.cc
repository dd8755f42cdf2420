#include "network/dns_resolver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <random>
#include <sstream>

#include "network/netns_exec.h"

namespace grid {

struct DnsResolver::Served {
  std::string id;
  int fd = -1;
  Judge judge;
  size_t pending = 0;  // loop thread only
  ~Served() {
    if (fd >= 0) ::close(fd);
  }
};

struct DnsResolver::Pending {
  std::weak_ptr<Served> served;
  sockaddr_in client{};
  uint16_t client_id = 0;
  std::string name;
  NameVerdict verdict;
  std::chrono::steady_clock::time_point deadline;
};

namespace {

bool sameAddress(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
  const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
  return x.sin6_port == y.sin6_port && std::memcmp(&x.sin6_addr, &y.sin6_addr, 16) == 0;
}

socklen_t lengthOf(const sockaddr_storage& a) {
  return a.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

}  // namespace

Result<sockaddr_storage> parseDnsServer(const std::string& text) {
  std::string host = text;
  uint16_t port = 53;
  const auto badPort = [&] {
    return fail(ErrorCode::kInvalidArgument, "DNS server '" + text + "': bad port");
  };
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos)
      return fail(ErrorCode::kInvalidArgument, "DNS server '" + text + "': '[' without ']'");
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return badPort();
      const int value = std::atoi(text.c_str() + close + 2);
      if (value < 1 || value > 65535) return badPort();
      port = static_cast<uint16_t>(value);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const size_t colon = text.find(':');
    host = text.substr(0, colon);
    const int value = std::atoi(text.c_str() + colon + 1);
    if (value < 1 || value > 65535) return badPort();
    port = static_cast<uint16_t>(value);
  }
  sockaddr_storage out{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
  } else {
    return fail(ErrorCode::kInvalidArgument,
                "DNS server '" + text + "' is not an IPv4 or IPv6 address (with optional :port)");
  }
  return out;
}

std::vector<std::string> resolvConfNameservers(std::string_view text) {
  std::vector<std::string> servers;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string keyword, address;
    if (words >> keyword >> address && keyword == "nameserver") {
      // A scoped v6 address ("fe80::1%eth0") names a link the resolver has no use for.
      if (address.find('%') == std::string::npos) servers.push_back(address);
    }
  }
  return servers;
}

DnsResolver::DnsResolver(std::vector<sockaddr_storage> upstreams, Grant grant)
    : upstreams_(std::move(upstreams)), grant_(std::move(grant)) {}

Result<std::unique_ptr<DnsResolver>> DnsResolver::start(const std::vector<std::string>& upstreams,
                                                        Grant grant) {
  if (upstreams.empty()) {
    return fail(ErrorCode::kInvalidArgument, "the DNS resolver has no upstream servers");
  }
  std::vector<sockaddr_storage> addresses;
  for (const auto& text : upstreams) {
    GRID_ASSIGN_OR_RETURN(const sockaddr_storage address, parseDnsServer(text));
    addresses.push_back(address);
  }
  std::unique_ptr<DnsResolver> resolver(new DnsResolver(std::move(addresses), std::move(grant)));
  resolver->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  resolver->upstream4_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  resolver->upstream6_fd_ = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (resolver->wake_fd_ < 0 || resolver->upstream4_fd_ < 0) {
    return fail(ErrorCode::kInternal,
                std::string("DNS resolver: eventfd/socket: ") + std::strerror(errno));
  }
  resolver->thread_ = std::thread([r = resolver.get()] { r->loop(); });
  return resolver;
}

DnsResolver::~DnsResolver() {
  stopping_ = true;
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  for (int fd : {wake_fd_, upstream4_fd_, upstream6_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

Result<void> DnsResolver::addSandbox(const std::string& id, int netns_fd, Judge judge) {
  auto served = std::make_shared<Served>();
  served->id = id;
  served->judge = std::move(judge);
  // The socket keeps the namespace it was made in: made on a thread inside the sandbox's.
  GRID_TRY(runInNetworkNamespace(netns_fd, [&]() -> Result<void> {
    served->fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (served->fd < 0) {
      return fail(ErrorCode::kInternal, std::string("DNS socket: ") + std::strerror(errno));
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(53);
    inet_pton(AF_INET, kAddress, &address.sin_addr);
    if (::bind(served->fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      return fail(ErrorCode::kInternal,
                  std::string("bind(") + kAddress + ":53) in the sandbox: " + std::strerror(errno));
    }
    return {};
  }));
  {
    std::lock_guard lock(mutex_);
    served_[id] = std::move(served);
  }
  const uint64_t one = 1;
  (void)::write(wake_fd_, &one, sizeof one);
  return {};
}

void DnsResolver::removeSandbox(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    served_.erase(id);  // the loop may hold it until its current round ends
  }
  const uint64_t one = 1;
  (void)::write(wake_fd_, &one, sizeof one);
}

void DnsResolver::loop() {
  while (!stopping_) {
    std::vector<std::shared_ptr<Served>> served;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, entry] : served_) served.push_back(entry);
    }
    std::vector<pollfd> fds{
        {wake_fd_, POLLIN, 0}, {upstream4_fd_, POLLIN, 0}, {upstream6_fd_, POLLIN, 0}};
    for (const auto& entry : served) fds.push_back({entry->fd, POLLIN, 0});
    const int ready = ::poll(fds.data(), fds.size(), 1000);
    if (ready < 0 && errno != EINTR) {
      spdlog::error("DNS resolver: poll: {}", std::strerror(errno));
      return;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t count = 0;
      (void)::read(wake_fd_, &count, sizeof count);
    }
    for (int i = 1; i < 3; ++i) {
      if (fds[i].revents & POLLIN) onUpstreamAnswer(fds[i].fd);
    }
    for (size_t i = 0; i < served.size(); ++i) {
      if (fds[i + 3].revents & POLLIN) onQuery(served[i]);
    }
    expirePending();
  }
}

void DnsResolver::onQuery(const std::shared_ptr<Served>& served) {
  // A few datagrams per round at most, so one busy sandbox cannot starve the others.
  for (int round = 0; round < 16; ++round) {
    char buffer[4096];
    sockaddr_in client{};
    socklen_t client_length = sizeof client;
    const ssize_t n = ::recvfrom(served->fd, buffer, sizeof buffer, 0,
                                 reinterpret_cast<sockaddr*>(&client), &client_length);
    if (n <= 0) return;
    const std::string_view query(buffer, static_cast<size_t>(n));
    const auto question = parseDnsQuery(query);
    if (!question) continue;  // not a query we answer: dropped, as a resolver does
    const auto reply = [&](const std::string& answer) {
      (void)::sendto(served->fd, answer.data(), answer.size(), 0,
                     reinterpret_cast<const sockaddr*>(&client), client_length);
    };
    NameVerdict verdict = served->judge(question->name);
    if (!verdict.allowed) {
      ++refused_queries_;
      reply(dnsErrorResponse(query, *question, 3));
      continue;
    }
    if (pending_.size() >= kMaxPending || served->pending >= kMaxPendingPerSandbox) {
      reply(dnsErrorResponse(query, *question, 2));  // SERVFAIL: busy, try again
      continue;
    }
    uint16_t id = 0;
    for (int tries = 0; tries < 8; ++tries) {
      id = static_cast<uint16_t>(++next_id_ * 40503u);  // spread over the id space
      if (!pending_.count(id)) break;
    }
    if (pending_.count(id)) {
      reply(dnsErrorResponse(query, *question, 2));
      continue;
    }
    auto pending = std::make_unique<Pending>();
    pending->served = served;
    pending->client = client;
    pending->client_id = question->id;
    pending->name = question->name;
    pending->verdict = std::move(verdict);
    pending->deadline = std::chrono::steady_clock::now() + kUpstreamTimeout;
    const std::string forwarded = withDnsId(query, id);
    bool sent = false;
    for (const auto& upstream : upstreams_) {
      const int fd = upstream.ss_family == AF_INET ? upstream4_fd_ : upstream6_fd_;
      if (fd < 0) continue;
      sent |= ::sendto(fd, forwarded.data(), forwarded.size(), 0,
                       reinterpret_cast<const sockaddr*>(&upstream), lengthOf(upstream)) > 0;
    }
    if (!sent) {
      reply(dnsErrorResponse(query, *question, 2));
      continue;
    }
    ++served->pending;
    pending_[id] = std::move(pending);
  }
}

void DnsResolver::onUpstreamAnswer(int fd) {
  for (int round = 0; round < 64; ++round) {
    char buffer[4096];
    sockaddr_storage from{};
    socklen_t from_length = sizeof from;
    const ssize_t n =
        ::recvfrom(fd, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &from_length);
    if (n <= 0) return;
    const std::string_view answer(buffer, static_cast<size_t>(n));
    if (answer.size() < 12 || !(static_cast<uint8_t>(answer[2]) & 0x80)) continue;
    bool from_upstream = false;
    for (const auto& upstream : upstreams_) from_upstream |= sameAddress(upstream, from);
    if (!from_upstream) continue;
    const uint16_t id = static_cast<uint16_t>((static_cast<uint8_t>(answer[0]) << 8) |
                                              static_cast<uint8_t>(answer[1]));
    const auto it = pending_.find(id);
    if (it == pending_.end()) continue;  // a second upstream's answer, or a late one
    std::unique_ptr<Pending> pending = std::move(it->second);
    pending_.erase(it);
    const auto served = pending->served.lock();
    if (!served) continue;
    --served->pending;
    const auto addresses = parseDnsAnswers(answer);
    if (!addresses) continue;
    // Granted before the answer leaves, so the sandbox's first connect finds its address open.
    if (!addresses->empty()) grant_(served->id, pending->name, pending->verdict, *addresses);
    const std::string reply = withDnsId(answer, pending->client_id);
    (void)::sendto(served->fd, reply.data(), reply.size(), 0,
                   reinterpret_cast<const sockaddr*>(&pending->client), sizeof pending->client);
  }
}

void DnsResolver::expirePending() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second->deadline <= now) {
      if (const auto served = it->second->served.lock()) --served->pending;
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace grid
