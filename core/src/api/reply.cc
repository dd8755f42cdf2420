#include "api/reply.h"

#include "api/api_json.h"

namespace grid {

using Poco::Net::HTTPResponse;

HTTPResponse::HTTPStatus statusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return HTTPResponse::HTTP_BAD_REQUEST;
    case ErrorCode::kNotFound:
      return HTTPResponse::HTTP_NOT_FOUND;
    case ErrorCode::kImageNotFound:
      return HTTPResponse::HTTP_NOT_FOUND;
    case ErrorCode::kConflict:
      return HTTPResponse::HTTP_CONFLICT;
    case ErrorCode::kUnsupported:
      return HTTPResponse::HTTP_BAD_REQUEST;
    case ErrorCode::kResourceExhausted:
      return HTTPResponse::HTTP_TOO_MANY_REQUESTS;
    case ErrorCode::kUnavailable:
      return HTTPResponse::HTTP_SERVICE_UNAVAILABLE;
    case ErrorCode::kTimeout:
      return HTTPResponse::HTTP_GATEWAY_TIMEOUT;
    case ErrorCode::kNoSpace:
      return HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE;
    case ErrorCode::kInternal:
      return HTTPResponse::HTTP_INTERNAL_SERVER_ERROR;
  }
  return HTTPResponse::HTTP_INTERNAL_SERVER_ERROR;
}

Reply json(HTTPResponse::HTTPStatus status, const Poco::JSON::Object::Ptr& object) {
  return Reply{status, toJsonText(object) + "\n", "application/json", {}, {}};
}

Reply errorReply(const Error& error) { return json(statusFor(error.code), errorJson(error)); }

Reply errorReply(HTTPResponse::HTTPStatus status, const char* code, const std::string& message) {
  auto o = errorJson(Error{ErrorCode::kInvalidArgument, message});
  o->set("code", code);
  return json(status, o);
}

}  // namespace grid
