// The port proxy against a real server in the sandbox (docs/ports.md), on every backend: GET
// with a query, bodies both ways (Content-Length and chunked), a large download streamed, a
// server bound to any address, WebSocket echo, the token and share tokens. Sandboxes here have
// no network: the proxy reaches their loopback all the same. On gVisor the proxy answers a
// clear "unsupported".
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/WebSocket.h>

#include "port_test_support.h"

namespace grid::testing {
namespace {

class PortProxyTest : public PortProxyTestBase {
 protected:
  void SetUp() override {
    PortProxyTestBase::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    if (onGvisorIsolation()) {
      const ProxyAnswer answer = request("GET", portPath(kTestServerPort));
      EXPECT_EQ(answer.status, 400) << answer.body;
      EXPECT_EQ(answer.code, "port_proxy_unsupported") << answer.body;
      GTEST_SKIP() << "the port proxy is unsupported on gVisor (checked: a clear 400)";
    }
  }

  Poco::JSON::Object::Ptr echoed(const ProxyAnswer& answer) {
    return Poco::JSON::Parser().parse(answer.body).extract<Poco::JSON::Object::Ptr>();
  }
};

TEST_F(PortProxyTest, GetKeepsThePathAndQueryAndDropsGridsToken) {
  const ProxyAnswer answer = request("GET", portPath(kTestServerPort, "/echo/a%20b?x=1&y=two"));
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto echo = echoed(answer);
  EXPECT_EQ(echo->getValue<std::string>("path"), "/echo/a%20b?x=1&y=two");
  auto headers = echo->getObject("headers");
  EXPECT_FALSE(headers->has("authorization")) << answer.body;
  EXPECT_EQ(headers->getValue<std::string>("host"), "127.0.0.1:8000");
  EXPECT_EQ(headers->getValue<std::string>("x-forwarded-prefix"), portPath(kTestServerPort, ""));
  EXPECT_EQ(headers->getValue<std::string>("x-forwarded-proto"), "http");
  EXPECT_EQ(headers->getValue<std::string>("x-forwarded-for"), "127.0.0.1");
  // The port alone is the server's root.
  EXPECT_EQ(echoed(request("GET", portPath(kTestServerPort, "")))->getValue<std::string>("path"),
            "/");
}

TEST_F(PortProxyTest, EveryMethodIsRelayed) {
  for (const char* method : {"PUT", "PATCH"}) {
    const ProxyAnswer answer =
        request(method, portPath(kTestServerPort, "/e"), "body-" + std::string(method));
    EXPECT_EQ(answer.status, 200) << method;
    EXPECT_EQ(answer.body, "body-" + std::string(method));
  }
  EXPECT_EQ(
      echoed(request("DELETE", portPath(kTestServerPort, "/d")))->getValue<std::string>("method"),
      "DELETE");
  const ProxyAnswer head = request("HEAD", portPath(kTestServerPort, "/big?n=1234"));
  EXPECT_EQ(head.status, 501);  // the test server has no HEAD: its own answer comes through
}

TEST_F(PortProxyTest, PostBodiesAreEchoedWithLengthOrChunked) {
  std::string body;
  for (int i = 0; i < 3000; ++i) body += "line " + std::to_string(i) + "\n";
  EXPECT_EQ(request("POST", portPath(kTestServerPort, "/echo"), body).body, body);

  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server_->port()));
  session.setTimeout(Poco::Timespan(60, 0));
  Poco::Net::HTTPRequest chunked("POST", portPath(kTestServerPort, "/echo"),
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  chunked.set("Authorization", std::string("Bearer ") + kPortTestToken);
  chunked.setChunkedTransferEncoding(true);
  session.sendRequest(chunked) << body;
  Poco::Net::HTTPResponse response;
  std::string echoed_body;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), echoed_body);
  EXPECT_EQ(response.getStatus(), 200);
  EXPECT_EQ(echoed_body, body);
}

TEST_F(PortProxyTest, LargeBodiesStreamBothWaysInBoundedMemory) {
  ASSERT_TRUE(resetPeakRss());
  const int64_t before_kb = procStatusKb("VmHWM");
  constexpr uint64_t kSize = 256ull << 20;
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server_->port()));
  session.setTimeout(Poco::Timespan(120, 0));
  Poco::Net::HTTPRequest get("GET", portPath(kTestServerPort, "/big?n=" + std::to_string(kSize)),
                             Poco::Net::HTTPMessage::HTTP_1_1);
  get.set("Authorization", std::string("Bearer ") + kPortTestToken);
  session.sendRequest(get);
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  ASSERT_EQ(response.getStatus(), 200);
  EXPECT_EQ(response.getContentLength64(), static_cast<Poco::Int64>(kSize));
  std::vector<char> buffer(1 << 16);
  uint64_t received = 0;
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    received += static_cast<uint64_t>(in.gcount());
  }
  EXPECT_EQ(received, kSize);

  // An upload of 64 MiB, counted by the server.
  constexpr uint64_t kUpload = 64ull << 20;
  Poco::Net::HTTPRequest post("POST", portPath(kTestServerPort, "/size"),
                              Poco::Net::HTTPMessage::HTTP_1_1);
  post.set("Authorization", std::string("Bearer ") + kPortTestToken);
  post.setContentLength64(static_cast<Poco::Int64>(kUpload));
  std::ostream& out = session.sendRequest(post);
  const std::string block(1 << 16, 'u');
  for (uint64_t sent = 0; sent < kUpload; sent += block.size()) out << block;
  std::string answer;
  Poco::StreamCopier::copyToString(session.receiveResponse(response), answer);
  EXPECT_EQ(response.getStatus(), 200) << answer;
  EXPECT_EQ(answer, "{\"size\": " + std::to_string(kUpload) + "}");
  const int64_t grown_kb = procStatusKb("VmHWM") - before_kb;
  EXPECT_LT(grown_kb, 64 * 1024) << "the server grew by " << grown_kb << " KiB relaying 320 MiB";
}

