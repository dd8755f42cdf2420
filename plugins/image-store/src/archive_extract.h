// Safe tar extraction with libarchive: every entry path is validated before anything touches
// the disk, so an archive can never write, link or delete outside its destination.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "grid/result.h"
#include "grid/sys/syscall_error.h"
#include "grid/sys/unique_fd.h"

namespace grid::image {

using sys::UniqueFd;

/// A syscall failure of the image store. Images are the local-namespace backend's, and its
/// errors name it first ("local-namespace: rename(...): EXDEV ...").
inline Error sysFail(ErrorCode code, std::string_view call, std::string_view args, int err) {
  return sys::sysFail(code, "local-namespace", call, args, err);
}

/// Normalises an archive member name to a relative path without "." components ("./a//b/" ->
/// "a/b"; "." -> ""). Rejects absolute names and any ".." component (kInvalidArgument).
Result<std::string> sanitizeEntryPath(std::string_view name);

/// Fails if a component of `rel` below `root`, other than the last, is a symlink or not a
/// directory: writing or deleting through it could reach outside `root`.
Result<void> checkNoSymlinkParents(const std::string& root, const std::string& rel);

struct ExtractOptions {
  bool whiteouts = false;  // an image layer: honour ".wh.NAME" and ".wh..wh..opq"
};

/// Extracts `archive_path` (tar, optionally compressed) into the existing dir `dest_root`.
Result<void> extractArchive(const std::string& archive_path, const std::string& dest_root,
                            const ExtractOptions& options);

/// The same from an open archive file; `name` is what error messages call it.
Result<void> extractArchiveFd(int archive_fd, const std::string& name, const std::string& dest_root,
                              const ExtractOptions& options);

/// Opens the regular file `rel` (a sanitised relative path) below `root` for reading without
/// following any symlink on the way (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a
/// member of an unpacked archive (manifest.json, index.json, a blob, a layer) that is or goes
/// through a symlink is refused (kInvalidArgument) instead of reading a host file.
Result<UniqueFd> openMemberFile(const std::string& root, const std::string& rel);

/// Reads all of an open regular file, failing (kInvalidArgument) beyond `max_size` bytes.
Result<std::string> readMemberFile(int fd, const std::string& name, size_t max_size);

/// The sanitised names of all members of `archive_path`.
Result<std::vector<std::string>> listArchive(const std::string& archive_path);

/// The contents of one regular-file member (sanitised name), at most `max_size` bytes.
Result<std::string> readArchiveMember(const std::string& archive_path, const std::string& member,
                                      size_t max_size);

}  // namespace grid::image
