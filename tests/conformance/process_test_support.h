// Helpers of the background-process suites: starting processes through a sandbox's table, and
// the real HTTP API (an ApiServer on a free loopback port, in this process) for what the
// routes themselves do: JSON answers, sanitised output, the live NDJSON follow.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "api/api_server.h"
#include "conformance_fixture.h"
#include "sandbox/process_table.h"
#include "support/engine_guard.h"

namespace grid::testing {

struct HttpAnswer {
  int status = 0;
  std::string body;
  Poco::JSON::Object::Ptr json() const {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
  }
};

class ProcessTestBase : public OneSandboxTest {
 protected:
  void TearDown() override {
    if (server_) server_->stop();
    OneSandboxTest::TearDown();
  }

  ProcessTable& table() { return manager_->find(id_).value()->processes(); }

  ProcessEntry spawn(const std::string& command, const std::string& cwd = "",
                     std::vector<std::pair<std::string, std::string>> env = {},
                     ProcessTableLimits limits = {}) {
    BackgroundProcessSpec spec{command, cwd, std::move(env)};
    auto started =
        table().start(backend(), id_, spec, limits, Clock::now() + std::chrono::seconds(30));
    EXPECT_TRUE(started.ok()) << command << ": " << started.error().message;
    return started.ok() ? started.value() : ProcessEntry{};
  }

  /// All output kept so far, read in chunks of `chunk` bytes from offset 0.
  static std::string outputOf(const BackgroundProcess& process, size_t chunk = 1 << 20) {
    std::string all;
    uint64_t at = 0;
    while (true) {
      auto read = readOutputWhole(process.output(), at, chunk);
      if (!read.ok() || read.value().next_offset == at) break;
      all += read.value().data;
      at = read.value().next_offset;
    }
    return all;
  }

  /// Waits (bounded) until the process's output contains `needle`.
  static bool waitForOutput(const BackgroundProcess& process, const std::string& needle,
                            std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    return waitUntil([&] { return outputOf(process).find(needle) != std::string::npos; }, limit);
  }

  void startApi() {
    ApiServerOptions options;
    options.port = 0;
    options.threads = 8;
    server_ = std::make_unique<ApiServer>(*manager_, options);
    auto started = server_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
  }

  HttpAnswer http(const std::string& method, const std::string& path,
                  const std::string& body = "") {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server_->port()));
    session.setTimeout(Poco::Timespan(60, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!body.empty()) {
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      session.sendRequest(request) << body;
    } else {
      session.sendRequest(request);
    }
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    HttpAnswer answer;
    answer.status = static_cast<int>(response.getStatus());
    Poco::StreamCopier::copyToString(in, answer.body);
    return answer;
  }

  /// Whether the test image has these commands (python3 and curl are in the test image since
  /// scripts/build-test-images.sh added them; an older image lacks them).
  bool hasCommands(const std::string& names) {
    return run("command -v " + names + " >/dev/null && echo yes").output == "yes\n";
  }

  std::string processesPath() const { return "/sandboxes/" + id_ + "/processes"; }

  std::unique_ptr<ApiServer> server_;
};

}  // namespace grid::testing
