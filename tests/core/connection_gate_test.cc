// The HTTP front door: which bytes make a request ready, and a real gate on a loopback socket
// (dispatch, readmission, refusals, and slow clients that must not hold it up).
#include "net/connection_gate.h"

#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace grid {
namespace {

using namespace std::chrono_literals;

TEST(ScanRequestHeadTest, WaitsForTheEndOfTheHead) {
  EXPECT_EQ(scanRequestHead("", 1024), HeadScan::kIncomplete);
  EXPECT_EQ(scanRequestHead("GET / HTTP/1.1\r\nHost: x\r\n", 1024), HeadScan::kIncomplete);
  EXPECT_EQ(scanRequestHead("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1024), HeadScan::kReady);
  EXPECT_EQ(scanRequestHead("GET / HTTP/1.1\nHost: x\n\n", 1024), HeadScan::kReady);
}

TEST(ScanRequestHeadTest, WaitsForAnAnnouncedBodyThatFitsTheWindow) {
  const std::string head = "POST /x HTTP/1.1\r\ncontent-LENGTH:  5 \r\n\r\n";
  EXPECT_EQ(scanRequestHead(head, 1024), HeadScan::kIncomplete);
  EXPECT_EQ(scanRequestHead(head + "1234", 1024), HeadScan::kIncomplete);
  EXPECT_EQ(scanRequestHead(head + "12345", 1024), HeadScan::kReady);
  // A body larger than the window: ready once the window is full (the worker reads the rest).
  const std::string big = "POST /x HTTP/1.1\r\nContent-Length: 100000\r\n\r\n";
  EXPECT_EQ(scanRequestHead(big + std::string(100, 'a'), 1024), HeadScan::kIncomplete);
  EXPECT_EQ(scanRequestHead(big + std::string(1024 - big.size(), 'a'), 1024), HeadScan::kReady);
}

TEST(ScanRequestHeadTest, DoesNotWaitForBodiesTheClientHoldsBack) {
  // Expect: 100-continue waits for our answer; chunked and malformed lengths go to the parser.
  EXPECT_EQ(scanRequestHead("POST /x HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
                            1024),
            HeadScan::kReady);
  EXPECT_EQ(scanRequestHead("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 1024),
            HeadScan::kReady);
  EXPECT_EQ(scanRequestHead("POST /x HTTP/1.1\r\nContent-Length: x5\r\n\r\n", 1024),
            HeadScan::kReady);
}

TEST(ScanRequestHeadTest, AHeadBeyondTheWindowIsTooLarge) {
  const std::string head = "GET / HTTP/1.1\r\nX: " + std::string(2000, 'a');
  EXPECT_EQ(scanRequestHead(head.substr(0, 1000), 1024), HeadScan::kIncomplete);
  EXPECT_EQ(scanRequestHead(head, 1024), HeadScan::kTooLarge);
  EXPECT_EQ(scanRequestHead(head + "\r\n\r\n", 1024), HeadScan::kTooLarge);
}

// A gate on a loopback port whose dispatch queues the ready sockets for the test.
class ConnectionGateTest : public ::testing::Test {
 protected:
  void startGate(ConnectionGateLimits limits = {}) {
    Poco::Net::ServerSocket listener(Poco::Net::SocketAddress("127.0.0.1", 0), 1024);
    port_ = listener.address().port();
    gate_ = std::make_unique<ConnectionGate>(listener, limits,
                                             [this](const Poco::Net::StreamSocket& socket) {
                                               std::lock_guard lock(mutex_);
                                               ready_.push_back(socket);
                                               changed_.notify_all();
                                             });
    ASSERT_TRUE(gate_->start().ok());
  }
  void TearDown() override {
    if (gate_) gate_->stop();
  }

  Poco::Net::StreamSocket connect() {
    Poco::Net::StreamSocket client(Poco::Net::SocketAddress("127.0.0.1", port_));
    client.setReceiveTimeout(Poco::Timespan(30, 0));
    return client;
  }

  // The next dispatched connection; fails the test after 30 s.
  Poco::Net::StreamSocket nextReady() {
    std::unique_lock lock(mutex_);
    EXPECT_TRUE(changed_.wait_for(lock, 30s, [&] { return !ready_.empty(); }));
    if (ready_.empty()) return {};
    Poco::Net::StreamSocket socket = ready_.front();
    ready_.pop_front();
    return socket;
  }

  size_t readyCount() {
    std::lock_guard lock(mutex_);
    return ready_.size();
  }

  // What the server side can read of a dispatched connection right now.
  static std::string peek(Poco::Net::StreamSocket& socket) {
    std::string buffer(4096, '\0');
    const int n = socket.receiveBytes(buffer.data(), static_cast<int>(buffer.size()), MSG_PEEK);
    return buffer.substr(0, static_cast<size_t>(std::max(n, 0)));
  }

  // Everything the client receives until the server closes.
  static std::string readAll(Poco::Net::StreamSocket& client) {
    std::string all;
    char buffer[4096];
    try {
      int n;
      while ((n = client.receiveBytes(buffer, sizeof buffer)) > 0) {
        all.append(buffer, static_cast<size_t>(n));
      }
    } catch (const Poco::Net::ConnectionResetException&) {
      // closed with a reset (e.g. never accepted before the gate stopped): still closed
    }
    return all;
  }

  // Plays a worker: takes the client's "GET /a" and gives the connection back to the gate.
  void serveOneRequestAndReadmit(Poco::Net::StreamSocket& client) {
    const std::string request = "GET /a HTTP/1.1\r\n\r\n";
    send(client, request);
    Poco::Net::StreamSocket server = nextReady();
    std::string consumed(request.size(), '\0');
    ASSERT_EQ(server.receiveBytes(consumed.data(), static_cast<int>(consumed.size())),
              static_cast<int>(request.size()));
    EXPECT_EQ(consumed, request);
    gate_->readmit(server);
  }

  static void send(Poco::Net::StreamSocket& client, const std::string& bytes) {
    client.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
  }

  std::unique_ptr<ConnectionGate> gate_;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Poco::Net::StreamSocket> ready_;
};

TEST_F(ConnectionGateTest, DispatchesAConnectionOnceItsRequestIsComplete) {
  startGate();
  auto client = connect();
  send(client, "POST /sandboxes HTTP/1.1\r\nContent-Length: 2\r\n\r\n");
  send(client, "{}");
  auto server = nextReady();
  EXPECT_EQ(peek(server), "POST /sandboxes HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_EQ(readyCount(), 0u);
}

TEST_F(ConnectionGateTest, SlowClientsDoNotHoldUpOthers) {
  startGate();
  std::vector<Poco::Net::StreamSocket> slow;
  for (int i = 0; i < 500; ++i) {
    slow.push_back(connect());
    send(slow.back(), "GET /healthz HTTP/1.1\r\nHo");
  }
  auto client = connect();
  send(client, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto server = nextReady();
  EXPECT_EQ(peek(server), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  // One of the slow ones finishes its request: now it is served too.
  send(slow[7], "st: x\r\n\r\n");
  server = nextReady();
  EXPECT_EQ(peek(server), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(readyCount(), 0u);
}

TEST_F(ConnectionGateTest, AReadmittedConnectionIsDispatchedForItsNextRequest) {
  startGate();
  auto client = connect();
  serveOneRequestAndReadmit(client);
  send(client, "GET /b HTTP/1.1\r\n\r\n");
  auto server = nextReady();
  EXPECT_EQ(peek(server), "GET /b HTTP/1.1\r\n\r\n");
}

TEST_F(ConnectionGateTest, AnIncompleteRequestIsAnswered408AndClosed) {
  ConnectionGateLimits limits;
  limits.head_timeout = 200ms;
  startGate(limits);
  auto client = connect();
  send(client, "GET /healthz HTTP/1.1\r\nHo");
  const std::string answer = readAll(client);
  EXPECT_EQ(answer.rfind("HTTP/1.1 408 Request Timeout\r\n", 0), 0u) << answer;
  EXPECT_NE(answer.find("\"code\":\"request_timeout\""), std::string::npos) << answer;
  EXPECT_EQ(readyCount(), 0u);
}

TEST_F(ConnectionGateTest, AnIdleKeptAliveConnectionIsClosedSilently) {
  ConnectionGateLimits limits;
  limits.idle_timeout = 200ms;
  startGate(limits);
  auto client = connect();
  serveOneRequestAndReadmit(client);  // the gate holds the only reference of the server side
  EXPECT_EQ(readAll(client), "");
}

TEST_F(ConnectionGateTest, AnOversizedHeadIsAnswered431) {
  ConnectionGateLimits limits;
  limits.window = 1024;
  startGate(limits);
  auto client = connect();
  send(client, "GET / HTTP/1.1\r\nX: " + std::string(4000, 'a') + "\r\n\r\n");
  const std::string answer = readAll(client);
  EXPECT_EQ(answer.rfind("HTTP/1.1 431 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("\"code\":\"request_header_too_large\""), std::string::npos) << answer;
  EXPECT_EQ(readyCount(), 0u);
}

TEST_F(ConnectionGateTest, StopClosesWaitingConnections) {
  startGate();
  auto client = connect();
  send(client, "GET /healthz HTTP/1.1\r\nHo");
  gate_->stop();
  EXPECT_EQ(readAll(client), "");
}

}  // namespace
}  // namespace grid
