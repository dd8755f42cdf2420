// The files API's conformance tests run the real HTTP server in this process, on the manager
// of the backend under test, and talk to it as a client does.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "api/api_server.h"
#include "conformance_fixture.h"

namespace grid::testing {

struct HttpAnswer {
  int status = 0;
  std::string body;
  std::string content_type;
  std::string code() const {  // the JSON error's code, or ""
    try {
      Poco::JSON::Parser parser;
      auto object = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
      return object->optValue<std::string>("code", "");
    } catch (const Poco::Exception&) {
      return "";
    }
  }
  Poco::JSON::Object::Ptr object() const {
    Poco::JSON::Parser parser;
    return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
  }
};

class FilesApiTest : public OneSandboxTest {
 protected:
  void SetUp() override {
    OneSandboxTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    ApiServerOptions options;
    options.port = 0;
    options.threads = 8;
    options.max_list_entries = max_list_entries_;
    server_ = std::make_unique<ApiServer>(*manager_, options);
    auto started = server_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
  }
  void TearDown() override {
    server_.reset();
    OneSandboxTest::TearDown();
  }

  /// `/sandboxes/{id}/files` with `query` appended (already encoded).
  std::string filesUri(const std::string& query, const std::string& id = "") const {
    return "/sandboxes/" + (id.empty() ? id_ : id) + "/files" + query;
  }
  static std::string encoded(const std::string& path) {
    std::string out;
    Poco::URI::encode(path, "?#[]@!$&'()*+,;=%/", out);
    return out;
  }
  std::string pathQuery(const std::string& path, const std::string& more = "") const {
    return "?path=" + encoded(path) + more;
  }

  HttpAnswer call(const std::string& method, const std::string& uri, const std::string& body = "",
                  const std::map<std::string, std::string>& headers = {}) const {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(server_->port()));
    session.setTimeout(Poco::Timespan(120, 0));
    Poco::Net::HTTPRequest request(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [k, v] : headers) request.set(k, v);
    if (method == "PUT" || method == "POST") request.setContentLength64(body.size());
    session.sendRequest(request).write(body.data(), static_cast<std::streamsize>(body.size()));
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    std::ostringstream text;
    text << in.rdbuf();
    return {static_cast<int>(response.getStatus()), text.str(), response.getContentType()};
  }

  HttpAnswer put(const std::string& path, const std::string& bytes,
                 const std::string& more = "") const {
    return call("PUT", filesUri(pathQuery(path, more)), bytes);
  }
  HttpAnswer get(const std::string& path, const std::string& more = "") const {
    return call("GET", filesUri(pathQuery(path, more)));
  }

  size_t max_list_entries_ = 10000;
  std::unique_ptr<ApiServer> server_;
};

}  // namespace grid::testing
