// The HTTP API: a Poco HTTPServer routing /sandboxes... to the SandboxManager. JSON in, JSON
// out; every error is a JSON body {"error", "code"} with a 4xx/5xx status.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "api/api_requests.h"
#include "api/port_proxy_route.h"
#include "grid/result.h"
#include "net/connection_gate.h"
#include "sandbox/sandbox_manager.h"

namespace Poco::Net {
class HTTPRequestHandlerFactory;
class TCPServerDispatcher;
}  // namespace Poco::Net
namespace Poco {
class ThreadPool;
}

namespace grid {

struct ApiServerOptions {
  std::string bind = "127.0.0.1";
  int port = 3000;  // 0: any free port (see port())
  size_t threads = 52;
  size_t max_body_bytes = 1 << 20;
  uint64_t max_file_bytes = 8ULL << 30;  // a files PUT body (not bound by max_body_bytes)
  size_t max_list_entries = 10000;
  std::chrono::milliseconds file_timeout{3600000};
  RequestLimits request_limits;
  size_t max_terminals_per_sandbox = 4;  // open GET /sandboxes/{id}/pty; more is 429
  std::string auth_token;  // non-empty: every route but /healthz needs "Bearer <token>"
  std::string ui_dir;      // the dashboard's files, served at /ui without a token; empty: none
  PortProxyLimits port_proxy;  // /sandboxes/{id}/ports/{port}/... (docs/ports.md)
};

class ApiServer {
 public:
  ApiServer(SandboxManager& manager, ApiServerOptions options);
  ~ApiServer();

  /// Binds and starts serving. Fails when the address cannot be bound.
  Result<void> start();
  /// Stops accepting and waits for in-flight requests.
  void stop();
  int port() const { return port_; }

 private:
  SandboxManager& manager_;
  ApiServerOptions options_;
  std::unique_ptr<Poco::ThreadPool> threads_;
  std::unique_ptr<Poco::Net::HTTPRequestHandlerFactory> handlers_;
  std::unique_ptr<ConnectionGate> gate_;
  Poco::Net::TCPServerDispatcher* dispatcher_ = nullptr;  // reference-counted by Poco
  int port_ = 0;
};

}  // namespace grid
