// /sandboxes/{id}/processes... : background processes (docs/processes.md).
#pragma once

#include <Poco/Net/HTTPServerRequest.h>

#include <string>
#include <string_view>
#include <vector>

#include "api/api_requests.h"
#include "api/reply.h"
#include "session/background_process.h"

namespace grid {

class SandboxManager;
struct ApiServerOptions;

/// Parses {"command", "cwd"?, "env"?}; kInvalidArgument naming the offending field.
Result<BackgroundProcessSpec> parseProcessStartRequest(std::string_view body,
                                                       const RequestLimits& limits);
/// Parses {"signal": "TERM" | 15}; the signal's name for `kill -s`.
Result<std::string> parseSignalRequest(std::string_view body);

class ProcessRoutes {
 public:
  ProcessRoutes(SandboxManager& manager, const ApiServerOptions& options)
      : manager_(manager), options_(options) {}

  /// Answers one request; `rest` is the path after /sandboxes/{id}/processes. Reads the
  /// request body itself (none has been read).
  Reply route(Poco::Net::HTTPServerRequest& request, const std::string& sandbox_id,
              const std::vector<std::string>& rest);

 private:
  SandboxManager& manager_;
  const ApiServerOptions& options_;
};

}  // namespace grid
