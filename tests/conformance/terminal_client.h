// A WebSocket client of GET /sandboxes/{id}/pty for the conformance suite (Poco's own
// WebSocket, as a browser or `grid sandbox shell` would speak it). Every wait is bounded by a
// generous hang limit, never a timing assert.
#pragma once

#include <Poco/Net/WebSocket.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace grid::testing {

class TerminalClient {
 public:
  /// Opens the terminal; `query` is appended after '?' when non-empty.
  TerminalClient(int port, const std::string& sandbox_id, const std::string& query = "");

  /// The handshake's HTTP status (101 on success) and, on refusal, the reason phrase.
  int status() const { return status_; }
  bool open() const { return socket_ != nullptr; }

  void type(const std::string& keys);
  void sendText(const std::string& text);
  void resize(int cols, int rows);

  /// Reads until the terminal output (all of it so far) contains `text`; false if the socket
  /// closed or `limit` passed first.
  bool readUntil(const std::string& text,
                 std::chrono::milliseconds limit = std::chrono::seconds(60));
  /// Reads until the server closes; the close code, or nullopt on a hang or a broken socket.
  std::optional<int> readUntilClosed(std::chrono::milliseconds limit = std::chrono::seconds(60));

  const std::string& output() const { return output_; }
  /// Every text frame received, joined with '\n'.
  const std::string& messages() const { return messages_; }
  std::optional<int> exitCode() const { return exit_code_; }
  bool exitReported() const { return exit_reported_; }

  /// Bytes the kernel holds for this client, unread (a client that does not read).
  int pendingBytes() const;
  /// Closes the connection as a client that went away would (no close frame).
  void drop();

 private:
  // One frame; false when the socket closed (close_code_ set) or nothing came in `wait`.
  bool readFrame(std::chrono::milliseconds wait);

  std::unique_ptr<Poco::Net::WebSocket> socket_;
  int status_ = 0;
  std::string output_;
  std::string messages_;
  std::optional<int> exit_code_;
  bool exit_reported_ = false;
  std::optional<int> close_code_;
  bool broken_ = false;
};

}  // namespace grid::testing
