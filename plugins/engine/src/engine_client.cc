#include "grid/engine/engine_client.h"

#include <Poco/Buffer.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <istream>
#include <sstream>
#include <utility>
#include <vector>

namespace grid::engine {

namespace {

constexpr char kHostHeader[] = "localhost";

Poco::Timespan toTimespan(std::chrono::milliseconds timeout) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(timeout.count()) * 1000);
}

std::string withoutQuery(const std::string& path) { return path.substr(0, path.find('?')); }

bool startsWithVersionSegment(const std::string& path) {
  return path.size() > 2 && path[0] == '/' && path[1] == 'v' &&
         std::isdigit(static_cast<unsigned char>(path[2]));
}

// Reads the body to its end, failing once `deadline` passes: the socket timeout alone bounds
// each read, not a slowly streaming answer (image pulls).
std::string readBody(std::istream& in, std::chrono::steady_clock::time_point deadline) {
  // Without badbit in the mask the stream would swallow Poco's exceptions as a short body.
  in.exceptions(std::ios::badbit);
  std::string body;
  char chunk[16 * 1024];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    body.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (std::chrono::steady_clock::now() > deadline) throw Poco::TimeoutException("body");
  }
  return body;
}

std::vector<long> versionParts(std::string_view version) {
  std::vector<long> parts;
  std::size_t start = 0;
  while (start <= version.size()) {
    std::size_t end = version.find('.', start);
    if (end == std::string_view::npos) end = version.size();
    long value = 0;
    std::from_chars(version.data() + start, version.data() + end, value);
    parts.push_back(value);
    start = end + 1;
  }
  return parts;
}

std::string secondsText(std::chrono::milliseconds timeout) {
  std::ostringstream out;
  out << static_cast<double>(timeout.count()) / 1000.0 << " s";
  return out.str();
}

}  // namespace

EngineClient::EngineClient(EngineEndpoint endpoint, std::size_t max_idle_connections)
    : endpoint_(std::move(endpoint)), pool_(endpoint_.socket_path, max_idle_connections) {}

void EngineClient::setApiVersion(std::string version) {
  std::lock_guard<std::mutex> lock(mutex_);
  api_version_ = std::move(version);
}

std::string EngineClient::apiVersion() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return api_version_;
}

std::string EngineClient::versionedPath(const std::string& path) const {
  const std::string version = apiVersion();
  if (version.empty() || startsWithVersionSegment(path)) return path;
  return "/v" + version + path;
}

Result<Response> EngineClient::request(const std::string& method, const std::string& path,
                                       const std::optional<std::string>& json_body,
                                       std::chrono::milliseconds timeout) {
  bool retry = false;
  auto result = attempt(method, path, json_body, timeout, &retry);
  // A pooled connection the engine closed while idle fails before any answer; the request
  // never reached the engine, so sending it once more on a new connection is safe.
  if (!result.ok() && retry) result = attempt(method, path, json_body, timeout, &retry);
  return result;
}

Result<Response> EngineClient::attempt(const std::string& method, const std::string& path,
                                       const std::optional<std::string>& json_body,
                                       std::chrono::milliseconds timeout, bool* retry) {
  *retry = false;
  // Messages name the path as the caller wrote it: without version prefix and query.
  const std::string what = endpoint_.product + ": " + method + " " + withoutQuery(path);
  const std::string target = versionedPath(path);
  ConnectionPool::Lease lease = pool_.acquire();
  bool answered = false;
  try {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    lease.session->setTimeouts(toTimespan(timeout));
    Poco::Net::HTTPRequest request(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost(kHostHeader);
    request.setKeepAlive(true);
    if (json_body) {
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(json_body->size()));
    } else if (method == "POST" || method == "PUT") {
      request.setContentLength(0);
    }
    std::ostream& out = lease.session->sendRequest(request);
    if (json_body) out << *json_body;
    Poco::Net::HTTPResponse response;
    std::istream& in = lease.session->receiveResponse(response);
    answered = true;
    Response result{static_cast<int>(response.getStatus()), readBody(in, deadline)};
    if (response.getKeepAlive()) pool_.release(std::move(lease.session));
    return result;
  } catch (const UnreachableError& e) {
    return unreachable(e.message());
  } catch (const Poco::TimeoutException&) {
    return fail(ErrorCode::kTimeout, what + ": no complete answer within " + secondsText(timeout));
  } catch (const Poco::Exception& e) {
    *retry = lease.reused && !answered;
    return fail(ErrorCode::kInternal, what + ": " + e.displayText());
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal, what + ": " + e.what());
  }
}

