#include "api/request_body.h"

#include <istream>

namespace grid {

std::optional<std::string> readBoundedBody(Poco::Net::HTTPServerRequest& request, size_t limit) {
  if (request.hasContentLength() &&
      request.getContentLength64() > static_cast<Poco::Int64>(limit)) {
    return std::nullopt;
  }
  std::string body;
  if (!request.hasContentLength() && !request.getChunkedTransferEncoding()) return body;
  char buf[8192];
  std::istream& in = request.stream();
  while (in) {
    in.read(buf, sizeof buf);
    body.append(buf, static_cast<size_t>(in.gcount()));
    if (body.size() > limit) return std::nullopt;
  }
  return body;
}

}  // namespace grid
