// EngineBackend: sandboxes as containers of a Docker-compatible engine, processes as attached
// execs. One class for every engine: what differs between Docker and Podman is its
// EngineDialect (docker/docker_dialect.h, podman/podman_dialect.h).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine_dialect.h"
#include "engine_settings.h"
#include "grid/engine/archive_ops.h"
#include "grid/engine/engine_client.h"
#include "grid/engine/exec_channel.h"
#include "grid/sandbox_backend.h"

namespace grid::engine {

class EngineBackend : public SandboxBackend {
 public:
  /// No work here: see init(). `dialect` must outlive the backend.
  explicit EngineBackend(const EngineDialect& dialect) : dialect_(dialect) {}

  std::string name() const override { return dialect_.name; }
  Result<void> init(const BackendConfig& config) override;
  Result<std::vector<std::string>> removeLeftovers() override;
  Result<void> checkSpec(const SandboxSpec& spec) override;
  Result<void> createSandbox(const SandboxSpec& spec) override;
  Result<std::unique_ptr<ProcessChannel>> startProcess(const std::string& sandbox_id,
                                                       const ProcessSpec& spec) override;
  /// The session shell the container runs as its own process (runsInitialProcess()), attached
  /// before the start: no exec is needed to open the session.
  Result<std::unique_ptr<ProcessChannel>> takeInitialProcess(
      const std::string& sandbox_id) override;
  Result<void> destroySandbox(const std::string& sandbox_id) override;
  /// The engine's pause (the cgroup freezer under runc, runsc's own pause under gVisor).
  Result<void> pauseSandbox(const std::string& sandbox_id) override;
  Result<void> resumeSandbox(const std::string& sandbox_id) override;

  // Files through the engine's archive endpoint (archive_ops.h); listDirectory and removePath
  // keep the core's defaults. gVisor sandboxes use the defaults for all: runsc
  // serves the container's root file system from its own cache, so the engine's host-side
  // reads and writes of it are not what the sandbox sees.
  Result<FileInfo> statPath(const std::string& sandbox_id, const std::string& path,
                            Clock::time_point deadline) override;
  /// An existing directory answers at once (one HEAD, the usual case before an upload);
  /// anything else goes to the core's default.
  Result<void> makeDirectory(const std::string& sandbox_id, const std::string& path, uint32_t mode,
                             Clock::time_point deadline) override;
  Result<void> extractArchive(const std::string& sandbox_id, const std::string& directory,
                              ByteSource& tar, Clock::time_point deadline) override;
  Result<void> createArchive(const std::string& sandbox_id, const std::string& path, ByteSink& out,
                             Clock::time_point deadline) override;

  /// One-shot stats of the container (the engines' stats endpoint, stream=false).
  Result<SandboxStats> sandboxStats(const std::string& sandbox_id,
                                    Clock::time_point deadline) override;
  /// The namespace of the container's first process (State.Pid), checked to be in the
  /// container's cgroup: an engine on another host, or a pid reused meanwhile, is refused.
  /// gVisor sandboxes: kUnsupported (runsc's netstack carries their traffic).
  Result<int> openNetworkNamespace(const std::string& sandbox_id) override;
  /// Fork: one commit of the source (the engine pauses it for that instant) into an untagged
  /// image, each child a container of it; the image goes with the last child (engine_fork.cc).
  Result<void> forkSandbox(const std::string& source_id,
                           const std::vector<SandboxSpec>& children) override;
  Result<void> snapshotSandbox(const std::string& sandbox_id, const std::string& image,
                               bool overwrite) override;

  /// The Engine API version every request uses (after init()).
  std::string apiVersion() const { return client_ ? client_->apiVersion() : ""; }

 private:
  Result<void> ensureImage(const std::string& image);
  /// With a gVisor service: whether it answers and runs the gVisor runtime (the dialect's
  /// check). A success is remembered.
  Result<void> checkGvisorService();
  /// The client of the service that created `sandbox_id` (the main one if unknown).
  std::shared_ptr<EngineClient> clientFor(const std::string& sandbox_id);
  /// Whether the sandbox runs on gVisor (files then go through the core's defaults).
  bool onGvisor(const std::string& sandbox_id);
  ArchiveEndpoint archiveEndpoint(const std::string& sandbox_id) const;
  Result<std::string> commitSandbox(const std::string& sandbox_id, const std::string& repo,
                                    const std::string& tag);
  /// Removes the fork image `sandbox_id` was made from once no container uses it.
  void releaseForkImage(const std::string& sandbox_id);
  void removeLeftoverForkImages();
  Result<std::vector<std::string>> removeLeftoversOn(EngineClient& client,
                                                     const std::string& filter);

  const EngineDialect& dialect_;
  std::string instance_;
  EngineBackendSettings settings_;
  std::string seccomp_profile_;           // the policy as OCI JSON, rendered once
  std::string seccomp_profile_file_;      // where the engine reads it, for file-delivered profiles
  std::shared_ptr<EngineClient> client_;  // the main service
  std::shared_ptr<EngineClient> gvisor_client_;  // the gVisor service, if the dialect has one
  ExecRegistry execs_;
  // Separate locks: the gVisor check waits on the service, which must not hold up clientFor().
  std::mutex gvisor_check_mutex_;
  bool gvisor_checked_ = false;  // guarded by gvisor_check_mutex_: checkGvisorService() succeeded
  std::mutex mutex_;
  std::set<std::string> on_gvisor_;         // guarded by mutex_: sandboxes the gVisor service owns
  std::set<std::string> gvisor_sandboxes_;  // guarded by mutex_: isolation = gvisor, any service
  std::set<std::string> paused_;            // guarded by mutex_: paused by pauseSandbox()
  std::map<std::string, std::string> fork_images_;  // guarded by mutex_: fork child -> its image
  // guarded by mutex_: attached initial processes not yet taken by the core
  std::map<std::string, std::unique_ptr<ProcessChannel>> initial_processes_;
};

}  // namespace grid::engine
