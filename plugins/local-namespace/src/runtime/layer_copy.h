// Copying a sandbox's overlay upper dir into a read-only snapshot layer (fork, snapshot).
//
// The source is tenant-made and walked as host root, so nothing is ever followed: every entry
// is opened relative to its parent's fd with O_NOFOLLOW, symlinks are copied as symlinks,
// device nodes (overlay whiteouts are 0/0 character devices) as nodes. Owners are shifted from
// the source sandbox's host id slice to the canonical 0..65535 an image has, so every child
// sees them through its own idmapped mount. Hard links become separate copies.
#pragma once

#include <cstdint>
#include <string>

#include "grid/result.h"

namespace grid::localns {

/// Host ids [uid_start, uid_start + count) become [0, count); ids outside become 65534
/// (nobody). The identity (no user namespace) is {0, 0, UINT32_MAX}.
struct IdShift {
  uint32_t uid_start = 0;
  uint32_t gid_start = 0;
  uint32_t count = UINT32_MAX;

  uint32_t uid(uint32_t host) const;
  uint32_t gid(uint32_t host) const;
};

/// Deepest directory nesting copied; deeper is kInvalidArgument.
inline constexpr int kMaxLayerDepth = 256;

/// Copies the tree below `source_dir` into the existing empty dir `target_dir` (its own mode,
/// owner, xattrs and times too). Returns the bytes of file data copied.
Result<uint64_t> copyLayer(const std::string& source_dir, const std::string& target_dir,
                           const IdShift& shift);

}  // namespace grid::localns
