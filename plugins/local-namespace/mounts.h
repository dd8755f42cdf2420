// The sandbox's filesystem view as a plan of steps, computed in the parent (pure, testable)
// and applied by the sandbox init between clone and its main loop (no allocation there).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace grid::localns {

struct MountStep {
  enum class Kind {
    kMount,      // mount(source, target, fstype, flags, data)
    kMkdir,      // mkdir(target, mode); an existing dir is fine
    kMknod,      // mknod(target, S_IFCHR | mode, dev)
    kSymlink,    // symlink(source, target)
    kTouch,      // create empty file `target` (a file bind-mount point)
    kWriteFile,  // create `target` containing `data`
    kPivotRoot,  // make `target` the root, detach the old one
    // move_mount() the next passed detached mount (open_tree clone, prepared by the server
    // from `source` with MOUNT_ATTR_* `flags`, idmapped when MOUNT_ATTR_IDMAP) onto `target`.
    kAttachMount,
  };
  Kind kind = Kind::kMount;
  std::string source;
  std::string target;
  std::string fstype;
  unsigned long flags = 0;
  std::string data;
  mode_t mode = 0;
  dev_t dev = 0;
};

/// What the root filesystem is made of.
struct RootfsSpec {
  std::string sandbox_id;  // hostname, written to /etc/hostname and /etc/hosts
  std::string root;        // host dir that becomes "/" (state_dir/<id>/root)
  // Overlay image: lower = image rootfs (read-only), upper/work under state_dir.
  std::string lower;
  std::string upper;
  std::string work;
  bool host_image = false;  // built-in `host` image instead of an overlay
  // host image only: host top-level entries that are symlinks (usrmerge: /bin -> usr/bin),
  // recreated as symlinks instead of bind-mounted. Filled by hostTopLevelLinks().
  std::vector<std::pair<std::string, std::string>> host_links;
  // In a user namespace (userns = true): host-side binds become kAttachMount steps (idmapped
  // where the filesystem allows, so root-owned files stay root's inside), device nodes are
  // binds of the host's (mknod needs host privilege), and the image's rootfs is attached
  // idmapped at `lower_mount_point` (a host dir outside `root`) to be the overlay's lower dir.
  bool userns = false;
  std::string lower_mount_point;
};

/// The host paths the `host` image binds read-only, and the /etc entries it exposes.
const std::vector<std::string>& hostImageDirs();
const std::vector<std::string>& hostImageEtcEntries();

/// Reads the symlink targets among hostImageDirs() on this host.
std::vector<std::pair<std::string, std::string>> hostTopLevelLinks();

/// The ordered steps building the sandbox root, ending with pivot_root.
std::vector<MountStep> planRootfs(const RootfsSpec& spec);

/// Child side: applies `steps`; on failure reports through `report_fd` and _exit(127)s.
/// kAttachMount steps consume `mount_fds` in order (the count must match).
void applyMountSteps(const std::vector<MountStep>& steps, int report_fd,
                     const int* mount_fds = nullptr, size_t mount_fd_count = 0);

}  // namespace grid::localns
