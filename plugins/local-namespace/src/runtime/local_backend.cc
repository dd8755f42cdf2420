#include "runtime/local_backend.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "init/init_exec.h"
#include "kernel/host_firewall.h"
#include "kernel/mounts.h"
#include "kernel/pty.h"
#include "runtime/pipe_channel.h"
#include "runtime/process_launcher.h"
#include "runtime/sandbox_init.h"
#include "runtime/sandbox_state.h"
#include "util/syscall_error.h"

namespace grid::localns {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRecordFile = "sandbox.meta";
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool validId(const std::string& id) {
  if (id.empty() || id.size() > 64 || id.front() == '-') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

Result<void> makeDir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return sysFail(ErrorCode::kInternal, "mkdir", path, errno);
  }
  return {};
}

// The sandbox's root (an unprivileged host uid) resolves its overlay's upper and work dirs
// itself, so every ancestor of state_dir must let others search it.
Result<void> checkSearchableByOthers(const std::string& dir) {
  for (fs::path path = fs::path(dir).lexically_normal(); !path.empty(); path = path.parent_path()) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      return sysFail(ErrorCode::kUnavailable, "stat", path.string(), errno);
    if ((st.st_mode & S_IXOTH) == 0) {
      return fail(ErrorCode::kUnavailable,
                  "local-namespace: " + path.string() + " (an ancestor of state_dir " + dir +
                      ") must be searchable by others (chmod o+x) for sandboxes in user "
                      "namespaces, or set userns = false");
    }
    if (path == path.parent_path()) break;
  }
  return {};
}

std::string readFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str().substr(0, 64 * 1024);
}

void removeTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) spdlog::warn("local-namespace: remove_all({}): {}", path, ec.message());
}

}  // namespace

Result<LocalNamespaceSettings> LocalNamespaceSettings::parse(
    const std::map<std::string, std::string>& raw) {
  LocalNamespaceSettings settings;
  for (const auto& [key, value] : raw) {
    if (key == "images_dir") {
      settings.images_dir = value;
    } else if (key == "state_dir") {
      settings.state_dir = value;
    } else if (key == "cgroup_root") {
      settings.cgroup_root = value;
    } else if (key == "init_binary") {
      settings.init_binary = value;
    } else if (key == "userns") {
      if (value == "true" || value == "yes" || value == "1") {
        settings.userns = true;
      } else if (value == "false" || value == "no" || value == "0") {
        settings.userns = false;
      } else {
        return fail(ErrorCode::kInvalidArgument,
                    "local-namespace: userns must be true or false, got '" + value + "'");
      }
    } else if (key == "subid_range") {
      GRID_TRY(parseIdRange(value));
      settings.subid_range = value;
    } else if (key == "network_subnet") {
      GRID_TRY(parseIpv4Pool(value));
      settings.network_subnet = value;
    } else {
      return fail(
          ErrorCode::kInvalidArgument,
          "local-namespace: unknown setting '" + key +
              "' (known: images_dir, state_dir, cgroup_root, init_binary, userns, subid_range, "
              "network_subnet)");
    }
  }
  for (const auto* dir : {&settings.images_dir, &settings.state_dir}) {
    if (dir->empty() || dir->front() != '/') {
      return fail(
          ErrorCode::kInvalidArgument,
          "local-namespace: images_dir and state_dir must be absolute paths, got '" + *dir + "'");
    }
  }
  if (!settings.init_binary.empty() && settings.init_binary.front() != '/') {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: init_binary must be an absolute path, got '" +
                    settings.init_binary + "'");
  }
  if (settings.cgroup_root.empty() || settings.cgroup_root.find('/') != std::string::npos ||
      settings.cgroup_root[0] == '.') {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: cgroup_root must be a single cgroup name, got '" +
                    settings.cgroup_root + "'");
  }
  return settings;
}

LocalNamespaceBackend::~LocalNamespaceBackend() {
  std::map<std::string, std::shared_ptr<Sandbox>> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(sandboxes_);
  }
  for (auto& [id, sandbox] : left) {
    std::unique_lock lifecycle(sandbox->lifecycle);
    if (!sandbox->destroyed) (void)teardown(sandbox.get());
  }
  if (host_rules_installed_) {
    if (auto r = removeHostRules(instance_); !r) spdlog::warn("{}", r.error().message);
  }
  // Helpers of channels dropped after their sandbox was destroyed: their process is dead,
  // so they exit promptly. Channels are gone by now (SDK lifetime rule).
  reaper_->reapAll();
}

