// local-namespace `network: true` against real traffic on this machine (root only). No
// outside network exists here: an "upstream" network namespace made by the fixture, joined
// to the host by a veth with a route, plays the Internet; servers run there, on the host and
// in sandboxes, and every case is checked from both ends. Everything is removed by RAII.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "archive_test_util.h"
#include "kernel/net_plan.h"
#include "runtime/local_backend.h"
#include "support/engine_guard.h"

namespace grid::localns {
namespace {

using image::testing::TempDir;

struct Output {
  std::string out;
  std::string err;
  std::optional<int> exit_code;
};

// A generous deadline only detects a hang; every case here ends in milliseconds.
constexpr auto kHangDeadline = std::chrono::seconds(30);

Output drain(ProcessChannel& channel) {
  Output output;
  auto deadline = Clock::now() + kHangDeadline;
  while (true) {
    auto r = channel.read(deadline);
    EXPECT_TRUE(r.ok());
    if (!r.ok() || r.value().status == ReadResult::Status::kEof) break;
    if (r.value().status == ReadResult::Status::kTimeout) {
      ADD_FAILURE() << "process did not finish";
      break;
    }
    (r.value().stream == OutputStream::kStdout ? output.out : output.err) += r.value().data;
  }
  output.exit_code = channel.exitCode();
  return output;
}

Output sh(SandboxBackend& backend, const std::string& id, const std::string& script) {
  auto channel = backend.startProcess(id, {{"/bin/bash", "-c", script}, false});
  EXPECT_TRUE(channel.ok()) << channel.error().message;
  if (!channel.ok()) return {};
  return drain(*channel.value());
}

bool run(const std::string& command) { return std::system(command.c_str()) == 0; }

// A TCP server whose socket is made inside `netns_fd` (-1: the host's), answering "hello"
// and recording its peers' addresses.
class TcpServer {
 public:
  TcpServer(int netns_fd, const std::string& address) {
    std::thread maker([&] {
      if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) return;
      listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    });
    maker.join();
    EXPECT_GE(listen_fd_, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    ::inet_pton(AF_INET, address.c_str(), &sin.sin_addr);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0) << address;
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    socklen_t len = sizeof(sin);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sin), &len);
    port_ = ntohs(sin.sin_port);
    acceptor_ = std::thread([this] {
      while (true) {
        sockaddr_in peer{};
        socklen_t peer_len = sizeof(peer);
        int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &peer_len, SOCK_CLOEXEC);
        if (fd < 0) return;  // shut down
        char text[INET_ADDRSTRLEN] = {};
        ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof(text));
        {
          std::lock_guard lock(mutex_);
          peers_.push_back(text);
        }
        (void)!::write(fd, "hello\n", 6);
        ::close(fd);
      }
    });
  }
  ~TcpServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  std::vector<std::string> peers() {
    std::lock_guard lock(mutex_);
    return peers_;
  }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::string> peers_;
};

// The stand-in for the Internet: a namespace behind a veth, 198.18.N.2 seen from the host's
// 198.18.N.1 (RFC 2544 benchmarking space).
class UpstreamNamespace {
 public:
  UpstreamNamespace() {
    const int n = static_cast<int>(::getpid() % 200) + 20;
    // Not "grid...": /run/netns/<name> is a mount, and the leftover check counts "/grid" ones.
    name_ = "netup-" + std::to_string(::getpid());
    host_link_ = "gup" + std::to_string(::getpid());
    host_address_ = "198.18." + std::to_string(n) + ".1";
    address_ = "198.18." + std::to_string(n) + ".2";
    ok_ = run("ip netns add " + name_) &&
          run("ip link add " + host_link_ + " type veth peer name eth0 netns " + name_) &&
          run("ip addr add " + host_address_ + "/24 dev " + host_link_) &&
          run("ip link set " + host_link_ + " up") && run("ip -n " + name_ + " link set lo up") &&
          run("ip -n " + name_ + " addr add " + address_ + "/24 dev eth0") &&
          run("ip -n " + name_ + " link set eth0 up");
    netns_fd_ = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
    ok_ = ok_ && netns_fd_ >= 0;
  }
  ~UpstreamNamespace() {
    if (netns_fd_ >= 0) ::close(netns_fd_);
    run("ip link del " + host_link_ + " 2>/dev/null");
    run("ip netns del " + name_ + " 2>/dev/null");
  }
  bool ok() const { return ok_; }
  int netnsFd() const { return netns_fd_; }
  const std::string& address() const { return address_; }
  const std::string& hostAddress() const { return host_address_; }

 private:
  bool ok_ = false;
  std::string name_, host_link_, host_address_, address_;
  int netns_fd_ = -1;
};

