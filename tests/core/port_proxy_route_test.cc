// The port proxy's HTTP handling end to end, without an engine: a fake backend whose "sandbox
// network namespace" is this process's own, so the proxy reaches servers this test runs on
// 127.0.0.1 (a Poco HTTP server, and raw sockets that misbehave). The conformance suite runs
// the same against real sandboxes (port_proxy_conformance_test.cc, containment_ports_test.cc).
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/StreamCopier.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

#include "api/api_server.h"
#include "sandbox/sandbox_manager.h"

namespace grid {
namespace {

using namespace std::chrono_literals;

// The session shell's side of the protocol, enough for a start (see sandbox_manager_test.cc).
class FakeShellChannel : public ProcessChannel {
 public:
  Result<void> write(std::string_view data) override {
    if (token_.empty()) {
      size_t run = 0;
      for (size_t i = 0; i < data.size() && token_.empty(); ++i) {
        const char c = data[i];
        run = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ? run + 1 : 0;
        if (run == 32) token_ = std::string(data.substr(i - 31, 32));
      }
      if (!token_.empty()) pending_ += token_ + ":ready:7:7\n" + token_ + ":done:0\n";
    }
    return {};
  }
  void closeStdin() override {}
  Result<ReadResult> read(Clock::time_point) override {
    ReadResult r;
    r.status = pending_.empty() ? ReadResult::Status::kTimeout : ReadResult::Status::kData;
    r.data.swap(pending_);
    return r;
  }
  std::optional<int> exitCode() override { return std::nullopt; }

 private:
  std::string token_;
  std::string pending_;
};

class OwnNamespaceBackend : public SandboxBackend {
 public:
  std::string name() const override { return "fake"; }
  Result<void> init(const BackendConfig&) override { return {}; }
  Result<std::vector<std::string>> removeLeftovers() override { return std::vector<std::string>{}; }
  Result<void> createSandbox(const SandboxSpec&) override { return {}; }
  Result<std::unique_ptr<ProcessChannel>> startProcess(const std::string&,
                                                       const ProcessSpec&) override {
    return std::unique_ptr<ProcessChannel>(new FakeShellChannel);
  }
  Result<void> destroySandbox(const std::string&) override { return {}; }
  Result<int> openNetworkNamespace(const std::string&) override {
    const int fd = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(ErrorCode::kInternal, "open(/proc/self/ns/net) failed");
    return fd;
  }
};

// Echoes method, target and body; /big streams 8 MiB.
class EchoHandler : public Poco::Net::HTTPRequestHandler {
 public:
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    if (request.getURI() == "/ws") {  // WebSocket echo until the peer closes
      Poco::Net::WebSocket socket(request, response);
      socket.setReceiveTimeout(Poco::Timespan(20, 0));
      Poco::Buffer<char> frame(0);
      for (int flags = 0;;) {
        frame.resize(0);
        const int n = socket.receiveFrame(frame, flags);
        if (n <= 0 || (flags & Poco::Net::WebSocket::FRAME_OP_BITMASK) ==
                          Poco::Net::WebSocket::FRAME_OP_CLOSE) {
          return;
        }
        socket.sendFrame(frame.begin(), n, flags);
      }
    }
    std::string body;
    Poco::StreamCopier::copyToString(request.stream(), body);
    if (request.getURI() == "/big") {
      response.setChunkedTransferEncoding(true);
      std::ostream& out = response.send();
      const std::string block(1 << 16, 'b');
      for (int i = 0; i < 128; ++i) out << block;
      return;
    }
    const std::string answer = request.getMethod() + " " + request.getURI() +
                               " auth=" + request.get("Authorization", "-") +
                               " prefix=" + request.get("X-Forwarded-Prefix", "-") +
                               " body=" + body;
    response.setContentLength(static_cast<std::streamsize>(answer.size()));
    response.send() << answer;
  }
};
class EchoFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new EchoHandler;
  }
};

class PortProxyRouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "entering a network namespace needs root";
    ::signal(SIGPIPE, SIG_IGN);  // as grid serve does: a peer gone is an error, not a signal
    ManagerOptions manager_options;
    manager_options.backend_name = "fake";
    manager_options.default_image = "img";
    manager_ = std::make_unique<SandboxManager>(backend_, manager_options);
    id_ = manager_->create({}).value()->spec().id;
    ASSERT_TRUE(manager_->start(id_).ok());
    ApiServerOptions options;
    options.port = 0;
    options.threads = 4;
    options.auth_token = "tok";
    options.port_proxy.response_timeout = 1s;
    options.port_proxy.io_timeout = 2s;
    api_ = std::make_unique<ApiServer>(*manager_, options);
    ASSERT_TRUE(api_->start().ok());
    echo_ = std::make_unique<Poco::Net::HTTPServer>(
        new EchoFactory, Poco::Net::ServerSocket(Poco::Net::SocketAddress("127.0.0.1", 0)),
        new Poco::Net::HTTPServerParams);
    echo_->start();
  }
  void TearDown() override {
    if (echo_) echo_->stopAll(true);
    if (api_) api_->stop();
    if (manager_) manager_->shutdown();
  }

  struct Answer {
    int status = 0;
    std::string body;
    std::string cookie;
  };
  Answer call(const std::string& method, const std::string& path, const std::string& body = "",
              const std::string& token = "tok", const std::string& cookie = "") {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(api_->port()));
    session.setTimeout(Poco::Timespan(20, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token.empty()) request.set("Authorization", "Bearer " + token);
    if (!cookie.empty()) request.set("Cookie", cookie);
    if (!body.empty()) request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    Answer answer;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), answer.body);
    answer.status = response.getStatus();
    answer.cookie = response.get("Set-Cookie", "");
    return answer;
  }
  std::string port(int p, const std::string& rest) {
    return "/sandboxes/" + id_ + "/ports/" + std::to_string(p) + rest;
  }

  OwnNamespaceBackend backend_;
  std::unique_ptr<SandboxManager> manager_;
  std::unique_ptr<ApiServer> api_;
  std::unique_ptr<Poco::Net::HTTPServer> echo_;
  std::string id_;
};

TEST_F(PortProxyRouteTest, RelaysRequestsAndAnswers) {
  const int p = echo_->port();
  Answer a = call("GET", port(p, "/x/y?q=1&grid_share=zz"));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "GET /x/y?q=1 auth=- prefix=" + port(p, "") + " body=");
  a = call("POST", port(p, "/p"), "hello");
  EXPECT_EQ(a.body, "POST /p auth=- prefix=" + port(p, "") + " body=hello");
  a = call("GET", port(p, "/big"));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body.size(), 128u << 16);
}

TEST_F(PortProxyRouteTest, RelaysAWebSocket) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(api_->port()));
  Poco::Net::HTTPRequest upgrade("GET", port(echo_->port(), "/ws"),
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  upgrade.set("Authorization", "Bearer tok");
  Poco::Net::HTTPResponse response;
  Poco::Net::WebSocket socket(session, upgrade, response);
  socket.setReceiveTimeout(Poco::Timespan(20, 0));
  for (const std::string& message : {std::string("hello"), std::string(300000, 'w')}) {
    socket.sendFrame(message.data(), static_cast<int>(message.size()));
    Poco::Buffer<char> echoed(0);
    int flags = 0;
    socket.receiveFrame(echoed, flags);
    EXPECT_EQ(std::string(echoed.begin(), echoed.size()), message);
  }
  socket.shutdown();
}

