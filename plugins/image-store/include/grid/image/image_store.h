// grid-image-store: unpacked image root filesystems in a directory, for the local-namespace
// backend and the `grid image import/list/rm` CLI.
//
// Layout: <images_dir>/<name, '/' written as '+'>/<tag>/rootfs. An import unpacks into a
// temporary dir beside it and renames it into place, so a failed import leaves nothing.
// Accepted archives (optionally gzip/xz/zstd compressed): a plain rootfs tarball, a
// `docker save` archive (manifest.json) or an OCI image layout (index.json); layers are
// applied in order and whiteouts honoured. Members with absolute paths, "..", paths through
// symlinks or hardlinks outside the archive are rejected (kInvalidArgument).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "grid/result.h"

namespace grid::image {

inline constexpr const char* kDefaultImagesDir = "/var/lib/grid/images";

/// An image reference "name[:tag]", tag defaulting to "latest".
struct ImageRef {
  std::string name;  // [a-z0-9._/-], e.g. "grid-test/debian"
  std::string tag;   // [A-Za-z0-9._-]
  std::string str() const { return name + ":" + tag; }
};

/// Parses "name[:tag]"; kInvalidArgument names the bad part.
Result<ImageRef> parseImageRef(std::string_view ref);

struct ImageInfo {
  std::string ref;     // "name:tag"
  std::string rootfs;  // absolute path of the unpacked root filesystem
  std::string format;  // "rootfs", "docker-save" or "oci"
};

/// Unpacks `tarball_path` as image `ref` into `images_dir` (created if missing), replacing an
/// image of the same ref.
Result<ImageInfo> importImage(const std::string& images_dir, const std::string& ref,
                              const std::string& tarball_path);

/// All images in `images_dir`, sorted by ref; an absent dir has none.
Result<std::vector<ImageInfo>> listImages(const std::string& images_dir);

/// Removes image `ref`; kImageNotFound if absent. Sandboxes already running on it keep working.
Result<void> removeImage(const std::string& images_dir, const std::string& ref);

/// The rootfs dir of `ref`, or kImageNotFound with a message that says how to import it.
Result<std::string> findImage(const std::string& images_dir, const std::string& ref);

/// A fresh directory in `images_dir` (made if missing) holding an empty `rootfs` dir, where a
/// new image is built before installImage() moves it into place. The caller removes it if it
/// does not install it.
Result<std::string> prepareImageDir(const std::string& images_dir);

/// Moves `prepared_dir` (from prepareImageDir, its rootfs filled) into place as image `ref`.
/// An existing image of that ref is kConflict unless `overwrite`, then replaced atomically.
Result<ImageInfo> installImage(const std::string& images_dir, const std::string& ref,
                               const std::string& prepared_dir, bool overwrite);

}  // namespace grid::image
