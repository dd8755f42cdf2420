#include "api/port_proxy_route.h"

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>

#include "api/api_server.h"
#include "net/error_body.h"
#include "net/netns_socket.h"
#include "net/proxy_http.h"
#include "sandbox/sandbox_manager.h"

namespace grid {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;
using Clock = std::chrono::steady_clock;

constexpr size_t kBufferBytes = 64 << 10;
constexpr char kCodeUnreachable[] = "port_unreachable";        // 502: nothing listens, or it reset
constexpr char kCodeBadResponse[] = "port_bad_response";       // 502: a malformed or huge head
constexpr char kCodeTimeout[] = "port_timeout";                // 504: no (complete) answer in time
constexpr char kCodeUnsupported[] = "port_proxy_unsupported";  // 400: e.g. gVisor

bool isWebSocketRequest(const HTTPServerRequest& request) {
  return Poco::icompare(request.get("Upgrade", ""), "websocket") == 0 &&
         Poco::toLower(request.get("Connection", "")).find("upgrade") != std::string::npos;
}

// True when the client announced a body (which an early refusal leaves unread).
bool announcesBody(const HTTPServerRequest& request) {
  return request.getChunkedTransferEncoding() ||
         (request.hasContentLength() && request.getContentLength64() > 0) ||
         request.has("Transfer-Encoding");
}

// An error reply that also ends the connection when the request's body stays unread (its
// bytes would otherwise be taken for the next request).
Reply closingIfBody(const HTTPServerRequest& request, Reply error) {
  if (!announcesBody(request)) return error;
  Reply reply;
  reply.status = error.status;
  reply.stream = [error](HTTPServerResponse& response) {
    response.setKeepAlive(false);
    response.setStatusAndReason(error.status);
    response.setContentType(error.content_type);
    if (!error.allow.empty()) response.set("Allow", error.allow);
    response.setContentLength(static_cast<std::streamsize>(error.body.size()));
    response.send().write(error.body.data(), static_cast<std::streamsize>(error.body.size()));
  };
  return reply;
}

void sendError(HTTPServerResponse& response, const Reply& error) {
  response.setKeepAlive(false);
  response.setStatusAndReason(error.status);
  response.setContentType(error.content_type);
  response.setContentLength(static_cast<std::streamsize>(error.body.size()));
  response.send().write(error.body.data(), static_cast<std::streamsize>(error.body.size()));
}

// The upstream connection: a socket in the sandbox's namespace and what was read ahead of use.
struct Upstream {
  OwnedFd socket;
  std::string pending;  // received, not yet used
  bool closed = false;  // the server closed its side
  // In the sandbox's transfers, so a stop shuts the socket; released before it is closed.
  TransferSet::Registration registration;

