// SkeletonBackend: the smallest complete Grid backend, written as documentation by example.
//
// WARNING: it gives NO ISOLATION. Every "sandbox" is only a directory under work_root and its
// processes are plain child processes of the server, running as the server's user with the
// server's filesystem, network and privileges. Use it to try the SDK, never to run untrusted
// code.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "grid/sandbox_backend.h"

namespace skeleton {

struct Sandbox;  // a directory plus the processes started in it (skeleton_backend.cc)

class SkeletonBackend : public grid::SandboxBackend {
 public:
  SkeletonBackend() = default;  // trivial on purpose: the loader constructs; init() works
  ~SkeletonBackend() override;

  std::string name() const override { return "skeleton"; }
  grid::Result<void> init(const grid::BackendConfig& config) override;
  grid::Result<std::vector<std::string>> removeLeftovers() override;
  grid::Result<void> createSandbox(const grid::SandboxSpec& spec) override;
  grid::Result<std::unique_ptr<grid::ProcessChannel>> startProcess(
      const std::string& sandbox_id, const grid::ProcessSpec& spec) override;
  grid::Result<void> destroySandbox(const std::string& sandbox_id) override;

 private:
  std::shared_ptr<Sandbox> find(const std::string& sandbox_id);

  std::filesystem::path root_;  // <work_root>/<instance>: this instance's sandboxes only
  std::mutex mutex_;            // guards sandboxes_; each Sandbox has its own lock
  std::map<std::string, std::shared_ptr<Sandbox>> sandboxes_;
};

}  // namespace skeleton
