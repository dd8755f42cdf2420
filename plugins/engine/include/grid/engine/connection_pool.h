// A small thread-safe pool of idle keep-alive sessions to one engine socket.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "grid/engine/unix_socket_session.h"

namespace grid::engine {

class ConnectionPool {
 public:
  /// Keeps at most `max_idle` idle sessions; more may be in use at once.
  ConnectionPool(std::string socket_path, std::size_t max_idle);

  struct Lease {
    std::unique_ptr<UnixSocketSession> session;
    bool reused = false;  // true: the connection may have been closed by the server meanwhile
  };

  /// An idle session, or a new unconnected one (it connects on its first request).
  Lease acquire();

  /// Returns a session whose last response was read completely. Sessions that failed must
  /// be dropped instead, since they may hold unread bytes.
  void release(std::unique_ptr<UnixSocketSession> session);

  const std::string& socketPath() const { return socket_path_; }

 private:
  const std::string socket_path_;
  const std::size_t max_idle_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<UnixSocketSession>> idle_;
};

}  // namespace grid::engine
