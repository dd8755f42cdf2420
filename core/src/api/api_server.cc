#include "api/api_server.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/TCPServerDispatcher.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "api/api_json.h"
#include "api/exec_stream.h"
#include "api/expiry_reply.h"
#include "api/file_routes.h"
#include "api/fork_routes.h"
#include "api/network_routes.h"
#include "api/metrics_routes.h"
#include "api/openapi_document.h"
#include "api/port_proxy_route.h"
#include "api/pool_routes.h"
#include "api/process_routes.h"
#include "api/terminal_route.h"
#include "api/reply.h"
#include "api/request_body.h"
#include "api/ui_routes.h"
#include "net/error_body.h"
#include "net/http_connection.h"

namespace grid {
namespace {

using Poco::Net::HTTPRequestHandler;
using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

// True when the factory refused an announced oversized body, so Poco sent no 100 Continue and
// the client is not sending the body.
bool withheldContinue(const HTTPServerRequest& request) {
  return request.getExpectContinue() &&
         request.response().getStatus() == HTTPResponse::HTTP_REQUESTENTITYTOOLARGE;
}

std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    const size_t next = path.find('/', i);
    const size_t end = next == std::string::npos ? path.size() : next;
    if (end > i) parts.push_back(path.substr(i, end - i));
    i = end + 1;
  }
  return parts;
}

// The code token of an error reply's JSON body, for the failure counter ("other" if none).
std::string errorCodeOf(const Reply& reply) {
  try {
    auto parsed = Poco::JSON::Parser().parse(reply.body).extract<Poco::JSON::Object::Ptr>();
    if (parsed && parsed->has("code")) return parsed->getValue<std::string>("code");
  } catch (const Poco::Exception&) {
  }
  return "other";
}

class ApiRequestHandler : public HTTPRequestHandler {
 public:
  ApiRequestHandler(SandboxManager& manager, const ApiServerOptions& options)
      : manager_(manager), options_(options) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    const auto started = std::chrono::steady_clock::now();
    Reply reply;
    try {
      reply = route(request);
    } catch (const Poco::Exception& e) {
      reply = errorReply(Error{ErrorCode::kInternal, e.displayText()});
    } catch (const std::exception& e) {
      reply = errorReply(Error{ErrorCode::kInternal, e.what()});
    }
    if (reply.status >= 400) manager_.metrics().requestFailed(errorCodeOf(reply));
    if (reply.stream) {  // the route sends status, head and body itself
      try {
        reply.stream(response);
      } catch (const Poco::Exception& e) {
        spdlog::debug("{} {}: client went away: {}", request.getMethod(), request.getURI(),
                      e.displayText());
      }
      spdlog::info("{} {} {} {} (streamed)", request.clientAddress().toString(),
                   request.getMethod(), request.getURI(), static_cast<int>(response.getStatus()));
      return;
    }
    // An unread body (rejected, or never asked for) leaves the connection unusable.
    if (reply.status == HTTPResponse::HTTP_REQUESTENTITYTOOLARGE || withheldContinue(request) ||
        !drainUnreadBody(request)) {
      response.setKeepAlive(false);
    }
    response.setStatusAndReason(reply.status);
    response.setContentType(reply.content_type);
    if (!reply.allow.empty()) response.set("Allow", reply.allow);
    if (reply.status == HTTPResponse::HTTP_UNAUTHORIZED) response.set("WWW-Authenticate", "Bearer");
    response.setContentLength(static_cast<std::streamsize>(reply.body.size()));
    try {
      response.send().write(reply.body.data(), static_cast<std::streamsize>(reply.body.size()));
    } catch (const Poco::Exception& e) {
      spdlog::debug("{} {}: client went away: {}", request.getMethod(), request.getURI(),
                    e.displayText());
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    spdlog::info("{} {} {} {} {:.1f}ms", request.clientAddress().toString(), request.getMethod(),
                 request.getURI(), static_cast<int>(reply.status), ms);
  }

