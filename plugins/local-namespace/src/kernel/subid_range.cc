#include "kernel/subid_range.h"

#include <charconv>

namespace grid::localns {
namespace {

bool parseU32(std::string_view text, uint32_t* out) {
  if (text.empty() || text.size() > 10) return false;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(value);
  return true;
}

}  // namespace

Result<IdRange> parseIdRange(std::string_view text) {
  const size_t colon = text.find(':');
  IdRange range;
  if (colon == std::string_view::npos || !parseU32(text.substr(0, colon), &range.start) ||
      !parseU32(text.substr(colon + 1), &range.count)) {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: subid_range must be START:COUNT (decimal), got '" +
                    std::string(text) + "'");
  }
  if (range.start == 0 || range.count < kIdsPerSandbox ||
      uint64_t{range.start} + range.count - 1 > UINT32_MAX - 1) {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: subid_range '" + std::string(text) +
                    "' must start above 0, hold at least 65536 ids and end below 4294967295");
  }
  return range;
}

std::optional<IdRange> findSubidEntry(std::string_view file_text, std::string_view owner) {
  size_t pos = 0;
  while (pos < file_text.size()) {
    size_t end = file_text.find('\n', pos);
    if (end == std::string_view::npos) end = file_text.size();
    std::string_view line = file_text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line.front() == '#') continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || line.substr(0, colon) != owner) continue;
    auto range = parseIdRange(line.substr(colon + 1));
    if (range) return range.value();
  }
  return std::nullopt;
}

uint32_t sliceCount(const IdRange& range) { return range.count / kIdsPerSandbox; }

uint32_t sliceStart(const IdRange& range, uint32_t index) {
  return range.start + index * kIdsPerSandbox;
}

std::string idMapLine(uint32_t host_start) {
  return "0 " + std::to_string(host_start) + " " + std::to_string(kIdsPerSandbox) + "\n";
}

}  // namespace grid::localns
