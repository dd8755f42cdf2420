// The wire protocol between the core and the session shell, kept pure (no I/O) so it can be
// unit-tested and fuzzed. The shell is `bash -i` reading stdin: each exec is one
// `eval $'...'` line, and the shell's PROMPT_COMMAND prints the marker with the status before
// the next prompt. Interactive bash runs PROMPT_COMMAND after every command line, also after
// SIGINT aborted one, so an interrupted exec still reports; and one line per exec costs one
// prompt cycle instead of two.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace grid {

/// Quotes `text` as a bash ANSI-C string ($'...') that fits on one line.
std::string quoteAnsiC(std::string_view text);

/// The line to send to run `command` in the session: its output (stderr merged) goes to
/// stdout and its stdin is /dev/null; the prompt then prints "<token>:done:<status>\n".
std::string sessionExecScript(std::string_view command);

/// Sent once at session start: quiet prompts, no history, the exit trap, then
/// "<token>:ready:<pid>:<pgid>\n", and last the (read-only) PROMPT_COMMAND whose first
/// "<token>:done:0\n" says the shell waits for commands.
std::string sessionInitScript(std::string_view token);

/// Keeps the head and the tail of a byte stream within a fixed budget.
class CappedOutput {
 public:
  explicit CappedOutput(size_t max_bytes) : max_bytes_(max_bytes) {}
  void append(std::string_view data);
  bool truncated() const { return dropped_ > 0 || tail_.size() > tailBudget(); }
  size_t totalBytes() const { return head_.size() + tail_.size() + dropped_; }
  /// The kept bytes; where some were dropped, a notice stands between head and tail.
  std::string str() const;

 private:
  size_t headBudget() const { return max_bytes_ / 2; }
  size_t tailBudget() const { return max_bytes_ - headBudget(); }

  size_t max_bytes_;
  std::string head_;
  std::string tail_;  // ring-like: trimmed from the front when it grows past its half
  size_t dropped_ = 0;
};

/// Finds protocol markers ("<token>:<kind>:<fields>\n") in the shell's output stream and
/// hands everything else on as command output, also when a marker is split across reads.
class MarkerScanner {
 public:
  struct Marker {
    std::string kind;    // "ready", "done" or "exit"
    std::string fields;  // what follows "<kind>:" up to the newline
  };

  explicit MarkerScanner(std::string token);

  /// Feeds bytes. Output before a marker is appended to `output`. Returns the first complete
  /// marker; bytes after it stay buffered for the next call.
  std::optional<Marker> feed(std::string_view data, std::string& output);

  /// Output held back because it might begin a marker; call at end of stream.
  std::string flush();

 private:
  std::string prefix_;  // "<token>:"
  std::string pending_;
};

}  // namespace grid
