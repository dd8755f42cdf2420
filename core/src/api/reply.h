// One HTTP answer of the API, built by a route and written by the request handler: a JSON (or
// text) body, or a stream the route writes itself (downloads, live output).
#pragma once

#include <Poco/JSON/Object.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <functional>
#include <string>

#include "grid/result.h"

namespace grid {

struct Reply {
  Poco::Net::HTTPResponse::HTTPStatus status = Poco::Net::HTTPResponse::HTTP_OK;
  std::string body;
  std::string content_type = "application/json";
  std::string allow;  // for 405
  /// Set for a streamed answer: called instead of writing `body`; it sets status and headers,
  /// sends them, and writes the body as it is produced. A Poco exception (the client went
  /// away) is caught by the caller.
  std::function<void(Poco::Net::HTTPServerResponse&)> stream;
};

/// The one mapping from error kinds to HTTP statuses.
Poco::Net::HTTPResponse::HTTPStatus statusFor(ErrorCode code);

Reply json(Poco::Net::HTTPResponse::HTTPStatus status, const Poco::JSON::Object::Ptr& object);

/// {"error": message, "code": token} with the status of `error.code`.
Reply errorReply(const Error& error);

/// An answer of the HTTP layer itself, with its own code token (net/error_body.h).
Reply errorReply(Poco::Net::HTTPResponse::HTTPStatus status, const char* code,
                 const std::string& message);

}  // namespace grid