 private:
  // Reads what of the body the route left unread (a 401, 404 or 405 reads none), so it is not
  // taken for the next request on the connection; false if more than a bound remains.
  static bool drainUnreadBody(HTTPServerRequest& request) {
    if (!request.hasContentLength() && !request.getChunkedTransferEncoding()) return true;
    constexpr size_t kMaxDrain = 1 << 20;
    char buf[16384];
    size_t dropped = 0;
    std::istream& in = request.stream();
    while (in && dropped < kMaxDrain) {
      in.read(buf, sizeof buf);
      dropped += static_cast<size_t>(in.gcount());
    }
    return in.eof() && !in.bad();
  }

  // Reads and drops a rejected body (up to a bound) so the client, still sending, reads our
  // 413 instead of a connection reset.
  static void discardBody(HTTPServerRequest& request) {
    constexpr size_t kMaxDiscard = 64 << 20;
    if (withheldContinue(request)) return;  // the client waits for our answer, sending nothing
    char buf[65536];
    size_t dropped = 0;
    std::istream& in = request.stream();
    while (in && dropped < kMaxDiscard) {
      in.read(buf, sizeof buf);
      dropped += static_cast<size_t>(in.gcount());
    }
  }

  // Reads the body up to the configured limit; nullopt means it was too large.
  std::optional<std::string> readBody(HTTPServerRequest& request) {
    auto body = readBoundedBody(request, options_.max_body_bytes);
    if (!body) discardBody(request);
    return body;
  }

