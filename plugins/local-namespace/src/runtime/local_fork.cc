// Fork and snapshot of local-namespace sandboxes (docs/fork-snapshot.md). The source's cgroup
// is frozen while its overlay upper dir is copied once into a read-only snapshot layer; every
// child of that fork is an overlay with its own upper over [layer, the source's layers, image].
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cgroup/cgroup_freeze.h"
#include "kernel/subid_range.h"
#include "runtime/layer_copy.h"
#include "runtime/local_backend.h"
#include "util/syscall_error.h"

namespace grid::localns {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLayerPrefix = "layer-";
constexpr const char* kLayerInstanceFile = "instance";

void removeTreeQuietly(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) spdlog::warn("local-namespace: remove_all({}): {}", path, ec.message());
}

// A host mount point holding a read-only overlay while a snapshot is copied out of it.
class ScopedMount {
 public:
  explicit ScopedMount(std::string target) : target_(std::move(target)) {}
  ~ScopedMount() {
    if (mounted_ && ::umount2(target_.c_str(), MNT_DETACH) != 0) {
      spdlog::error("local-namespace: umount2({}, MNT_DETACH): {}", target_, std::strerror(errno));
    }
  }
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;
  Result<void> mountOverlay(const std::string& lowerdirs) {
    const std::string data = "lowerdir=" + lowerdirs;
    if (::mount("overlay", target_.c_str(), "overlay", MS_RDONLY | MS_NODEV | MS_NOSUID,
                data.c_str()) != 0) {
      return sysFail(ErrorCode::kInternal, "mount", "overlay, " + target_ + ", " + data, errno);
    }
    mounted_ = true;
    return {};
  }

 private:
  std::string target_;
  bool mounted_ = false;
};

}  // namespace

LocalNamespaceBackend::SnapshotLayer::~SnapshotLayer() { removeTreeQuietly(dir); }

void LocalNamespaceBackend::removeLeftoverLayers() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(settings_.state_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kLayerPrefix, 0) != 0) continue;
    std::ifstream in(entry.path() / kLayerInstanceFile);
    std::string instance;
    std::getline(in, instance);
    if (instance != instance_) continue;
    // At start-up no child of ours is alive, so no layer of ours is held.
    bool held = false;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, sandbox] : sandboxes_) {
        for (const auto& layer : sandbox->layers) held = held || layer->dir == entry.path();
      }
    }
    if (held) continue;
    removeTreeQuietly(entry.path().string());
    spdlog::info("local-namespace: removed leftover snapshot layer {}", name);
  }
}

Result<std::shared_ptr<LocalNamespaceBackend::SnapshotLayer>> LocalNamespaceBackend::copyUpper(
    Sandbox& source) {
  std::string dir = settings_.state_dir + "/" + kLayerPrefix + "XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) return sysFail(ErrorCode::kInternal, "mkdtemp", dir, errno);
  auto layer = std::make_shared<SnapshotLayer>();
  layer->dir = dir;
  {
    std::ofstream out(dir + "/" + kLayerInstanceFile);
    out << instance_ << "\n";
    if (!out) return sysFail(ErrorCode::kInternal, "write", dir + "/" + kLayerInstanceFile, EIO);
  }
  if (::chmod(dir.c_str(), 0755) != 0) return sysFail(ErrorCode::kInternal, "chmod", dir, errno);
  if (::mkdir(layer->tree().c_str(), 0755) != 0) {
    return sysFail(ErrorCode::kInternal, "mkdir", layer->tree(), errno);
  }
  IdShift shift;
  if (source.ids) shift = IdShift{source.ids->uid_start, source.ids->gid_start, kIdsPerSandbox};
  const auto started = std::chrono::steady_clock::now();
  uint64_t bytes = 0;
  {
    ScopedFreeze frozen(*source.cgroup);
    GRID_TRY(frozen.freeze());
    GRID_ASSIGN_OR_RETURN(bytes, copyLayer(source.dir + "/upper", layer->tree(), shift));
  }
  spdlog::debug(
      "local-namespace: copied {} bytes of sandbox {} into {} in {:.1f} ms (frozen)", bytes,
      source.id, dir,
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
          .count());
  return layer;
}

