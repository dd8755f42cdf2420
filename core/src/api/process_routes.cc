#include "api/process_routes.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/NumberParser.h>
#include <Poco/URI.h>
#include <spdlog/spdlog.h>

#include <optional>

#include "api/api_json.h"
#include "api/api_requests.h"
#include "api/api_server.h"
#include "api/expiry_reply.h"
#include "api/ndjson_stream.h"
#include "api/request_body.h"
#include "net/error_body.h"
#include "sandbox/sandbox_manager.h"
#include "util/printable.h"
#include "util/utf8.h"

namespace grid {
namespace {

using namespace std::chrono_literals;
using Poco::JSON::Object;
using Poco::Net::HTTPResponse;

// A start waits this long for the process to report its pid; a signal or kill this long for
// the helper that sends it.
constexpr auto kStartTimeout = 20s;
constexpr auto kSignalTimeout = 10s;
// Output of one streamed event, and how long a follow waits for output before it checks that
// the client is still there.
constexpr size_t kStreamChunkBytes = 64 << 10;
constexpr auto kFollowPoll = 500ms;
// A follow ends after this long even while the process runs; the client resumes from the
// last offset it saw. No reply waits on the tenant without a deadline.
constexpr auto kMaxFollow = 1h;

Error invalid(const std::string& message) { return fail(ErrorCode::kInvalidArgument, message); }

Object::Ptr newObject() { return new Object(Poco::JSON_PRESERVE_KEY_ORDER); }

Poco::Dynamic::Var orNull(const std::optional<int>& value) {
  return value ? Poco::Dynamic::Var(*value) : Poco::Dynamic::Var();
}

Object::Ptr processJson(uint64_t handle, const BackgroundProcess& process) {
  const ProcessState state = process.state();
  auto o = newObject();
  o->set("pid", static_cast<Poco::UInt64>(handle));
  o->set("sandbox_pid", state.sandbox_pid);
  o->set("command", sanitizeUtf8(process.command()));
  o->set("status", processStatusName(state.status));
  o->set("exit_code", orNull(state.exit_code));
  o->set("started_at", isoTime(state.started_at));
  o->set("ended_at",
         state.ended_at ? Poco::Dynamic::Var(isoTime(*state.ended_at)) : Poco::Dynamic::Var());
  o->set("output_bytes", static_cast<Poco::UInt64>(process.output().totalBytes()));
  return o;
}

bool wantsStream(const Poco::Net::HTTPServerRequest& request, const Poco::URI::QueryParameters& q) {
  for (const auto& [key, value] : q) {
    if (key == "stream" || key == "follow") return value != "0" && value != "false";
  }
  return acceptsNdjson(request);
}

Result<uint64_t> queryNumber(const Poco::URI::QueryParameters& q, const std::string& key,
                             uint64_t fallback) {
  for (const auto& [name, value] : q) {
    if (name != key) continue;
    Poco::UInt64 parsed = 0;
    if (!Poco::NumberParser::tryParseUnsigned64(value, parsed)) {
      return invalid("'" + key + "' must be a whole number of bytes, not '" + value.substr(0, 32) +
                     "'");
    }
    return parsed;
  }
  return fallback;
}

Result<uint64_t> parseHandle(const std::string& text) {
  Poco::UInt64 handle = 0;
  if (text.size() > 19 || !Poco::NumberParser::tryParseUnsigned64(text, handle) || handle == 0) {
    return fail(ErrorCode::kNotFound, "no background process '" + text.substr(0, 32) + "'");
  }
  return handle;
}

}  // namespace

Result<BackgroundProcessSpec> parseProcessStartRequest(std::string_view body,
                                                       const RequestLimits& limits) {
  GRID_ASSIGN_OR_RETURN(const Object::Ptr o, parseJsonObject(body, limits.max_json_depth));
  BackgroundProcessSpec spec;
  if (!o->has("command") || o->isNull("command")) return invalid("'command' is required");
  if (!o->get("command").isString()) return invalid("'command' must be a string");
  spec.command = o->getValue<std::string>("command");
  if (spec.command.size() > limits.max_command_bytes) {
    return invalid("'command' is longer than " + std::to_string(limits.max_command_bytes) +
                   " bytes");
  }
  if (o->has("cwd") && !o->isNull("cwd")) {
    if (!o->get("cwd").isString()) return invalid("'cwd' must be a string");
    spec.cwd = o->getValue<std::string>("cwd");
  }
  if (o->has("env") && !o->isNull("env")) {
    Object::Ptr env = o->getObject("env");
    if (!env) return invalid("'env' must be an object of strings");
    if (env->size() > limits.max_map_entries) {
      return invalid("'env' has more than " + std::to_string(limits.max_map_entries) + " entries");
    }
    for (const auto& [name, value] : *env) {
      if (!value.isString()) return invalid("'env." + name.substr(0, 64) + "' must be a string");
      spec.env.emplace_back(name, value.extract<std::string>());
    }
  }
  GRID_TRY(checkBackgroundProcessSpec(spec));
  return spec;
}

Result<std::string> parseSignalRequest(std::string_view body) {
  GRID_ASSIGN_OR_RETURN(const Object::Ptr o, parseJsonObject(body, 4));
  if (!o->has("signal") || o->isNull("signal")) return invalid("'signal' is required");
  const Poco::Dynamic::Var value = o->get("signal");
  std::optional<std::string> name;
  if (value.isString()) {
    name = signalName(std::string_view(value.extract<std::string>()));
  } else if (value.isInteger() && value.type() != typeid(bool)) {
    const Poco::Int64 number = value.convert<Poco::Int64>();
    if (number >= 1 && number <= 64) name = signalName(static_cast<int>(number));
  }
  if (!name) {
    return invalid(
        "'signal' must name a signal (TERM, KILL, INT, HUP, ...) or be a number "
        "from 1 to 31");
  }
  return *name;
}

Reply ProcessRoutes::route(Poco::Net::HTTPServerRequest& request, const std::string& sandbox_id,
                           const std::vector<std::string>& rest) {
  const std::string& method = request.getMethod();
  const Poco::URI uri(request.getURI());
  const auto notAllowed = [&](const std::string& allowed) {
    Reply r = errorReply(
        HTTPResponse::HTTP_METHOD_NOT_ALLOWED, kCodeMethodNotAllowed,
        "method " + method + " is not allowed on " + uri.getPath() + " (allowed: " + allowed + ")");
    r.allow = allowed;
    return r;
  };
  const auto noRoute = [&] {
    return errorReply(fail(ErrorCode::kNotFound, "no route for " + method + " " + uri.getPath()));
  };
  if (rest.size() > 2 || (rest.size() == 2 && rest[1] != "output" && rest[1] != "signal")) {
    return noRoute();
  }
  // The method is checked before anything is read or looked up.
  if (rest.empty() && method != "GET" && method != "POST") return notAllowed("GET, POST");
  if (rest.size() == 1 && method != "GET" && method != "DELETE") return notAllowed("GET, DELETE");
  if (rest.size() == 2 && rest[1] == "output" && method != "GET") return notAllowed("GET");
  if (rest.size() == 2 && rest[1] == "signal" && method != "POST") return notAllowed("POST");

  std::string body;
  if (method == "POST") {
    auto read = readBoundedBody(request, options_.max_body_bytes);
    if (!read) {
      return errorReply(
          HTTPResponse::HTTP_REQUESTENTITYTOOLARGE, kCodeRequestBodyTooLarge,
          "request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes");
    }
    body = std::move(*read);
  }

  auto found = manager_.find(sandbox_id);
  if (!found.ok()) return errorReply(found.error());
  const std::shared_ptr<Sandbox> sandbox = found.value();
  ProcessTable& table = sandbox->processes();

  if (rest.empty() && method == "GET") {
    Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
    for (const auto& entry : table.list()) list->add(processJson(entry.handle, *entry.process));
    std::ostringstream out;
    list->stringify(out);
    return Reply{HTTPResponse::HTTP_OK, out.str() + "\n", "application/json", {}, {}};
  }
  if (rest.empty()) {  // POST: start
    auto spec = parseProcessStartRequest(body, options_.request_limits);
    if (!spec.ok()) return errorReply(spec.error());
    // Like a standalone exec: the container must run; the session need not.
    const SandboxLifecycle lifecycle = sandbox->lifecycle();
    if (lifecycle.status() != SandboxStatus::kRunning &&
        lifecycle.status() != SandboxStatus::kExited) {
      return sandboxErrorReply(
          manager_, sandbox_id,
          fail(ErrorCode::kConflict, std::string("sandbox is ") + statusName(lifecycle.status()) +
                                         "; background processes need a running sandbox"));
    }
    auto started = table.start(manager_.backend(), sandbox_id, spec.value(),
                               manager_.options().process_limits, Clock::now() + kStartTimeout);
    if (!started.ok()) return errorReply(started.error());
    sandbox->recordOperation(TrajectoryKind::kProcessStart, spec.value().command);
    spdlog::info("{}: background process {} (pid {} in the sandbox): {}", sandbox_id,
                 started.value().handle, started.value().process->state().sandbox_pid,
                 printablePrefix(spec.value().command, 200));
    return json(HTTPResponse::HTTP_CREATED,
                processJson(started.value().handle, *started.value().process));
  }

  auto handle = parseHandle(rest[0]);
  if (!handle.ok()) return errorReply(handle.error());
  auto looked_up = table.find(handle.value());
  if (!looked_up.ok()) return errorReply(looked_up.error());
  const std::shared_ptr<BackgroundProcess> process = looked_up.value();
  // A signal is delivered by a process started in the sandbox, which a frozen one never runs.
  if (method != "GET" && sandbox->lifecycle().status() == SandboxStatus::kPaused) {
    return errorReply(fail(ErrorCode::kConflict, "sandbox is paused; POST /sandboxes/" +
                                                     sandbox_id + "/resume before signalling"));
  }

  if (rest.size() == 1 && method == "GET") {
    return json(HTTPResponse::HTTP_OK, processJson(handle.value(), *process));
  }
  if (rest.size() == 1) {  // DELETE: kill; the record stays, as killed
    if (auto killed = process->kill(Clock::now() + kSignalTimeout); !killed.ok()) {
      return errorReply(killed.error());
    }
    sandbox->recordOperation(TrajectoryKind::kProcessSignal,
                             "kill process " + std::to_string(handle.value()));
    return json(HTTPResponse::HTTP_OK, processJson(handle.value(), *process));
  }
  if (rest[1] == "signal") {
    auto signal = parseSignalRequest(body);
    if (!signal.ok()) return errorReply(signal.error());
    if (auto sent = process->signal(signal.value(), Clock::now() + kSignalTimeout); !sent.ok()) {
      return errorReply(sent.error());
    }
    sandbox->recordOperation(
        TrajectoryKind::kProcessSignal,
        "signal " + signal.value() + " to process " + std::to_string(handle.value()));
    return json(HTTPResponse::HTTP_OK, processJson(handle.value(), *process));
  }

  // GET output
  const auto query = uri.getQueryParameters();
  const size_t budget = manager_.options().process_limits.max_output_bytes;
  auto offset = queryNumber(query, "offset", 0);
  if (!offset.ok()) return errorReply(offset.error());
  auto max_bytes = queryNumber(query, "max_bytes", budget);
  if (!max_bytes.ok()) return errorReply(max_bytes.error());
  if (max_bytes.value() == 0) return errorReply(invalid("'max_bytes' must be at least 1"));
  const OutputRing& ring = process->output();
  if (offset.value() > ring.totalBytes()) {
    return errorReply(invalid("'offset' " + std::to_string(offset.value()) + " is beyond the " +
                              std::to_string(ring.totalBytes()) + " bytes of output so far"));
  }

  if (!wantsStream(request, query)) {
    auto chunk = readOutputWhole(
        ring, offset.value(), static_cast<size_t>(std::min<uint64_t>(max_bytes.value(), budget)));
    if (!chunk.ok()) return errorReply(chunk.error());
    const ProcessState state = process->state();
    auto o = newObject();
    o->set("data", sanitizeUtf8(chunk.value().data));
    o->set("offset", static_cast<Poco::UInt64>(chunk.value().offset));
    o->set("next_offset", static_cast<Poco::UInt64>(chunk.value().next_offset));
    o->set("dropped", static_cast<Poco::UInt64>(chunk.value().dropped));
    o->set("eof", chunk.value().eof);
    o->set("status", processStatusName(state.status));
    o->set("exit_code", orNull(state.exit_code));
    return json(HTTPResponse::HTTP_OK, o);
  }

  Reply reply;
  reply.stream = [process, &request,
                  start = offset.value()](Poco::Net::HTTPServerResponse& response) {
    NdjsonStream stream(request, response);
    if (!stream.start()) return;
    const OutputRing& output = process->output();
    const auto give_up_at = Clock::now() + kMaxFollow;
    uint64_t at = start;
    for (;;) {
      auto read = readOutputWhole(output, at, kStreamChunkBytes);
      if (!read.ok()) return;  // cannot happen: `at` never passes the output's end
      const OutputRing::Chunk& chunk = read.value();
      if (!chunk.data.empty() || chunk.dropped > 0) {
        auto event = newObject();
        event->set("type", "output");
        event->set("data", sanitizeUtf8(chunk.data));
        event->set("offset", static_cast<Poco::UInt64>(chunk.offset));
        if (chunk.dropped > 0) event->set("dropped", static_cast<Poco::UInt64>(chunk.dropped));
        if (!stream.write(event)) return;
        at = chunk.next_offset;
        continue;
      }
      if (chunk.eof) {
        const ProcessState state = process->state();
        auto event = newObject();
        event->set("type", "exit");
        event->set("exit_code", orNull(state.exit_code));
        event->set("status", processStatusName(state.status));
        stream.write(event);
        return;
      }
      if (Clock::now() >= give_up_at) return;
      // Beyond what exists now: a partial character at `at` waits for its next bytes.
      const uint64_t beyond = std::max(at, output.totalBytes());
      if (output.waitBeyond(beyond, Clock::now() + kFollowPoll) == OutputRing::Wait::kTimedOut &&
          !stream.clientConnected()) {
        return;
      }
    }
  };
  return reply;
}

}  // namespace grid
