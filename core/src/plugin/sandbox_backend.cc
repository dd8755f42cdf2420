// Out-of-line destructors: the SDK's type info lives once, in grid-core, so a plugin's objects
// and the core agree on it across dlopen boundaries.
#include "grid/sandbox_backend.h"

namespace grid {

ProcessChannel::~ProcessChannel() = default;
ByteSource::~ByteSource() = default;
ByteSink::~ByteSink() = default;
SandboxBackend::~SandboxBackend() = default;

Result<void> ProcessChannel::resize(TerminalSize) {
  return fail(ErrorCode::kUnsupported, "this process has no terminal to resize");
}

Result<void> SandboxBackend::checkSpec(const SandboxSpec& spec) {
  if (spec.isolation == Isolation::kDefault) return {};
  return fail(ErrorCode::kUnsupported, name() + ": isolation '" + isolationName(spec.isolation) +
                                           "' is not supported by this backend");
}

// The file calls' defaults are defined in core/src/files/process_file_ops.cc.

}  // namespace grid