  // Reads more into `pending`; false at end of stream (or on error: `error` says which).
  Result<bool> fill(Clock::time_point deadline) {
    char buffer[kBufferBytes];
    GRID_ASSIGN_OR_RETURN(const size_t got,
                          receiveBy(socket.get(), buffer, sizeof buffer, deadline));
    if (got == 0) {
      closed = true;
      return false;
    }
    pending.append(buffer, got);
    return true;
  }
};

// Maps a failure while waiting on the sandbox's server to the answer the client gets.
Reply upstreamError(const Error& error, uint16_t port, const std::string& what) {
  if (error.code == ErrorCode::kTimeout) {
    return errorReply(HTTPResponse::HTTP_GATEWAY_TIMEOUT, kCodeTimeout,
                      "port " + std::to_string(port) + ": " + what + ": " + error.message);
  }
  return errorReply(HTTPResponse::HTTP_BAD_GATEWAY, kCodeUnreachable,
                    "port " + std::to_string(port) + ": " + what + ": " + error.message);
}

// Relays bytes both ways between the client and the server after a 101, with bounded buffers,
// until both sides closed, either failed, nothing moved for `idle`, or a side took no bytes for
// `stall`.
void pumpBytes(int client, int server, std::string first_to_client, std::chrono::milliseconds idle,
               std::chrono::milliseconds stall) {
  struct Lane {
    int from, to;
    std::string buffer;
    size_t offset = 0;
    bool eof = false;
    bool shut = false;
    Clock::time_point waiting_since{};
  };
  Lane lanes[2] = {{client, server, {}}, {server, client, std::move(first_to_client)}};
  lanes[1].waiting_since = Clock::now();
  Clock::time_point last_move = Clock::now();
  char chunk[kBufferBytes];
  for (;;) {
    pollfd fds[2] = {{client, 0, 0}, {server, 0, 0}};
    Clock::time_point deadline = last_move + idle;
    bool active = false;
    for (Lane& lane : lanes) {
      pollfd& from = lane.from == client ? fds[0] : fds[1];
      pollfd& to = lane.to == client ? fds[0] : fds[1];
      if (lane.offset < lane.buffer.size()) {
        to.events |= POLLOUT;
        deadline = std::min(deadline, lane.waiting_since + stall);
        active = true;
      } else if (!lane.eof) {
        from.events |= POLLIN;
        active = true;
      } else if (!lane.shut) {
        ::shutdown(lane.to, SHUT_WR);  // pass the half-close on
        lane.shut = true;
      }
    }
    if (!active) return;  // both directions ended
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    const int ready = ::poll(fds, 2, static_cast<int>(std::max<int64_t>(0, wait.count())));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return;  // idle or stalled past the limit
    for (Lane& lane : lanes) {
      const pollfd& from = lane.from == client ? fds[0] : fds[1];
      const pollfd& to = lane.to == client ? fds[0] : fds[1];
      if (lane.offset < lane.buffer.size() && (to.revents & (POLLOUT | POLLERR | POLLHUP))) {
        const ssize_t sent = ::send(lane.to, lane.buffer.data() + lane.offset,
                                    lane.buffer.size() - lane.offset, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0 && errno != EAGAIN && errno != EINTR) return;
        if (sent > 0) {
          lane.offset += static_cast<size_t>(sent);
          last_move = lane.waiting_since = Clock::now();
          if (lane.offset == lane.buffer.size()) {
            lane.buffer.clear();
            lane.offset = 0;
          }
        }
      } else if (lane.offset == lane.buffer.size() && !lane.eof &&
                 (from.revents & (POLLIN | POLLERR | POLLHUP))) {
        const ssize_t got = ::recv(lane.from, chunk, sizeof chunk, MSG_DONTWAIT);
        if (got < 0 && errno != EAGAIN && errno != EINTR) return;
        if (got == 0) lane.eof = true;
        if (got > 0) {
          lane.buffer.assign(chunk, static_cast<size_t>(got));
          lane.offset = 0;
          last_move = lane.waiting_since = Clock::now();
        }
      }
    }
  }
}

// One proxied exchange, run as the reply's stream.
class Exchange {
 public:
  Exchange(HTTPServerRequest& request, HTTPServerResponse& response, const PortProxyLimits& limits,
           uint16_t port)
      : request_(request), response_(response), limits_(limits), port_(port) {}

  void run(Upstream& upstream, const std::string& head, const std::string& share_cookie) {
    share_cookie_ = share_cookie;
    const auto sent = sendRequest(upstream, head);
    if (!sent.ok() && sent.error().code != ErrorCode::kUnavailable) {
      // The client's body failed (it went away or stalled), or the server took nothing.
      if (sent.error().code == ErrorCode::kInvalidArgument) {
        response_.setKeepAlive(false);
        return;
      }
      sendError(response_, upstreamError(sent.error(), port_, "sending the request"));
      return;
    }
    // A server that stopped reading may still have answered: read its head either way.
    auto read = readHead(upstream);
    if (!read.ok()) {
      sendError(response_,
                read.error().code == ErrorCode::kInvalidArgument
                    ? errorReply(HTTPResponse::HTTP_BAD_GATEWAY, kCodeBadResponse,
                                 "port " + std::to_string(port_) + ": " + read.error().message)
                    : upstreamError(read.error(), port_, "waiting for the answer"));
      return;
    }
    if (!sent.ok()) response_.setKeepAlive(false);  // the client's body was not all read
    ResponseHead& answer = read.value();
    if (answer.status == 101) {
      relayUpgrade(upstream, answer);
      return;
    }
    relayResponse(upstream, answer);
  }

