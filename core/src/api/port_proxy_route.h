// The port proxy (docs/ports.md): /sandboxes/{id}/ports/{port}/{path...} relays HTTP/1.1 (and
// WebSocket upgrades) to a port a sandbox listens on, its loopback included, over a socket the
// core opens inside the sandbox's network namespace. /sandboxes/{id}/shares/{port} makes and
// revokes the share tokens that open one port of one sandbox without the server's token.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "api/reply.h"

namespace grid {

class SandboxManager;
struct ApiServerOptions;

/// The bounds every proxied exchange lives within: a sandbox's server is hostile.
struct PortProxyLimits {
  std::chrono::milliseconds connect_timeout{5'000};
  /// From the request sent to the end of the response's head.
  std::chrono::milliseconds response_timeout{30'000};
  size_t max_response_head_bytes = 64 << 10;
  /// Each wait for the sandbox's server to send or take body bytes.
  std::chrono::milliseconds io_timeout{60'000};
  /// A WebSocket with no byte either way for this long is closed.
  std::chrono::milliseconds websocket_idle_timeout{300'000};
};

/// The query parameter and cookie carrying a share token.
inline constexpr char kShareParameter[] = "grid_share";

class PortProxyRoute {
 public:
  PortProxyRoute(SandboxManager& manager, const ApiServerOptions& options)
      : manager_(manager), options_(options) {}

  /// Any method on /sandboxes/{id}/ports/{port}[/...]. `has_server_token`: the request carries
  /// the server's token; otherwise it needs the port's share token.
  Reply proxy(Poco::Net::HTTPServerRequest& request, const std::vector<std::string>& parts,
              bool has_server_token);

  /// POST (make or get) and DELETE (revoke) /sandboxes/{id}/shares/{port}.
  Reply share(Poco::Net::HTTPServerRequest& request, const std::string& sandbox_id,
              const std::string& port);

 private:
  SandboxManager& manager_;
  const ApiServerOptions& options_;
};

/// The target sent upstream: the raw path after /sandboxes/{id}/ports/{port} ("/" if none) and
/// the query without the share parameter. kInvalidArgument for a URI not in origin form.
Result<std::string> upstreamTarget(const std::string& raw_uri);

}  // namespace grid
