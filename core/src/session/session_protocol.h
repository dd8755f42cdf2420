// The wire protocol between the core and the session shell, kept pure (no I/O) so it can be
// unit-tested and fuzzed. The shell is `bash -i` reading stdin: each exec is one line that
// prints a start marker carrying a fresh per-exec nonce, then runs `eval $'...'`; the shell's
// read-only PROMPT_COMMAND prints the done marker with that nonce and the status before the
// next prompt. Interactive bash runs PROMPT_COMMAND after every command line, also after
// SIGINT aborted one, so an interrupted exec still reports; and one line per exec costs one
// prompt cycle instead of two.
//
// Everything the shell prints is attacker input: a command can print marker-like lines (the
// token is readable in $PROMPT_COMMAND). An exec's output is what arrives between ITS start
// marker and ITS done marker; what comes before its start marker (leftovers of an earlier exec,
// a done marker printed by a Ctrl-C at an idle prompt) is dropped, and a marker with another
// nonce never ends it. The scanner holds at most one marker line's worth of unmatched bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace grid {

/// The shell variable that holds the running exec's nonce; PROMPT_COMMAND prints it.
inline constexpr std::string_view kNonceVariable = "__grid_nonce";
/// The (read-only) shell function each exec line calls first with its nonce: it sets
/// kNonceVariable and prints the start marker.
inline constexpr std::string_view kStartFunction = "__grid_start";

/// Longest "<kind>:<fields>" a marker line can have after "<token>:"; a longer line is output.
inline constexpr size_t kMaxMarkerBody = 96;

/// Quotes `text` as a bash ANSI-C string ($'...') that fits on one line.
std::string quoteAnsiC(std::string_view text);

/// The line to send to run `command` in the session: it prints "<token>:start:<nonce>\n", then
/// runs the command with its stderr merged into stdout and stdin at /dev/null; the prompt then
/// prints "<token>:done:<nonce>:<status>\n".
std::string sessionExecScript(std::string_view nonce, std::string_view command);

/// Sent once at session start: quiet prompts, no history, the start function, the exit trap
/// (which prints "<token>:exit:<nonce>:<status>\n"), then "<token>:ready:<pid>:<pgid>\n", and last
/// the (read-only) PROMPT_COMMAND whose first "<token>:done::0\n" says the shell waits for
/// commands.
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

/// Finds protocol markers ("<token>:<kind>:<fields>\n", kind in [a-z], fields in
/// [0-9A-Za-z:-], at most kMaxMarkerBody bytes after the token) in the shell's output stream
/// and hands everything else on as command output, also when a marker is split across reads.
/// Between calls it holds at most "<token>:" plus kMaxMarkerBody bytes.
class MarkerScanner {
 public:
  struct Marker {
    std::string kind;    // "ready", "start", "done", "exit" or "pid"
    std::string fields;  // what follows "<kind>:" up to the newline
  };

  explicit MarkerScanner(std::string token);

  /// Feeds bytes. Output before a marker is appended to `output`. Returns the first complete
  /// marker; bytes after it stay buffered for the next call.
  std::optional<Marker> feed(std::string_view data, std::string& output);

  /// Output held back because it might begin a marker; call at end of stream.
  std::string flush();

  /// Bytes held back right now (bounded, see the class comment).
  size_t pendingBytes() const { return pending_.size(); }

  /// "<token>:"
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;  // "<token>:"
  std::string pending_;
};

/// Reads one exec out of the session shell's stdout: drops everything up to the exec's start
/// marker, collects the output (capped) up to its done marker, ignores markers of other
/// nonces (before the start marker they are dropped, after it they are the command's output).
class ExecTranscript {
 public:
  struct End {
    bool exited = false;  // the shell's EXIT trap reported (the session ends)
    int status = 0;
  };

  ExecTranscript(std::string token, std::string nonce, size_t max_output_bytes);

  /// Feeds bytes of the shell's stdout; returns the end of the exec once its done (or exit)
  /// marker arrived. Bytes after that marker are dropped.
  std::optional<End> feed(std::string_view data);

  /// Call when the stream ended without a marker: what the scanner held back becomes output.
  void flush();

  /// The exec's output that the last feed() or flush() decided on, for live output: bytes
  /// that might begin a marker are not in it until the next call decides them, and forged
  /// markers are in it as the output they are. Bounded by that call's data plus what the
  /// scanner held.
  const std::string& released() const { return released_; }

  bool started() const { return started_; }
  const CappedOutput& output() const { return output_; }
  /// Bytes dropped because they came before the start marker.
  size_t droppedBeforeStart() const { return dropped_before_start_; }
  size_t pendingBytes() const { return scanner_.pendingBytes(); }

 private:
  void take(std::string_view text);

  MarkerScanner scanner_;
  std::string nonce_;
  CappedOutput output_;
  bool started_ = false;
  size_t dropped_before_start_ = 0;
  std::string text_;  // scratch buffer, reused between feeds
  std::string released_;
};

/// Splits "<nonce>:<status>" (done and exit markers); nullopt if malformed.
struct NonceStatus {
  std::string nonce;
  int status = 0;
};
std::optional<NonceStatus> parseNonceStatus(std::string_view fields);

}  // namespace grid
