#include "net/connection_gate.h"

#include <Poco/Exception.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "net/error_body.h"

namespace grid {
namespace {

using Clock = std::chrono::steady_clock;

// Deadlines are checked at this granularity.
constexpr int kTickMs = 100;
// How long accepting pauses when the process is out of file descriptors.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

bool startsWithIgnoringCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

// How long a refused connection is drained before it is closed.
constexpr auto kDrainTime = std::chrono::seconds(2);

}  // namespace

HeadScan scanRequestHead(std::string_view received, size_t window) {
  // The head ends with an empty line; Poco also accepts bare LF line ends.
  size_t head_end = std::string_view::npos;
  if (const size_t crlf = received.find("\r\n\r\n"); crlf != std::string_view::npos) {
    head_end = crlf + 4;
  }
  if (const size_t lf = received.find("\n\n"); lf != std::string_view::npos) {
    head_end = std::min(head_end, lf + 2);
  }
  if (head_end == std::string_view::npos || head_end > window) {
    return received.size() >= window ? HeadScan::kTooLarge : HeadScan::kIncomplete;
  }
  std::optional<size_t> length;
  std::string_view rest = received.substr(0, head_end);
  rest.remove_prefix(std::min(rest.size(), rest.find('\n') + 1));  // the request line
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
    if (startsWithIgnoringCase(line, "transfer-encoding:")) return HeadScan::kReady;
    if (startsWithIgnoringCase(line, "expect:")) return HeadScan::kReady;
    if (startsWithIgnoringCase(line, "content-length:")) {
      const std::string_view value = trim(line.substr(15));
      size_t n = 0;
      if (value.empty()) return HeadScan::kReady;  // malformed: the parser will say so
      for (const char c : value) {
        if (c < '0' || c > '9') return HeadScan::kReady;
        if (n <= window) n = n * 10 + static_cast<size_t>(c - '0');  // beyond: only "large"
      }
      length = n;
    }
  }
  if (!length) return HeadScan::kReady;
  const size_t wanted = std::min(head_end + *length, window);
  return received.size() >= wanted ? HeadScan::kReady : HeadScan::kIncomplete;
}

ConnectionGate::ConnectionGate(Poco::Net::ServerSocket listener, ConnectionGateLimits limits,
                               Dispatch dispatch)
    : listener_(std::move(listener)), limits_(limits), dispatch_(std::move(dispatch)) {}

ConnectionGate::~ConnectionGate() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Result<void> ConnectionGate::start() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd_ < 0 || wake_fd_ < 0) {
    return fail(ErrorCode::kInternal, std::string("connection gate: ") + std::strerror(errno));
  }
  listener_.setBlocking(false);
  peek_buffer_.resize(limits_.window);
  for (const int fd : {listener_.impl()->sockfd(), wake_fd_}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      return fail(ErrorCode::kInternal, std::string("connection gate: ") + std::strerror(errno));
    }
  }
  thread_ = std::thread([this] { run(); });
  return {};
}

void ConnectionGate::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  listener_.close();  // connections not yet accepted are refused, not left hanging
  std::lock_guard lock(readmit_mutex_);
  readmitted_.clear();
}

void ConnectionGate::readmit(const Poco::Net::StreamSocket& socket) {
  {
    std::lock_guard lock(readmit_mutex_);
    if (stopping_) return;  // dropping the last reference closes it
    readmitted_.push_back(socket);
  }
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void ConnectionGate::run() {
  std::vector<epoll_event> events(256);
  const int listener_fd = listener_.impl()->sockfd();
  while (!stopping_) {
    if (listener_paused_ && Clock::now() >= listener_resume_) {
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.fd = listener_fd;
      listener_paused_ = ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listener_fd, &event) != 0;
    }
    const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), kTickMs);
    if (n < 0 && errno != EINTR) {
      spdlog::error("connection gate: epoll_wait: {}", std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<size_t>(i)].data.fd;
      if (fd == listener_fd) {
        acceptAll();
      } else if (fd == wake_fd_) {
        uint64_t count = 0;
        (void)!::read(wake_fd_, &count, sizeof count);
        takeReadmitted();
      } else {
        check(fd);
      }
    }
    expire();
  }
  for (auto& [fd, waiting] : waiting_) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  waiting_.clear();
}

