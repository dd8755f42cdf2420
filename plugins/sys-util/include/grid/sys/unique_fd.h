// UniqueFd: a move-only owner of one file descriptor, so no error path leaks or double-closes.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace grid::sys {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

/// Both ends of an O_CLOEXEC pipe; invalid fds when pipe2() failed (errno is set).
struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

inline bool makePipe(Pipe* pipe) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  pipe->read.reset(fds[0]);
  pipe->write.reset(fds[1]);
  return true;
}

}  // namespace grid::sys
