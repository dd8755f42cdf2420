// User namespaces of sandboxes (userns = true, the default): root inside maps to a 65536-id
// slice of the backend's subordinate range, one slice per running sandbox; image files
// owned by root still look owned by root inside through idmapped mounts (open_tree clone +
// mount_setattr(MOUNT_ATTR_IDMAP) with the sandbox's user namespace), prepared here on the
// host side and attached by grid-init. See docs/local-namespace.md.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "grid/result.h"
#include "kernel/mounts.h"
#include "kernel/subid_range.h"
#include "util/fd.h"

namespace grid::localns {

/// Where slice locks live: one file per slice, flock()ed by its holder. Shared by every Grid
/// server on the host, whatever its state_dir, so no two running sandboxes share ids.
inline constexpr const char* kIdSliceLockDir = "/run/grid/userns-slices";

/// One sandbox's ids. The slice is in use while `lock` (an flock()ed file) is open in any
/// process: the server until destroy, and the sandbox's PID 1 for its whole life, so a
/// sandbox left running by a crashed server keeps its ids until it is removed.
struct IdSlice {
  uint32_t uid_start = 0;
  uint32_t gid_start = 0;
  UniqueFd lock;
};

/// Takes the first free slice of `uids`/`gids` (same index in both).
Result<IdSlice> allocateIdSlice(const IdRange& uids, const IdRange& gids,
                                const std::string& lock_dir = kIdSliceLockDir);

/// The backend's ranges: `configured` ("START:COUNT", both uids and gids) if not empty, else
/// the `grid` entries of /etc/subuid and /etc/subgid. The error names what is missing.
struct IdRanges {
  IdRange uids;
  IdRange gids;
};
Result<IdRanges> loadIdRanges(const std::string& configured, const std::string& subuid_file,
                              const std::string& subgid_file);

/// Writes /proc/<pid>/uid_map and gid_map: 0..65535 inside -> the slice.
Result<void> writeIdMaps(pid_t pid, const IdSlice& slice);

/// A detached copy of the mount tree at `source` (open_tree OPEN_TREE_CLONE|AT_RECURSIVE)
/// with MOUNT_ATTR_* `attrs` set on every mount in it; MOUNT_ATTR_IDMAP takes `userns_fd`.
Result<UniqueFd> makeDetachedMount(const std::string& source, uint64_t attrs, int userns_fd);

/// The detached mounts of every kAttachMount step of `steps`, in order.
Result<std::vector<UniqueFd>> makeAttachMounts(const std::vector<MountStep>& steps, int userns_fd);

/// Start-up check: a user namespace can be created with `slice`-style maps, and `dirs` (the
/// images dir, the host image's dirs) accept idmapped mounts. The error names the missing
/// piece.
Result<void> checkUserNamespaceSupport(const IdRanges& ranges,
                                       const std::vector<std::string>& dirs);

}  // namespace grid::localns
