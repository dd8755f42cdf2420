// Parses what `find -printf` prints for the files API's stat and list calls. The tool runs in
// the sandbox, whose tenant may have replaced it: the output is attacker input. Records are
// NUL-separated fields, so names may hold newlines or invalid UTF-8; every field is bounded and
// strictly checked, and at most `max_records` records are kept, so a fake `find` printing
// without end costs a bounded buffer and is cut off.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "grid/result.h"
#include "grid/sandbox_backend.h"

namespace grid {

/// The -printf format the parser reads: type, size, mode, mtime, name, link target.
inline constexpr const char* kFindRecordFormat = "%y\\0%s\\0%m\\0%T@\\0%f\\0%l\\0";

class FindRecordParser {
 public:
  /// `entry_names`: the name field must be one directory entry name (validatePathComponent);
  /// otherwise (stat of a path, whose name may be "/") it is only bounded.
  FindRecordParser(size_t max_records, bool entry_names)
      : max_records_(max_records), entry_names_(entry_names) {}

  /// Parses the next bytes. Stops taking records once `max_records` are held (full()); the rest
  /// is ignored. A malformed field is kInternal naming it.
  Result<void> feed(std::string_view data);
  /// At the end of the output: an Error when a record was cut in the middle (unless full()).
  Result<void> finish() const;

  bool full() const { return records_.size() >= max_records_; }
  std::vector<FileInfo>& records() { return records_; }

 private:
  Result<void> endField();

  size_t max_records_;
  bool entry_names_;
  std::vector<FileInfo> records_;
  FileInfo current_;
  std::string field_;
  size_t field_index_ = 0;
};

}  // namespace grid