Result<void> LocalNamespaceBackend::init(const BackendConfig& config) {
  GRID_ASSIGN_OR_RETURN(settings_, LocalNamespaceSettings::parse(config.settings));
  instance_ = config.instance;
  GRID_ASSIGN_OR_RETURN(network_pool_, parseIpv4Pool(settings_.network_subnet));
  if (::geteuid() != 0) {
    return fail(ErrorCode::kUnavailable,
                "local-namespace: needs root to create namespaces, mounts and cgroups; run grid "
                "as root or use the docker or podman backend");
  }
  std::error_code ec;
  fs::create_directories(settings_.state_dir, ec);
  if (ec) return sysFail(ErrorCode::kUnavailable, "mkdir", settings_.state_dir, ec.value());
  cgroup_version_ = detectCgroupVersion();
  GRID_ASSIGN_OR_RETURN(std::string init_path, findInitBinary(settings_.init_binary));
  GRID_ASSIGN_OR_RETURN(init_binary_, openInitBinary(init_path));
  if (settings_.userns) {
    GRID_ASSIGN_OR_RETURN(IdRanges ranges,
                          loadIdRanges(settings_.subid_range, "/etc/subuid", "/etc/subgid"));
    GRID_TRY(checkSearchableByOthers(settings_.state_dir));
    std::vector<std::string> idmapped_dirs = {settings_.images_dir};
    for (const auto& dir : hostImageDirs()) idmapped_dirs.push_back(dir);
    GRID_TRY(checkUserNamespaceSupport(ranges, idmapped_dirs));
    id_ranges_ = ranges;
  } else {
    spdlog::warn(
        "local-namespace: userns = false: sandbox processes run as host uid 0 (with reduced "
        "capabilities); an escape from a sandbox is root on this host");
  }
  GRID_ASSIGN_OR_RETURN(seccomp_, SeccompProgram::build());
  struct rlimit nofile;
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  rlimits_ = planRlimits(nofile.rlim_max);
  spdlog::info("local-namespace: cgroup {}, images in {}, state in {}, init {}, {}",
               cgroupVersionName(cgroup_version_), settings_.images_dir, settings_.state_dir,
               init_path,
               id_ranges_ ? "user namespaces on uids " + std::to_string(id_ranges_->uids.start) +
                                "+" + std::to_string(id_ranges_->uids.count) + ", gids " +
                                std::to_string(id_ranges_->gids.start) + "+" +
                                std::to_string(id_ranges_->gids.count)
                          : std::string("no user namespace"));
  return {};
}

Result<std::vector<std::string>> LocalNamespaceBackend::removeLeftovers() {
  std::vector<std::string> removed;
  bool leftover_network = false;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(settings_.state_dir, ec)) {
    auto record = readRecord(entry.path().string() + "/" + kRecordFile);
    if (!record || record->instance != instance_ || record->id != entry.path().filename()) {
      continue;
    }
    {
      std::lock_guard lock(mutex_);
      if (sandboxes_.count(record->id) != 0) continue;  // ours, alive
    }
    auto version = record->cgroup_version == "v2" ? CgroupVersion::kV2 : CgroupVersion::kV1;
    auto cgroup = makeCgroup(version, record->cgroup_root, record->id);
    if (auto r = cgroup->killAll(); !r) spdlog::warn("{}", r.error().message);
    // Deleted now rather than when the kernel frees the dead namespace, so its /30 is not
    // seen twice once the lock (held by the init) is free.
    if (!record->net_link.empty()) {
      leftover_network = true;
      if (auto r = deleteHostLink(record->net_link); !r) spdlog::warn("{}", r.error().message);
    }
    // The init normally died with its cgroup; kill it directly too if it is still the same
    // process (the start time rules out a recycled pid).
    if (record->init_pid > 0 && record->init_start_time != 0 &&
        processStartTime(record->init_pid) == record->init_start_time) {
      ::kill(record->init_pid, SIGKILL);
    }
    if (auto r = cgroup->remove(); !r) spdlog::warn("{}", r.error().message);
    removeTree(entry.path().string());
    spdlog::info("local-namespace: removed leftover sandbox {}", record->id);
    removed.push_back(record->id);
  }
  if (ec) return sysFail(ErrorCode::kInternal, "opendir", settings_.state_dir, ec.value());
  removeLeftoverLayers();
  if (leftover_network) {
    // The crashed run's host rules; the next networked sandbox installs them afresh.
    std::lock_guard lock(network_mutex_);
    if (!host_rules_installed_) {
      if (auto r = removeHostRules(instance_); !r) spdlog::warn("{}", r.error().message);
    }
  }
  return removed;
}

