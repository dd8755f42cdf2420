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

Result<std::unique_ptr<ProcessChannel>> SandboxBackend::takeInitialProcess(const std::string&) {
  return std::unique_ptr<ProcessChannel>();
}

Result<void> SandboxBackend::pauseSandbox(const std::string&) {
  return fail(ErrorCode::kUnsupported,
              name() + ": pausing a sandbox is not supported by this backend");
}

Result<void> SandboxBackend::resumeSandbox(const std::string&) {
  return fail(ErrorCode::kUnsupported,
              name() + ": resuming a sandbox is not supported by this backend");
}

Result<SandboxStats> SandboxBackend::sandboxStats(const std::string& sandbox_id,
                                                  Clock::time_point /*deadline*/) {
  return fail(ErrorCode::kUnsupported,
              name() + ": cannot tell the resource use of sandbox " + sandbox_id);
}

Result<int> SandboxBackend::openNetworkNamespace(const std::string& sandbox_id) {
  return fail(ErrorCode::kUnsupported,
              name() + ": cannot reach the network of sandbox " + sandbox_id);
}

Result<void> SandboxBackend::forkSandbox(const std::string& source_id,
                                         const std::vector<SandboxSpec>& /*children*/) {
  return fail(ErrorCode::kUnsupported,
              name() + ": fork is not supported by this backend (sandbox " + source_id + ")");
}

Result<void> SandboxBackend::snapshotSandbox(const std::string& sandbox_id,
                                             const std::string& /*image*/, bool /*overwrite*/) {
  return fail(ErrorCode::kUnsupported,
              name() + ": snapshot is not supported by this backend (sandbox " + sandbox_id + ")");
}

// The file calls' defaults are defined in core/src/files/process_file_ops.cc.

}  // namespace grid
