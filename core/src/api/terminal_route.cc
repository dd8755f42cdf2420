#include "api/terminal_route.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/String.h>
#include <Poco/URI.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <atomic>
#include <charconv>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "api/api_server.h"
#include "sandbox/sandbox_manager.h"

namespace grid {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::WebSocket;

// How long the shell may take to start and report its pid.
constexpr auto kStartTimeout = std::chrono::seconds(30);
// The relay threads look at their stop flags this often.
constexpr auto kPollSlice = std::chrono::milliseconds(200);
// A client that takes no output (or sends half a frame) for this long is cut off; until then
// the terminal's own buffer, then the shell, waits for it: server memory stays bounded.
constexpr auto kSocketTimeout = std::chrono::seconds(30);
// Waiting for the shell's exit status once its output ended.
constexpr auto kExitStatusTimeout = std::chrono::seconds(5);

constexpr char kCodeUpgradeRequired[] = "upgrade_required";

Result<uint16_t> sizeParameter(const std::string& name, const std::string& value) {
  unsigned parsed = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (error != std::errc() || end != value.data() + value.size() || parsed < 1 ||
      parsed > kMaxTerminalCells) {
    return fail(ErrorCode::kInvalidArgument, "query parameter " + name +
                                                 " must be an integer from 1 to " +
                                                 std::to_string(kMaxTerminalCells));
  }
  return static_cast<uint16_t>(parsed);
}

bool isWebSocketUpgrade(const Poco::Net::HTTPServerRequest& request) {
  // Poco's handshake needs the key and version 13 too; without them it could not answer.
  return Poco::icompare(request.get("Upgrade", ""), "websocket") == 0 &&
         Poco::toLower(request.get("Connection", "")).find("upgrade") != std::string::npos &&
         request.has("Sec-WebSocket-Key") && request.get("Sec-WebSocket-Version", "") == "13";
}

std::string jsonText(const Poco::JSON::Object::Ptr& object) {
  std::ostringstream out;
  object->stringify(out);
  return out.str();
}

// One WebSocket session: the handler's thread relays client -> shell, a second thread
// shell -> client. Frames are sent under one lock (pongs and the close come from either side).
class TerminalRelay {
 public:
  TerminalRelay(WebSocket& socket, TerminalShell& shell, std::shared_ptr<std::atomic<bool>> stopped)
      : socket_(socket), shell_(shell), sandbox_stopped_(std::move(stopped)) {}

  void run() {
    std::thread output([this] { relayOutput(); });
    relayInput();
    done_ = true;
    output.join();
  }

 private:
  void relayOutput() {
    while (!done_) {
      if (*sandbox_stopped_) {
        closeWith(WebSocket::WS_ENDPOINT_GOING_AWAY, "sandbox stopped");
        break;
      }
      auto step = shell_.read(Clock::now() + kPollSlice);
      if (!step.ok()) {
        if (*sandbox_stopped_) continue;  // said above, on the next turn
        closeWith(WebSocket::WS_UNEXPECTED_CONDITION, "terminal: " + step.error().message);
        break;
      }
      if (step.value().status == ReadResult::Status::kTimeout) continue;
      if (step.value().status == ReadResult::Status::kData) {
        if (!send(step.value().data, WebSocket::FRAME_BINARY)) break;
        continue;
      }
      if (*sandbox_stopped_) continue;
      const std::optional<int> code = shell_.exitCode(Clock::now() + kExitStatusTimeout);
      Poco::JSON::Object::Ptr exit = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
      exit->set("type", "exit");
      if (code) {
        exit->set("code", *code);
      } else {
        exit->set("code", Poco::Dynamic::Var());
      }
      send(jsonText(exit), WebSocket::FRAME_TEXT);
      closeWith(WebSocket::WS_NORMAL_CLOSE, "shell exited");
      break;
    }
    done_ = true;
  }

