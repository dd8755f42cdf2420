// The plugin boundary, enforced: a backend (and every ProcessChannel it returns) wrapped so
// that whatever a plugin throws becomes an Error{kInternal, "backend NAME: CALL threw: WHAT"},
// logged, instead of unwinding into the core. The SDK forbids exceptions across the boundary;
// this keeps a plugin that breaks the rule from taking the server down.
#pragma once

#include <memory>
#include <string>

#include "grid/sandbox_backend.h"

namespace grid {

/// What the exception being handled says: a Poco exception's displayText(), a standard one's
/// what(), else that its type is unknown. Call only inside a catch block.
std::string currentExceptionText();

class GuardedBackend : public SandboxBackend {
 public:
  /// `label` names the backend in messages before its own name() can be asked (the plugin).
  GuardedBackend(std::unique_ptr<SandboxBackend> inner, std::string label);
  ~GuardedBackend() override;

  std::string name() const override;
  Result<void> init(const BackendConfig& config) override;
  Result<std::vector<std::string>> removeLeftovers() override;
  Result<void> checkSpec(const SandboxSpec& spec) override;
  Result<void> createSandbox(const SandboxSpec& spec) override;
  Result<std::unique_ptr<ProcessChannel>> startProcess(const std::string& sandbox_id,
                                                       const ProcessSpec& spec) override;
  Result<void> destroySandbox(const std::string& sandbox_id) override;
  Result<std::unique_ptr<ProcessChannel>> takeInitialProcess(
      const std::string& sandbox_id) override;
  Result<void> pauseSandbox(const std::string& sandbox_id) override;
  Result<void> resumeSandbox(const std::string& sandbox_id) override;
  Result<void> forkSandbox(const std::string& source_id,
                           const std::vector<SandboxSpec>& children) override;
  Result<void> snapshotSandbox(const std::string& sandbox_id, const std::string& image,
                               bool overwrite) override;
  Result<FileInfo> statPath(const std::string& sandbox_id, const std::string& path,
                            Clock::time_point deadline) override;
  Result<std::vector<FileInfo>> listDirectory(const std::string& sandbox_id,
                                              const std::string& path, size_t max_entries,
                                              Clock::time_point deadline) override;
  Result<void> makeDirectory(const std::string& sandbox_id, const std::string& path, uint32_t mode,
                             Clock::time_point deadline) override;
  Result<void> removePath(const std::string& sandbox_id, const std::string& path,
                          Clock::time_point deadline) override;
  Result<void> extractArchive(const std::string& sandbox_id, const std::string& directory,
                              ByteSource& tar, Clock::time_point deadline) override;
  Result<void> createArchive(const std::string& sandbox_id, const std::string& path, ByteSink& out,
                             Clock::time_point deadline) override;
  Result<SandboxStats> sandboxStats(const std::string& sandbox_id,
                                    Clock::time_point deadline) override;
  Result<int> openNetworkNamespace(const std::string& sandbox_id) override;

 private:
  std::unique_ptr<SandboxBackend> inner_;
  std::string label_;
};

}  // namespace grid