Result<void> LocalNamespaceBackend::createSandbox(const SandboxSpec& spec) {
  if (!validId(spec.id)) {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: sandbox id '" + spec.id + "' must match [a-z0-9-]{1,64}");
  }
  for (const auto& server : spec.nameservers) {
    uint32_t v4 = 0;
    unsigned char v6[16];
    if (!parseIpv4(server, &v4) && ::inet_pton(AF_INET6, server.c_str(), v6) != 1) {
      return fail(ErrorCode::kInvalidArgument,
                  "local-namespace: nameserver '" + server + "' is not an IP address");
    }
  }
  if (!seccomp_) return fail(ErrorCode::kUnavailable, "local-namespace: init() did not succeed");
  std::string lower;
  if (spec.image != kHostImage) {
    GRID_ASSIGN_OR_RETURN(lower, image::findImage(settings_.images_dir, spec.image));
  }

  return createOver(spec, lower, {});
}

Result<void> LocalNamespaceBackend::createOver(const SandboxSpec& spec, const std::string& lower,
                                               std::vector<std::shared_ptr<SnapshotLayer>> layers) {
  auto started = std::chrono::steady_clock::now();
  if (lower.find_first_of(",:\\") != std::string::npos ||
      settings_.state_dir.find_first_of(",:\\") != std::string::npos) {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: images_dir and state_dir must not contain ',', ':' or '\\' "
                "(overlayfs option separators)");
  }
  reaper_->reapExited();
  auto sandbox = std::make_shared<Sandbox>();
  sandbox->id = spec.id;
  sandbox->dir = settings_.state_dir + "/" + spec.id;
  sandbox->image_lower = lower;
  sandbox->layers = std::move(layers);
  {
    std::lock_guard lock(mutex_);
    if (sandboxes_.count(spec.id) != 0) {
      return fail(ErrorCode::kConflict, "local-namespace: sandbox " + spec.id + " exists");
    }
    sandboxes_[spec.id] = sandbox;
  }
  std::unique_lock lifecycle(sandbox->lifecycle);
  if (::mkdir(sandbox->dir.c_str(), 0700) != 0) {
    int err = errno;
    std::lock_guard lock(mutex_);
    sandboxes_.erase(spec.id);
    return sysFail(err == EEXIST ? ErrorCode::kConflict : ErrorCode::kInternal, "mkdir",
                   sandbox->dir, err);
  }
  if (auto r = buildSandbox(sandbox.get(), spec, lower); !r) {
    spdlog::warn("local-namespace: creating sandbox {} failed: {}", spec.id, r.error().message);
    (void)teardown(sandbox.get());
    std::lock_guard lock(mutex_);
    sandboxes_.erase(spec.id);
    return r;
  }
  auto elapsed =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started);
  spdlog::debug("local-namespace: sandbox {} up in {:.1f} ms (init pid {})", spec.id,
                elapsed.count(), sandbox->init_pid);
  return {};
}