  Reply route(HTTPServerRequest& request) {
    const Poco::URI uri(request.getURI());
    const auto parts = splitPath(uri.getPath());
    const std::string& method = request.getMethod();
    const auto allow = [&](std::initializer_list<const char*> methods) {
      for (const char* m : methods) {
        if (method == m) return true;
      }
      return false;
    };
    const auto notAllowed = [&](const std::string& allowed) {
      Reply r = errorReply(HTTPResponse::HTTP_METHOD_NOT_ALLOWED, kCodeMethodNotAllowed,
                           "method " + method + " is not allowed on " + uri.getPath() +
                               " (allowed: " + allowed + ")");
      r.allow = allowed;
      return r;
    };

    if (parts.size() == 1 && parts[0] == "healthz") {
      if (!allow({"GET", "HEAD"})) return notAllowed("GET");
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
      o->set("status", "ok");
      o->set("running", static_cast<Poco::UInt64>(manager_.runningSlotsInUse()));
      o->set("max_running", static_cast<Poco::UInt64>(manager_.options().max_running_sandboxes));
      o->set("waiting", static_cast<Poco::UInt64>(manager_.startsWaiting()));
      o->set("backend", manager_.options().backend_name);
      o->set("sandboxes", static_cast<Poco::UInt64>(manager_.all().size()));
      o->set("max_sandboxes", static_cast<Poco::UInt64>(manager_.options().max_sandbox_records));
      return json(HTTPResponse::HTTP_OK, o);
    }
    // The API's description needs no token: it holds no data, and tells a client how to
    // authenticate (docs/openapi.md).
    if (parts.size() == 1 && parts[0] == "openapi.json") {
      if (!allow({"GET", "HEAD"})) return notAllowed("GET");
      return openApiReply();
    }
    // The dashboard's static files need no token; the API calls the page makes do.
    if (!parts.empty() && parts[0] == "ui") {
      if (method != "GET" && method != "HEAD") (void)readBody(request);  // keeps the connection
      return dashboardReply(options_.ui_dir, parts, method);
    }
    // A preview link's share token stands in for the server's token there (docs/ports.md).
    if (parts.size() >= 4 && parts[0] == "sandboxes" && parts[2] == "ports") {
      return PortProxyRoute(manager_, options_).proxy(request, parts, authorized(request));
    }
    if (!authorized(request)) {
      return errorReply(HTTPResponse::HTTP_UNAUTHORIZED, kCodeUnauthorized,
                        "missing or wrong bearer token (send `Authorization: Bearer <token>`)");
    }
    if (parts.size() == 1 && parts[0] == "metrics") {
      if (!allow({"GET", "HEAD"})) return notAllowed("GET");
      return metricsReply(manager_);
    }
    if (parts.size() == 1 && parts[0] == "pools") {
      if (!allow({"GET", "HEAD"})) return notAllowed("GET");
      return poolsReply(manager_);
    }
    if (parts.empty() || parts[0] != "sandboxes") {
      return errorReply(fail(ErrorCode::kNotFound, "no route for " + method + " " + uri.getPath()));
    }
    // Routes that stream their bodies read the request themselves.
    if (parts.size() >= 3 && parts[2] == "files") {
      return whileActive(parts[1], [&] {
        return FileRoutes(manager_, options_)
            .route(request, parts[1], {parts.begin() + 3, parts.end()});
      });
    }
    if (parts.size() == 3 && parts[2] == "pty") {
      return TerminalRoute(manager_, options_).route(request, parts[1]);
    }
    if (parts.size() >= 3 && parts[2] == "processes") {
      return whileActive(parts[1], [&] {
        return ProcessRoutes(manager_, options_)
            .route(request, parts[1], {parts.begin() + 3, parts.end()});
      });
    }
    if (parts.size() > 4) {
      return errorReply(fail(ErrorCode::kNotFound, "no route for " + method + " " + uri.getPath()));
    }
    std::string body;
    if (method == "POST" || method == "PUT" || method == "PATCH") {
      auto read = readBody(request);
      if (!read) {
        return errorReply(
            HTTPResponse::HTTP_REQUESTENTITYTOOLARGE, kCodeRequestBodyTooLarge,
            "request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes");
      }
      body = std::move(*read);
    }

    if (parts.size() == 1) {
      if (method == "GET") return listSandboxes();
      if (method == "POST") return createSandbox(body);
      return notAllowed("GET, POST");
    }
    const std::string& id = parts[1];
    if (parts.size() == 2) {
      if (method == "GET") return describe(id);
      if (method == "DELETE") return stop(id, true);
      return notAllowed("GET, DELETE");
    }
    const std::string& action = parts[2];
    if (parts.size() == 3 && action == "start") {
      if (method != "POST") return notAllowed("POST");
      return start(id);
    }
    if (parts.size() == 3 && action == "exec") {
      if (method != "POST") return notAllowed("POST");
      return exec(request, id, body);
    }
    if (parts.size() == 3 && action == "stop") {
      if (method != "POST") return notAllowed("POST");
      auto parsed = parseStopRequest(body);
      if (!parsed.ok()) return errorReply(parsed.error());
      return stop(id, parsed.value().remove);
    }
    if (parts.size() == 3 && (action == "pause" || action == "resume")) {
      if (method != "POST") return notAllowed("POST");
      return pauseOrResume(id, action == "pause");
    }
    if (parts.size() == 3 && action == "stats") {
      if (!allow({"GET", "HEAD"})) return notAllowed("GET");
      return sandboxStatsReply(manager_, id);
    }
    if (parts.size() == 3 && isForkAction(action)) {
      if (method != "POST") return notAllowed("POST");
      return forkRoute(manager_, action, id, body);
    }
    if (parts.size() == 4 && action == "shares") {
      return PortProxyRoute(manager_, options_).share(request, id, parts[3]);
    }
    if (parts.size() == 3 && action == "network") {
      if (method != "PATCH") return notAllowed("PATCH");
      return patchNetworkRoute(manager_, options_.request_limits, id, body);
    }
    if (action == "trajectory" && (parts.size() == 3 || parts[3] == "formatted")) {
      if (!allow({"GET"})) return notAllowed("GET");
      return trajectory(id, parts.size() == 4);
    }
    return errorReply(fail(ErrorCode::kNotFound, "no route for " + method + " " + uri.getPath()));
  }

  // Runs a files or processes route as activity of the sandbox (docs/lifetimes.md), a streamed
  // answer until its stream ends.
  template <typename Route>
  Reply whileActive(const std::string& id, Route route) {
    auto found = manager_.find(id);
    if (!found.ok()) return route();
    auto active = std::make_shared<ActivityTracker::Scope>(found.value()->activity().begin());
    Reply reply = route();
    if (reply.stream) {
      reply.stream = [active, stream = std::move(reply.stream)](HTTPServerResponse& response) {
        stream(response);
      };
    }
    return reply;
  }

