// The state a forked sandbox's session starts in: working directory, shell variables (exported
// or not), functions, aliases, shell options (set -o, shopt) and umask.
//
// The source's session writes its state as a bash script into a file of its own filesystem
// (captureStateCommand), the fork copies that file with everything else, and the child's
// session sources it (restoreStateCommand). The text is the tenant's: the server never reads
// or parses it, it only ever reaches the child's own shell, and its size is bounded at capture.
// See docs/fork-snapshot.md.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace grid {

/// Largest state file a capture writes; a larger state fails the capture (exit status
/// kStateTooLargeStatus) and no file remains.
inline constexpr size_t kMaxSessionStateBytes = 4 << 20;
inline constexpr int kStateTooLargeStatus = 3;

/// Variables the state leaves out: bash's own (read-only or per-process: BASHPID, EUID, PPID,
/// SHELLOPTS, BASH_*, RANDOM, ...), the session protocol's (PROMPT_COMMAND, PS1, PS2, the
/// __grid_ names) and those that name the sandbox itself (HOSTNAME).
bool isSessionStateExcluded(std::string_view variable);

/// Shell case patterns for isSessionStateExcluded, as the capture script uses them.
const std::vector<std::string>& sessionStateExcludedPatterns();

/// The path of a state file: "/.grid-session-<token>" (`token` [0-9a-f]).
std::string sessionStatePath(std::string_view token);

/// A session command that writes the session's state to `path` as a bash script and changes
/// nothing in the session (it runs in a subshell). Exit status 0, kStateTooLargeStatus when
/// the state exceeds `max_bytes` (the file is removed), else another non-zero status.
std::string captureStateCommand(std::string_view path, size_t max_bytes = kMaxSessionStateBytes);

/// A session command that sources the state file `path` into the session and removes it.
/// Replayed in this order: cwd, variables, umask, shopt, set -o, functions, aliases, so that
/// no function or alias of the tenant's can change how the earlier lines run.
std::string restoreStateCommand(std::string_view path);

/// A command removing the state file `path` (from the source, after the fork).
std::string removeStateCommand(std::string_view path);

}  // namespace grid
