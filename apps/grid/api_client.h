// A small blocking client of Grid's HTTP API, used by `grid sandbox ...`.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/URI.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>

#include "grid/result.h"

namespace Poco::Net {
class WebSocket;
}

namespace grid::cli {

struct ApiResponse {
  int status = 0;
  std::string body;
  std::string content_type;
};

class ApiClient {
 public:
  /// `server` like "http://127.0.0.1:3000". `timeout` bounds each request (execs can be long).
  ApiClient(const std::string& server, std::string token, std::chrono::seconds timeout);

  /// One request; connection failures become kUnavailable naming the server.
  Result<ApiResponse> call(const std::string& method, const std::string& path,
                           const std::string& json_body = "");

  /// `call` asking for live output (Accept: application/x-ndjson): a 200 NDJSON answer is
  /// handed to `on_line` a line at a time as it arrives (its body stays empty); any other
  /// answer is read whole into the body, as by `call`.
  Result<ApiResponse> callStreaming(const std::string& method, const std::string& path,
                                    const std::string& json_body,
                                    const std::function<void(const std::string&)>& on_line);

  /// `call`, then: a 2xx JSON object, or an Error carrying the server's error sentence.
  Result<Poco::JSON::Object::Ptr> callJson(const std::string& method, const std::string& path,
                                           const std::string& json_body = "");

  /// A PUT of `length` bytes that `write_body` writes as they are produced (files uploads).
  Result<ApiResponse> upload(const std::string& path, const std::string& content_type,
                             uint64_t length,
                             const std::function<Result<void>(std::ostream&)>& write_body);

  /// A GET whose 200 body is handed to `read_body` as a stream (files downloads); any other
  /// answer's body is read into the response.
  Result<ApiResponse> download(const std::string& path, const std::string& accept,
                               const std::function<Result<void>(std::istream&)>& read_body);

  /// Upgrades GET `path` to a WebSocket (terminals). A refusal is an Error naming the
  /// server's status and reason.
  Result<std::unique_ptr<Poco::Net::WebSocket>> openWebSocket(const std::string& path);

 private:
  Result<void> checkServer() const;
  /// `path` under the server URL's own path prefix.
  std::string serverPath(const std::string& path) const;
  /// A failed exchange as the CLI reports it: a timeout, or `doing` + the server + why + `hint`.
  Error transportFailure(const Poco::Exception& e, const std::string& doing,
                         const std::string& hint) const;
  Result<ApiResponse> exchange(const std::string& method, const std::string& path,
                               const std::function<void(Poco::Net::HTTPRequest&)>& prepare,
                               const std::function<Result<void>(std::ostream&)>& write_body,
                               const std::function<Result<void>(std::istream&)>& read_body);

  Poco::URI server_;
  std::string token_;
  std::chrono::seconds timeout_;
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
};

/// The server's error sentence from an error response body, or the status line.
std::string describeFailure(const ApiResponse& response);

/// Prints "grid: MESSAGE" on stderr and returns the CLI's exit status for the error: 2 when the
/// server could not be reached (kUnavailable), 1 otherwise.
int reportFailure(const Error& error);

}  // namespace grid::cli
