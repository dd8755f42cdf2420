// The sandbox's filesystem view as a plan of steps, computed in the parent (pure, testable)
// and applied by the sandbox init between clone and its main loop (no allocation there).
//
// Path resolution: the steps before kOpenRoot work on host paths the server chose itself
// (the sandbox's state dir). kOpenRoot opens the root; every later step names its target
// RELATIVE to that root, and applyMountSteps resolves it with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_MAGICLINKS) under the root fd, so an image's symlink (`etc -> /etc`,
// `tmp -> ../../..`) can never lead a set-up step out of the root. See docs/local-namespace.md.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace grid::localns {

/// One step; a plain struct of strings and integers so that it can be serialised.
struct MountStep {
  enum class Kind {
    kMount,      // mount(source, target, fstype, flags, data)
    kOpenRoot,   // open `target` (host path) as the root every later relative target is in
    kBindTree,   // bind a recursive copy of `source` onto `target`, `mount_attr` set on every
                 // mount of the copy (open_tree + mount_setattr(AT_RECURSIVE) + move_mount);
                 // `source` is a host path if absolute, else resolved in the root
    kMask,       // hide `target`: a read-only empty tmpfs over a dir, /dev/null over a file
    kMkdir,      // mkdir(target, mode); an existing dir is fine
    kMknod,      // mknod(target, S_IFCHR | mode, dev)
    kSymlink,    // symlink(source, target)
    kTouch,      // create empty file `target` (a file bind-mount point)
    kWriteFile,  // create `target` containing `data` (replacing a symlink there)
    kPivotRoot,  // make the opened root "/", detach the old one
    // move_mount() the next passed detached mount onto `target`: a copy of host path `source`
    // the server made with MOUNT_ATTR_* `mount_attr` (idmapped with MOUNT_ATTR_IDMAP, which
    // only the host side may set), for sandboxes in a user namespace (userns.h).
    kAttachMount,
  };
  Kind kind = Kind::kMount;
  std::string source;
  std::string target;  // absolute host path before kOpenRoot, relative to the root after it
  std::string fstype;
  unsigned long flags = 0;       // mount(2) flags (kMount)
  unsigned long mount_attr = 0;  // MOUNT_ATTR_* (kBindTree)
  std::string data;
  mode_t mode = 0;
  dev_t dev = 0;
  bool optional = false;  // a target (or source) absent on this host is skipped, not an error
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
  // In a user namespace (userns = true): the host image's binds become kAttachMount steps
  // (idmapped, so root-owned files stay root's inside), device nodes are binds of the
  // host's (mknod needs host privilege), and the image's rootfs is attached idmapped at
  // `lower_mount_point` (a host dir outside `root`) to be the overlay's lower dir.
  bool userns = false;
  std::string lower_mount_point;
  // A forked sandbox: read-only snapshot layers (fork copies of an ancestor's upper dir),
  // stacked between `upper` and `lower`, topmost first. In a user namespace each is attached
  // idmapped at the mount point of the same index (host dirs outside `root`).
  std::vector<std::string> snapshot_layers;
  std::vector<std::string> snapshot_mount_points;
  // With network: /etc/resolv.conf's text (net_plan.h planResolvConf); empty: left alone.
  std::string resolv_conf;
};

/// The host paths the `host` image binds read-only, and the /etc entries it exposes
/// (relative to /etc; none holds a secret).
const std::vector<std::string>& hostImageDirs();
const std::vector<std::string>& hostImageEtcEntries();

/// /proc paths bound read-only over themselves (recursively), as Docker does.
const std::vector<std::string>& procReadOnlyPaths();
/// /proc paths hidden (Docker's masked paths); those absent on this kernel are skipped.
const std::vector<std::string>& procMaskedPaths();

/// Reads the symlink targets among hostImageDirs() on this host.
std::vector<std::pair<std::string, std::string>> hostTopLevelLinks();

/// The ordered steps building the sandbox root, ending with pivot_root.
std::vector<MountStep> planRootfs(const RootfsSpec& spec);

/// Child side: applies `steps`; on failure reports through `report_fd` and _exit(127)s.
/// kAttachMount steps consume `mount_fds` in order (the count must match).
void applyMountSteps(const std::vector<MountStep>& steps, int report_fd,
                     const int* mount_fds = nullptr, size_t mount_fd_count = 0);

}  // namespace grid::localns
