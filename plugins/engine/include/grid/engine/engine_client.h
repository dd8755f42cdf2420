// EngineClient: requests to a Docker-compatible Engine API (Docker, or Podman's compat and
// libpod APIs) over a unix socket. Thread-safe; never throws.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/Net/StreamSocket.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "grid/engine/connection_pool.h"
#include "grid/result.h"

namespace grid::engine {

/// Which engine to talk to and how to name it in messages.
struct EngineEndpoint {
  std::string socket_path;   // e.g. "/var/run/docker.sock"
  std::string product;       // prefix of error messages, e.g. "docker"
  std::string display_name;  // used when unreachable, e.g. "Docker Engine"
};

/// A complete HTTP response; the body is read to its end.
struct Response {
  int status = 0;
  std::string body;
  bool ok() const { return status >= 200 && status < 300; }
};

/// The connection after a successful protocol upgrade (101): the raw stream plus any bytes
/// Poco had already read past the response header.
struct HijackedStream {
  Poco::Net::StreamSocket socket;
  std::string buffered;
};

inline constexpr std::chrono::milliseconds kDefaultRequestTimeout{60'000};

/// The size of the pieces a streamed request sends and delivers (archive up- and downloads).
inline constexpr std::size_t kStreamPieceBytes = 64 * 1024;
/// How much of a non-2xx answer's body a streamed request keeps (the engine's error).
inline constexpr std::size_t kMaxErrorBodyBytes = 64 * 1024;

/// Fills up to `capacity` bytes of `buffer` with the next bytes of a request body; 0 at its end.
using BodySource = std::function<Result<std::size_t>(char* buffer, std::size_t capacity)>;
/// Receives the next piece (at most kStreamPieceBytes) of a 2xx answer's body, in order.
using BodySink = std::function<Result<void>(std::string_view piece)>;

/// A request whose body is sent and whose answer is read in pieces, never whole.
struct StreamedRequest {
  std::string method;                              // "GET", "HEAD", "PUT"
  std::string path;                                // as for request(): may carry a query string
  std::string content_type = "application/x-tar";  // of the body, if any
  BodySource body;  // empty: no body; else sent with chunked transfer encoding
  BodySink sink;    // receives a 2xx answer's body; empty: the body is read and dropped
  std::chrono::steady_clock::time_point deadline;  // bounds every read and write of the call
};

/// The answer to a streamed request: its status and headers (names lower-cased, as bounded
/// by Poco's header limits) and, unless 2xx, the start of its body.
struct StreamedResponse {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;  // non-2xx answers only, at most kMaxErrorBodyBytes
  bool ok() const { return status >= 200 && status < 300; }
};

class EngineClient {
 public:
  explicit EngineClient(EngineEndpoint endpoint, std::size_t max_idle_connections = 8);

  const EngineEndpoint& endpoint() const { return endpoint_; }

  /// Sets the API version ("1.41") that prefixes paths. Empty: paths are sent unversioned.
  void setApiVersion(std::string version);
  std::string apiVersion() const;

  /// `path` with the "/vX.Y" prefix, unless it already starts with a version segment
  /// ("/v1.41/...", "/v4.0.0/libpod/...") or no version is set.
  std::string versionedPath(const std::string& path) const;

  /// Sends one request. `path` may carry a query string; `json_body` is sent as
  /// application/json. Any HTTP status is a value; only transport failures are errors:
  /// kUnavailable (cannot connect), kTimeout (no complete answer within `timeout`),
  /// kInternal (anything else).
  Result<Response> request(const std::string& method, const std::string& path,
                           const std::optional<std::string>& json_body = std::nullopt,
                           std::chrono::milliseconds timeout = kDefaultRequestTimeout);

  /// Sends a request with `Connection: Upgrade`, `Upgrade: tcp` on a connection of its own
  /// and hands that connection over once the engine answers 101 (exec/attach streams).
  /// A non-101 answer becomes errorFor().
  Result<HijackedStream> hijack(const std::string& path, const std::string& json_body,
                                std::chrono::milliseconds timeout = kDefaultRequestTimeout);

  /// Sends a request whose body is pulled from `request.body` in pieces and delivers a 2xx
  /// answer's body to `request.sink` as it arrives: memory stays bounded by kStreamPieceBytes
  /// whatever the sizes. Every socket read and write waits at most until `request.deadline`.
  /// Errors: kTimeout once the deadline passes, the body's or the sink's own error (the call
  /// ends at once and the connection is dropped), kUnavailable, kInternal (transport).
  Result<StreamedResponse> stream(const StreamedRequest& request);

  /// GET /version; uses min(engine's ApiVersion, max_version), stores and returns it.
  Result<std::string> negotiateApiVersion(const std::string& max_version);

  /// The Error for an unexpected answer: "docker: POST /containers/create: 404 no such
  /// image: foo". 400 -> kInvalidArgument, 404 -> kNotFound, 409 -> kConflict, else kInternal.
  Error errorFor(const std::string& method, const std::string& path,
                 const Response& response) const;

  /// kUnavailable error naming the socket and the reason.
  Error unreachable(const std::string& reason) const;

 private:
  Result<Response> attempt(const std::string& method, const std::string& path,
                           const std::optional<std::string>& json_body,
                           std::chrono::milliseconds timeout, bool* retry);

  Result<StreamedResponse> streamAttempt(const StreamedRequest& request, bool* retry);

  const EngineEndpoint endpoint_;
  ConnectionPool pool_;
  mutable std::mutex mutex_;  // guards api_version_
  std::string api_version_;
};

/// -1, 0 or 1 comparing dotted versions numerically ("1.9" < "1.41").
int compareApiVersions(std::string_view a, std::string_view b);

/// Percent-encodes everything but RFC 3986 unreserved characters.
std::string urlEncode(std::string_view text);

/// The engine's error text: the "message" member of a JSON body, else the body trimmed.
std::string engineMessage(const std::string& body);

/// Parses a JSON object/array; nullptr if the text is not one.
Poco::JSON::Object::Ptr parseJsonObject(const std::string& text);
Poco::JSON::Array::Ptr parseJsonArray(const std::string& text);

/// Serialises JSON compactly.
std::string toJson(const Poco::JSON::Object::Ptr& object);

}  // namespace grid::engine
