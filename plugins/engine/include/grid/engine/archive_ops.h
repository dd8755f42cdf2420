// Files through the engines' archive endpoint (`/containers/{id}/archive`, Docker and Podman
// alike): HEAD answers a path's lstat in the X-Docker-Container-Path-Stat header, GET streams a
// tar of the path, PUT extracts a tar into a directory. The pure parts (the stat header, the
// first entry of a tar, the error mapping) are unit-tested without an engine; the rest is one
// streamed request each (EngineClient::stream()).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "grid/engine/engine_client.h"
#include "grid/result.h"
#include "grid/sandbox_backend.h"

namespace grid::engine {

/// Go's os.FileMode bits the engines put in the stat header's "mode".
inline constexpr uint64_t kGoModeDir = 1ull << 31;
inline constexpr uint64_t kGoModeSymlink = 1ull << 27;
inline constexpr uint64_t kGoModeTypeBits = (1ull << 31) | (1ull << 27) | (1ull << 26) |
                                            (1ull << 25) | (1ull << 24) | (1ull << 21) |
                                            (1ull << 19);  // dir, symlink, device, pipe, ...
inline constexpr uint64_t kGoModeSetuid = 1ull << 23;
inline constexpr uint64_t kGoModeSetgid = 1ull << 22;
inline constexpr uint64_t kGoModeSticky = 1ull << 20;

/// The file type a Go FileMode describes.
FileType fileTypeFromGoMode(uint64_t mode);
/// The POSIX permission bits (07777) of a Go FileMode.
uint32_t permissionBitsFromGoMode(uint64_t mode);

/// The FileInfo in an X-Docker-Container-Path-Stat header (base64 of {"name", "size", "mode",
/// "mtime" (RFC 3339), "linkTarget"}) for `path`. The name is `path`'s last component (Podman
/// names a symlink by its target's name); link_target is left empty: both engines put the fully
/// resolved path there, not the link's own text. kInternal for a malformed header.
Result<FileInfo> parsePathStat(std::string_view header, const std::string& path);

/// What the first entry of a tar stream says about a symlink: its target (the ustar linkname,
/// or a pax "linkpath" record). nullopt while `head` is too short to tell; kInternal if the
/// first entry is not a symlink or the stream is malformed.
Result<std::optional<std::string>> firstEntryLinkTarget(std::string_view head);

/// The Error for a failed archive request about sandbox path `path`, by the engine's message
/// first (both engines answer 500 for most of them): "not a directory", "cannot overwrite",
/// "file exists" -> kConflict; "no space left on device", "quota" -> kNoSpace; then by status:
/// 404 -> kNotFound, 400 -> kInvalidArgument, 409 -> kConflict; else kInternal.
Error archiveError(const std::string& product, const std::string& method, const std::string& path,
                   const StreamedResponse& response);

/// One container's archive endpoint: `path` (no query) and what a PUT adds to its query.
struct ArchiveEndpoint {
  std::string path;       // e.g. "/containers/grid-x-y/archive"
  std::string put_query;  // e.g. "noOverwriteDirNonDir=true&copyUIDGID=true"
};

/// HEAD: the lstat of `path`, or nullopt if the engine answers 404.
Result<std::optional<FileInfo>> statThroughArchive(EngineClient& client,
                                                   const ArchiveEndpoint& endpoint,
                                                   const std::string& path,
                                                   Clock::time_point deadline);

/// GET of a symlink's archive, read only as far as its first entry: the link's own target.
/// For engines that archive a symlink as itself (Docker).
Result<std::string> readLinkThroughArchive(EngineClient& client, const ArchiveEndpoint& endpoint,
                                           const std::string& path, Clock::time_point deadline);

/// PUT: extracts the tar read from `tar` into `directory`, streamed.
Result<void> extractThroughArchive(EngineClient& client, const ArchiveEndpoint& endpoint,
                                   const std::string& directory, ByteSource& tar,
                                   Clock::time_point deadline);

/// GET: the tar of `path`, streamed into `out` in pieces of at most kStreamPieceBytes.
Result<void> archiveThroughEngine(EngineClient& client, const ArchiveEndpoint& endpoint,
                                  const std::string& path, ByteSink& out,
                                  Clock::time_point deadline);

}  // namespace grid::engine
