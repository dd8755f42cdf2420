// The optional metrics-only listener ([metrics] bind = host:port): GET /metrics without a
// token, nothing else, so a Prometheus on a private network can scrape a server whose API
// needs a token. Its own small thread pool; a slow scraper cannot take API workers.
#pragma once

#include <memory>
#include <string>

#include "grid/result.h"
#include "sandbox/sandbox_manager.h"

namespace Poco {
class ThreadPool;
}
namespace Poco::Net {
class HTTPServer;
}

namespace grid {

class MetricsServer {
 public:
  MetricsServer(SandboxManager& manager, std::string host, int port);
  ~MetricsServer();

  /// Binds and serves. Fails when the address cannot be bound.
  Result<void> start();
  void stop();
  int port() const { return port_; }

 private:
  SandboxManager& manager_;
  const std::string host_;
  int port_;
  std::unique_ptr<Poco::ThreadPool> threads_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

/// Splits "host:port" ("[::1]:9100" for IPv6); the message says what is wrong.
Result<std::pair<std::string, int>> parseHostPort(const std::string& text);

}  // namespace grid
