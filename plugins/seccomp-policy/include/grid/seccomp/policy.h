// The seccomp policy of every sandbox process, whatever the backend: an allow list in the
// spirit of Docker's default profile. Syscalls not on it fail with ENOSYS (what glibc and
// programs expect of a kernel that lacks a call, so they take their fallback paths); the
// dangerous ones fail with an explicit EPERM; a few are allowed for some arguments only.
// The policy is data: local-namespace compiles it to BPF (bpf_program.h), the engine backends
// send it as an OCI profile (oci_profile.h). docs/security.md lists it and says why.
//
// Rules have the shape libseccomp and runc can both express: per syscall either one
// unconditional rule, or conditional rules of one comparison each whose conditions never
// overlap with different actions; arguments no rule matches get the default action.
#pragma once

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grid/result.h"

namespace grid::seccomp {

/// What happens to a call: it runs, or fails with `errno_value` without entering the kernel.
struct Action {
  bool allow = false;
  int errno_value = 0;  // meaningful when !allow

  static Action allowed() { return {true, 0}; }
  static Action fails(int err) { return {false, err}; }
  bool operator==(const Action&) const = default;
};

/// The comparisons both libseccomp and the OCI profile take (one per rule).
enum class Compare {
  kEqual,        // arg == value (all 64 bits)
  kMaskedEqual,  // (arg & mask) == value
  kGreater,      // arg > value (unsigned, all 64 bits)
};

struct ArgCondition {
  unsigned index = 0;  // argument 0..5
  Compare op = Compare::kEqual;
  std::uint64_t value = 0;
  std::uint64_t mask = 0;  // kMaskedEqual only

  bool matches(std::uint64_t arg) const;
  bool operator==(const ArgCondition&) const = default;
};

/// `names` get `action`, for every argument or only when `condition` holds.
struct Rule {
  std::vector<std::string> names;
  Action action;
  std::optional<ArgCondition> condition;
};

struct Policy {
  Action default_action = Action::fails(ENOSYS);
  std::vector<Rule> rules;
};

/// The sandbox policy (x86_64 syscall names; see docs/security.md "Seccomp").
const Policy& sandboxPolicy();

/// What `policy` does with `name` called with `args`: the action of the rule that matches,
/// else the default. Pure; libseccomp's semantics for the rule shapes above.
Action evaluate(const Policy& policy, std::string_view name,
                const std::vector<std::uint64_t>& args = {});

/// Conditions on argument `index` that together match every 64-bit value except `excluded`,
/// with no two matching the same value: aligned blocks as kMaskedEqual, the tail above the
/// largest excluded value as one kGreater. libseccomp allows one comparison per argument and
/// rule, so "anything else" cannot be written as a range.
std::vector<ArgCondition> everyValueExcept(unsigned index, std::vector<std::uint64_t> excluded);

/// Which profile an engine backend asks for (`seccomp` in [backend.docker]/[backend.podman]).
enum class SeccompMode {
  kGrid,           // sandboxPolicy(), the default
  kEngineDefault,  // the engine's own default profile
  kUnconfined,     // no filter at all: only when written explicitly, and logged as a warning
};

/// Parses a `seccomp` setting: grid | engine-default | unconfined. `section` names the config
/// section in the error ("[backend.docker]").
Result<SeccompMode> parseSeccompMode(const std::string& section, const std::string& value);

/// "grid", "engine-default", "unconfined".
const char* seccompModeName(SeccompMode mode);

/// Logs at start-up what a backend's `mode` means when it is not Grid's policy: a warning for
/// unconfined, a note for the engine's default. `backend` is "docker" or "podman".
void logSeccompMode(const std::string& backend, SeccompMode mode);

}  // namespace grid::seccomp