  // Constant-time comparison, so response timing reveals nothing about the token.
  bool authorized(const HTTPServerRequest& request) const {
    const std::string& token = options_.auth_token;
    if (token.empty()) return true;
    const std::string expected = "Bearer " + token;
    // A copy: get() returns a reference to its default argument when the header is missing.
    const std::string given = request.get("Authorization", std::string());
    unsigned char diff = given.size() == expected.size() ? 0 : 1;
    for (size_t i = 0; i < expected.size(); ++i) {
      diff |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
    }
    return diff == 0;
  }

  Reply listSandboxes() {
    Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
    for (const auto& sandbox : manager_.all()) list->add(sandboxJson(sandbox->snapshot()));
    std::ostringstream out;
    list->stringify(out);
    return Reply{HTTPResponse::HTTP_OK, out.str() + "\n", "application/json", {}, {}};
  }

  Reply createSandbox(const std::string& body) {
    auto request = parseCreateRequest(body, options_.request_limits);
    if (!request.ok()) return errorReply(request.error());
    auto created = manager_.create(std::move(request.value()));
    if (!created.ok()) return errorReply(created.error());
    auto o = sandboxJson(created.value()->snapshot());
    addEgressJson(*o, manager_, created.value()->spec().id);
    return json(HTTPResponse::HTTP_CREATED, o);
  }

  Reply describe(const std::string& id) {
    auto found = manager_.find(id);
    if (!found.ok()) return errorReply(found.error());
    auto o = sandboxJson(found.value()->snapshot());
    addEgressJson(*o, manager_, id);
    return json(HTTPResponse::HTTP_OK, o);
  }

  Reply start(const std::string& id) {
    std::optional<ExecResult> setup;
    auto started = manager_.start(id, &setup);
    if (!started.ok()) {
      Reply reply = errorReply(started.error());
      if (setup) {
        auto o = errorJson(Error{ErrorCode::kInvalidArgument, started.error().message});
        o->set("code", "setup_failed");
        o->set("exit_code", setup->exit_code);
        o->set("output", execResultJson(*setup)->getValue<std::string>("output"));
        o->set("timed_out", setup->timed_out);
        reply = json(HTTPResponse::HTTP_BAD_REQUEST, o);
      }
      return reply;
    }
    return describe(id);
  }

  // Answers the sandbox's description, as start does.
  Reply pauseOrResume(const std::string& id, bool pause) {
    auto done = pause ? manager_.pause(id) : manager_.resume(id);
    if (!done.ok()) return errorReply(done.error());
    return describe(id);
  }

  Reply exec(HTTPServerRequest& http, const std::string& id, const std::string& body) {
    auto request = parseExecRequest(body, options_.request_limits);
    if (!request.ok()) return errorReply(request.error());
    if (wantsLiveOutput(request.value(), http)) {
      return streamExec(manager_, http, id, std::move(request.value()));
    }
    auto result = manager_.exec(id, request.value().command, request.value().standalone,
                                request.value().timeout, nullptr, request.value().auto_resume);
    if (!result.ok()) return sandboxErrorReply(manager_, id, result.error());
    return json(HTTPResponse::HTTP_OK, execResultJson(result.value()));
  }

  Reply stop(const std::string& id, bool remove) {
    auto found = manager_.find(id);
    if (!found.ok()) return errorReply(found.error());
    auto stopped = manager_.stop(id, remove);
    if (!stopped.ok()) return errorReply(stopped.error());
    auto o = sandboxJson(found.value()->snapshot());
    o->set("removed", remove);
    return json(HTTPResponse::HTTP_OK, o);
  }