  void relayInput() {
    std::vector<char> buffer(kMaxTerminalFrameBytes);
    const Poco::Timespan slice(std::chrono::microseconds(kPollSlice).count());
    while (!done_) {
      int flags = 0;
      int received = 0;
      try {
        if (!socket_.poll(slice, Poco::Net::Socket::SELECT_READ)) continue;
        received = socket_.receiveFrame(buffer.data(), static_cast<int>(buffer.size()), flags);
      } catch (const Poco::Net::WebSocketException& e) {
        if (e.code() == WebSocket::WS_ERR_PAYLOAD_TOO_BIG) {
          closeWith(WebSocket::WS_PAYLOAD_TOO_BIG,
                    "frames are limited to " + std::to_string(kMaxTerminalFrameBytes) + " bytes");
        } else {
          closeWith(WebSocket::WS_PROTOCOL_ERROR, e.message());
        }
        break;
      } catch (const Poco::Exception& e) {
        spdlog::debug("terminal: client connection: {}", e.displayText());
        break;  // gone, or half a frame for kSocketTimeout
      }
      const int opcode = flags & WebSocket::FRAME_OP_BITMASK;
      if (received == 0 && flags == 0) break;  // the peer closed the connection
      if (opcode == WebSocket::FRAME_OP_CLOSE) {
        closeWith(WebSocket::WS_NORMAL_CLOSE, "");
        break;
      }
      if (opcode == WebSocket::FRAME_OP_PING) {
        send(std::string(buffer.data(), static_cast<size_t>(received)),
             static_cast<int>(WebSocket::FRAME_FLAG_FIN) | WebSocket::FRAME_OP_PONG);
        continue;
      }
      if (opcode == WebSocket::FRAME_OP_TEXT) {
        control(std::string_view(buffer.data(), static_cast<size_t>(received)));
        continue;
      }
      if (opcode != WebSocket::FRAME_OP_BINARY && opcode != WebSocket::FRAME_OP_CONT) continue;
      if (received == 0) continue;
      // Blocks while the shell reads no input (bounded by the backend); the client's further
      // frames then wait in its socket, not here.
      if (auto written =
              shell_.write(std::string_view(buffer.data(), static_cast<size_t>(received)));
          !written.ok()) {
        spdlog::debug("terminal: input: {}", written.error().message);
        // The shell has gone: the output side reports how it ended.
        if (written.error().code != ErrorCode::kTimeout) {
          waitOutputDone();
          break;
        }
        reportError("input dropped: " + written.error().message);
      }
    }
  }

  void control(std::string_view text) {
    auto message = parseTerminalControl(text);
    if (!message.ok()) {
      reportError(message.error().message);
      return;
    }
    if (auto resized = shell_.resize(message.value().resize); !resized.ok()) {
      reportError("resize: " + resized.error().message);
    }
  }

  void reportError(const std::string& message) {
    Poco::JSON::Object::Ptr error = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    error->set("type", "error");
    error->set("message", message);
    send(jsonText(error), WebSocket::FRAME_TEXT);
  }

  // After the shell went away on the input side, lets the output side say how (bounded).
  void waitOutputDone() {
    const auto limit = Clock::now() + kExitStatusTimeout + kPollSlice * 2;
    while (!done_ && Clock::now() < limit) std::this_thread::sleep_for(kPollSlice / 4);
  }

  bool send(const std::string& payload, int flags) {
    std::lock_guard lock(send_mutex_);
    if (close_sent_) return false;
    try {
      socket_.sendFrame(payload.data(), static_cast<int>(payload.size()), flags);
      return true;
    } catch (const Poco::Exception& e) {
      spdlog::debug("terminal: sending to the client: {}", e.displayText());
      close_sent_ = true;  // the connection is unusable
      return false;
    }
  }

  void closeWith(uint16_t code, const std::string& reason) {
    std::lock_guard lock(send_mutex_);
    if (close_sent_) return;
    close_sent_ = true;
    try {
      socket_.shutdown(code, reason.substr(0, 120));  // a close frame's reason is < 124 bytes
    } catch (const Poco::Exception& e) {
      spdlog::debug("terminal: closing: {}", e.displayText());
    }
  }

  WebSocket& socket_;
  TerminalShell& shell_;
  std::shared_ptr<std::atomic<bool>> sandbox_stopped_;
  std::atomic<bool> done_{false};
  std::mutex send_mutex_;
  bool close_sent_ = false;
};

}  // namespace

Result<TerminalOptions> parseTerminalQuery(const std::string& uri) {
  TerminalOptions options;
  std::optional<uint16_t> cols, rows;
  Poco::URI::QueryParameters params;
  try {
    params = Poco::URI(uri).getQueryParameters();
  } catch (const Poco::Exception& e) {
    return fail(ErrorCode::kInvalidArgument, "malformed query: " + e.message());
  }
  for (const auto& [name, value] : params) {
    if (name == "cols") {
      GRID_ASSIGN_OR_RETURN(cols, sizeParameter(name, value));
    } else if (name == "rows") {
      GRID_ASSIGN_OR_RETURN(rows, sizeParameter(name, value));
    } else if (name == "term") {
      GRID_TRY(checkTerminalName(value));
      options.term = value;
    } else {
      return fail(ErrorCode::kInvalidArgument,
                  "unknown query parameter '" + name.substr(0, 64) + "' (known: cols, rows, term)");
    }
  }
  if (cols.has_value() != rows.has_value()) {
    return fail(ErrorCode::kInvalidArgument, "give both cols and rows, or neither");
  }
  if (cols) options.size = TerminalSize{*cols, *rows};
  return options;
}

