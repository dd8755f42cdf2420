// An HTTP/1.1 client session over a unix domain socket (the Docker and Podman API transport).
#pragma once

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Timespan.h>

#include <string>
#include <typeinfo>

namespace grid::engine {

/// Thrown by UnixSocketSession when the socket cannot be connected (missing path, refused,
/// permission denied). message() is the reason, e.g. "No such file or directory".
class UnreachableError : public Poco::IOException {
 public:
  explicit UnreachableError(const std::string& reason) : Poco::IOException(reason) {}
  const char* name() const noexcept override { return "engine unreachable"; }
  const char* className() const noexcept override { return typeid(*this).name(); }
  Poco::Exception* clone() const override { return new UnreachableError(*this); }
  void rethrow() const override { throw *this; }
};

/// A keep-alive HTTPClientSession whose every (re)connect opens the unix socket `path`.
/// Poco's own session built from a connected socket sends no Host header and cannot
/// reconnect; overriding connect() keeps Poco's reconnect logic working for unix sockets.
class UnixSocketSession : public Poco::Net::HTTPClientSession {
 public:
  explicit UnixSocketSession(std::string path);

  const std::string& path() const { return path_; }

  /// Sets connect/send/receive timeouts, also on an already open connection.
  void setTimeouts(const Poco::Timespan& timeout);

 protected:
  void connect(const Poco::Net::SocketAddress& ignored) override;

 private:
  std::string path_;
  Poco::Timespan timeout_;
};

}  // namespace grid::engine
