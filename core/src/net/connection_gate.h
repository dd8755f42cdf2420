// ConnectionGate: the front door of the HTTP API. One thread accepts connections and holds
// each one until its request head (and a small body) has fully arrived, and only then hands it
// to a worker thread. A slow, stuck or idle client (slowloris, an idle keep-alive connection)
// costs an epoll entry here, never a worker; one that takes too long is answered 408 and closed.
#pragma once

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "grid/result.h"

namespace grid {

/// How far the bytes received so far go towards a complete request.
enum class HeadScan {
  kIncomplete,  // wait for more bytes
  kReady,       // the head is complete (and the body too, or all of it `window` can show)
  kTooLarge,    // no end of head within `window` bytes
};

/// Scans the start of a connection's input. The body is waited for only when it is announced
/// with Content-Length, without "Expect: 100-continue" (that client waits for our answer), and
/// only as far as `window` lets it be seen.
HeadScan scanRequestHead(std::string_view received, size_t window);

struct ConnectionGateLimits {
  std::chrono::milliseconds head_timeout{10'000};  // first byte to complete head
  std::chrono::milliseconds idle_timeout{60'000};  // a kept-alive connection with no request
  size_t window = 64 << 10;                        // bytes looked at (max head size)
  size_t max_waiting = 16384;                      // connections held at once
};

class ConnectionGate {
 public:
  using Dispatch = std::function<void(const Poco::Net::StreamSocket&)>;

  ConnectionGate(Poco::Net::ServerSocket listener, ConnectionGateLimits limits, Dispatch dispatch);
  ~ConnectionGate();
  ConnectionGate(const ConnectionGate&) = delete;
  ConnectionGate& operator=(const ConnectionGate&) = delete;

  Result<void> start();
  /// Stops accepting and closes every connection still waiting. Idempotent.
  void stop();
  /// Takes back a kept-alive connection to wait for its next request; closes it once stopped.
  void readmit(const Poco::Net::StreamSocket& socket);
  const ConnectionGateLimits& limits() const { return limits_; }

 private:
  struct Waiting {
    Poco::Net::StreamSocket socket;
    std::chrono::steady_clock::time_point deadline;
    bool idle;              // readmitted and nothing received yet: idle_timeout applies
    bool draining = false;  // refused: input is read and dropped until EOF or the deadline
  };

  void run();
  void acceptAll();
  void admit(const Poco::Net::StreamSocket& socket, bool idle);
  void check(int fd);
  void forget(int fd);
  /// Answers a request the gate refuses, then drains the connection for a moment: closing
  /// with unread input would reset it, and the client could lose the answer.
  void refuse(int fd, const char* status_line, const char* code, const std::string& message);
  void drain(int fd);
  void expire();
  void takeReadmitted();

  Poco::Net::ServerSocket listener_;
  const ConnectionGateLimits limits_;
  const Dispatch dispatch_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool listener_paused_ = false;
  bool full_ = false;  // max_waiting reached (logged once per episode)
  std::chrono::steady_clock::time_point next_expiry_scan_;
  std::chrono::steady_clock::time_point listener_resume_;
  std::unordered_map<int, Waiting> waiting_;  // gate thread only
  std::vector<char> peek_buffer_;             // gate thread only
  std::mutex readmit_mutex_;
  std::vector<Poco::Net::StreamSocket> readmitted_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace grid
