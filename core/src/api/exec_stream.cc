#include "api/exec_stream.h"

#include <Poco/JSON/Object.h>

#include <array>

#include "api/api_json.h"
#include "api/expiry_reply.h"
#include "api/ndjson_stream.h"
#include "sandbox/sandbox_manager.h"
#include "session/exec_listener.h"
#include "util/utf8.h"

namespace grid {
namespace {

// Turns an exec's output into output events. Each stream is sanitised to UTF-8 on its own,
// a sequence split across reads carried over to the next read of that stream.
class LiveOutput : public ExecListener {
 public:
  explicit LiveOutput(NdjsonStream& out) : out_(out) {}

  // A client that left while the exec waited for its turn does not get the command run.
  bool onStart() override { return out_.clientConnected() && out_.start(); }

  bool onOutput(ExecOutputStream stream, std::string_view data) override {
    return send(stream, carry_[index(stream)].feed(data));
  }

  bool listening() override { return out_.clientConnected(); }

  /// Sends what the streams still carry (an incomplete sequence at the very end).
  bool finish() {
    bool connected = true;
    for (const auto stream :
         {ExecOutputStream::kOutput, ExecOutputStream::kStdout, ExecOutputStream::kStderr}) {
      connected = send(stream, carry_[index(stream)].finish()) && connected;
    }
    return connected;
  }

 private:
  static size_t index(ExecOutputStream stream) { return static_cast<size_t>(stream); }

  bool send(ExecOutputStream stream, const std::string& text) {
    if (text.empty()) return out_.clientConnected();
    Poco::JSON::Object::Ptr event = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    event->set("type", "output");
    event->set("stream", execOutputStreamName(stream));
    event->set("data", text);
    return out_.write(event);
  }

  NdjsonStream& out_;
  std::array<Utf8StreamSanitizer, 3> carry_;
};

}  // namespace

bool wantsLiveOutput(const ExecRequest& exec, const Poco::Net::HTTPServerRequest& request) {
  return exec.stream.value_or(acceptsNdjson(request));
}

Reply streamExec(SandboxManager& manager, Poco::Net::HTTPServerRequest& request, std::string id,
                 ExecRequest exec) {
  Reply reply;
  reply.stream = [&manager, &request, id = std::move(id),
                  exec = std::move(exec)](Poco::Net::HTTPServerResponse& response) {
    NdjsonStream out(request, response);
    LiveOutput live(out);
    auto result =
        manager.exec(id, exec.command, exec.standalone, exec.timeout, &live, exec.auto_resume);
    if (!result.ok()) {
      // A JSON error if the stream has not started.
      out.fail(result.error(), sandboxErrorCode(manager, id, result.error()));
      return;
    }
    if (!live.finish()) return;  // gone: the exec was interrupted and is in the trajectory
    out.write(execResultEventJson(result.value()));
  };
  return reply;
}

}  // namespace grid
