#include "grid/engine/connection_pool.h"

#include <utility>

namespace grid::engine {

ConnectionPool::ConnectionPool(std::string socket_path, std::size_t max_idle)
    : socket_path_(std::move(socket_path)), max_idle_(max_idle) {}

ConnectionPool::Lease ConnectionPool::acquire() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      Lease lease{std::move(idle_.back()), true};
      idle_.pop_back();
      return lease;
    }
  }
  return Lease{std::make_unique<UnixSocketSession>(socket_path_), false};
}

void ConnectionPool::release(std::unique_ptr<UnixSocketSession> session) {
  if (!session || !session->connected()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(session));
}

}  // namespace grid::engine
