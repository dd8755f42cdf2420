// The pure parts of Grid's HTTP/1.1 reverse proxy (the port proxy, docs/ports.md): which
// headers are hop-by-hop, the request head sent upstream, parsing the head a hostile server
// answers with, how its body is framed, and a bounded chunked decoder. No sockets here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "grid/result.h"

namespace grid {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// A port number of a URL path: 1..65535 in decimal, nothing else.
Result<uint16_t> parsePortNumber(std::string_view text);

/// True for the headers that describe one connection, not the message (RFC 9110 7.6.1), and
/// for every header named by `connection` (the message's Connection value).
bool isHopByHopHeader(std::string_view name, std::string_view connection);

/// What a client's request framing says; smuggling attempts are refused, not interpreted.
struct RequestFraming {
  bool chunked = false;
  std::optional<uint64_t> content_length;
};
/// kInvalidArgument when the framing is ambiguous: Content-Length with Transfer-Encoding,
/// several or malformed Content-Length values, or any Transfer-Encoding but exactly "chunked".
Result<RequestFraming> checkRequestFraming(const HeaderList& headers);

/// What goes upstream, for one proxied request.
struct UpstreamRequest {
  std::string method;
  std::string target;  // path and query as the sandbox's server sees them ("/x?y=1")
  HeaderList headers;  // end-to-end headers of the client (hop-by-hop already dropped)
  std::string host;    // the Host header sent ("127.0.0.1:<port>")
  RequestFraming framing;
  bool websocket = false;  // keep "Upgrade: websocket" and "Connection: Upgrade"
};
/// The request head: framing written by Grid (never the client's), `Connection: close` (one
/// request per upstream connection) or `Upgrade`.
std::string formatRequestHead(const UpstreamRequest& request);

/// The head a server answered with.
struct ResponseHead {
  int status = 0;
  std::string reason;
  HeaderList headers;
  /// The first value of header `name` (case-insensitive), if any.
  std::optional<std::string> get(std::string_view name) const;
};
/// Parses a response head once it is complete. nullopt: `received` holds no end of head yet;
/// otherwise `*consumed` is the head's length. kInvalidArgument for a malformed head (bad
/// status line, header without colon, control bytes).
Result<std::optional<ResponseHead>> parseResponseHead(std::string_view received, size_t* consumed);

/// How a response's body is delimited.
struct ResponseFraming {
  enum class Kind { kNone, kLength, kChunked, kUntilClose } kind = Kind::kNone;
  uint64_t length = 0;
};
/// From the request's method and the response head; kInvalidArgument for an ambiguous one
/// (Content-Length with Transfer-Encoding, differing lengths, an unknown coding).
Result<ResponseFraming> responseFraming(std::string_view request_method, const ResponseHead& head);

/// Decodes a chunked body incrementally, with bounded state (a size line of at most 1 KiB,
/// trailers of at most 16 KiB, dropped).
class ChunkedDecoder {
 public:
  /// Consumes `input`, appending body bytes to `out`. Returns how many input bytes it used
  /// (less than all once the body ended: the rest is not part of it); kInvalidArgument for
  /// malformed framing.
  Result<size_t> feed(std::string_view input, std::string* out);
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone } state_ = State::kSize;
  std::string line_;
  uint64_t remaining_ = 0;
  size_t trailer_bytes_ = 0;
};

/// The query string without its parameters named `drop`; the rest kept byte for byte, ""
/// when nothing is left.
std::string queryWithout(std::string_view query, std::string_view drop);

/// The value of cookie `name` in a Cookie header, and the header without it.
std::optional<std::string> cookieValue(std::string_view cookie_header, std::string_view name);
std::string cookiesWithout(std::string_view cookie_header, std::string_view name);

}  // namespace grid
