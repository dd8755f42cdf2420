// Live output of one exec: the session and standalone runs hand each piece of output to a
// listener as soon as it is read, and ask it while they wait whether anyone still listens.
#pragma once

#include <string_view>

namespace grid {

/// Which stream a piece of live output belongs to.
enum class ExecOutputStream {
  kOutput,  // a session exec: stdout and stderr merged, in arrival order
  kStdout,  // a standalone exec's stdout
  kStderr,  // a standalone exec's stderr
};

/// "output", "stdout", "stderr": the names used on the wire.
inline const char* execOutputStreamName(ExecOutputStream stream) {
  switch (stream) {
    case ExecOutputStream::kStdout:
      return "stdout";
    case ExecOutputStream::kStderr:
      return "stderr";
    case ExecOutputStream::kOutput:
      break;
  }
  return "output";
}

/// Receives an exec's output while it runs, on the exec's thread. A listener that is gone
/// (its client disconnected) interrupts the command: Ctrl-C for a session exec, kill for a
/// standalone one; the result then says `interrupted`.
class ExecListener {
 public:
  virtual ~ExecListener() = default;

  /// The command is about to run (the sandbox accepted the exec). False: nobody listens any
  /// more, and the command is not run.
  virtual bool onStart() = 0;

  /// Raw bytes of output as read, never empty. Bytes that might begin a session protocol
  /// marker are held back until decided, so a forged marker arrives here as output. False:
  /// the listener is gone.
  virtual bool onOutput(ExecOutputStream stream, std::string_view data) = 0;

  /// Polled while the command prints nothing (every kListenerPollInterval): false once the
  /// listener is gone.
  virtual bool listening() = 0;
};

}  // namespace grid