 private:
  // Sends the head and the client's body (re-framed by Grid). kInvalidArgument: the client's
  // body broke; kUnavailable: the server closed or reset.
  Result<void> sendRequest(Upstream& upstream, const std::string& head) {
    const auto deadline = [&] { return Clock::now() + limits_.io_timeout; };
    GRID_TRY(sendAllBy(upstream.socket.get(), head, deadline()));
    const bool chunked = request_.getChunkedTransferEncoding();
    if (!chunked && !(request_.hasContentLength() && request_.getContentLength64() > 0)) {
      return {};
    }
    std::istream& in = request_.stream();
    std::vector<char> buffer(kBufferBytes);
    uint64_t total = 0;
    for (;;) {
      try {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      } catch (const Poco::Exception& e) {
        return fail(ErrorCode::kInvalidArgument, "client body: " + e.displayText());
      }
      const auto got = static_cast<size_t>(in.gcount());
      total += got;
      if (got > 0) {
        std::string_view data(buffer.data(), got);
        if (chunked) {
          char size[20];
          const int n = std::snprintf(size, sizeof size, "%zx\r\n", got);
          GRID_TRY(sendAllBy(upstream.socket.get(), std::string_view(size, static_cast<size_t>(n)),
                             deadline()));
          GRID_TRY(sendAllBy(upstream.socket.get(), data, deadline()));
          GRID_TRY(sendAllBy(upstream.socket.get(), "\r\n", deadline()));
        } else {
          GRID_TRY(sendAllBy(upstream.socket.get(), data, deadline()));
        }
      }
      if (in.bad()) return fail(ErrorCode::kInvalidArgument, "client body: read failed");
      if (!in) break;
    }
    if (!chunked && total != static_cast<uint64_t>(request_.getContentLength64())) {
      return fail(ErrorCode::kInvalidArgument, "client body ended early");
    }
    if (chunked) GRID_TRY(sendAllBy(upstream.socket.get(), "0\r\n\r\n", deadline()));
    return {};
  }

  // The final head (1xx answers other than 101 are dropped), within the response deadline and
  // the head size limit.
  Result<ResponseHead> readHead(Upstream& upstream) {
    const auto deadline = Clock::now() + limits_.response_timeout;
    for (;;) {
      size_t consumed = 0;
      GRID_ASSIGN_OR_RETURN(auto head, parseResponseHead(upstream.pending, &consumed));
      if (head) {
        upstream.pending.erase(0, consumed);
        if (head->status >= 200 || head->status == 101) return std::move(*head);
        continue;  // 100 Continue, 103 Early Hints
      }
      if (upstream.pending.size() > limits_.max_response_head_bytes) {
        return fail(ErrorCode::kInvalidArgument,
                    "the answer's head exceeds " + std::to_string(limits_.max_response_head_bytes) +
                        " bytes");
      }
      if (upstream.closed) {
        return fail(ErrorCode::kUnavailable, "the server closed the connection without answering");
      }
      GRID_ASSIGN_OR_RETURN(const bool more, upstream.fill(deadline));
      (void)more;
    }
  }

  void copyHeaders(const ResponseHead& answer) {
    const std::string connection = answer.get("Connection").value_or("");
    for (const auto& [name, value] : answer.headers) {
      if (isHopByHopHeader(name, connection) || Poco::icompare(name, "Content-Length") == 0 ||
          Poco::icompare(name, "Date") == 0) {
        continue;
      }
      response_.add(name, value);
    }
    if (!share_cookie_.empty()) response_.add("Set-Cookie", share_cookie_);
  }

  void relayUpgrade(Upstream& upstream, const ResponseHead& answer) {
    if (!isWebSocketRequest(request_) ||
        Poco::icompare(answer.get("Upgrade").value_or(""), "websocket") != 0) {
      sendError(response_, errorReply(HTTPResponse::HTTP_BAD_GATEWAY, kCodeBadResponse,
                                      "port " + std::to_string(port_) +
                                          ": switched protocols without a WebSocket upgrade"));
      return;
    }
    response_.setStatusAndReason(HTTPResponse::HTTP_SWITCHING_PROTOCOLS);
    copyHeaders(answer);
    response_.set("Connection", "Upgrade");
    response_.set("Upgrade", "websocket");
    response_.send().flush();
    response_.setKeepAlive(false);  // the connection is the WebSocket's now
    auto& impl = static_cast<Poco::Net::HTTPServerRequestImpl&>(request_);
    const int client = impl.socket().impl()->sockfd();
    pumpBytes(client, upstream.socket.get(), std::move(upstream.pending),
              limits_.websocket_idle_timeout, limits_.io_timeout);
  }