// `bash /dev/tcp` from inside a sandbox: prints the server's greeting, or fails.
std::string connectScript(const std::string& address, int port) {
  return "exec 3<>/dev/tcp/" + address + "/" + std::to_string(port) + " && head -c 6 <&3";
}

bool linkExists(const std::string& name) { return ::if_nametoindex(name.c_str()) != 0; }

class NetworkTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    GRID_REQUIRE_ENGINE(::geteuid() == 0, "root (network namespaces, veths, nftables)");
    GRID_REQUIRE_ENGINE(run("command -v nft >/dev/null && command -v ip >/dev/null"),
                        "nft and ip (apt-get install nftables iproute2)");
    cgroup_root_ = "grid-nettest-" + std::to_string(::getpid());
    ASSERT_EQ(::chmod(tmp_.path().c_str(), 0711), 0);
    config_.instance = "nettest-" + std::to_string(::getpid());
    config_.settings = {{"images_dir", tmp_.path() + "/images"},
                        {"state_dir", tmp_.path() + "/state"},
                        {"cgroup_root", cgroup_root_},
                        {"userns", GetParam() ? "true" : "false"}};
    backend_ = makeBackend();
    ASSERT_TRUE(backend_);
    upstream_ = std::make_unique<UpstreamNamespace>();
    ASSERT_TRUE(upstream_->ok()) << "could not build the upstream namespace";
  }

  void TearDown() override {
    backend_.reset();
    upstream_.reset();
    for (const char* controller : {"memory", "pids", "cpu", "freezer", "cpuacct"}) {
      ::rmdir(("/sys/fs/cgroup/" + std::string(controller) + "/" + cgroup_root_).c_str());
    }
    ::rmdir(("/sys/fs/cgroup/" + cgroup_root_).c_str());
    // Nothing of this instance is left on the host.
    const std::string table = hostTableName(config_.instance);
    EXPECT_FALSE(run("nft list table inet " + table + " >/dev/null 2>&1")) << table;
    EXPECT_FALSE(run("iptables -w -S FORWARD 2>/dev/null | grep -q " + table)) << table;
  }

  std::unique_ptr<LocalNamespaceBackend> makeBackend() {
    auto backend = std::make_unique<LocalNamespaceBackend>();
    auto r = backend->init(config_);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? std::move(backend) : nullptr;
  }

  void create(const std::string& id, bool network) {
    SandboxSpec spec;
    spec.id = id;
    spec.image = "host";
    spec.network = network;
    auto r = backend_->createSandbox(spec);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }

  std::string sandboxAddress(const std::string& id) {
    auto out = sh(*backend_, id, "ip -4 -o addr show dev eth0 | awk '{print $4}'");
    return out.out.substr(0, out.out.find('/'));
  }

  TempDir tmp_;
  std::string cgroup_root_;
  BackendConfig config_;
  std::unique_ptr<LocalNamespaceBackend> backend_;
  std::unique_ptr<UpstreamNamespace> upstream_;
};

TEST_P(NetworkTest, SandboxReachesUpstreamThroughNat) {
  TcpServer server(upstream_->netnsFd(), upstream_->address());
  create("net-a", true);
  const std::string host_link = hostLinkName("net-a");
  EXPECT_TRUE(linkExists(host_link));
  // Inside: eth0 with a pool address, a default route via the host end, a resolver.
  auto out = sh(*backend_, "net-a", "ip -4 -o addr show dev eth0; ip route");
  EXPECT_NE(out.out.find("inet 10.89."), std::string::npos) << out.out << out.err;
  EXPECT_NE(out.out.find("default via 10.89."), std::string::npos) << out.out;
  // The host's resolvers minus loopback ones (this host's own files, planned the same way).
  bool no_resolver = false;
  const std::string expected_resolv = planResolvConf(
      {}, image::testing::readFileText("/etc/resolv.conf"),
      image::testing::readFileText("/run/systemd/resolve/resolv.conf"), &no_resolver);
  out = sh(*backend_, "net-a", "cat /etc/resolv.conf");
  EXPECT_EQ(out.out, expected_resolv);
  EXPECT_EQ(out.out.find("nameserver 127."), std::string::npos) << out.out;

  out = sh(*backend_, "net-a", connectScript(upstream_->address(), server.port()));
  EXPECT_EQ(out.out, "hello\n") << out.err;
  EXPECT_EQ(out.exit_code, 0);
  // The other end: the connection came from the host's address on that link (NAT).
  EXPECT_EQ(server.peers(), std::vector<std::string>{upstream_->hostAddress()});

  ASSERT_TRUE(backend_->destroySandbox("net-a").ok());
  EXPECT_FALSE(linkExists(host_link)) << "veth left behind";
}

