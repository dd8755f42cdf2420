// The pure parts of the port proxy (docs/ports.md): framing checks that refuse smuggling, the
// head sent upstream, parsing hostile response heads, the chunked decoder, share tokens.
#include "net/proxy_http.h"

#include <gtest/gtest.h>

#include "api/port_proxy_route.h"
#include "sandbox/port_shares.h"

namespace grid {
namespace {

TEST(PortNumberTest, AcceptsOneTo65535Only) {
  EXPECT_EQ(parsePortNumber("1").value(), 1);
  EXPECT_EQ(parsePortNumber("8080").value(), 8080);
  EXPECT_EQ(parsePortNumber("65535").value(), 65535);
  for (const char* bad : {"0", "65536", "abc", "", "-1", "80x", " 80", "000000080", "1e3"}) {
    EXPECT_FALSE(parsePortNumber(bad).ok()) << bad;
  }
}

TEST(RequestFramingTest, RefusesAmbiguousFraming) {
  EXPECT_TRUE(checkRequestFraming({{"Content-Length", "5"}}).ok());
  EXPECT_TRUE(checkRequestFraming({{"Transfer-Encoding", "chunked"}}).value().chunked);
  EXPECT_TRUE(checkRequestFraming({{"Content-Length", "5"}, {"content-length", "5"}}).ok());
  const HeaderList attacks[] = {
      {{"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}},
      {{"Content-Length", "5"}, {"Content-Length", "6"}},
      {{"Content-Length", "5, 6"}},
      {{"Content-Length", "+5"}},
      {{"Content-Length", "0x5"}},
      {{"Transfer-Encoding", "gzip, chunked"}},
      {{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}},
      {{"Transfer-Encoding", "xchunked"}},
  };
  for (const auto& headers : attacks) {
    EXPECT_FALSE(checkRequestFraming(headers).ok()) << headers.front().second;
  }
}

TEST(HopByHopTest, DropsConnectionHeadersAndThoseItNames) {
  EXPECT_TRUE(isHopByHopHeader("keep-alive", ""));
  EXPECT_TRUE(isHopByHopHeader("Transfer-Encoding", ""));
  EXPECT_TRUE(isHopByHopHeader("X-Secret", "close, x-secret"));
  EXPECT_FALSE(isHopByHopHeader("Content-Type", "close"));
  EXPECT_FALSE(isHopByHopHeader("Sec-WebSocket-Key", "Upgrade"));
}

TEST(RequestHeadTest, GridWritesTheFramingAndConnection) {
  UpstreamRequest request;
  request.method = "POST";
  request.target = "/echo?a=1";
  request.host = "127.0.0.1:8000";
  request.headers = {{"Content-Type", "text/plain"}};
  request.framing.content_length = 3;
  EXPECT_EQ(formatRequestHead(request),
            "POST /echo?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: text/plain\r\n"
            "Content-Length: 3\r\nConnection: close\r\n\r\n");
  request.framing = {true, std::nullopt};
  request.websocket = true;
  const std::string head = formatRequestHead(request);
  EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_NE(head.find("Connection: Upgrade\r\nUpgrade: websocket\r\n"), std::string::npos);
}

TEST(ResponseHeadTest, ParsesOnceCompleteAndRefusesMalformedHeads) {
  size_t consumed = 0;
  EXPECT_FALSE(parseResponseHead("HTTP/1.1 200 OK\r\nA: b\r\n", &consumed).value().has_value());
  const std::string full = "HTTP/1.1 404 Not Found\r\nA: b\r\nC:  d \r\n\r\nbody";
  auto head = parseResponseHead(full, &consumed);
  ASSERT_TRUE(head.ok() && head.value().has_value());
  EXPECT_EQ(head.value()->status, 404);
  EXPECT_EQ(head.value()->reason, "Not Found");
  EXPECT_EQ(head.value()->get("c").value(), "d");
  EXPECT_EQ(full.substr(consumed), "body");
  EXPECT_TRUE(parseResponseHead("HTTP/1.0 200\n\n", &consumed).value().has_value());
  for (const char* bad :
       {"HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA b: c\r\n\r\n", "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
        "garbage\r\n\r\n"}) {
    EXPECT_FALSE(parseResponseHead(bad, &consumed).ok()) << bad;
  }
}

TEST(ResponseFramingTest, FollowsTheRulesAndRefusesAmbiguity) {
  using Kind = ResponseFraming::Kind;
  ResponseHead head;
  head.status = 200;
  head.headers = {{"Content-Length", "7"}};
  EXPECT_EQ(responseFraming("GET", head).value().kind, Kind::kLength);
  EXPECT_EQ(responseFraming("HEAD", head).value().kind, Kind::kNone);
  head.headers = {{"Transfer-Encoding", "chunked"}};
  EXPECT_EQ(responseFraming("GET", head).value().kind, Kind::kChunked);
  head.headers = {};
  EXPECT_EQ(responseFraming("GET", head).value().kind, Kind::kUntilClose);
  head.status = 204;
  EXPECT_EQ(responseFraming("GET", head).value().kind, Kind::kNone);
  head.status = 200;
  head.headers = {{"Transfer-Encoding", "chunked"}, {"Content-Length", "7"}};
  EXPECT_FALSE(responseFraming("GET", head).ok());
  head.headers = {{"Content-Length", "7"}, {"Content-Length", "8"}};
  EXPECT_FALSE(responseFraming("GET", head).ok());
}

TEST(ChunkedDecoderTest, DecodesAcrossSplitsAndStopsAtTheEnd) {
  const std::string body = "4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  for (size_t split = 0; split <= body.size(); ++split) {
    ChunkedDecoder decoder;
    std::string out;
    size_t used = decoder.feed(body.substr(0, split), &out).value();
    used += decoder.feed(std::string_view(body).substr(split), &out).value();
    EXPECT_EQ(out, "Wikipedia") << split;
    EXPECT_TRUE(decoder.done());
    EXPECT_EQ(used, body.size() - 4) << split;
  }
}

TEST(ChunkedDecoderTest, RefusesMalformedOrUnboundedFraming) {
  for (const std::string& bad : {std::string("zz\r\n"), std::string("4\r\nWikiXX\r\n"),
                                 std::string(2000, '1'), "0\r\n" + std::string(20000, 'x')}) {
    ChunkedDecoder decoder;
    std::string out;
    EXPECT_FALSE(decoder.feed(bad, &out).ok()) << bad.substr(0, 20);
  }
}

TEST(UpstreamTargetTest, KeepsThePathAndQueryWithoutTheShareToken) {
  EXPECT_EQ(upstreamTarget("/sandboxes/abc/ports/8000").value(), "/");
  EXPECT_EQ(upstreamTarget("/sandboxes/abc/ports/8000/").value(), "/");
  EXPECT_EQ(upstreamTarget("/sandboxes/abc/ports/8000/a/b%20c?x=1&y=2").value(),
            "/a/b%20c?x=1&y=2");
  EXPECT_EQ(upstreamTarget("//sandboxes/abc//ports/8000/a").value(), "/a");
  EXPECT_EQ(upstreamTarget("/sandboxes/abc/ports/8000/?grid_share=t&x=1").value(), "/?x=1");
  EXPECT_EQ(upstreamTarget("/sandboxes/abc/ports/8000?grid_share=t").value(), "/");
  EXPECT_FALSE(upstreamTarget("http://evil/sandboxes/abc/ports/8000").ok());
}

TEST(CookieTest, FindsAndRemovesOneCookie) {
  EXPECT_EQ(cookieValue("a=1; grid_share=tok; b=2", "grid_share").value(), "tok");
  EXPECT_FALSE(cookieValue("a=1", "grid_share").has_value());
  EXPECT_EQ(cookiesWithout("a=1; grid_share=tok; b=2", "grid_share"), "a=1; b=2");
  EXPECT_EQ(queryWithout("grid_share=1&a=2&grid_sharex=3", "grid_share"), "a=2&grid_sharex=3");
}

TEST(PortSharesTest, ATokenOpensItsOwnPortOnlyUntilRevoked) {
  PortShares shares;
  const std::string token = shares.share(8000).value();
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(shares.share(8000).value(), token);  // one token per port
  EXPECT_TRUE(shares.allows(8000, token));
  EXPECT_FALSE(shares.allows(8001, token));
  EXPECT_FALSE(shares.allows(8000, token.substr(1)));
  EXPECT_FALSE(shares.allows(8000, ""));
  const std::string other = shares.share(8001).value();
  EXPECT_NE(other, token);
  EXPECT_FALSE(shares.allows(8000, other));
  EXPECT_TRUE(shares.revoke(8000));
  EXPECT_FALSE(shares.allows(8000, token));
  EXPECT_FALSE(shares.revoke(8000));
  shares.clear();
  EXPECT_FALSE(shares.allows(8001, other));
  for (int port = 1; port <= static_cast<int>(PortShares::kMaxPorts); ++port) {
    ASSERT_TRUE(shares.share(static_cast<uint16_t>(port)).ok());
  }
  EXPECT_EQ(shares.share(9999).error().code, ErrorCode::kResourceExhausted);
}

}  // namespace
}  // namespace grid
