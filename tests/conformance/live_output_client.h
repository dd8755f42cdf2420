// Live output over real HTTP for the conformance suite: the Grid API served in this process
// over the fixture's manager, and a client reading one exec's NDJSON stream event by event.
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPResponse.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/api_server.h"

namespace grid::testing {

/// The API on 127.0.0.1 (a free port) over `manager`; stopped on destruction.
class InProcessApi {
 public:
  explicit InProcessApi(SandboxManager& manager);
  ~InProcessApi();
  bool ok() const { return ok_; }
  int port() const { return server_.port(); }

 private:
  ApiServer server_;
  bool ok_ = false;
};

/// One POST /sandboxes/{id}/exec whose answer is read a line at a time. Every wait is bounded
/// by `hang_limit` (a hang detector, not a timing assert).
class LiveExec {
 public:
  struct Options {
    bool standalone = false;
    int timeout_s = 120;
    bool by_accept_header = false;  // ask with Accept: application/x-ndjson, not "stream"
  };

  LiveExec(int port, const std::string& id, const std::string& command, Options options,
           std::chrono::seconds hang_limit = std::chrono::seconds(60));

  int status() const { return response_.getStatus(); }
  const Poco::Net::HTTPResponse& response() const { return response_; }

  /// The next event; nullopt at the end of the stream (or when it broke or hung: then
  /// `broken()` says which).
  std::optional<Poco::JSON::Object::Ptr> next();
  /// The raw next line, for tests of the framing itself.
  std::optional<std::string> nextLine();

  /// Reads output events until their data, joined, contains `text`; false if the stream
  /// ended first. Events read on the way are kept in `events()`.
  bool readUntilOutput(const std::string& text);
  /// Reads to the end of the stream.
  void readAll();
  /// Reads to the end keeping no output events (for huge output); returns their data's size.
  uint64_t drainCountingOutput();

  const std::vector<Poco::JSON::Object::Ptr>& events() const { return events_; }
  /// The data of every output event read so far, joined (all streams, or one of them).
  std::string output(const std::string& stream = "") const;

  /// Closes the connection as a client that went away would.
  void disconnect();

  std::string broken() const { return broken_; }
  /// The body when the answer was not a stream (an error).
  const std::string& body() const { return body_; }

 private:
  Poco::Net::HTTPClientSession session_;
  Poco::Net::HTTPResponse response_;
  std::istream* in_ = nullptr;
  std::vector<Poco::JSON::Object::Ptr> events_;
  std::string broken_;
  std::string body_;
  std::chrono::seconds hang_limit_;
};

/// The exec body as JSON text.
std::string execBody(const std::string& command, const LiveExec::Options& options);

}  // namespace grid::testing