TEST_P(NetworkTest, NameserversFromTheSpec) {
  SandboxSpec spec;
  spec.id = "net-dns";
  spec.image = "host";
  spec.network = true;
  spec.nameservers = {"127.0.0.53", "192.0.2.10"};
  ASSERT_TRUE(backend_->createSandbox(spec).ok());
  auto out = sh(*backend_, "net-dns", "grep '^nameserver' /etc/resolv.conf");
  EXPECT_EQ(out.out, "nameserver 127.0.0.53\nnameserver 192.0.2.10\n");
  spec.id = "net-dns-bad";
  spec.nameservers = {"1.2.3.4\nnameserver 6.6.6.6"};
  auto r = backend_->createSandbox(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST_P(NetworkTest, SandboxesCannotReachEachOther) {
  create("net-srv", true);
  create("net-cli", true);
  const std::string address = sandboxAddress("net-srv");
  ASSERT_NE(address.rfind("10.89.", 0), std::string::npos) << address;
  auto server = backend_->startProcess(
      "net-srv", {{"python3", "-c",
                   "import socket\n"
                   "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                   "s.bind(('0.0.0.0', 8080)); s.listen()\n"
                   "print('listening', flush=True)\n"
                   "c, a = s.accept(); print('accepted', a[0], flush=True)\n"},
                  false});
  ASSERT_TRUE(server.ok()) << server.error().message;
  auto first = server.value()->read(Clock::now() + kHangDeadline);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first.value().data, "listening\n");

  auto started = std::chrono::steady_clock::now();
  auto out = sh(*backend_, "net-cli", connectScript(address, 8080));
  EXPECT_NE(out.exit_code, 0) << "sandbox B reached sandbox A";
  EXPECT_NE(out.err.find("refused"), std::string::npos) << out.err;  // a reset, not a hang
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  // A's listener was there all along: the only connection it sees is its own.
  out = sh(*backend_, "net-srv", connectScript("127.0.0.1", 8080));
  auto rest = drain(*server.value());
  EXPECT_EQ(rest.out, "accepted 127.0.0.1\n");
}

TEST_P(NetworkTest, HostIsUnreachable) {
  TcpServer loopback(-1, "127.0.0.1");
  TcpServer link_side(-1, upstream_->hostAddress());
  TcpServer any(-1, "0.0.0.0");
  create("net-h", true);
  auto gateway = sh(*backend_, "net-h", "ip route | awk '/^default/ {print $3}'").out;
  gateway.erase(gateway.find_last_not_of('\n') + 1);
  ASSERT_EQ(gateway.rfind("10.89.", 0), 0u) << gateway;
  for (const auto& [address, port] :
       std::vector<std::pair<std::string, int>>{{"127.0.0.1", loopback.port()},
                                                {upstream_->hostAddress(), link_side.port()},
                                                {gateway, any.port()},
                                                {upstream_->hostAddress(), any.port()}}) {
    auto started = std::chrono::steady_clock::now();
    auto out = sh(*backend_, "net-h", connectScript(address, port));
    EXPECT_NE(out.exit_code, 0) << address << ":" << port << " reached: " << out.out;
    EXPECT_NE(out.err.find("refused"), std::string::npos) << address << ": " << out.err;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  }
  EXPECT_TRUE(loopback.peers().empty());
  EXPECT_TRUE(link_side.peers().empty());
  EXPECT_TRUE(any.peers().empty());
}

TEST_P(NetworkTest, NetworkOffIsLoopbackOnly) {
  TcpServer server(upstream_->netnsFd(), upstream_->address());
  create("net-off", false);
  auto out = sh(*backend_, "net-off", "ip -o link | awk -F': ' '{print $2}'");
  EXPECT_EQ(out.out, "lo\n") << out.err;
  out = sh(*backend_, "net-off", connectScript(upstream_->address(), server.port()));
  EXPECT_NE(out.exit_code, 0);
  EXPECT_NE(out.err.find("unreachable"), std::string::npos) << out.err;
  EXPECT_TRUE(server.peers().empty());
}

// A server that died without destroying anything: the next one removes the sandbox, its veth
// and the instance's rules.
TEST_P(NetworkTest, LeftoversOfACrashedServerAreRemoved) {
  create("net-crash", true);
  const std::string host_link = hostLinkName("net-crash");
  ASSERT_TRUE(linkExists(host_link));
  // Simulated crash: the backend object is leaked, its destructor never runs.
  auto* crashed = backend_.release();
  (void)crashed;
  backend_ = makeBackend();
  ASSERT_TRUE(backend_);
  auto removed = backend_->removeLeftovers();
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(removed.value(), std::vector<std::string>{"net-crash"});
  EXPECT_FALSE(linkExists(host_link)) << "veth left behind";
  EXPECT_FALSE(run("nft list table inet " + hostTableName(config_.instance) + " >/dev/null 2>&1"));
}

INSTANTIATE_TEST_SUITE_P(Userns, NetworkTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "userns" : "no_userns"; });

}  // namespace
}  // namespace grid::localns