  Reply trajectory(const std::string& id, bool formatted) {
    auto found = manager_.find(id);
    if (!found.ok()) return errorReply(found.error());
    const auto entries = found.value()->trajectory();
    if (formatted) {
      return Reply{
          HTTPResponse::HTTP_OK, formattedTrajectory(entries), "text/plain; charset=utf-8", {}, {}};
    }
    return json(HTTPResponse::HTTP_OK, trajectoryJson(found.value()->snapshot(), entries));
  }

  SandboxManager& manager_;
  const ApiServerOptions& options_;
};

// /sandboxes/{id}/ports/{port}...: the port proxy's (its bodies are streamed through).
bool isPortProxyPath(const HTTPServerRequest& request) {
  try {
    const auto parts = splitPath(Poco::URI(request.getURI()).getPath());
    return parts.size() >= 4 && parts[0] == "sandboxes" && parts[2] == "ports";
  } catch (const Poco::Exception&) {
    return false;
  }
}

class ApiHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  ApiHandlerFactory(SandboxManager& manager, const ApiServerOptions& options)
      : manager_(manager), options_(options) {}
  HTTPRequestHandler* createRequestHandler(const HTTPServerRequest& request) override {
    // The connection answers "Expect: 100-continue" right after this call unless the response
    // status is no longer 200 (as Poco's own HTTPServer does). Refusing an announced oversized body
    // here means the client never sends it; otherwise it would stream megabytes we only drop (and a
    // reset could eat our 413).
    // A files upload is streamed, bounded by its own limit (FileRoutes).
    const uint64_t limit = FileRoutes::isUpload(request) ? options_.max_file_bytes
                                                         : uint64_t{options_.max_body_bytes};
    // A proxied body is streamed to the sandbox's server, which sets its own limits.
    if (request.getExpectContinue() && request.hasContentLength() && !isPortProxyPath(request) &&
        static_cast<uint64_t>(request.getContentLength64()) > limit) {
      request.response().setStatusAndReason(HTTPResponse::HTTP_REQUESTENTITYTOOLARGE);
    }
    return new ApiRequestHandler(manager_, options_);
  }

 private:
  SandboxManager& manager_;
  const ApiServerOptions& options_;
};

}  // namespace

ApiServer::ApiServer(SandboxManager& manager, ApiServerOptions options)
    : manager_(manager), options_(std::move(options)) {}

ApiServer::~ApiServer() { stop(); }

Result<void> ApiServer::start() {
  try {
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress(options_.bind, static_cast<Poco::UInt16>(options_.port)),
                true);
    socket.listen(1024);
    port_ = socket.address().port();
    const int threads = static_cast<int>(options_.threads);
    threads_ = std::make_unique<Poco::ThreadPool>(2, threads + 4, 60);
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(threads);
    params->setMaxQueued(1024);
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(0);
    // Bounds each wait on a client once its request has arrived: reading a large body, or the
    // client reading our answer. Waiting for a request is the gate's, not a worker's.
    params->setTimeout(Poco::Timespan(30, 0));
    handlers_ = std::make_unique<ApiHandlerFactory>(manager_, options_);
    // Workers take only connections whose request is there (the gate's dispatch).
    gate_ = std::make_unique<ConnectionGate>(
        socket, ConnectionGateLimits{},
        [this](const Poco::Net::StreamSocket& ready) { dispatcher_->enqueue(ready); });
    dispatcher_ = new Poco::Net::TCPServerDispatcher(
        new HttpConnectionFactory(*handlers_, params, *gate_), *threads_, params);
    if (auto started = gate_->start(); !started.ok()) return started;
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kUnavailable, "cannot listen on " + options_.bind + ":" +
                                             std::to_string(options_.port) + ": " +
                                             e.displayText());
  }
  return {};
}

void ApiServer::stop() {
  if (gate_) gate_->stop();  // no new connections, waiting ones closed
  if (dispatcher_) {
    dispatcher_->stop();  // queued connections dropped; running requests finish
  }
  if (threads_) threads_->joinAll();
  if (dispatcher_) {
    dispatcher_->release();
    dispatcher_ = nullptr;
  }
  threads_.reset();
  gate_.reset();
  handlers_.reset();
}

}  // namespace grid
