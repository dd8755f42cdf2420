#include "api/process_routes.h"

#include "api/api_server.h"

namespace grid {

Reply ProcessRoutes::route(Poco::Net::HTTPServerRequest& request, const std::string& sandbox_id,
                           const std::vector<std::string>&) {
  (void)manager_;
  (void)options_;
  return errorReply(fail(ErrorCode::kNotFound, "no route for " + request.getMethod() + " " +
                                                   request.getURI() + " (sandbox " + sandbox_id +
                                                   ")"));
}

}  // namespace grid
