#include "net/netns_socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>

#include <string>
#include <thread>

namespace grid {
namespace {

int millisUntil(SteadyDeadline deadline) {
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

std::string errnoText(int error) {
  return std::string(::strerrordesc_np(error) ? ::strerrordesc_np(error) : "unknown error");
}

// Waits until `fd` is ready for `events`; false past the deadline.
bool waitFor(int fd, short events, SteadyDeadline deadline) {
  for (;;) {
    pollfd waiting{fd, events, 0};
    const int ready = ::poll(&waiting, 1, millisUntil(deadline));
    if (ready > 0) return true;
    if (ready == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

Result<OwnedFd> connectLoopbackInNamespace(int netns_fd, uint16_t port, SteadyDeadline deadline) {
  // The thread's namespace is its own (setns on a thread changes that thread only); it ends
  // right after, so no thread of the server ever runs in a sandbox's namespace afterwards.
  int made = -1;
  std::string failure;
  std::thread maker([&] {
    if (::setns(netns_fd, CLONE_NEWNET) != 0) {
      failure = "setns(network namespace): " + errnoText(errno);
      return;
    }
    made = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (made < 0) failure = "socket(AF_INET) in the sandbox's namespace: " + errnoText(errno);
  });
  maker.join();
  if (made < 0) return fail(ErrorCode::kInternal, failure);
  OwnedFd socket(made);
  const int one = 1;
  ::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS) {
      const int error = errno;
      return fail(error == ECONNREFUSED ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                  "connect(127.0.0.1:" + std::to_string(port) + "): " + errnoText(error));
    }
    if (!waitFor(socket.get(), POLLOUT, deadline)) {
      return fail(ErrorCode::kTimeout,
                  "connect(127.0.0.1:" + std::to_string(port) + "): no answer in time");
    }
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) {
      return fail(error == ECONNREFUSED ? ErrorCode::kUnavailable : ErrorCode::kInternal,
                  "connect(127.0.0.1:" + std::to_string(port) + "): " + errnoText(error));
    }
  }
  return socket;
}

Result<void> sendAllBy(int fd, std::string_view data, SteadyDeadline deadline) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (sent > 0) {
      data.remove_prefix(static_cast<size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!waitFor(fd, POLLOUT, deadline)) {
        return fail(ErrorCode::kTimeout, "send: the peer took nothing in time");
      }
      continue;
    }
    return fail(ErrorCode::kUnavailable, "send: " + errnoText(errno));
  }
  return {};
}

Result<size_t> receiveBy(int fd, char* buffer, size_t size, SteadyDeadline deadline) {
  for (;;) {
    const ssize_t got = ::recv(fd, buffer, size, MSG_DONTWAIT);
    if (got >= 0) return static_cast<size_t>(got);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!waitFor(fd, POLLIN, deadline)) {
        return fail(ErrorCode::kTimeout, "recv: nothing arrived in time");
      }
      continue;
    }
    return fail(ErrorCode::kUnavailable, "recv: " + errnoText(errno));
  }
}

}  // namespace grid
