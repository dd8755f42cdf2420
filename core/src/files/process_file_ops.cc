// The SandboxBackend file calls' defaults. Placeholder until the process-based
// implementation (tools run inside the sandbox through startProcess) lands here.
#include "grid/sandbox_backend.h"

namespace grid {
namespace {

Error notYet(const SandboxBackend& backend) {
  return fail(ErrorCode::kUnsupported, backend.name() + ": file operations are not available");
}

}  // namespace

Result<FileInfo> SandboxBackend::statPath(const std::string&, const std::string&,
                                          Clock::time_point) {
  return notYet(*this);
}

Result<std::vector<FileInfo>> SandboxBackend::listDirectory(const std::string&, const std::string&,
                                                            size_t, Clock::time_point) {
  return notYet(*this);
}

Result<void> SandboxBackend::makeDirectory(const std::string&, const std::string&, uint32_t,
                                           Clock::time_point) {
  return notYet(*this);
}

Result<void> SandboxBackend::removePath(const std::string&, const std::string&, Clock::time_point) {
  return notYet(*this);
}

Result<void> SandboxBackend::extractArchive(const std::string&, const std::string&, ByteSource&,
                                            Clock::time_point) {
  return notYet(*this);
}

Result<void> SandboxBackend::createArchive(const std::string&, const std::string&, ByteSink&,
                                           Clock::time_point) {
  return notYet(*this);
}

}  // namespace grid