  void relayResponse(Upstream& upstream, const ResponseHead& answer) {
    auto framing = responseFraming(request_.getMethod(), answer);
    if (!framing.ok()) {
      sendError(response_,
                errorReply(HTTPResponse::HTTP_BAD_GATEWAY, kCodeBadResponse,
                           "port " + std::to_string(port_) + ": " + framing.error().message));
      return;
    }
    using Kind = ResponseFraming::Kind;
    const ResponseFraming body = framing.value();
    response_.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(answer.status),
                                 answer.reason);
    copyHeaders(answer);
    if (request_.getMethod() == "HEAD") {
      if (auto length = answer.get("Content-Length")) response_.set("Content-Length", *length);
    } else if (body.kind == Kind::kLength) {
      response_.setContentLength64(static_cast<Poco::Int64>(body.length));
    } else if (body.kind == Kind::kNone) {
      if (answer.status != 204 && answer.status != 304) response_.setContentLength(0);
    } else if (request_.getVersion() == Poco::Net::HTTPMessage::HTTP_1_1) {
      response_.setChunkedTransferEncoding(true);
    } else {
      response_.setKeepAlive(false);  // an HTTP/1.0 client reads until we close
    }
    std::ostream& out = response_.send();
    if (body.kind == Kind::kNone) return;
    if (!copyBody(upstream, body, out)) response_.setKeepAlive(false);
  }

  // Copies the body as it arrives; false when it could not be relayed whole.
  bool copyBody(Upstream& upstream, const ResponseFraming& body, std::ostream& out) {
    using Kind = ResponseFraming::Kind;
    uint64_t remaining = body.length;
    ChunkedDecoder decoder;
    for (;;) {
      if (!upstream.pending.empty()) {
        std::string piece;  // the body bytes of what arrived
        if (body.kind == Kind::kChunked) {
          auto used = decoder.feed(upstream.pending, &piece);
          if (!used.ok()) {
            spdlog::debug("port {}: {}", port_, used.error().message);
            return false;
          }
        } else if (body.kind == Kind::kLength && remaining < upstream.pending.size()) {
          piece.assign(upstream.pending, 0, static_cast<size_t>(remaining));
        } else {
          piece.swap(upstream.pending);
        }
        upstream.pending.clear();
        if (body.kind == Kind::kLength) remaining -= piece.size();
        out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
        out.flush();
        if (!out) return false;  // the client went away or stopped reading
      }
      if (body.kind == Kind::kLength && remaining == 0) return true;
      if (body.kind == Kind::kChunked && decoder.done()) return true;
      auto more = upstream.fill(Clock::now() + limits_.io_timeout);
      if (!more.ok()) {
        spdlog::debug("port {}: body: {}", port_, more.error().message);
        return false;
      }
      if (!more.value()) return body.kind == Kind::kUntilClose;
    }
  }

  HTTPServerRequest& request_;
  HTTPServerResponse& response_;
  const PortProxyLimits& limits_;
  const uint16_t port_;
  std::string share_cookie_;
};

HeaderList requestHeaders(const HTTPServerRequest& request) {
  HeaderList headers;
  for (const auto& [name, value] : request) headers.emplace_back(name, value);
  return headers;
}

}  // namespace

Result<std::string> upstreamTarget(const std::string& raw_uri) {
  if (raw_uri.empty() || raw_uri[0] != '/') {
    return fail(ErrorCode::kInvalidArgument, "the request target must be a path (origin form)");
  }
  const size_t question = raw_uri.find('?');
  const std::string_view path = std::string_view(raw_uri).substr(0, question);
  // Skips /sandboxes/{id}/ports/{port}, segment by segment as the router splits them.
  size_t at = 0;
  for (int segment = 0; segment < 4; ++segment) {
    while (at < path.size() && path[at] == '/') ++at;
    while (at < path.size() && path[at] != '/') ++at;
  }
  std::string target(path.substr(at));
  if (target.empty()) target = "/";
  if (question != std::string::npos) {
    const std::string query =
        queryWithout(std::string_view(raw_uri).substr(question + 1), kShareParameter);
    if (!query.empty()) target += "?" + query;
  }
  return target;
}

