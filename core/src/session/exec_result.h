#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace grid {

/// What one exec produced, session or standalone. Output fields hold raw bytes; the HTTP layer
/// makes them valid UTF-8.
struct ExecResult {
  std::string output;              // stdout and stderr in arrival order
  bool has_split_streams = false;  // standalone execs also report the two streams apart
  std::string stdout_text;
  std::string stderr_text;
  int exit_code = 0;
  bool exited = false;  // the session shell ended with this exec
  bool timed_out = false;
  bool truncated = false;
  bool session_restarted = false;  // the shell could not be interrupted and was replaced
  bool interrupted = false;        // its live-output listener went away mid-run
  double duration_ms = 0;
};

/// Per-exec bounds, already resolved from request and configuration.
struct ExecLimits {
  std::chrono::milliseconds timeout{30000};
  size_t max_output_bytes = 1 << 20;
};

/// How often a running exec asks its live-output listener whether it is still there while
/// the command prints nothing.
inline constexpr std::chrono::milliseconds kListenerPollInterval{100};

}  // namespace grid
