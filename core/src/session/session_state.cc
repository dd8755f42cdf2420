#include "session/session_state.h"

#include <fnmatch.h>

namespace grid {
namespace {

std::string joinedPatterns() {
  std::string joined;
  for (const auto& pattern : sessionStateExcludedPatterns()) {
    if (!joined.empty()) joined += '|';
    joined += pattern;
  }
  return joined;
}

}  // namespace

const std::vector<std::string>& sessionStateExcludedPatterns() {
  // Read-only or per-process in bash (assigning them fails or lies), the session protocol's
  // own, and the sandbox's name.
  static const std::vector<std::string> patterns = {
      "BASH",         "BASH_*",  "BASHOPTS",   "BASHPID",  "SHELLOPTS",
      "EUID",         "UID",     "PPID",       "GROUPS",   "FUNCNAME",
      "LINENO",       "RANDOM",  "SRANDOM",    "SECONDS",  "EPOCHREALTIME",
      "EPOCHSECONDS", "HISTCMD", "PIPESTATUS", "DIRSTACK", "SHLVL",
      "PWD",          "_",       "COLUMNS",    "LINES",    "PROMPT_COMMAND",
      "PS0",          "PS1",     "PS2",        "HOSTNAME", "COMP_WORDBREAKS",
      "__grid*"};
  return patterns;
}

bool isSessionStateExcluded(std::string_view variable) {
  const std::string name(variable);
  for (const auto& pattern : sessionStateExcludedPatterns()) {
    if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

std::string sessionStatePath(std::string_view token) {
  return "/.grid-session-" + std::string(token);
}

// Runs in a subshell, so none of its names or redirections touch the session. Every command is
// `builtin`: the tenant's functions must not run in place of ours (a function named `builtin`
// would still, but then it only garbles the state its own child replays). Names come from
// compgen, one identifier a line, so splitting them is safe; values are printed by bash itself
// (declare -p / -f, alias -p), in the quoting bash reads back.
std::string captureStateCommand(std::string_view path, size_t max_bytes) {
  const std::string file = "'" + std::string(path) + "'";
  const std::string max = std::to_string(max_bytes);
  std::string script;
  script += "( __grid_file=" + file + "\n";
  // A function named `builtin` would take the place of every call below (and could loop
  // forever in a read loop): drop it, with `unset` as a special builtin of POSIX mode, which no
  // function can shadow. It is the one function a child does not get.
  // Leaving POSIX mode resets expand_aliases; it is read first from BASHOPTS (no builtin).
  script += "__grid_ea=0; [[ :$BASHOPTS: == *:expand_aliases:* ]] && __grid_ea=1\n";
  script += "if [[ -o posix ]]; then \\unset -f builtin; else POSIXLY_CORRECT=y; "
            "\\unset -f builtin; \\unset POSIXLY_CORRECT; fi\n";
  script += "(( __grid_ea )) && builtin shopt -s expand_aliases\n";
  script += "__grid_vars=(); __grid_funcs=()\n";
  script += "while IFS= builtin read -r __grid_n; do case $__grid_n in " + joinedPatterns() +
            ") ;; *) __grid_vars+=(\"$__grid_n\") ;; esac; done < <(builtin compgen -v)\n";
  script +=
      "while IFS= builtin read -r __grid_n; do case $__grid_n in __grid*) ;; "
      "*) __grid_funcs+=(\"$__grid_n\") ;; esac; done < <(builtin compgen -A function)\n";
  script += "{ builtin printf '%s %q 2>/dev/null\\n' 'builtin cd --' \"$PWD\"\n";
  script += "  (( ${#__grid_vars[@]} )) && builtin declare -p -- \"${__grid_vars[@]}\"\n";
  script += "  builtin umask -p\n";
  script += "  builtin shopt -p\n";
  // monitor and history belong to the session (a subshell reports monitor off).
  script +=
      "  while builtin read -r __grid_a __grid_b __grid_c; do case $__grid_c in "
      "monitor|history) ;; *) builtin printf '%s %s %s\\n' \"$__grid_a\" \"$__grid_b\" "
      "\"$__grid_c\" ;; esac; done < <(builtin set +o)\n";
  script += "  (( ${#__grid_funcs[@]} )) && builtin declare -f -- \"${__grid_funcs[@]}\"\n";
  script += "  builtin alias -p\n";
  script += "  builtin true\n";
  script += "} > \"$__grid_file\" 2>/dev/null || builtin exit 1\n";
  script += "LC_ALL=C\n";
  script += "__grid_x=''; IFS= builtin read -r -d '' -N " + std::to_string(max_bytes + 1) +
            " __grid_x < \"$__grid_file\"\n";
  script += "if (( ${#__grid_x} > " + max + " )); then builtin printf '%s\\n' 'session state " +
            "exceeds " + max + " bytes' >&2; " + removeStateCommand(path) + "; builtin exit " +
            std::to_string(kStateTooLargeStatus) + "; fi )";
  // A backslash keeps an alias of the tenant's named `builtin` from replacing ours.
  std::string quoted;
  for (size_t at = 0;;) {
    const size_t next = script.find("builtin ", at);
    quoted += script.substr(at, next - at);
    if (next == std::string::npos) break;
    quoted += "\\builtin ";
    at = next + 8;
  }
  return quoted;
}

std::string restoreStateCommand(std::string_view path) {
  const std::string file = "'" + std::string(path) + "'";
  // Errors of single lines (a read-only name the child already has) are expected and silent.
  return "builtin source " + file + " >/dev/null 2>&1; " + removeStateCommand(path);
}

std::string removeStateCommand(std::string_view path) {
  const std::string file = "'" + std::string(path) + "'";
  return "{ /bin/rm -f -- " + file + " || builtin command rm -f -- " + file + "; } 2>/dev/null";
}

}  // namespace grid