TEST_F(PortProxyRouteTest, RefusesBadPortsTokensAndSmuggling) {
  EXPECT_EQ(call("GET", port(0, "/")).status, 400);
  EXPECT_EQ(call("GET", "/sandboxes/" + id_ + "/ports/abc/").status, 400);
  EXPECT_EQ(call("GET", port(echo_->port(), "/"), "", "").status, 401);
  Poco::Net::ServerSocket closed(Poco::Net::SocketAddress("127.0.0.1", 0));
  const int unused = closed.address().port();
  closed.close();
  EXPECT_EQ(call("GET", port(unused, "/")).status, 502);
  Poco::Net::StreamSocket raw(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(api_->port())));
  const std::string attack = "POST " + port(echo_->port(), "/") +
                             " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\nContent-Length: "
                             "5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
  raw.sendBytes(attack.data(), static_cast<int>(attack.size()));
  raw.setReceiveTimeout(Poco::Timespan(20, 0));
  char buffer[64] = {};
  raw.receiveBytes(buffer, 12);
  EXPECT_EQ(std::string(buffer, 12), "HTTP/1.1 400");
}

TEST_F(PortProxyRouteTest, ShareTokensOpenTheirPortOnly) {
  const int p = echo_->port();
  Answer shared = call("POST", "/sandboxes/" + id_ + "/shares/" + std::to_string(p));
  ASSERT_EQ(shared.status, 200) << shared.body;
  const size_t at = shared.body.find("\"token\":\"") + 9;
  const std::string token = shared.body.substr(at, 64);
  Answer a = call("GET", port(p, "/s?grid_share=" + token), "", "");
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_NE(a.cookie.find("grid_share=" + token), std::string::npos);
  EXPECT_EQ(call("GET", port(p, "/c"), "", "", "grid_share=" + token).status, 200);
  EXPECT_EQ(call("GET", port(p + 1, "/?grid_share=" + token), "", "").status, 401);
  EXPECT_EQ(call("DELETE", "/sandboxes/" + id_ + "/shares/" + std::to_string(p)).status, 200);
  EXPECT_EQ(call("GET", port(p, "/?grid_share=" + token), "", "").status, 401);
}

TEST_F(PortProxyRouteTest, SilentOrFloodingServersGetBoundedErrors) {
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  std::atomic<bool> done{false};
  std::thread server([&] {
    // Accepts two connections: the first never answers, the second floods headers.
    Poco::Net::StreamSocket first = silent.acceptConnection();
    Poco::Net::StreamSocket second = silent.acceptConnection();
    const std::string start = "HTTP/1.1 200 OK\r\n";
    second.sendBytes(start.data(), static_cast<int>(start.size()));
    const std::string line = "X-Flood: " + std::string(100, 'a') + "\r\n";
    try {
      while (!done) second.sendBytes(line.data(), static_cast<int>(line.size()));
    } catch (const Poco::Exception&) {
    }
  });
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(call("GET", port(silent.address().port(), "/")).status, 504);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
  EXPECT_EQ(call("GET", port(silent.address().port(), "/")).status, 502);
  done = true;
  server.join();
}

// A body the server never reads (a 401 answers before any route looks at it) must not be taken
// for the next request on the connection: that would let a caller without the token smuggle one.
TEST_F(PortProxyRouteTest, AnUnreadBodyIsNotTakenForTheNextRequest) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(api_->port()));
  session.setKeepAlive(true);
  session.setTimeout(Poco::Timespan(20, 0));
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  Poco::Net::HTTPRequest post("POST", "/sandboxes/a/b/c/d/e", Poco::Net::HTTPMessage::HTTP_1_1);
  post.setKeepAlive(true);
  post.setContentLength(static_cast<std::streamsize>(smuggled.size()));
  session.sendRequest(post) << smuggled;
  Poco::Net::HTTPResponse first;
  std::string ignored;
  Poco::StreamCopier::copyToString(session.receiveResponse(first), ignored);
  EXPECT_EQ(first.getStatus(), 401);
  Poco::Net::HTTPRequest health("GET", "/healthz", Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(health);
  Poco::Net::HTTPResponse second;
  std::string body;
  Poco::StreamCopier::copyToString(session.receiveResponse(second), body);
  EXPECT_EQ(second.getStatus(), 200) << body;
  EXPECT_NE(body.find("\"status\""), std::string::npos) << body;
}

}  // namespace
}  // namespace grid
