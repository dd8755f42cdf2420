// TCP sockets made inside another network namespace (a sandbox's), and deadline-bounded I/O on
// them. A socket keeps the namespace it was created in, so a short-lived thread setns()es into
// the namespace, creates the socket and ends; the connect and all I/O then happen from any
// thread (docs/ports.md).
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "grid/result.h"

namespace grid {

/// A move-only owner of one socket (or other) fd.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  OwnedFd& operator=(OwnedFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  ~OwnedFd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

using SteadyDeadline = std::chrono::steady_clock::time_point;

/// A non-blocking, O_CLOEXEC TCP socket connected to 127.0.0.1:`port` inside the network
/// namespace `netns_fd` (an fd of /proc/<pid>/ns/net). kUnavailable when nothing listens
/// (refused), kTimeout past `deadline`, kInternal when the namespace cannot be entered.
Result<OwnedFd> connectLoopbackInNamespace(int netns_fd, uint16_t port, SteadyDeadline deadline);

/// Sends all of `data` on a non-blocking socket; kTimeout past `deadline`, kUnavailable when the
/// peer is gone.
Result<void> sendAllBy(int fd, std::string_view data, SteadyDeadline deadline);

/// Receives up to `size` bytes; 0 means the peer closed. kTimeout past `deadline`,
/// kUnavailable on a reset.
Result<size_t> receiveBy(int fd, char* buffer, size_t size, SteadyDeadline deadline);

}  // namespace grid