TEST_F(PortProxyTest, ChunkedAnswersAreRelayed) {
  const ProxyAnswer answer = request("GET", portPath(kTestServerPort, "/chunked"));
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "part0;part1;part2;");
}

TEST_F(PortProxyTest, AServerBoundToAnyAddressIsReachedToo) {
  ASSERT_TRUE(startTestServer(id_, "0.0.0.0", 8001));
  EXPECT_EQ(echoed(request("GET", portPath(8001, "/any")))->getValue<std::string>("path"), "/any");
}

TEST_F(PortProxyTest, WebSocketEchoThroughTheProxy) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server_->port()));
  Poco::Net::HTTPRequest upgrade("GET", portPath(kTestServerPort, "/ws"),
                                 Poco::Net::HTTPMessage::HTTP_1_1);
  upgrade.set("Authorization", std::string("Bearer ") + kPortTestToken);
  Poco::Net::HTTPResponse response;
  Poco::Net::WebSocket socket(session, upgrade, response);
  socket.setReceiveTimeout(Poco::Timespan(30, 0));
  EXPECT_EQ(response.getStatus(), 101);
  const std::string text = "hello through the proxy";
  socket.sendFrame(text.data(), static_cast<int>(text.size()), Poco::Net::WebSocket::FRAME_TEXT);
  Poco::Buffer<char> received(0);
  int flags = 0;
  socket.receiveFrame(received, flags);
  EXPECT_EQ(std::string(received.begin(), received.size()), text);
  EXPECT_EQ(flags & Poco::Net::WebSocket::FRAME_OP_BITMASK, Poco::Net::WebSocket::FRAME_OP_TEXT);
  std::string binary(200000, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 7);
  socket.sendFrame(binary.data(), static_cast<int>(binary.size()),
                   Poco::Net::WebSocket::FRAME_BINARY);
  received.resize(0);
  socket.receiveFrame(received, flags);
  EXPECT_EQ(std::string(received.begin(), received.size()), binary);
  socket.shutdown();
}

TEST_F(PortProxyTest, TheTokenIsNeeded) {
  const ProxyAnswer answer = request("GET", portPath(kTestServerPort, "/x"), "", "");
  EXPECT_EQ(answer.status, 401);
  EXPECT_EQ(answer.code, "unauthorized");
  EXPECT_EQ(request("GET", portPath(kTestServerPort, "/x"), "", "wrong-token").status, 401);
}

TEST_F(PortProxyTest, AShareTokenOpensItsPortOnlyUntilRevoked) {
  ASSERT_TRUE(startTestServer(id_, "127.0.0.1", 8001));
  const std::string token = shareToken(id_, kTestServerPort);
  ASSERT_FALSE(token.empty());
  const ProxyAnswer shared =
      request("GET", portPath(kTestServerPort, "/page?grid_share=" + token + "&q=1"), "", "");
  ASSERT_EQ(shared.status, 200) << shared.body;
  EXPECT_EQ(echoed(shared)->getValue<std::string>("path"), "/page?q=1");  // token not forwarded
  EXPECT_NE(shared.set_cookie.find("grid_share=" + token), std::string::npos);
  EXPECT_NE(shared.set_cookie.find("Path=" + portPath(kTestServerPort, "")), std::string::npos);
  // The cookie alone, as a browser sends it for the page's next requests; not forwarded either.
  const ProxyAnswer by_cookie = request("GET", portPath(kTestServerPort, "/asset"), "", "",
                                        "grid_share=" + token + "; app=1");
  ASSERT_EQ(by_cookie.status, 200) << by_cookie.body;
  EXPECT_EQ(echoed(by_cookie)->getObject("headers")->getValue<std::string>("cookie"), "app=1");
  // Another port of the same sandbox, the API itself: not with this token.
  EXPECT_EQ(request("GET", portPath(8001, "/?grid_share=" + token), "", "").status, 401);
  EXPECT_EQ(request("GET", "/sandboxes/" + id_ + "?grid_share=" + token, "", "").status, 401);
  EXPECT_EQ(request("GET", "/sandboxes/" + id_, "", token).status, 401);
  // Revoked: refused.
  EXPECT_EQ(
      request("DELETE", "/sandboxes/" + id_ + "/shares/" + std::to_string(kTestServerPort)).status,
      200);
  EXPECT_EQ(request("GET", portPath(kTestServerPort, "/?grid_share=" + token), "", "").status, 401);
}

}  // namespace
}  // namespace grid::testing
