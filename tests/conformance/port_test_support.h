// The port proxy tests' common ground (docs/ports.md): a sandbox running the test server
// (port_test_server.py) on 127.0.0.1:8000, the API served in this process with a token and
// short proxy limits, and a small HTTP client.
#pragma once

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <memory>
#include <sstream>
#include <string>

#include "api/api_server.h"
#include "conformance_fixture.h"
#include "port_test_server.h"

namespace grid::testing {

inline constexpr char kPortTestToken[] = "port-test-token";
inline constexpr int kTestServerPort = 8000;

struct ProxyAnswer {
  int status = 0;
  std::string body;
  std::string code;  // of a JSON error body
  std::string set_cookie;
};

inline bool onGvisorIsolation() {
  return conformanceTarget().config.default_isolation == Isolation::kGvisor;
}

class PortProxyTestBase : public OneSandboxTest {
 protected:
  void SetUp() override {
    OneSandboxTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    ApiServerOptions options;
    options.bind = "127.0.0.1";
    options.port = 0;
    options.threads = 8;
    options.auth_token = kPortTestToken;
    options.port_proxy.response_timeout = std::chrono::seconds(3);
    options.port_proxy.io_timeout = std::chrono::seconds(10);
    server_ = std::make_unique<ApiServer>(*manager_, options);
    ASSERT_TRUE(server_->start().ok());
    if (onGvisorIsolation()) return;  // the proxy answers unsupported there; nothing to serve
    // A backend without a network namespace Grid can enter (the skeleton example) has no proxy.
    const ProxyAnswer probe = request("GET", portPath(kTestServerPort));
    if (probe.code == "port_proxy_unsupported") {
      EXPECT_EQ(probe.status, 400) << probe.body;
      GTEST_SKIP() << "this backend offers no network namespace (checked: a clear 400)";
    }
    ASSERT_TRUE(startTestServer(id_, "127.0.0.1", kTestServerPort));
  }
  void TearDown() override {
    if (server_) server_->stop();
    server_.reset();
    OneSandboxTest::TearDown();
  }

  /// Writes the test server into sandbox `id`, starts it, and waits until the proxy reaches it.
  bool startTestServer(const std::string& id, const std::string& address, int port) {
    std::ostringstream encoded;
    Poco::Base64Encoder encoder(encoded);
    encoder.rdbuf()->setLineLength(0);
    encoder << kPortTestServerScript;
    encoder.close();
    const ExecResult written = ConformanceTest::run(
        id, "echo " + encoded.str() + " | base64 -d > /tmp/port_test_server.py && echo written");
    EXPECT_EQ(written.output, "written\n");
    ConformanceTest::run(id, "nohup python3 /tmp/port_test_server.py " + address + " " +
                                 std::to_string(port) + " > /tmp/port_test_server.log 2>&1 &");
    const bool up = waitUntil([&] {
      return request("GET", "/sandboxes/" + id + "/ports/" + std::to_string(port) + "/up").status ==
             200;
    });
    if (!up) {
      ADD_FAILURE() << "test server not reachable: "
                    << ConformanceTest::run(id, "cat /tmp/port_test_server.log").output;
    }
    return up;
  }

  std::string portPath(int port, const std::string& rest = "/") const {
    return "/sandboxes/" + id_ + "/ports/" + std::to_string(port) + rest;
  }

  /// One request; `token` empty sends no Authorization.
  ProxyAnswer request(const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& token = kPortTestToken,
                      const std::string& cookie = "") {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server_->port()));
    session.setTimeout(Poco::Timespan(60, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token.empty()) request.set("Authorization", std::string("Bearer ") + token);
    if (!cookie.empty()) request.set("Cookie", cookie);
    ProxyAnswer answer;
    try {
      if (!body.empty() || method == "POST" || method == "PUT") {
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        session.sendRequest(request) << body;
      } else {
        session.sendRequest(request);
      }
      Poco::Net::HTTPResponse response;
      Poco::StreamCopier::copyToString(session.receiveResponse(response), answer.body);
      answer.status = response.getStatus();
      answer.set_cookie = response.get("Set-Cookie", "");
    } catch (const Poco::Exception& e) {
      answer.body = e.displayText();
      return answer;
    }
    try {
      answer.code = Poco::JSON::Parser()
                        .parse(answer.body)
                        .extract<Poco::JSON::Object::Ptr>()
                        ->optValue<std::string>("code", "");
    } catch (const Poco::Exception&) {
    }
    return answer;
  }

  /// POST /sandboxes/{id}/shares/{port}: the share token.
  std::string shareToken(const std::string& id, int port) {
    const ProxyAnswer answer =
        request("POST", "/sandboxes/" + id + "/shares/" + std::to_string(port));
    EXPECT_EQ(answer.status, 200) << answer.body;
    try {
      return Poco::JSON::Parser()
          .parse(answer.body)
          .extract<Poco::JSON::Object::Ptr>()
          ->getValue<std::string>("token");
    } catch (const Poco::Exception&) {
      return "";
    }
  }

  std::unique_ptr<ApiServer> server_;
};

}  // namespace grid::testing
