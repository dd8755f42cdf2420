#include "net/http_connection.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Timestamp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "grid/result.h"
#include "net/error_body.h"

namespace grid {
namespace {

using Poco::Net::HTTPResponse;

// How long a worker waits for a client's next request before handing the connection back to
// the gate: enough for a client sending requests back to back to keep its worker (no thread
// hand-off per request), little enough that an idle client costs next to nothing.
constexpr int kLingerMs = 10;

// Poco's server session, telling whether the next request's bytes are already in its buffer
// (a pipelining client): those are invisible to the socket.
class ServerSession : public Poco::Net::HTTPServerSession {
 public:
  using HTTPServerSession::HTTPServerSession;
  bool hasBufferedInput() const { return buffered() > 0; }
};

void sendBadRequest(Poco::Net::HTTPServerSession& session) {
  Poco::Net::HTTPServerResponseImpl response(session);
  const std::string body =
      errorBody(errorCodeToken(ErrorCode::kInvalidArgument), "malformed HTTP request");
  response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
  response.setStatusAndReason(HTTPResponse::HTTP_BAD_REQUEST);
  response.setKeepAlive(false);
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.send() << body;
  session.setKeepAlive(false);
}

// True once the client's next request has fully arrived within the linger time; false if it
// is idle, still sending, or gone (the gate then waits for it, or finds it closed).
bool nextRequestFollows(int fd, size_t window) {
  pollfd waiting{fd, POLLIN, 0};
  if (::poll(&waiting, 1, kLingerMs) != 1) return false;
  thread_local std::vector<char> peeked;
  peeked.resize(window);
  const ssize_t n = ::recv(fd, peeked.data(), peeked.size(), MSG_PEEK | MSG_DONTWAIT);
  if (n <= 0) return false;
  return scanRequestHead(std::string_view(peeked.data(), static_cast<size_t>(n)), window) ==
         HeadScan::kReady;
}

}  // namespace

HttpConnection::HttpConnection(const Poco::Net::StreamSocket& socket,
                               Poco::Net::HTTPRequestHandlerFactory& handlers,
                               const Poco::Net::HTTPServerParams::Ptr& params, ConnectionGate& gate)
    : TCPServerConnection(socket), handlers_(handlers), params_(params), gate_(gate) {}

void HttpConnection::run() {
  ServerSession session(socket(), params_);
  // The first call only counts the request (its bytes are here: the gate checked).
  if (!session.hasMoreRequests()) return;
  for (;;) {
    try {
      Poco::Net::HTTPServerResponseImpl response(session);
      Poco::Net::HTTPServerRequestImpl request(response, session, params_);
      response.setDate(Poco::Timestamp());
      response.setVersion(request.getVersion());
      response.setKeepAlive(params_->getKeepAlive() && request.getKeepAlive() &&
                            session.canKeepAlive());
      std::unique_ptr<Poco::Net::HTTPRequestHandler> handler(
          handlers_.createRequestHandler(request));
      // The factory may refuse the body up front by setting a status (see the API's 413).
      if (request.getExpectContinue() && response.getStatus() == HTTPResponse::HTTP_OK) {
        response.sendContinue();
      }
      handler->handleRequest(request, response);
      session.setKeepAlive(params_->getKeepAlive() && response.getKeepAlive() &&
                           session.canKeepAlive());
    } catch (const Poco::Net::NoMessageException&) {
      return;  // closed between requests
    } catch (const Poco::Net::MessageException&) {
      sendBadRequest(session);
      return;
    }
    if (!session.getKeepAlive()) return;
    const int fd = session.socket().impl()->sockfd();
    if (!session.hasBufferedInput() && !nextRequestFollows(fd, gate_.limits().window)) {
      gate_.readmit(session.detachSocket());
      return;
    }
    session.hasMoreRequests();  // counts the request; its bytes are here
  }
}

}  // namespace grid
