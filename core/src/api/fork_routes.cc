#include "api/fork_routes.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "api/api_json.h"
#include "api/api_requests.h"
#include "sandbox/sandbox_manager.h"

namespace grid {
namespace {

using Poco::Net::HTTPResponse;

bool lowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool validImageName(const std::string& name) {
  if (name.empty() || name.size() > 128 || !lowerAlnum(name.front()) || !lowerAlnum(name.back()))
    return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (lowerAlnum(c)) continue;
    if (c != '.' && c != '_' && c != '-' && c != '/') return false;
    if (!lowerAlnum(name[i + 1])) return false;  // separators stand alone ("a//b", "a/..")
  }
  return true;
}

bool validTag(const std::string& tag) {
  if (tag.empty() || tag.size() > 64 || tag.front() == '.' || tag.front() == '-') return false;
  for (char c : tag) {
    if (!lowerAlnum(c) && !(c >= 'A' && c <= 'Z') && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

}  // namespace

Result<ForkRequest> parseForkRequest(std::string_view body) {
  GRID_ASSIGN_OR_RETURN(const auto o, parseJsonObject(body, RequestLimits{}.max_json_depth));
  ForkRequest request;
  if (o->has("count") && !o->isNull("count")) {
    const Poco::Dynamic::Var count = o->get("count");
    if (!count.isInteger() || count.isBoolean()) {
      return fail(ErrorCode::kInvalidArgument, "count must be an integer");
    }
    request.count = count.convert<Poco::Int64>();
  }
  return request;
}

Result<SnapshotRequest> parseSnapshotRequest(std::string_view body) {
  GRID_ASSIGN_OR_RETURN(const auto o, parseJsonObject(body, RequestLimits{}.max_json_depth));
  SnapshotRequest request;
  if (!o->has("image") || !o->get("image").isString()) {
    return fail(ErrorCode::kInvalidArgument, "image must be a string \"name:tag\"");
  }
  request.image = o->getValue<std::string>("image");
  const size_t colon = request.image.rfind(':');
  if (colon == std::string::npos || !validImageName(request.image.substr(0, colon)) ||
      !validTag(request.image.substr(colon + 1))) {
    return fail(ErrorCode::kInvalidArgument,
                "image must be \"name:tag\": a lower-case name ([a-z0-9] joined by . _ - /, at "
                "most 128 bytes) and a tag ([A-Za-z0-9_.-], at most 64 bytes)");
  }
  if (o->has("overwrite") && !o->isNull("overwrite")) {
    if (!o->get("overwrite").isBoolean()) {
      return fail(ErrorCode::kInvalidArgument, "overwrite must be true or false");
    }
    request.overwrite = o->getValue<bool>("overwrite");
  }
  return request;
}

bool isForkAction(const std::string& action) {
  return action == "fork" || action == "snapshot" || action == "reset";
}

Reply forkRoute(SandboxManager& manager, const std::string& action, const std::string& id,
                const std::string& body) {
  if (action == "fork") {
    auto request = parseForkRequest(body);
    if (!request.ok()) return errorReply(request.error());
    if (request.value().count < 1) {
      return errorReply(
          fail(ErrorCode::kInvalidArgument,
               "count must be at least 1, got " + std::to_string(request.value().count)));
    }
    auto children = manager.fork(id, static_cast<size_t>(request.value().count));
    if (!children.ok()) return errorReply(children.error());
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("source", id);
    Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
    for (const auto& child : children.value()) list->add(sandboxJson(child->snapshot()));
    o->set("sandboxes", list);
    return json(HTTPResponse::HTTP_CREATED, o);
  }
  if (action == "snapshot") {
    auto request = parseSnapshotRequest(body);
    if (!request.ok()) return errorReply(request.error());
    auto saved = manager.snapshot(id, request.value().image, request.value().overwrite);
    if (!saved.ok()) return errorReply(saved.error());
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("id", id);
    o->set("image", request.value().image);
    return json(HTTPResponse::HTTP_CREATED, o);
  }
  // reset
  std::optional<ExecResult> setup;
  auto reset = manager.reset(id, &setup);
  if (!reset.ok()) {
    if (!setup) return errorReply(reset.error());
    auto o = errorJson(Error{ErrorCode::kInvalidArgument, reset.error().message});
    o->set("code", "setup_failed");
    o->set("exit_code", setup->exit_code);
    o->set("output", execResultJson(*setup)->getValue<std::string>("output"));
    o->set("timed_out", setup->timed_out);
    return json(HTTPResponse::HTTP_BAD_REQUEST, o);
  }
  auto found = manager.find(id);
  if (!found.ok()) return errorReply(found.error());
  return json(HTTPResponse::HTTP_OK, sandboxJson(found.value()->snapshot()));
}

}  // namespace grid
