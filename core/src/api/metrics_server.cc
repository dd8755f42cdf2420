#include "api/metrics_server.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>
#include <spdlog/spdlog.h>

#include "api/metrics_routes.h"
#include "net/error_body.h"

namespace grid {
namespace {

using Poco::Net::HTTPResponse;

class MetricsHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit MetricsHandler(SandboxManager& manager) : manager_(manager) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    Reply reply;
    const std::string path = Poco::URI(request.getURI()).getPath();
    if (path != "/metrics") {
      reply = errorReply(
          fail(ErrorCode::kNotFound, "this listener serves only GET /metrics (not " + path + ")"));
    } else if (request.getMethod() != "GET" && request.getMethod() != "HEAD") {
      reply = errorReply(HTTPResponse::HTTP_METHOD_NOT_ALLOWED, kCodeMethodNotAllowed,
                         "method " + request.getMethod() + " is not allowed on /metrics");
      reply.allow = "GET";
    } else {
      reply = metricsReply(manager_);
    }
    // Nothing here reads a request body: never reuse a connection that may still carry one.
    response.setKeepAlive(false);
    response.setStatusAndReason(reply.status);
    response.setContentType(reply.content_type);
    if (!reply.allow.empty()) response.set("Allow", reply.allow);
    response.setContentLength(static_cast<std::streamsize>(reply.body.size()));
    try {
      response.send().write(reply.body.data(), static_cast<std::streamsize>(reply.body.size()));
    } catch (const Poco::Exception& e) {
      spdlog::debug("metrics listener: client went away: {}", e.displayText());
    }
  }

 private:
  SandboxManager& manager_;
};

class MetricsHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit MetricsHandlerFactory(SandboxManager& manager) : manager_(manager) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new MetricsHandler(manager_);
  }

 private:
  SandboxManager& manager_;
};

}  // namespace

Result<std::pair<std::string, int>> parseHostPort(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return fail(ErrorCode::kInvalidArgument,
                "'" + text + "' is not host:port (e.g. 127.0.0.1:9100 or [::1]:9100)");
  }
  std::string host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) {
      return fail(ErrorCode::kInvalidArgument, "'" + text + "': the port is not a number 0-65535");
    }
    port = port * 10 + (c - '0');
  }
  if (port > 65535 || host.empty()) {
    return fail(ErrorCode::kInvalidArgument, "'" + text + "': the port is not a number 0-65535");
  }
  return std::make_pair(host, port);
}

MetricsServer::MetricsServer(SandboxManager& manager, std::string host, int port)
    : manager_(manager), host_(std::move(host)), port_(port) {}

MetricsServer::~MetricsServer() { stop(); }

Result<void> MetricsServer::start() {
  try {
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress(host_, static_cast<Poco::UInt16>(port_)), true);
    socket.listen(64);
    port_ = socket.address().port();
    threads_ = std::make_unique<Poco::ThreadPool>(1, 4, 60);
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(4);
    params->setMaxQueued(64);
    params->setKeepAlive(false);
    params->setTimeout(Poco::Timespan(10, 0));
    server_ = std::make_unique<Poco::Net::HTTPServer>(new MetricsHandlerFactory(manager_),
                                                      *threads_, socket, params);
    server_->start();
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kUnavailable, "cannot listen for metrics on " + host_ + ":" +
                                             std::to_string(port_) + ": " + e.displayText());
  }
  return {};
}

void MetricsServer::stop() {
  if (server_) server_->stopAll(true);
  if (threads_) threads_->joinAll();
  server_.reset();
  threads_.reset();
}

}  // namespace grid
