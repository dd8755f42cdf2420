#include "api/openapi_document.h"

namespace grid {

// Generated at configure time from openapi.json (core/CMakeLists.txt).
extern const char kOpenApiDocumentText[];
extern const std::size_t kOpenApiDocumentSize;

std::string_view openApiDocument() {
  return std::string_view(kOpenApiDocumentText, kOpenApiDocumentSize);
}

Reply openApiReply() {
  return Reply{
      Poco::Net::HTTPResponse::HTTP_OK, std::string(openApiDocument()), "application/json", {}, {}};
}

}  // namespace grid
