#include "api/ndjson_stream.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/StreamSocket.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "api/api_json.h"
#include "api/reply.h"

namespace grid {

bool acceptsNdjson(const Poco::Net::HTTPServerRequest& request) {
  const std::string accept = request.get("Accept", std::string());
  return accept.find(kNdjsonContentType) != std::string::npos;
}

NdjsonStream::NdjsonStream(Poco::Net::HTTPServerRequest& request,
                           Poco::Net::HTTPServerResponse& response)
    : request_(request), response_(response) {
  // Poco's server hands its own request class, which reaches the connection's socket; the
  // socket is only polled here, never read.
  if (auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request_)) {
    fd_ = static_cast<int>(impl->socket().impl()->sockfd());
  }
}

void NdjsonStream::markGone(const std::string& why) {
  if (gone_) return;
  gone_ = true;
  response_.setKeepAlive(false);
  spdlog::info("{} {}: client went away mid-stream: {}", request_.getMethod(), request_.getURI(),
               why);
}

bool NdjsonStream::start() {
  if (gone_) return false;
  if (out_ != nullptr) return true;
  try {
    response_.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
    response_.setContentType(kNdjsonContentType);
    response_.setChunkedTransferEncoding(true);
    response_.set("Cache-Control", "no-store");
    out_ = &response_.send();  // sends the head
    out_->flush();
    if (!out_->good()) markGone("writing the head failed");
  } catch (const Poco::Exception& e) {
    markGone(e.displayText());
  }
  return !gone_;
}

bool NdjsonStream::writeLine(std::string_view json) {
  if (!start()) return false;
  line_.assign(json);
  line_ += '\n';
  try {
    out_->write(line_.data(), static_cast<std::streamsize>(line_.size()));
    out_->flush();  // one chunk per event: the client sees it now
    if (!out_->good()) markGone("write failed");
  } catch (const Poco::Exception& e) {
    markGone(e.displayText());
  }
  return !gone_;
}

bool NdjsonStream::write(const Poco::JSON::Object::Ptr& event) {
  if (gone_) return false;
  return writeLine(toJsonText(event));
}

bool NdjsonStream::clientConnected() {
  if (gone_) return false;
  if (fd_ < 0) return true;
  pollfd watched{fd_, POLLIN | POLLRDHUP, 0};
  const int ready = ::poll(&watched, 1, 0);
  if (ready <= 0) return true;  // nothing to tell (or EINTR: ask again next time)
  if ((watched.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
    markGone("connection reset");
    return false;
  }
  char byte;
  const ssize_t n = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) {
    markGone("connection closed");
  } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    markGone(std::string("recv: ") + std::strerror(errno));
  }
  return !gone_;
}

void NdjsonStream::fail(const Error& error) { fail(error, errorCodeToken(error.code)); }

void NdjsonStream::fail(const Error& error, const char* code) {
  if (gone_) return;
  auto event = errorJson(error);
  event->set("code", code);
  if (out_ == nullptr) {
    const std::string body = toJsonText(event) + "\n";
    try {
      response_.setStatusAndReason(statusFor(error.code));
      response_.setContentType("application/json");
      response_.setContentLength(static_cast<std::streamsize>(body.size()));
      response_.send().write(body.data(), static_cast<std::streamsize>(body.size()));
    } catch (const Poco::Exception& e) {
      markGone(e.displayText());
    }
    return;
  }
  Poco::JSON::Object::Ptr line = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  line->set("type", "error");
  line->set("error", event->get("error"));
  line->set("code", event->get("code"));
  write(line);
}

}  // namespace grid
