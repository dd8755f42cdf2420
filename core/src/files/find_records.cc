#include "files/find_records.h"

#include <algorithm>

#include "files/sandbox_path.h"
#include "util/printable.h"

namespace grid {
namespace {

constexpr size_t kFieldCount = 6;
constexpr size_t kMaxLinkTargetBytes = 4096;  // PATH_MAX
constexpr size_t kMaxNumberBytes = 32;

Error malformed(const char* what, std::string_view field) {
  return fail(ErrorCode::kInternal, std::string("find in the sandbox printed a malformed ") +
                                        what + ": \"" + printablePrefix(field, 40) + "\"");
}

bool allDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](char c) { return c >= '0' && c <= '9'; });
}

// Digits only, below 2^63 (20 digits can overflow; 18 cannot).
bool parseUnsigned(std::string_view text, uint64_t* out) {
  if (!allDigits(text) || text.size() > 18) return false;
  uint64_t value = 0;
  for (const char c : text) value = value * 10 + static_cast<uint64_t>(c - '0');
  *out = value;
  return true;
}

size_t fieldLimit(size_t index) {
  switch (index) {
    case 4: return kMaxPathComponentBytes;
    case 5: return kMaxLinkTargetBytes;
    default: return kMaxNumberBytes;
  }
}

}  // namespace

Result<void> FindRecordParser::endField() {
  const std::string_view f = field_;
  switch (field_index_) {
    case 0:
      if (f.size() != 1) return malformed("type", f);
      switch (f[0]) {
        case 'f': current_.type = FileType::kFile; break;
        case 'd': current_.type = FileType::kDirectory; break;
        case 'l': current_.type = FileType::kSymlink; break;
        case 'b': case 'c': case 'p': case 's': case 'D': current_.type = FileType::kOther; break;
        default: return malformed("type", f);
      }
      break;
    case 1:
      if (!parseUnsigned(f, &current_.size)) return malformed("size", f);
      break;
    case 2: {
      uint64_t mode = 0;
      if (f.size() > 5 || f.empty() ||
          !std::all_of(f.begin(), f.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        return malformed("mode", f);
      }
      for (const char c : f) mode = mode * 8 + static_cast<uint64_t>(c - '0');
      if (mode > 07777) return malformed("mode", f);
      current_.mode = static_cast<uint32_t>(mode);
      break;
    }
    case 3: {
      // Seconds with an optional fraction ("1700000000.1234567890"); before 1970 is refused.
      const std::string_view whole = f.substr(0, f.find('.'));
      const std::string_view fraction =
          whole.size() < f.size() ? f.substr(whole.size() + 1) : std::string_view("0");
      uint64_t seconds = 0;
      if (!parseUnsigned(whole, &seconds) || !allDigits(fraction)) return malformed("mtime", f);
      current_.mtime = static_cast<int64_t>(seconds);
      break;
    }
    case 4:
      if (entry_names_) {
        if (auto valid = validatePathComponent(f); !valid.ok()) return malformed("name", f);
      } else if (f.empty()) {
        return malformed("name", f);
      }
      current_.name = field_;
      break;
    case 5:
      if (current_.type == FileType::kSymlink) {
        if (f.empty()) return malformed("link target", f);
        current_.link_target = field_;
      } else if (!f.empty()) {
        return malformed("link target", f);
      }
      break;
  }
  field_.clear();
  if (++field_index_ == kFieldCount) {
    records_.push_back(std::move(current_));
    current_ = FileInfo{};
    field_index_ = 0;
  }
  return {};
}

Result<void> FindRecordParser::feed(std::string_view data) {
  while (!data.empty() && !full()) {
    const size_t nul = data.find('\0');
    const std::string_view part = data.substr(0, nul);
    if (field_.size() + part.size() > fieldLimit(field_index_)) {
      return malformed("field (too long)", std::string_view(field_).substr(0, 40));
    }
    field_.append(part);
    if (nul == std::string_view::npos) return {};
    GRID_TRY(endField());
    data.remove_prefix(nul + 1);
  }
  return {};
}

Result<void> FindRecordParser::finish() const {
  if (!full() && (field_index_ != 0 || !field_.empty())) {
    return fail(ErrorCode::kInternal, "find in the sandbox ended in the middle of a record");
  }
  return {};
}

}  // namespace grid
