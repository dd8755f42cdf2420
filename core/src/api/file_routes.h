// /sandboxes/{id}/files... : the files API (docs/files.md).
#pragma once

#include <Poco/Net/HTTPServerRequest.h>

#include <string>
#include <vector>

#include "api/reply.h"

namespace grid {

class SandboxManager;
struct ApiServerOptions;

class FileRoutes {
 public:
  FileRoutes(SandboxManager& manager, const ApiServerOptions& options)
      : manager_(manager), options_(options) {}

  /// Answers one request; `rest` is the path after /sandboxes/{id}/files. Reads the request
  /// body itself (none has been read).
  Reply route(Poco::Net::HTTPServerRequest& request, const std::string& sandbox_id,
              const std::vector<std::string>& rest);

 private:
  SandboxManager& manager_;
  const ApiServerOptions& options_;
};

}  // namespace grid
