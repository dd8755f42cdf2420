#include "api_client.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/StreamCopier.h>

#include <iostream>

namespace grid::cli {

ApiClient::ApiClient(const std::string& server, std::string token, std::chrono::seconds timeout)
    : server_(server), token_(std::move(token)), timeout_(timeout) {}

Result<void> ApiClient::checkServer() const {
  if (server_.getScheme() != "http" || server_.getHost().empty()) {
    return fail(ErrorCode::kInvalidArgument,
                "server URL '" + server_.toString() + "' must look like http://HOST:PORT");
  }
  return {};
}

std::string ApiClient::serverPath(const std::string& path) const {
  std::string base = server_.getPath();
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + path;
}

Error ApiClient::transportFailure(const Poco::Exception& e, const std::string& doing,
                                  const std::string& hint) const {
  const std::string where = server_.toString();
  if (dynamic_cast<const Poco::TimeoutException*>(&e) != nullptr) {
    return Error{ErrorCode::kTimeout, "no answer from the Grid server at " + where + " within " +
                                          std::to_string(timeout_.count()) + " s"};
  }
  return Error{ErrorCode::kUnavailable, doing + where + ": " + e.displayText() + hint};
}

Result<ApiResponse> ApiClient::call(const std::string& method, const std::string& path,
                                    const std::string& json_body) {
  return callStreaming(method, path, json_body, nullptr);
}

Result<ApiResponse> ApiClient::callStreaming(
    const std::string& method, const std::string& path, const std::string& json_body,
    const std::function<void(const std::string&)>& on_line) {
  GRID_TRY(checkServer());
  try {
    if (!session_) {
      session_ =
          std::make_unique<Poco::Net::HTTPClientSession>(server_.getHost(), server_.getPort());
      session_->setTimeout(Poco::Timespan(timeout_.count(), 0));
    }
    Poco::Net::HTTPRequest request(method, serverPath(path), Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token_.empty()) request.set("Authorization", "Bearer " + token_);
    if (on_line) request.set("Accept", "application/x-ndjson, application/json");
    if (!json_body.empty() || method == "POST") {
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(json_body.size()));
    }
    session_->sendRequest(request) << json_body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session_->receiveResponse(response);
    ApiResponse out;
    out.status = response.getStatus();
    out.content_type = response.getContentType();
    if (on_line && out.status == 200 && out.content_type.rfind("application/x-ndjson", 0) == 0) {
      std::string line;
      while (std::getline(in, line)) {
        if (!line.empty()) on_line(line);
      }
      return out;
    }
    Poco::StreamCopier::copyToString(in, out.body);
    return out;
  } catch (const Poco::Exception& e) {
    session_.reset();
    return transportFailure(e, "cannot reach the Grid server at ",
                            " (is `grid serve` running? set --server or GRID_SERVER)");
  }
}

Result<ApiResponse> ApiClient::exchange(
    const std::string& method, const std::string& path,
    const std::function<void(Poco::Net::HTTPRequest&)>& prepare,
    const std::function<Result<void>(std::ostream&)>& write_body,
    const std::function<Result<void>(std::istream&)>& read_body) {
  GRID_TRY(checkServer());
  try {
    session_ = std::make_unique<Poco::Net::HTTPClientSession>(server_.getHost(), server_.getPort());
    session_->setTimeout(Poco::Timespan(timeout_.count(), 0));
    Poco::Net::HTTPRequest request(method, serverPath(path), Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token_.empty()) request.set("Authorization", "Bearer " + token_);
    prepare(request);
    std::ostream& body = session_->sendRequest(request);
    if (write_body) {
      auto written = write_body(body);
      if (!written.ok()) {
        session_.reset();
        return written.error();
      }
    }
    Poco::Net::HTTPResponse response;
    std::istream& in = session_->receiveResponse(response);
    ApiResponse out;
    out.status = response.getStatus();
    out.content_type = response.getContentType();
    if (out.status == 200 && read_body) {
      auto read = read_body(in);
      session_.reset();
      if (!read.ok()) return read.error();
    } else {
      Poco::StreamCopier::copyToString(in, out.body);
    }
    return out;
  } catch (const Poco::Exception& e) {
    session_.reset();
    return transportFailure(e, "talking to the Grid server at ", "");
  }
}

Result<ApiResponse> ApiClient::upload(
    const std::string& path, const std::string& content_type, uint64_t length,
    const std::function<Result<void>(std::ostream&)>& write_body) {
  return exchange(
      "PUT", path,
      [&](Poco::Net::HTTPRequest& request) {
        request.setContentType(content_type);
        request.setContentLength64(static_cast<Poco::Int64>(length));
      },
      write_body, nullptr);
}

Result<ApiResponse> ApiClient::download(
    const std::string& path, const std::string& accept,
    const std::function<Result<void>(std::istream&)>& read_body) {
  return exchange(
      "GET", path,
      [&](Poco::Net::HTTPRequest& request) {
        if (!accept.empty()) request.set("Accept", accept);
      },
      nullptr, read_body);
}

int reportFailure(const Error& error) {
  std::cerr << "grid: " << error.message << "\n";
  return error.code == ErrorCode::kUnavailable ? 2 : 1;
}

std::string describeFailure(const ApiResponse& response) {
  try {
    Poco::JSON::Parser parser;
    auto object = parser.parse(response.body).extract<Poco::JSON::Object::Ptr>();
    if (object && object->has("error")) {
      return object->getValue<std::string>("error") + " (HTTP " + std::to_string(response.status) +
             ")";
    }
  } catch (const std::exception&) {
  }
  return "HTTP " + std::to_string(response.status) + ": " + response.body.substr(0, 200);
}

Result<Poco::JSON::Object::Ptr> ApiClient::callJson(const std::string& method,
                                                    const std::string& path,
                                                    const std::string& json_body) {
  GRID_ASSIGN_OR_RETURN(const auto response, call(method, path, json_body));
  if (response.status / 100 != 2) {
    return fail(ErrorCode::kInvalidArgument, describeFailure(response));
  }
  try {
    Poco::JSON::Parser parser;
    return parser.parse(response.body).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    return fail(ErrorCode::kInternal,
                "the server answered with something that is not a JSON object");
  }
}

Result<std::unique_ptr<Poco::Net::WebSocket>> ApiClient::openWebSocket(const std::string& path) {
  GRID_TRY(checkServer());
  try {
    Poco::Net::HTTPClientSession session(server_.getHost(), server_.getPort());
    session.setTimeout(Poco::Timespan(timeout_.count(), 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, serverPath(path),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token_.empty()) request.set("Authorization", "Bearer " + token_);
    Poco::Net::HTTPResponse response;
    try {
      return std::make_unique<Poco::Net::WebSocket>(session, request, response);
    } catch (const Poco::Net::WebSocketException&) {
      if (response.getStatus() == Poco::Net::HTTPResponse::HTTP_SWITCHING_PROTOCOLS) throw;
      const int status = response.getStatus();
      const ErrorCode code = status == 401   ? ErrorCode::kInvalidArgument
                             : status == 404 ? ErrorCode::kNotFound
                             : status == 409 ? ErrorCode::kConflict
                             : status == 429 ? ErrorCode::kResourceExhausted
                                             : ErrorCode::kInternal;
      return Error{code, "the server refused the terminal: HTTP " + std::to_string(status) + " " +
                             response.getReason()};
    }
  } catch (const Poco::Exception& e) {
    return transportFailure(e, "cannot open a terminal on the Grid server at ",
                            " (is `grid serve` running? set --server or GRID_SERVER)");
  }
}

}  // namespace grid::cli
