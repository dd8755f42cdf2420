#include "grid/engine/unix_socket_session.h"

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <cstring>
#include <utility>

namespace grid::engine {

namespace {

// The session's nominal host: numeric so Poco's reconnect() resolves nothing before calling
// our connect(); the Host header itself is set per request.
constexpr char kNominalHost[] = "127.0.0.1";

std::string describe(const Poco::Exception& e) {
  if (e.code() > 0) return std::strerror(e.code());
  return e.displayText();
}

}  // namespace

UnixSocketSession::UnixSocketSession(std::string path)
    : HTTPClientSession(kNominalHost), path_(std::move(path)), timeout_(60, 0) {
  setKeepAlive(true);
  setTimeouts(timeout_);
}

void UnixSocketSession::setTimeouts(const Poco::Timespan& timeout) {
  timeout_ = timeout;
  setTimeout(timeout, timeout, timeout);
  // HTTPSession applies timeouts to the socket only when it connects.
  if (connected()) {
    socket().setReceiveTimeout(timeout);
    socket().setSendTimeout(timeout);
  }
}

void UnixSocketSession::connect(const Poco::Net::SocketAddress& /*ignored*/) {
  try {
    Poco::Net::StreamSocket socket(Poco::Net::SocketAddress::UNIX_LOCAL);
    socket.connect(Poco::Net::SocketAddress(Poco::Net::SocketAddress::UNIX_LOCAL, path_), timeout_);
    socket.setReceiveTimeout(timeout_);
    socket.setSendTimeout(timeout_);
    // Not HTTPSession::connect(): its setNoDelay() throws on a unix socket.
    attachSocket(socket);
  } catch (const Poco::Exception& e) {
    throw UnreachableError(describe(e));
  }
}

}  // namespace grid::engine