Result<void> LocalNamespaceBackend::buildSandbox(Sandbox* sandbox, const SandboxSpec& spec,
                                                 const std::string& lower) {
  SandboxRecord record;
  record.id = spec.id;
  record.instance = instance_;
  record.cgroup_version = cgroupVersionName(cgroup_version_);
  record.cgroup_root = settings_.cgroup_root;
  std::string record_path = sandbox->dir + "/" + kRecordFile;
  if (id_ranges_) {
    GRID_ASSIGN_OR_RETURN(sandbox->ids, allocateIdSlice(id_ranges_->uids, id_ranges_->gids));
    record.uid_start = sandbox->ids->uid_start;
    record.gid_start = sandbox->ids->gid_start;
    // Only the sandbox's root group (and host root) may enter its state dir.
    if (::chown(sandbox->dir.c_str(), 0, sandbox->ids->gid_start) != 0 ||
        ::chmod(sandbox->dir.c_str(), 0710) != 0) {
      return sysFail(ErrorCode::kInternal, "chown/chmod", sandbox->dir, errno);
    }
  }
  if (spec.network) {
    GRID_TRY(ensureHostNetwork());
    GRID_ASSIGN_OR_RETURN(sandbox->link,
                          allocateLink(network_pool_, next_link_.fetch_add(1), spec.id));
    record.net_link = sandbox->link->plan.host_name;
    record.net_subnet = sandbox->link->plan.subnetText();
  }
  // Written before anything exists that would need cleaning, rewritten with the init pid.
  GRID_TRY(writeRecord(record_path, record));

  RootfsSpec rootfs;
  rootfs.sandbox_id = spec.id;
  rootfs.root = sandbox->dir + "/root";
  GRID_TRY(makeDir(rootfs.root, 0755));
  if (lower.empty()) {
    rootfs.host_image = true;
    rootfs.host_links = hostTopLevelLinks();
  } else {
    rootfs.lower = lower;
    rootfs.upper = sandbox->dir + "/upper";
    rootfs.work = sandbox->dir + "/work";
    GRID_TRY(makeDir(rootfs.upper, 0755));
    GRID_TRY(makeDir(rootfs.work, 0700));
    for (size_t i = 0; i < sandbox->layers.size(); ++i) {
      rootfs.snapshot_layers.push_back(sandbox->layers[i]->tree());
      if (sandbox->ids) {
        rootfs.snapshot_mount_points.push_back(sandbox->dir + "/layer" + std::to_string(i));
        GRID_TRY(makeDir(rootfs.snapshot_mount_points.back(), 0755));
      }
    }
    if (sandbox->ids) {
      rootfs.lower_mount_point = sandbox->dir + "/lower";
      GRID_TRY(makeDir(rootfs.lower_mount_point, 0755));
      for (const auto* dir : {&rootfs.upper, &rootfs.work}) {
        if (::chown(dir->c_str(), sandbox->ids->uid_start, sandbox->ids->gid_start) != 0) {
          return sysFail(ErrorCode::kInternal, "chown", *dir, errno);
        }
      }
    }
  }
  rootfs.userns = sandbox->ids.has_value();
  if (spec.network) {
    bool no_resolver = false;
    rootfs.resolv_conf =
        planResolvConf(spec.nameservers, readFileOrEmpty("/etc/resolv.conf"),
                       readFileOrEmpty("/run/systemd/resolve/resolv.conf"), &no_resolver);
    if (no_resolver) {
      spdlog::warn(
          "local-namespace: sandbox {} has no DNS resolver: the host only lists loopback "
          "nameservers, which a sandbox cannot reach (docs/local-namespace.md, Network)",
          spec.id);
    }
  }

  sandbox->cgroup = makeCgroup(cgroup_version_, settings_.cgroup_root, spec.id);
  GRID_TRY(sandbox->cgroup->create(spec.limits));

  std::map<std::string, std::string> env = {
      {"PATH", kDefaultPath}, {"HOME", "/root"}, {"TERM", "xterm"}, {"HOSTNAME", spec.id}};
  for (const auto& [key, value] : spec.env) env[key] = value;
  for (const auto& [key, value] : env) sandbox->env.push_back(key + "=" + value);
  sandbox->path_env = env["PATH"];

  InitConfig init{init_binary_.get(), spec.id, planRootfs(rootfs), sandbox->cgroup->procsFiles(),
                  sandbox->ids ? &*sandbox->ids : nullptr};
  if (sandbox->link) {
    init.link_lock_fd = sandbox->link->lock.get();
    // Made while PID 1 builds its root: the link costs no extra wall time then.
    init.while_building = [link = &*sandbox->link](pid_t pid) -> Result<void> {
      const std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
      UniqueFd netns(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!netns.valid()) return sysFail(ErrorCode::kInternal, "open", path, errno);
      GRID_TRY(createSandboxLink(link->plan, netns.get()));
      link->created = true;
      return {};
    };
  }
  GRID_ASSIGN_OR_RETURN(sandbox->init_pid, startSandboxInit(init));
  record.init_pid = sandbox->init_pid;
  record.init_start_time = processStartTime(sandbox->init_pid);
  return writeRecord(record_path, record);
}