Reply PortProxyRoute::proxy(HTTPServerRequest& request, const std::vector<std::string>& parts,
                            bool has_server_token) {
  const std::string& id = parts[1];
  const std::string& method = request.getMethod();
  auto port = parsePortNumber(parts[3]);
  if (!port.ok()) return closingIfBody(request, errorReply(port.error()));
  const std::string prefix = "/sandboxes/" + id + "/ports/" + std::to_string(port.value());

  // A share token opens this one port of this one sandbox: from the query (a shared link) or
  // the cookie set on that link's first answer.
  std::string share_cookie;
  if (!has_server_token) {
    std::string token;
    const size_t question = request.getURI().find('?');
    bool from_query = false;
    if (question != std::string::npos) {
      std::string_view query = std::string_view(request.getURI()).substr(question + 1);
      const std::string prefix_param = std::string(kShareParameter) + "=";
      while (!query.empty()) {
        const std::string_view pair = query.substr(0, query.find('&'));
        if (pair.substr(0, prefix_param.size()) == prefix_param) {
          token = std::string(pair.substr(prefix_param.size()));
          from_query = true;
          break;
        }
        query.remove_prefix(std::min(query.size(), pair.size() + 1));
      }
    }
    if (token.empty()) {
      token = cookieValue(request.get("Cookie", std::string()), kShareParameter).value_or("");
    }
    auto found = manager_.find(id);
    if (token.empty() || !found.ok() || !found.value()->portShares().allows(port.value(), token)) {
      return closingIfBody(
          request, errorReply(HTTPResponse::HTTP_UNAUTHORIZED, kCodeUnauthorized,
                              "missing or wrong bearer token, and no valid share token for "
                              "this port (send `Authorization: Bearer <token>`, or use a link "
                              "from POST /sandboxes/{id}/shares/{port})"));
    }
    if (from_query) {
      share_cookie = std::string(kShareParameter) + "=" + token + "; Path=" + prefix +
                     "; HttpOnly; SameSite=Lax";
    }
  }
  static const std::vector<std::string> kMethods = {"GET",    "POST", "PUT",    "PATCH",
                                                    "DELETE", "HEAD", "OPTIONS"};
  if (std::find(kMethods.begin(), kMethods.end(), method) == kMethods.end()) {
    Reply reply = errorReply(HTTPResponse::HTTP_METHOD_NOT_ALLOWED, kCodeMethodNotAllowed,
                             "method " + method +
                                 " is not proxied (allowed: GET, POST, PUT, "
                                 "PATCH, DELETE, HEAD, OPTIONS)");
    reply.allow = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS";
    return closingIfBody(request, reply);
  }
  const HeaderList client_headers = requestHeaders(request);
  auto framing = checkRequestFraming(client_headers);
  if (!framing.ok()) return closingIfBody(request, errorReply(framing.error()));
  auto target = upstreamTarget(request.getURI());
  if (!target.ok()) return closingIfBody(request, errorReply(target.error()));

  auto found = manager_.findRunning(id);
  if (!found.ok()) return closingIfBody(request, errorReply(found.error()));
  std::shared_ptr<Sandbox> sandbox = found.value();
  auto netns = manager_.backend().openNetworkNamespace(id);
  if (!netns.ok()) {
    if (netns.error().code == ErrorCode::kUnsupported) {
      return closingIfBody(request, errorReply(HTTPResponse::HTTP_BAD_REQUEST, kCodeUnsupported,
                                               "the port proxy is unsupported for this sandbox: " +
                                                   netns.error().message));
    }
    return closingIfBody(request, errorReply(netns.error()));
  }
  const OwnedFd netns_fd(netns.value());
  auto connected = connectLoopbackInNamespace(netns_fd.get(), port.value(),
                                              Clock::now() + options_.port_proxy.connect_timeout);
  if (!connected.ok()) {
    if (connected.error().code == ErrorCode::kInternal) {
      return closingIfBody(request, errorReply(connected.error()));
    }
    return closingIfBody(request, upstreamError(connected.error(), port.value(), "connecting"));
  }
  auto upstream = std::make_shared<Upstream>();
  upstream->socket = std::move(connected).value();
  // A stop cuts the exchange short (its socket shut down); kConflict once it is stopping.
  const int upstream_fd = upstream->socket.get();
  auto registration =
      sandbox->transfers().add([upstream_fd] { ::shutdown(upstream_fd, SHUT_RDWR); });
  if (!registration.ok()) return closingIfBody(request, errorReply(registration.error()));
  upstream->registration = std::move(registration).value();

  // The request as the sandbox's server gets it: Grid's token, the share token, hop-by-hop
  // headers and the client's own framing and forwarding claims left out.
  UpstreamRequest forward;
  forward.method = method;
  forward.target = target.value();
  forward.host = "127.0.0.1:" + std::to_string(port.value());
  forward.framing = framing.value();
  forward.websocket = isWebSocketRequest(request);
  const std::string connection = request.get("Connection", std::string());
  const std::string server_bearer =
      options_.auth_token.empty() ? std::string() : "Bearer " + options_.auth_token;
  for (const auto& [name, value] : client_headers) {
    if (isHopByHopHeader(name, connection)) continue;
    bool skip = false;
    for (const char* dropped : {"Host", "Content-Length", "Expect", "Forwarded", "X-Forwarded-For",
                                "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Prefix"}) {
      if (Poco::icompare(name, dropped) == 0) skip = true;
    }
    if (skip) continue;
    if (Poco::icompare(name, "Authorization") == 0 && !server_bearer.empty() &&
        value == server_bearer) {
      continue;
    }
    if (Poco::icompare(name, "Cookie") == 0) {
      const std::string kept = cookiesWithout(value, kShareParameter);
      if (!kept.empty()) forward.headers.emplace_back(name, kept);
      continue;
    }
    forward.headers.emplace_back(name, value);
  }
  forward.headers.emplace_back("X-Forwarded-For", request.clientAddress().host().toString());
  forward.headers.emplace_back("X-Forwarded-Host", request.getHost());
  forward.headers.emplace_back("X-Forwarded-Proto", "http");
  forward.headers.emplace_back("X-Forwarded-Prefix", prefix);
  const std::string head = formatRequestHead(forward);

  Reply reply;
  reply.status = forward.websocket ? HTTPResponse::HTTP_SWITCHING_PROTOCOLS : HTTPResponse::HTTP_OK;
  auto active = std::make_shared<ActivityTracker::Scope>(sandbox->activity().begin());
  const PortProxyLimits& limits = options_.port_proxy;
  reply.stream = [&request, upstream, active, head, share_cookie, limits,
                  port = port.value()](HTTPServerResponse& response) {
    Exchange(request, response, limits, port).run(*upstream, head, share_cookie);
  };
  return reply;
}

