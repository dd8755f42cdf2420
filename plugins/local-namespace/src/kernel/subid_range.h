// Subordinate id ranges for sandbox user namespaces (pure parsing and slicing, no I/O).
// The backend's range comes from `subid_range = START:COUNT` or from the `grid` entries of
// /etc/subuid and /etc/subgid; each running sandbox gets its own 65536-id slice of it, so
// root inside sandbox A, root inside sandbox B and every host user are different users.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "grid/result.h"

namespace grid::localns {

inline constexpr uint32_t kIdsPerSandbox = 65536;
inline constexpr const char* kSubidOwner = "grid";

struct IdRange {
  uint32_t start = 0;
  uint32_t count = 0;
  bool operator==(const IdRange&) const = default;
};

/// "START:COUNT" (decimal). START > 0, COUNT >= kIdsPerSandbox, no overflow past 2^32-1.
Result<IdRange> parseIdRange(std::string_view text);

/// The first entry for `owner` in /etc/subuid or /etc/subgid text ("name:start:count" lines,
/// '#' comments); nullopt if none. Malformed lines are skipped.
std::optional<IdRange> findSubidEntry(std::string_view file_text, std::string_view owner);

/// How many whole sandbox slices `range` holds.
uint32_t sliceCount(const IdRange& range);

/// The first id of slice `index` of `range` (index < sliceCount(range)).
uint32_t sliceStart(const IdRange& range, uint32_t index);

/// The uid_map/gid_map line mapping ids 0..65535 inside to the slice starting at `host_start`.
std::string idMapLine(uint32_t host_start);

}  // namespace grid::localns
