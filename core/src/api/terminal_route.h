// GET /sandboxes/{id}/pty: an interactive shell on a pseudo-terminal, over a WebSocket
// (docs/terminal.md). Binary frames carry terminal bytes both ways; text frames carry JSON
// control messages ({"type":"resize"} in, {"type":"exit"} and {"type":"error"} out).
#pragma once

#include <Poco/Net/HTTPServerRequest.h>

#include <optional>
#include <string>
#include <string_view>

#include "api/reply.h"
#include "session/terminal_shell.h"

namespace grid {

class SandboxManager;
struct ApiServerOptions;

/// The largest frame a client may send: a bigger one closes the socket with 1009.
inline constexpr int kMaxTerminalFrameBytes = 64 * 1024;

/// The initial terminal from the query: cols, rows (both or neither; default 80x24) and term
/// (default xterm-256color). kInvalidArgument naming the bad parameter.
Result<TerminalOptions> parseTerminalQuery(const std::string& uri);

/// A control message a client sends. Only resize exists.
struct TerminalControl {
  TerminalSize resize;
};
/// Parses {"type":"resize","cols":N,"rows":M}; kInvalidArgument saying what is wrong.
Result<TerminalControl> parseTerminalControl(std::string_view text);

class TerminalRoute {
 public:
  TerminalRoute(SandboxManager& manager, const ApiServerOptions& options)
      : manager_(manager), options_(options) {}

  /// Answers GET /sandboxes/{id}/pty: a JSON error before the upgrade, or the WebSocket
  /// session, relayed until the shell exits, the client closes, or the sandbox stops.
  Reply route(Poco::Net::HTTPServerRequest& request, const std::string& sandbox_id);

 private:
  SandboxManager& manager_;
  const ApiServerOptions& options_;
};

}  // namespace grid
