#include "live_output_client.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/StreamCopier.h>

#include "api/api_json.h"

namespace grid::testing {
namespace {

ApiServerOptions localOptions() {
  ApiServerOptions options;
  options.bind = "127.0.0.1";
  options.port = 0;
  options.threads = 8;
  return options;
}

}  // namespace

InProcessApi::InProcessApi(SandboxManager& manager) : server_(manager, localOptions()) {
  ok_ = server_.start().ok();
}

InProcessApi::~InProcessApi() { server_.stop(); }

std::string execBody(const std::string& command, const LiveExec::Options& options) {
  Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
  body->set("command", command);
  if (options.standalone) body->set("standalone", true);
  body->set("timeout", options.timeout_s);
  if (!options.by_accept_header) body->set("stream", true);
  return toJsonText(body);
}

LiveExec::LiveExec(int port, const std::string& id, const std::string& command, Options options,
                   std::chrono::seconds hang_limit)
    : session_("127.0.0.1", static_cast<Poco::UInt16>(port)), hang_limit_(hang_limit) {
  session_.setTimeout(Poco::Timespan(hang_limit.count(), 0));
  try {
    const std::string body = execBody(command, options);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, "/sandboxes/" + id + "/exec",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body.size()));
    if (options.by_accept_header) request.set("Accept", "application/x-ndjson");
    session_.sendRequest(request) << body;
    in_ = &session_.receiveResponse(response_);
    if (response_.getContentType() != "application/x-ndjson") {
      Poco::StreamCopier::copyToString(*in_, body_);
      in_ = nullptr;
    }
  } catch (const Poco::Exception& e) {
    broken_ = "request failed: " + e.displayText();
    in_ = nullptr;
  }
}

std::optional<std::string> LiveExec::nextLine() {
  if (in_ == nullptr) return std::nullopt;
  const auto started = std::chrono::steady_clock::now();
  std::string line;
  if (std::getline(*in_, line)) return line;
  if (!in_->eof() || std::chrono::steady_clock::now() - started >= hang_limit_) {
    broken_ =
        "the stream broke or hung (no line within " + std::to_string(hang_limit_.count()) + " s)";
  }
  in_ = nullptr;
  return std::nullopt;
}

std::optional<Poco::JSON::Object::Ptr> LiveExec::next() {
  const auto line = nextLine();
  if (!line) return std::nullopt;
  try {
    Poco::JSON::Parser parser;
    auto event = parser.parse(*line).extract<Poco::JSON::Object::Ptr>();
    events_.push_back(event);
    return event;
  } catch (const std::exception&) {
    broken_ = "a line is not a JSON object: " + line->substr(0, 200);
    in_ = nullptr;
    return std::nullopt;
  }
}

bool LiveExec::readUntilOutput(const std::string& text) {
  std::string seen = output();
  while (seen.find(text) == std::string::npos) {
    const auto event = next();
    if (!event) return false;
    if ((*event)->optValue<std::string>("type", "") == "output") {
      seen += (*event)->optValue<std::string>("data", "");
    }
  }
  return true;
}

void LiveExec::readAll() {
  while (next()) {
  }
}

uint64_t LiveExec::drainCountingOutput() {
  uint64_t bytes = 0;
  while (auto event = next()) {
    if ((*event)->optValue<std::string>("type", "") != "output") continue;
    bytes += (*event)->optValue<std::string>("data", "").size();
    events_.pop_back();
  }
  return bytes;
}

std::string LiveExec::output(const std::string& stream) const {
  std::string joined;
  for (const auto& event : events_) {
    if (event->optValue<std::string>("type", "") != "output") continue;
    if (!stream.empty() && event->optValue<std::string>("stream", "") != stream) continue;
    joined += event->optValue<std::string>("data", "");
  }
  return joined;
}

void LiveExec::disconnect() {
  in_ = nullptr;
  session_.abort();
}

}  // namespace grid::testing
