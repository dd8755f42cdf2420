#include "terminal_client.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <sys/ioctl.h>

#include <vector>

namespace grid::testing {

using Poco::Net::WebSocket;

TerminalClient::TerminalClient(int port, const std::string& sandbox_id, const std::string& query) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(60, 0));
  Poco::Net::HTTPRequest request(
      Poco::Net::HTTPRequest::HTTP_GET,
      "/sandboxes/" + sandbox_id + "/pty" + (query.empty() ? "" : "?" + query),
      Poco::Net::HTTPMessage::HTTP_1_1);
  Poco::Net::HTTPResponse response;
  try {
    socket_ = std::make_unique<WebSocket>(session, request, response);
    socket_->setReceiveTimeout(Poco::Timespan(60, 0));
    socket_->setSendTimeout(Poco::Timespan(60, 0));
  } catch (const Poco::Exception&) {
    socket_.reset();
  }
  status_ = response.getStatus();
}

void TerminalClient::type(const std::string& keys) {
  socket_->sendFrame(keys.data(), static_cast<int>(keys.size()), WebSocket::FRAME_BINARY);
}

void TerminalClient::sendText(const std::string& text) {
  socket_->sendFrame(text.data(), static_cast<int>(text.size()), WebSocket::FRAME_TEXT);
}

void TerminalClient::resize(int cols, int rows) {
  sendText("{\"type\":\"resize\",\"cols\":" + std::to_string(cols) +
           ",\"rows\":" + std::to_string(rows) + "}");
}

bool TerminalClient::readFrame(std::chrono::milliseconds wait) {
  if (!socket_ || close_code_ || broken_) return false;
  std::vector<char> buffer(1 << 17);
  int flags = 0;
  int received = 0;
  try {
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(wait).count();
    if (!socket_->poll(Poco::Timespan(micros), Poco::Net::Socket::SELECT_READ)) return false;
    received = socket_->receiveFrame(buffer.data(), static_cast<int>(buffer.size()), flags);
  } catch (const Poco::Exception&) {
    broken_ = true;
    return false;
  }
  const int opcode = flags & WebSocket::FRAME_OP_BITMASK;
  if (received == 0 && flags == 0) {
    broken_ = true;
    return false;
  }
  if (opcode == WebSocket::FRAME_OP_CLOSE) {
    close_code_ = received >= 2 ? (static_cast<unsigned char>(buffer[0]) << 8) |
                                      static_cast<unsigned char>(buffer[1])
                                : 1005;
    return false;
  }
  if (opcode == WebSocket::FRAME_OP_TEXT) {
    const std::string text(buffer.data(), static_cast<size_t>(received));
    messages_ += (messages_.empty() ? "" : "\n") + text;
    try {
      auto object = Poco::JSON::Parser().parse(text).extract<Poco::JSON::Object::Ptr>();
      if (object->optValue<std::string>("type", "") == "exit") {
        exit_reported_ = true;
        if (!object->isNull("code")) exit_code_ = object->getValue<int>("code");
      }
    } catch (const Poco::Exception&) {
    }
    return true;
  }
  output_.append(buffer.data(), static_cast<size_t>(received));
  return true;
}

bool TerminalClient::readUntil(const std::string& text, std::chrono::milliseconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (output_.find(text) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        give_up - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (!readFrame(std::min(left, std::chrono::milliseconds(500))) && (close_code_ || broken_)) {
      return output_.find(text) != std::string::npos;
    }
  }
  return true;
}

std::optional<int> TerminalClient::readUntilClosed(std::chrono::milliseconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!close_code_ && !broken_ && std::chrono::steady_clock::now() < give_up) {
    readFrame(std::chrono::milliseconds(500));
  }
  return close_code_;
}

int TerminalClient::pendingBytes() const {
  int pending = 0;
  if (socket_) ::ioctl(socket_->impl()->sockfd(), FIONREAD, &pending);
  return pending;
}

void TerminalClient::drop() {
  if (!socket_) return;
  try {
    socket_->close();
  } catch (const Poco::Exception&) {
  }
  socket_.reset();
}

}  // namespace grid::testing
