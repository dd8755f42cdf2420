// Attacks through the port proxy (docs/ports.md), on every backend: a server that never answers
// or floods headers gets a bounded 504/502, bad ports are 400, nothing listening is a fast 502,
// a stopped sandbox is 409, share tokens open only their own sandbox's port, request smuggling
// is refused, and the proxy never reaches the host's own loopback services.
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

#include <chrono>

#include "port_test_support.h"

namespace grid::testing {
namespace {

using namespace std::chrono_literals;

class ContainmentPortsTest : public PortProxyTestBase {
 protected:
  void SetUp() override {
    PortProxyTestBase::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    if (onGvisorIsolation()) {
      EXPECT_EQ(request("GET", portPath(kTestServerPort)).code, "port_proxy_unsupported");
      GTEST_SKIP() << "the port proxy is unsupported on gVisor (checked: a clear 400)";
    }
  }

  // Sends raw bytes and returns everything the server answers until it closes (bounded wait).
  std::string rawExchange(const std::string& bytes) {
    Poco::Net::StreamSocket socket(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(server_->port())));
    socket.setReceiveTimeout(Poco::Timespan(30, 0));
    socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
    std::string answer;
    char buffer[4096];
    try {
      for (int n; (n = socket.receiveBytes(buffer, sizeof buffer)) > 0;) answer.append(buffer, n);
    } catch (const Poco::Exception&) {
    }
    return answer;
  }

  std::string authorization() const {
    return std::string("Authorization: Bearer ") + kPortTestToken + "\r\n";
  }
};

TEST_F(ContainmentPortsTest, AServerThatNeverAnswersGets504WithinTheDeadline) {
  const auto started = std::chrono::steady_clock::now();
  const ProxyAnswer answer = request("GET", portPath(kTestServerPort, "/never"));
  EXPECT_EQ(answer.status, 504) << answer.body;
  EXPECT_EQ(answer.code, "port_timeout");
  // The limit is 3 s here; a generous bound that detects a hang.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
}

TEST_F(ContainmentPortsTest, EndlessHeadersGet502) {
  const ProxyAnswer answer = request("GET", portPath(kTestServerPort, "/endless"));
  EXPECT_EQ(answer.status, 502) << answer.body;
  EXPECT_EQ(answer.code, "port_bad_response");
}

TEST_F(ContainmentPortsTest, PortsOutside1To65535OrNotNumbersAre400) {
  for (const char* port : {"0", "65536", "abc", "-1", "99999999999999999999"}) {
    const ProxyAnswer answer = request("GET", "/sandboxes/" + id_ + "/ports/" + port + "/");
    EXPECT_EQ(answer.status, 400) << port << ": " << answer.body;
    EXPECT_EQ(request("POST", "/sandboxes/" + id_ + "/shares/" + port).status, 400) << port;
  }
}

TEST_F(ContainmentPortsTest, NothingListeningIsAFast502) {
  const ProxyAnswer answer = request("GET", portPath(9, "/"));
  EXPECT_EQ(answer.status, 502) << answer.body;
  EXPECT_EQ(answer.code, "port_unreachable");
}

TEST_F(ContainmentPortsTest, TheHostsLoopbackIsNeverReached) {
  // A server on the host's loopback, on a port nothing in the sandbox listens on.
  Poco::Net::ServerSocket host_server(Poco::Net::SocketAddress("127.0.0.1", 0));
  const int port = host_server.address().port();
  const ProxyAnswer answer = request("GET", portPath(port, "/"));
  EXPECT_EQ(answer.status, 502) << answer.body;
  EXPECT_FALSE(host_server.poll(Poco::Timespan(0), Poco::Net::Socket::SELECT_READ))
      << "the proxy connected to the host's own port " << port;
}

TEST_F(ContainmentPortsTest, ASandboxNotRunningIs409) {
  CreateRequest create;
  auto created = manager_->create(std::move(create));
  ASSERT_TRUE(created.ok()) << created.error().message;
  const std::string other = created.value()->spec().id;
  const ProxyAnswer answer = request("GET", "/sandboxes/" + other + "/ports/8000/");
  EXPECT_EQ(answer.status, 409) << answer.body;
  EXPECT_EQ(request("POST", "/sandboxes/" + other + "/shares/8000").status, 409);
  ASSERT_TRUE(manager_->stop(other, true).ok());
}

TEST_F(ContainmentPortsTest, AShareTokenOpensNoOtherSandbox) {
  const std::string other = startSandbox();
  ASSERT_FALSE(other.empty());
  ASSERT_TRUE(startTestServer(other, "127.0.0.1", kTestServerPort));
  const std::string other_token = shareToken(other, kTestServerPort);
  const std::string own_token = shareToken(id_, kTestServerPort);
  ASSERT_NE(other_token, own_token);
  EXPECT_EQ(request("GET", portPath(kTestServerPort, "/?grid_share=" + other_token), "", "").status,
            401);
  EXPECT_EQ(
      request("GET", portPath(kTestServerPort, "/"), "", "", "grid_share=" + other_token).status,
      401);
  EXPECT_EQ(request("GET", portPath(kTestServerPort, "/?grid_share=" + own_token), "", "").status,
            200);
  // Stopping the other sandbox revokes its tokens.
  ASSERT_TRUE(manager_->stop(other, true).ok());
  EXPECT_EQ(request("GET", "/sandboxes/" + other + "/ports/8000/?grid_share=" + other_token, "", "")
                .status,
            401);
}

TEST_F(ContainmentPortsTest, RequestSmugglingIsRefused) {
  const std::string target =
      "POST " + portPath(kTestServerPort, "/echo") + " HTTP/1.1\r\nHost: x\r\n";
  const std::string attacks[] = {
      target + authorization() + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      target + authorization() + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
      target + authorization() + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
      target + authorization() + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
  };
  for (const std::string& attack : attacks) {
    const std::string answer = rawExchange(attack);
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 400") << attack << "\n---\n" << answer;
  }
  // The server still answers after the attacks.
  EXPECT_EQ(request("POST", portPath(kTestServerPort, "/echo"), "still-here").body, "still-here");
}

}  // namespace
}  // namespace grid::testing