Result<HijackedStream> EngineClient::hijack(const std::string& path, const std::string& json_body,
                                            std::chrono::milliseconds timeout) {
  const std::string target = versionedPath(path);
  const std::string what = endpoint_.product + ": POST " + withoutQuery(path);
  // Never pooled: after the upgrade the connection belongs to the stream.
  UnixSocketSession session(endpoint_.socket_path);
  try {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    session.setTimeouts(toTimespan(timeout));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, target,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost(kHostHeader);
    request.set("Connection", "Upgrade");
    request.set("Upgrade", "tcp");
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(json_body.size()));
    session.sendRequest(request) << json_body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    if (response.getStatus() != Poco::Net::HTTPResponse::HTTP_SWITCHING_PROTOCOLS) {
      Response answer{static_cast<int>(response.getStatus()), readBody(in, deadline)};
      return errorFor("POST", path, answer);
    }
    // Bytes of the stream that arrived with the header are still in Poco's buffer.
    Poco::Buffer<char> buffered(0);
    session.drainBuffer(buffered);
    HijackedStream stream{session.detachSocket(), std::string(buffered.begin(), buffered.size())};
    return stream;
  } catch (const UnreachableError& e) {
    return unreachable(e.message());
  } catch (const Poco::TimeoutException&) {
    return fail(ErrorCode::kTimeout, what + ": no answer within " + secondsText(timeout));
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kInternal, what + ": " + e.displayText());
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal, what + ": " + e.what());
  }
}

Result<std::string> EngineClient::negotiateApiVersion(const std::string& max_version) {
  // Unversioned on purpose: every API version answers it.
  GRID_ASSIGN_OR_RETURN(const Response response, request("GET", "/version"));
  if (!response.ok()) return errorFor("GET", "/version", response);
  std::string server;
  if (auto body = parseJsonObject(response.body)) {
    server = body->optValue<std::string>("ApiVersion", "");
  }
  if (server.empty()) {
    return fail(ErrorCode::kInternal,
                endpoint_.product + ": GET /version: answer has no ApiVersion");
  }
  std::string chosen = compareApiVersions(server, max_version) < 0 ? server : max_version;
  setApiVersion(chosen);
  return chosen;
}

Error EngineClient::errorFor(const std::string& method, const std::string& path,
                             const Response& response) const {
  ErrorCode code = ErrorCode::kInternal;
  switch (response.status) {
    case 400:
      code = ErrorCode::kInvalidArgument;
      break;
    case 404:
      code = ErrorCode::kNotFound;
      break;
    case 409:
      code = ErrorCode::kConflict;
      break;
    default:
      break;
  }
  return fail(code, endpoint_.product + ": " + method + " " + withoutQuery(path) + ": " +
                        std::to_string(response.status) + " " + engineMessage(response.body));
}

Error EngineClient::unreachable(const std::string& reason) const {
  return fail(ErrorCode::kUnavailable, "cannot reach " + endpoint_.display_name + " at unix://" +
                                           endpoint_.socket_path + " (" + reason + ")");
}

int compareApiVersions(std::string_view a, std::string_view b) {
  std::vector<long> left = versionParts(a);
  std::vector<long> right = versionParts(b);
  const std::size_t size = std::max(left.size(), right.size());
  left.resize(size, 0);
  right.resize(size, 0);
  if (left < right) return -1;
  if (right < left) return 1;
  return 0;
}

std::string urlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string engineMessage(const std::string& body) {
  if (auto object = parseJsonObject(body)) {
    std::string message = object->optValue<std::string>("message", "");
    if (!message.empty()) return message;
  }
  std::size_t begin = body.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "(empty answer)";
  std::size_t end = body.find_last_not_of(" \t\r\n");
  return body.substr(begin, end - begin + 1);
}

Poco::JSON::Object::Ptr parseJsonObject(const std::string& text) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return nullptr;
  }
}

Poco::JSON::Array::Ptr parseJsonArray(const std::string& text) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(text).extract<Poco::JSON::Array::Ptr>();
  } catch (const Poco::Exception&) {
    return nullptr;
  }
}

std::string toJson(const Poco::JSON::Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

}  // namespace grid::engine