void ConnectionGate::acceptAll() {
  const int listener_fd = listener_.impl()->sockfd();
  for (;;) {
    const int fd = ::accept4(listener_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // Out of descriptors or memory: stop listening for a moment instead of spinning on a
      // listener that stays readable.
      spdlog::warn("connection gate: accept: {}; pausing new connections", std::strerror(errno));
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listener_fd, nullptr);
      listener_paused_ = true;
      listener_resume_ = Clock::now() + kAcceptPause;
      return;
    }
    Poco::Net::StreamSocket socket(new Poco::Net::StreamSocketImpl(fd));
    try {
      socket.setNoDelay(true);
    } catch (const Poco::Exception&) {
      // Not fatal: only latency.
    }
    admit(socket, false);
  }
}

void ConnectionGate::admit(const Poco::Net::StreamSocket& socket, bool idle) {
  if (waiting_.size() >= limits_.max_waiting) {
    if (!full_)
      spdlog::warn(
          "connection gate: {} connections wait for their request; closing "
          "new ones until some are served or time out",
          waiting_.size());
    full_ = true;
    return;  // dropping the last reference closes it
  }
  full_ = false;
  const int fd = socket.impl()->sockfd();
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | EPOLLET;  // edge-triggered: bytes we only peek at
  event.data.fd = fd;                             // do not wake us again
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    spdlog::warn("connection gate: epoll_ctl: {}", std::strerror(errno));
    return;
  }
  const auto timeout = idle ? limits_.idle_timeout : limits_.head_timeout;
  waiting_.insert_or_assign(fd, Waiting{socket, Clock::now() + timeout, idle});
  check(fd);  // the request may be there already
}

void ConnectionGate::check(int fd) {
  const auto found = waiting_.find(fd);
  if (found == waiting_.end()) return;
  if (found->second.draining) {
    drain(fd);
    return;
  }
  const ssize_t n = ::recv(fd, peek_buffer_.data(), peek_buffer_.size(), MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {  // closed (or broken) before sending a request
    forget(fd);
    return;
  }
  const HeadScan scan = scanRequestHead(
      std::string_view(peek_buffer_.data(), static_cast<size_t>(n)), limits_.window);
  if (scan == HeadScan::kIncomplete) {
    if (found->second.idle) {  // a kept-alive connection started its next request
      found->second.idle = false;
      found->second.deadline = Clock::now() + limits_.head_timeout;
    }
    return;
  }
  if (scan == HeadScan::kTooLarge) {
    refuse(fd, "431 Request Header Fields Too Large", kCodeRequestHeaderTooLarge,
           "request head exceeds " + std::to_string(limits_.window) + " bytes");
    return;
  }
  const Poco::Net::StreamSocket socket = found->second.socket;
  forget(fd);
  dispatch_(socket);
}

void ConnectionGate::forget(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  waiting_.erase(fd);  // closes the socket unless a worker holds it
}

void ConnectionGate::refuse(int fd, const char* status_line, const char* code,
                            const std::string& message) {
  const std::string body = errorBody(code, message);
  const std::string answer = std::string("HTTP/1.1 ") + status_line +
                             "\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             "Content-Length: " +
                             std::to_string(body.size()) + "\r\n\r\n" + body;
  // Best effort: a client that does not read its answer loses it.
  (void)!::send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  Waiting& waiting = waiting_.at(fd);
  waiting.draining = true;
  waiting.deadline = Clock::now() + kDrainTime;
  drain(fd);
}

void ConnectionGate::drain(int fd) {
  for (;;) {
    const ssize_t n = ::recv(fd, peek_buffer_.data(), peek_buffer_.size(), MSG_DONTWAIT);
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    forget(fd);  // EOF: the client has all it will read
    return;
  }
}

void ConnectionGate::expire() {
  const auto now = Clock::now();
  if (now < next_expiry_scan_) return;  // a busy gate wakes far more often than deadlines pass
  next_expiry_scan_ = now + std::chrono::milliseconds(kTickMs);
  std::vector<int> expired;
  for (const auto& [fd, waiting] : waiting_) {
    if (waiting.deadline <= now) expired.push_back(fd);
  }
  for (const int fd : expired) {
    // A client that started a request is told why; a silent, idle or drained one is closed.
    char byte;
    if (!waiting_.at(fd).draining && ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1) {
      refuse(fd, "408 Request Timeout", kCodeRequestTimeout,
             "request not complete within " + std::to_string(limits_.head_timeout.count()) + " ms");
    } else {
      forget(fd);
    }
  }
}

void ConnectionGate::takeReadmitted() {
  std::vector<Poco::Net::StreamSocket> sockets;
  {
    std::lock_guard lock(readmit_mutex_);
    sockets.swap(readmitted_);
  }
  for (const auto& socket : sockets) admit(socket, true);
}

}  // namespace grid
