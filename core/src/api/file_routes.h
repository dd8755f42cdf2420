// /sandboxes/{id}/files... : the files API (docs/files.md). Bodies stream both ways through
// the backend's file calls in 64 KiB pieces; nothing holds a whole file.
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

  /// A `PUT /sandboxes/{id}/files` (its body is bounded by max_file_bytes, not max_body_bytes).
  static bool isUpload(const Poco::Net::HTTPServerRequest& request);

 private:
  Reply upload(Poco::Net::HTTPServerRequest& request, const std::string& sandbox_id,
               const std::string& path, uint32_t mode);
  Reply download(Poco::Net::HTTPServerRequest& request, const std::string& sandbox_id,
                 const std::string& path, bool as_archive);
  Reply list(const std::string& sandbox_id, const std::string& path);
  Reply remove(const std::string& sandbox_id, const std::string& path);
  Reply mkdir(Poco::Net::HTTPServerRequest& request, const std::string& sandbox_id);

  SandboxManager& manager_;
  const ApiServerOptions& options_;
};

}  // namespace grid