Result<void> LocalNamespaceBackend::forkSandbox(const std::string& source_id,
                                                const std::vector<SandboxSpec>& children) {
  auto source = find(source_id);
  if (!source) return fail(ErrorCode::kNotFound, "local-namespace: no sandbox " + source_id);
  std::vector<std::shared_ptr<SnapshotLayer>> layers;
  std::string lower;
  {
    // Shared: the source cannot be destroyed while it is copied (its processes may run).
    std::shared_lock lifecycle(source->lifecycle);
    if (source->destroyed || source->init_pid <= 0) {
      return fail(ErrorCode::kNotFound, "local-namespace: no sandbox " + source_id);
    }
    lower = source->image_lower;
    if (lower.empty()) {
      return fail(ErrorCode::kUnsupported,
                  "local-namespace: a sandbox of the host image cannot be forked: its root is "
                  "read-only and its writable places are tmpfs, which a fork does not carry");
    }
    if (children.empty()) return {};
    GRID_ASSIGN_OR_RETURN(auto layer, copyUpper(*source));
    layers.push_back(std::move(layer));
    layers.insert(layers.end(), source->layers.begin(), source->layers.end());
  }
  std::vector<std::string> made;
  for (const auto& spec : children) {
    if (auto created = createOver(spec, lower, layers); !created.ok()) {
      for (const auto& id : made) (void)destroySandbox(id);
      return created;
    }
    made.push_back(spec.id);
  }
  return {};
}

Result<void> LocalNamespaceBackend::snapshotSandbox(const std::string& sandbox_id,
                                                    const std::string& image, bool overwrite) {
  auto source = find(sandbox_id);
  if (!source) return fail(ErrorCode::kNotFound, "local-namespace: no sandbox " + sandbox_id);
  GRID_TRY(image::parseImageRef(image));
  if (image == kHostImage) {
    return fail(ErrorCode::kInvalidArgument, "local-namespace: 'host' is the built-in image");
  }
  std::shared_lock lifecycle(source->lifecycle);
  if (source->destroyed || source->init_pid <= 0) {
    return fail(ErrorCode::kNotFound, "local-namespace: no sandbox " + sandbox_id);
  }
  if (source->image_lower.empty()) {
    return fail(ErrorCode::kUnsupported,
                "local-namespace: a sandbox of the host image has no filesystem of its own to "
                "snapshot");
  }
  // The upper dir, copied frozen and shifted to canonical ids, over the sandbox's own lower
  // layers, merged by a read-only overlay on the host and copied into a new image.
  GRID_ASSIGN_OR_RETURN(auto upper, copyUpper(*source));
  GRID_ASSIGN_OR_RETURN(std::string prepared, image::prepareImageDir(settings_.images_dir));
  struct Cleanup {
    std::string path;
    ~Cleanup() {
      if (!path.empty()) removeTreeQuietly(path);
    }
  } cleanup{prepared};
  std::string lowers = upper->tree();
  for (const auto& layer : source->layers) lowers += ":" + layer->tree();
  lowers += ":" + source->image_lower;
  const std::string merged = upper->dir + "/merged";
  if (::mkdir(merged.c_str(), 0700) != 0) {
    return sysFail(ErrorCode::kInternal, "mkdir", merged, errno);
  }
  {
    ScopedMount mount(merged);
    GRID_TRY(mount.mountOverlay(lowers));
    GRID_TRY(copyLayer(merged, prepared + "/rootfs", IdShift{}));
  }
  GRID_ASSIGN_OR_RETURN(auto info,
                        image::installImage(settings_.images_dir, image, prepared, overwrite));
  cleanup.path.clear();
  spdlog::info("local-namespace: saved sandbox {} as image {} ({})", sandbox_id, info.ref,
               info.rootfs);
  return {};
}

}  // namespace grid::localns
