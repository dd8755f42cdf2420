// PodmanBackend: sandboxes as Podman containers made through the libpod API, processes as
// attached execs through Podman's Docker-compatible exec endpoints (grid-engine-client).
// isolation = gvisor sandboxes go to a second Podman service whose default runtime is runsc
// (Podman 4.3 ignores a per-container runtime over its API); both services share one
// container storage (docs/podman.md, "gVisor").
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "grid/engine/engine_client.h"
#include "grid/engine/exec_channel.h"
#include "grid/sandbox_backend.h"
#include "grid/seccomp/policy.h"

namespace grid::podman {

/// Settings of [backend.podman], validated by init().
struct PodmanSettings {
  std::string socket;  // default: defaultSocketPath() for the current user
  std::chrono::seconds pull_timeout{300};
  seccomp::SeccompMode seccomp = seccomp::SeccompMode::kGrid;
  std::string gvisor_runtime = "runsc";  // default runtime the gVisor service must have
  std::string gvisor_socket;             // default: defaultGvisorSocketPath()
};

/// The libpod API version prefixed to every path ("/v4.0.0/libpod/..."). Podman 4 serves its
/// compat endpoints (exec) under the same prefix.
inline constexpr char kLibpodApiVersion[] = "4.0.0";

/// Parses the [backend.podman] section; unknown keys and bad values are kInvalidArgument.
Result<PodmanSettings> parseSettings(const std::map<std::string, std::string>& settings);

class PodmanBackend : public SandboxBackend {
 public:
  PodmanBackend() = default;  // no work here: see init()

  std::string name() const override { return "podman"; }
  Result<void> init(const BackendConfig& config) override;
  Result<std::vector<std::string>> removeLeftovers() override;
  Result<void> checkSpec(const SandboxSpec& spec) override;
  Result<void> createSandbox(const SandboxSpec& spec) override;
  Result<std::unique_ptr<ProcessChannel>> startProcess(const std::string& sandbox_id,
                                                       const ProcessSpec& spec) override;
  Result<void> destroySandbox(const std::string& sandbox_id) override;

 private:
  Result<void> ensureImage(const std::string& image);
  /// Whether the gVisor service answers and its default runtime is settings_.gvisor_runtime;
  /// kUnsupported naming the socket and how to start it otherwise. A success is remembered.
  Result<void> checkGvisorService();
  /// The client of the service that created `sandbox_id` (the main one if unknown).
  std::shared_ptr<engine::EngineClient> clientFor(const std::string& sandbox_id);
  Result<void> writeSeccompProfile() const;

  std::string instance_;
  PodmanSettings settings_;
  std::string seccomp_profile_;                          // the policy as OCI JSON, rendered once
  std::string seccomp_profile_path_;                     // where the Podman service reads it
  std::shared_ptr<engine::EngineClient> client_;         // the main service
  std::shared_ptr<engine::EngineClient> gvisor_client_;  // the gVisor service
  engine::ExecRegistry execs_;
  // Separate locks: the gVisor check waits on the service, which must not hold up clientFor().
  std::mutex gvisor_check_mutex_;
  bool gvisor_checked_ = false;  // guarded by gvisor_check_mutex_: checkGvisorService() succeeded
  std::mutex mutex_;
  std::set<std::string> on_gvisor_;  // guarded by mutex_: sandboxes the gVisor service owns
};

}  // namespace grid::podman