Result<std::unique_ptr<ProcessChannel>> LocalNamespaceBackend::startProcess(
    const std::string& sandbox_id, const ProcessSpec& spec) {
  std::shared_ptr<Sandbox> sandbox = find(sandbox_id);
  if (!sandbox) return fail(ErrorCode::kNotFound, "local-namespace: no sandbox " + sandbox_id);
  reaper_->reapExited();
  std::shared_lock lifecycle(sandbox->lifecycle);
  if (sandbox->destroyed || sandbox->init_pid <= 0) {
    return fail(ErrorCode::kNotFound, "local-namespace: no sandbox " + sandbox_id);
  }
  if (sandbox->paused) {
    return fail(ErrorCode::kConflict, "local-namespace: sandbox " + sandbox_id + " is paused");
  }
  if (spec.argv.empty()) return fail(ErrorCode::kInvalidArgument, "local-namespace: empty argv");

  LaunchSpec launch;
  launch.init_binary_fd = init_binary_.get();
  launch.namespaces = namespacePathsOf(sandbox->init_pid, sandbox->ids.has_value());
  launch.cgroup_procs_files = sandbox->cgroup->procsFiles();
  launch.argv = spec.argv;
  launch.env = sandbox->env;
  launch.exec_candidates = execCandidates(spec.argv[0], sandbox->path_env);
  launch.rlimits = rlimits_;
  launch.seccomp = &*seccomp_;
  launch.attach_stdin = spec.attach_stdin;
  if (spec.tty) {
    GRID_ASSIGN_OR_RETURN(SandboxPty pty, openSandboxPty(sandbox->init_pid, *spec.tty));
    launch.tty_slave_fd = pty.slave.get();
    GRID_ASSIGN_OR_RETURN(auto process, launchProcess(launch));
    pty.slave.reset();  // the process holds it now; its last close ends the master's output
    GRID_ASSIGN_OR_RETURN(auto channel, PipeChannel::forTerminal(sandbox_id, process.helper_pid,
                                                                 std::move(pty.master), reaper_));
    return std::unique_ptr<ProcessChannel>(std::move(channel));
  }
  GRID_ASSIGN_OR_RETURN(auto process, launchProcess(launch));
  return std::unique_ptr<ProcessChannel>(std::make_unique<PipeChannel>(
      sandbox_id, process.helper_pid, std::move(process.stdin_write),
      std::move(process.stdout_read), std::move(process.stderr_read), reaper_));
}

std::shared_ptr<LocalNamespaceBackend::Sandbox> LocalNamespaceBackend::find(
    const std::string& sandbox_id) {
  std::lock_guard lock(mutex_);
  auto it = sandboxes_.find(sandbox_id);
  return it == sandboxes_.end() ? nullptr : it->second;
}

Result<void> LocalNamespaceBackend::pauseSandbox(const std::string& sandbox_id) {
  return setFrozen(sandbox_id, true);
}

Result<void> LocalNamespaceBackend::resumeSandbox(const std::string& sandbox_id) {
  return setFrozen(sandbox_id, false);
}

Result<void> LocalNamespaceBackend::setFrozen(const std::string& sandbox_id, bool frozen) {
  // Long enough for a loaded machine; a task stuck in uninterruptible sleep is the usual cause
  // of a freeze that never completes.
  constexpr auto kFreezeTimeout = std::chrono::seconds(10);
  std::shared_ptr<Sandbox> sandbox = find(sandbox_id);
  if (!sandbox) return fail(ErrorCode::kNotFound, "local-namespace: no sandbox " + sandbox_id);
  std::unique_lock lifecycle(sandbox->lifecycle);
  if (sandbox->destroyed || !sandbox->cgroup) {
    return fail(ErrorCode::kNotFound, "local-namespace: no sandbox " + sandbox_id);
  }
  if (frozen && sandbox->paused) {
    return fail(ErrorCode::kConflict, "local-namespace: sandbox " + sandbox_id + " is paused");
  }
  GRID_TRY(sandbox->cgroup->setFrozen(frozen, kFreezeTimeout));
  sandbox->paused = frozen;
  return {};
}

