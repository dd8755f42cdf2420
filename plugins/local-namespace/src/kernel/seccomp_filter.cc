#include "kernel/seccomp_filter.h"

#include <utility>

#include "grid/seccomp/bpf_program.h"
#include "grid/seccomp/policy.h"

namespace grid::localns {

Result<SeccompProgram> SeccompProgram::build() {
  auto program = seccomp::buildBpfProgram(seccomp::sandboxPolicy());
  if (!program) {
    return fail(program.error().code, "local-namespace: " + program.error().message);
  }
  SeccompProgram built;
  built.filter_ = std::move(program).value();
  return built;
}

}  // namespace grid::localns