Result<TerminalControl> parseTerminalControl(std::string_view text) {
  Poco::JSON::Object::Ptr object;
  try {
    object = Poco::JSON::Parser().parse(std::string(text)).extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return fail(ErrorCode::kInvalidArgument, "a control message must be a JSON object");
  }
  if (!object) return fail(ErrorCode::kInvalidArgument, "a control message must be a JSON object");
  if (!object->has("type") || !object->get("type").isString()) {
    return fail(ErrorCode::kInvalidArgument, "a control message needs a string \"type\"");
  }
  const std::string type = object->getValue<std::string>("type");
  if (type != "resize") {
    return fail(ErrorCode::kInvalidArgument,
                "unknown control message type '" + type.substr(0, 32) + "' (known: resize)");
  }
  TerminalControl control;
  for (const char* field : {"cols", "rows"}) {
    const auto value = object->get(field);
    if (!value.isInteger() || value.convert<int64_t>() < 1 ||
        value.convert<int64_t>() > kMaxTerminalCells) {
      return fail(ErrorCode::kInvalidArgument, std::string("resize needs \"") + field +
                                                   "\", an integer from 1 to " +
                                                   std::to_string(kMaxTerminalCells));
    }
    const auto cells = static_cast<uint16_t>(value.convert<int64_t>());
    (field[0] == 'c' ? control.resize.cols : control.resize.rows) = cells;
  }
  return control;
}

Reply TerminalRoute::route(Poco::Net::HTTPServerRequest& request, const std::string& sandbox_id) {
  if (request.getMethod() != "GET") {
    Reply reply = errorReply(
        HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
        "method " + request.getMethod() + " is not allowed on /sandboxes/{id}/pty (allowed: GET)");
    reply.allow = "GET";
    return reply;
  }
  auto options = parseTerminalQuery(request.getURI());
  if (!options.ok()) return errorReply(options.error());
  auto found = manager_.findRunning(sandbox_id);
  if (!found.ok()) return errorReply(found.error());
  if (!isWebSocketUpgrade(request)) {
    Reply reply;
    const Reply error =
        errorReply(HTTPResponse::HTTP_UPGRADE_REQUIRED, kCodeUpgradeRequired,
                   "GET /sandboxes/{id}/pty is a WebSocket: send `Connection: Upgrade` and "
                   "`Upgrade: websocket` (docs/terminal.md)");
    reply.status = error.status;
    reply.stream = [error](Poco::Net::HTTPServerResponse& response) {
      response.setStatusAndReason(error.status);
      response.setContentType(error.content_type);
      response.set("Upgrade", "websocket");
      response.setContentLength(static_cast<std::streamsize>(error.body.size()));
      response.send().write(error.body.data(), static_cast<std::streamsize>(error.body.size()));
    };
    return reply;
  }
  std::shared_ptr<Sandbox> sandbox = found.value();
  // A stop ends the terminal: the flag is seen within one poll slice.
  auto stopped = std::make_shared<std::atomic<bool>>(false);
  auto registration = sandbox->terminals().add([stopped] { *stopped = true; });
  if (!registration.ok()) return errorReply(registration.error());
  if (sandbox->terminals().size() > options_.max_terminals_per_sandbox) {
    return errorReply(
        fail(ErrorCode::kResourceExhausted, "sandbox " + sandbox_id + " has " +
                                                std::to_string(options_.max_terminals_per_sandbox) +
                                                " terminals open already (the limit, [terminal] "
                                                "max_per_sandbox)"));
  }
  auto shell = TerminalShell::start(manager_.backend(), sandbox_id, options.value(),
                                    Clock::now() + kStartTimeout);
  if (!shell.ok()) {
    spdlog::warn("{}: opening a terminal: {}", sandbox_id, shell.error().message);
    return errorReply(shell.error());
  }

  Reply reply;
  reply.status = HTTPResponse::HTTP_SWITCHING_PROTOCOLS;
  auto held = std::make_shared<std::unique_ptr<TerminalShell>>(std::move(shell).value());
  auto kept = std::make_shared<TransferSet::Registration>(std::move(registration).value());
  reply.stream = [&request, held, kept, stopped, sandbox_id,
                  sandbox](Poco::Net::HTTPServerResponse& response) {
    TerminalShell& terminal = **held;
    try {
      WebSocket socket(request, response);
      socket.setReceiveTimeout(Poco::Timespan(std::chrono::seconds(kSocketTimeout).count(), 0));
      socket.setSendTimeout(Poco::Timespan(std::chrono::seconds(kSocketTimeout).count(), 0));
      spdlog::info("{}: terminal opened (shell pid {} in the sandbox)", sandbox_id,
                   terminal.sandboxPid());
      TerminalRelay(socket, terminal, stopped).run();
    } catch (const Poco::Exception& e) {
      spdlog::warn("{}: terminal: {}", sandbox_id, e.displayText());
    }
    // The connection was the WebSocket's: never handed back for another request.
    response.setKeepAlive(false);
    terminal.close();
    spdlog::info("{}: terminal closed (shell pid {})", sandbox_id, terminal.sandboxPid());
  };
  return reply;
}

}  // namespace grid