Result<void> LocalNamespaceBackend::destroySandbox(const std::string& sandbox_id) {
  std::shared_ptr<Sandbox> sandbox = find(sandbox_id);
  if (!sandbox) return {};
  Result<void> result;
  {
    std::unique_lock lifecycle(sandbox->lifecycle);
    if (sandbox->destroyed) return {};
    result = teardown(sandbox.get());
  }
  std::lock_guard lock(mutex_);
  auto it = sandboxes_.find(sandbox_id);
  if (it != sandboxes_.end() && it->second == sandbox) sandboxes_.erase(it);
  return result;
}

Result<SandboxStats> LocalNamespaceBackend::sandboxStats(const std::string& sandbox_id,
                                                         Clock::time_point /*deadline*/) {
  std::shared_ptr<Sandbox> sandbox = find(sandbox_id);
  if (!sandbox) return fail(ErrorCode::kNotFound, "local-namespace: no sandbox " + sandbox_id);
  // Reading a few cgroup files needs no deadline; a destroy in progress is not waited for.
  std::shared_lock lifecycle(sandbox->lifecycle, std::try_to_lock);
  if (!lifecycle.owns_lock() || sandbox->destroyed || !sandbox->cgroup) {
    return fail(ErrorCode::kConflict,
                "local-namespace: sandbox " + sandbox_id + " is being removed");
  }
  return sandbox->cgroup->usage();
}

Result<int> LocalNamespaceBackend::openNetworkNamespace(const std::string& sandbox_id) {
  std::shared_ptr<Sandbox> sandbox = find(sandbox_id);
  if (!sandbox) return fail(ErrorCode::kNotFound, "local-namespace: no sandbox " + sandbox_id);
  // PID 1 stays unreaped (so its pid is not reused) until teardown, which this lock excludes.
  std::shared_lock lifecycle(sandbox->lifecycle);
  if (sandbox->destroyed || sandbox->init_pid <= 0) {
    return fail(ErrorCode::kConflict,
                "local-namespace: sandbox " + sandbox_id + " is being removed");
  }
  const std::string path = "/proc/" + std::to_string(sandbox->init_pid) + "/ns/net";
  const int netns = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (netns < 0) return sysFail(ErrorCode::kInternal, "open", path, errno);
  return netns;
}

Result<void> LocalNamespaceBackend::ensureHostNetwork() {
  std::lock_guard lock(network_mutex_);
  if (host_rules_installed_) return {};
  bool forwarding_changed = false;
  GRID_TRY(enableIpForwarding(&forwarding_changed));
  if (forwarding_changed) {
    spdlog::warn(
        "local-namespace: set net.ipv4.ip_forward = 1 (sandbox networking routes through this "
        "host); it stays on after Grid stops");
  }
  GRID_TRY(installHostRules(instance_, network_pool_));
  host_rules_installed_ = true;
  spdlog::info("local-namespace: sandbox network {} NATed; host rules in table inet {}",
               network_pool_.cidr(), hostTableName(instance_));
  return {};
}

Result<void> LocalNamespaceBackend::teardown(Sandbox* sandbox) {
  Result<void> result;
  if (sandbox->cgroup) {
    if (auto r = sandbox->cgroup->killAll(); !r) result = r;
  }
  if (sandbox->link && sandbox->link->created) {
    // Deleting the host end takes the sandbox's eth0 along, now rather than when the kernel
    // frees the namespace.
    if (auto r = deleteHostLink(sandbox->link->plan.host_name); !r) result = r;
  }
  if (sandbox->init_pid > 0) {
    // Already dead via the cgroup; this also covers a cgroup that failed to kill. PID 1's
    // death tears the PID namespace down, and its mount namespace with every mount in it.
    ::kill(sandbox->init_pid, SIGKILL);
    while (::waitpid(sandbox->init_pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    sandbox->init_pid = -1;
  }
  reaper_->reapSandbox(sandbox->id);
  sandbox->ids.reset();   // the slice is free once its PID 1 (the other holder) is dead too
  sandbox->link.reset();  // so is the /30
  if (sandbox->cgroup) {
    if (auto r = sandbox->cgroup->remove(); !r) result = r;
  }
  removeTree(sandbox->dir);
  sandbox->layers.clear();  // the last child of a fork takes its layer along
  sandbox->destroyed = true;
  if (!result.ok()) {
    spdlog::warn("local-namespace: destroying sandbox {}: {}", sandbox->id, result.error().message);
  }
  return result;
}

}  // namespace grid::localns