Reply PortProxyRoute::share(HTTPServerRequest& request, const std::string& sandbox_id,
                            const std::string& port_text) {
  const std::string& method = request.getMethod();
  if (method != "POST" && method != "DELETE") {
    Reply reply = errorReply(HTTPResponse::HTTP_METHOD_NOT_ALLOWED, kCodeMethodNotAllowed,
                             "method " + method +
                                 " is not allowed on /sandboxes/{id}/shares/{port} (allowed: "
                                 "POST, DELETE)");
    reply.allow = "POST, DELETE";
    return reply;
  }
  auto port = parsePortNumber(port_text);
  if (!port.ok()) return errorReply(port.error());
  auto found = method == "POST" ? manager_.findRunning(sandbox_id) : manager_.find(sandbox_id);
  if (!found.ok()) return errorReply(found.error());
  PortShares& shares = found.value()->portShares();
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("sandbox_id", sandbox_id);
  o->set("port", static_cast<int>(port.value()));
  if (method == "DELETE") {
    o->set("revoked", shares.revoke(port.value()));
    return json(HTTPResponse::HTTP_OK, o);
  }
  auto token = shares.share(port.value());
  if (!token.ok()) return errorReply(token.error());
  const std::string path = "/sandboxes/" + sandbox_id + "/ports/" + std::to_string(port.value()) +
                           "/?" + kShareParameter + "=" + token.value();
  o->set("token", token.value());
  o->set("path", path);
  // The link as this client reached the server; behind a proxy, join `path` to its address.
  o->set("url", "http://" +
                    (request.getHost().empty() ? std::string("127.0.0.1") : request.getHost()) +
                    path);
  return json(HTTPResponse::HTTP_OK, o);
}

}  // namespace grid
