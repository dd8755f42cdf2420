// LocalNamespaceBackend: sandboxes built directly from Linux namespaces, overlayfs and
// cgroups, like nsjail or bubblewrap; no daemon. Needs root. See docs/local-namespace.md.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "cgroup/cgroup.h"
#include "grid/image/image_store.h"
#include "grid/sandbox_backend.h"
#include "kernel/net_link.h"
#include "kernel/net_plan.h"
#include "kernel/rlimits.h"
#include "kernel/seccomp_filter.h"
#include "kernel/userns.h"
#include "runtime/child_reaper.h"
#include "util/fd.h"

namespace grid::localns {

/// [backend.local-namespace] settings.
struct LocalNamespaceSettings {
  std::string images_dir = image::kDefaultImagesDir;        // unpacked images (image_store.h)
  std::string state_dir = "/var/lib/grid/local-namespace";  // per-sandbox upper/work/record
  std::string cgroup_root = "grid";                         // parent cgroup name
  std::string init_binary;  // grid-init; empty: beside the plugin (init_exec.h)
  bool userns = true;       // a user namespace per sandbox (userns.h)
  std::string subid_range;  // "START:COUNT"; empty: the `grid` entries of /etc/subuid|subgid
  // Pool of the sandboxes' /30 links (`network: true`), IPv4 CIDR /8../30 (net_plan.h).
  std::string network_subnet = kDefaultNetworkSubnet;

  static Result<LocalNamespaceSettings> parse(const std::map<std::string, std::string>& raw);
};

/// The built-in image that needs no import: read-only views of host directories.
inline constexpr const char* kHostImage = "host";

class LocalNamespaceBackend : public SandboxBackend {
 public:
  LocalNamespaceBackend() = default;
  ~LocalNamespaceBackend() override;

  std::string name() const override { return "local-namespace"; }
  Result<void> init(const BackendConfig& config) override;
  Result<std::vector<std::string>> removeLeftovers() override;
  Result<void> createSandbox(const SandboxSpec& spec) override;
  Result<std::unique_ptr<ProcessChannel>> startProcess(const std::string& sandbox_id,
                                                       const ProcessSpec& spec) override;
  Result<void> destroySandbox(const std::string& sandbox_id) override;
  /// The sandbox's cgroup freezer (v1 freezer.state, v2 cgroup.freeze).
  Result<void> pauseSandbox(const std::string& sandbox_id) override;
  Result<void> resumeSandbox(const std::string& sandbox_id) override;
  Result<SandboxStats> sandboxStats(const std::string& sandbox_id,
                                    Clock::time_point deadline) override;
  /// The namespace of the sandbox's PID 1. Its processes hold no CAP_NET_ADMIN (caps.cc).
  Result<int> openNetworkNamespace(const std::string& sandbox_id) override;
  Result<void> forkSandbox(const std::string& source_id,
                           const std::vector<SandboxSpec>& children) override;
  Result<void> snapshotSandbox(const std::string& sandbox_id, const std::string& image,
                               bool overwrite) override;

 private:
  // A fork's read-only copy of its source's upper dir (state_dir/layer-*/tree), shared by its
  // children; removed with the last of them (local_fork.cc).
  struct SnapshotLayer {
    std::string dir;  // state_dir/layer-<random>
    std::string tree() const { return dir + "/tree"; }
    ~SnapshotLayer();
  };

  struct Sandbox {
    std::string id;
    std::string dir;  // state_dir/<id>
    pid_t init_pid = -1;
    std::unique_ptr<Cgroup> cgroup;
    std::optional<IdSlice> ids;  // with userns: this sandbox's uid/gid slice, held until destroy
    std::optional<LinkAllocation> link;  // with network: its /30 and veth, held until destroy
    std::vector<std::string> env;
    std::string path_env;
    std::string image_lower;  // the image's rootfs; empty for the host image
    std::vector<std::shared_ptr<SnapshotLayer>> layers;  // a fork child's, topmost first
    // Shared by process starts, exclusive for destroy: no process can join the cgroup
    // after destroy has emptied it.
    std::shared_mutex lifecycle;
    bool destroyed = false;
    // Guarded by `lifecycle` (exclusive to change): a new process would join the frozen
    // cgroup and hang its start, so none starts while it is set.
    bool paused = false;
  };

  /// The sandbox of that id, or nullptr.
  std::shared_ptr<Sandbox> find(const std::string& sandbox_id);
  Result<void> setFrozen(const std::string& sandbox_id, bool frozen);

  Result<void> buildSandbox(Sandbox* sandbox, const SandboxSpec& spec, const std::string& lower);
  // createSandbox with the image resolved to `lower`, over `layers` (a fork child's).
  Result<void> createOver(const SandboxSpec& spec, const std::string& lower,
                          std::vector<std::shared_ptr<SnapshotLayer>> layers);
  // Freezes `source` and copies its upper dir into a new layer (shared lock held by caller).
  Result<std::shared_ptr<SnapshotLayer>> copyUpper(Sandbox& source);
  void removeLeftoverLayers();
  // Kills, reaps and removes everything of `sandbox`; safe on partly built ones.
  Result<void> teardown(Sandbox* sandbox);
  // With network: the host rules and ip_forward, once per server (first networked sandbox).
  Result<void> ensureHostNetwork();

  LocalNamespaceSettings settings_;
  std::string instance_;
  CgroupVersion cgroup_version_ = CgroupVersion::kV1;
  std::optional<SeccompProgram> seccomp_;
  std::vector<RlimitSetting> rlimits_;
  std::optional<IdRanges> id_ranges_;  // with userns
  UniqueFd init_binary_;  // O_PATH fd of grid-init, exec'd by fd (no path lookup later)
  std::shared_ptr<ChildReaper> reaper_ = std::make_shared<ChildReaper>();

  Ipv4Pool network_pool_;
  std::mutex network_mutex_;
  bool host_rules_installed_ = false;   // guarded by network_mutex_
  std::atomic<uint32_t> next_link_{0};  // where the next /30 search starts

  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Sandbox>> sandboxes_;
};

}  // namespace grid::localns
