// DockerBackend: sandboxes as Docker Engine containers, processes as attached execs.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "grid/engine/engine_client.h"
#include "grid/sandbox_backend.h"
#include "grid/seccomp/policy.h"

namespace grid::docker {

/// Settings of [backend.docker], validated by init().
struct DockerSettings {
  std::string socket = "/var/run/docker.sock";
  std::string api_version;  // empty: negotiate min(engine, kMaxApiVersion)
  std::chrono::seconds pull_timeout{300};
  seccomp::SeccompMode seccomp = seccomp::SeccompMode::kGrid;
};

inline constexpr char kMaxApiVersion[] = "1.41";

/// Parses the [backend.docker] section; unknown keys and bad values are kInvalidArgument.
Result<DockerSettings> parseSettings(const std::map<std::string, std::string>& settings);

class DockerBackend : public SandboxBackend {
 public:
  DockerBackend() = default;  // no work here: see init()

  std::string name() const override { return "docker"; }
  Result<void> init(const BackendConfig& config) override;
  Result<std::vector<std::string>> removeLeftovers() override;
  Result<void> createSandbox(const SandboxSpec& spec) override;
  Result<std::unique_ptr<ProcessChannel>> startProcess(const std::string& sandbox_id,
                                                       const ProcessSpec& spec) override;
  Result<void> destroySandbox(const std::string& sandbox_id) override;

  /// The Engine API version every request uses (after init()).
  std::string apiVersion() const { return client_ ? client_->apiVersion() : ""; }

 private:
  Result<void> ensureImage(const std::string& image);

  std::string instance_;
  DockerSettings settings_;
  std::string seccomp_profile_;  // the policy as OCI JSON, rendered once
  std::shared_ptr<engine::EngineClient> client_;
};

}  // namespace grid::docker
