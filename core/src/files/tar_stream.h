// A streaming tar codec for the files API. Docker and Podman move files through
// `PUT/GET /containers/{id}/archive`, whose bodies are tar streams; files can be gigabytes, so
// nothing here holds a whole file: the writer only frames the caller's data (headers before,
// padding after), and the reader is fed the stream in chunks of any size and hands the data on
// as views into those chunks.
//
// The reader's input comes out of a sandbox (through an engine, or straight from a client):
// every field is validated (checksum, numbers, magic), extended headers are bounded, sizes that
// overflow are refused, and a truncated stream is an Error, never a crash or an unbounded
// buffer. Names are reported verbatim ("..", "/", even NUL from a pax record): deciding what a
// name may do is the caller's policy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "grid/result.h"

namespace grid {

inline constexpr size_t kTarBlockSize = 512;
/// The default bound on the extended headers (pax records, GNU long names) of one entry.
inline constexpr size_t kMaxTarExtendedHeaderBytes = 64 * 1024;

/// What an entry is. Everything that is not a file, directory or link (devices, fifos, GNU
/// sparse files or volume headers) is kOther; its raw typeflag is in TarEntry::typeflag ('S'
/// for a sparse file also in pax form).
enum class TarEntryType { kFile, kDirectory, kSymlink, kHardlink, kOther };

/// "file", "directory", "symlink", "hardlink" or "other".
const char* tarEntryTypeName(TarEntryType type);

/// One entry of an archive, after pax and GNU extended headers are applied.
struct TarEntry {
  std::string name;  // verbatim; directories usually end in '/'
  TarEntryType type = TarEntryType::kFile;
  char typeflag = '0';
  uint64_t size = 0;  // data bytes that follow the header (0 for links and directories)
  uint32_t mode = 0;  // permission bits and setuid/setgid/sticky (mode & 07777)
  int64_t mtime = 0;  // seconds since the epoch
  uint64_t uid = 0;
  uint64_t gid = 0;
  std::string linkname;  // symlink target or hardlink source
};

/// What the writer needs to know of an entry it frames.
struct TarEntryInfo {
  std::string name;  // archive member name; a directory's gets a trailing '/' added
  uint32_t mode = 0644;
  uint64_t size = 0;  // regular files only
  int64_t mtime = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
};

/// Frames entries as a POSIX ustar stream (pax 'x' header for a name that does not fit the
/// ustar name/prefix fields; base-256 for numbers too large for octal, as GNU tar and Go do).
/// Each call returns the bytes to send next; file data goes out as the caller has it:
///
///   TarWriter tar;
///   send(tar.beginFile({.name = "app.py", .mode = 0755, .size = n}).value());
///   for (chunk : source) { GRID_TRY(tar.fileData(chunk)); send(chunk); }
///   send(tar.endFile().value());
///   send(tar.finish().value());
class TarWriter {
 public:
  /// The header block(s) of a directory entry (no data follows).
  Result<std::string> directory(const TarEntryInfo& info);
  /// The header block(s) of a regular file of `info.size` bytes, whose data must follow.
  Result<std::string> beginFile(const TarEntryInfo& info);
  /// Counts a chunk of the open file's data (the caller sends the chunk itself); refuses more
  /// bytes than the header announced.
  Result<void> fileData(std::string_view chunk);
  /// The zero padding after the file's data; refuses fewer bytes than announced.
  Result<std::string> endFile();
  /// The two zero blocks that end the archive; refuses while a file is open.
  Result<std::string> finish();

  /// Bytes of the current file still expected by fileData().
  uint64_t remainingFileBytes() const { return remaining_; }

 private:
  Result<std::string> header(const TarEntryInfo& info, char typeflag, std::string name);

  bool file_open_ = false;
  bool finished_ = false;
  uint64_t size_ = 0;
  uint64_t remaining_ = 0;
};

/// Receives what TarReader finds, in stream order: onEntry, then the entry's data in chunks
/// (views into the fed bytes, valid during the call only), then onEntryEnd. An Error returned
/// from any of them stops the reader and comes back from feed().
class TarHandler {
 public:
  virtual ~TarHandler() = default;
  virtual Result<void> onEntry(const TarEntry& entry) = 0;
  virtual Result<void> onData(std::string_view chunk) {
    (void)chunk;
    return {};
  }
  virtual Result<void> onEntryEnd() { return {}; }
};

/// Parses a tar stream (ustar, GNU and pax) fed in chunks of any size. Holds at most one
/// header block, or one entry's extended headers (bounded by `max_extended_header_bytes`),
/// beyond what the handler is given. Errors are kInvalidArgument ("tar: header at offset
/// 1024: checksum mismatch ...") unless the handler returned its own; after an error every
/// call returns it again.
class TarReader {
 public:
  explicit TarReader(TarHandler& handler,
                     size_t max_extended_header_bytes = kMaxTarExtendedHeaderBytes);

  /// Parses the next bytes of the stream. Bytes after the end-of-archive blocks are ignored.
  Result<void> feed(std::string_view data);
  /// Call at end of input: an Error unless the stream ended with its end-of-archive blocks (a
  /// lone zero block at the very end counts, as in GNU tar and Go) outside any entry.
  Result<void> finish();

  /// The end-of-archive blocks were seen.
  bool ended() const { return state_ == State::kEnded; }
  /// Stream bytes consumed so far.
  uint64_t offset() const { return offset_; }

 private:
  enum class State { kHeader, kExtended, kData, kPadding, kZeroBlock, kEnded, kFailed };

  Result<void> fail(std::string message);
  Result<void> onHeaderBlock();
  Result<void> onExtendedHeader();
  Result<void> startEntry(TarEntry entry, uint64_t data_size);
  Result<void> endEntry();

  TarHandler& handler_;
  size_t max_extended_header_bytes_;
  State state_ = State::kHeader;
  Error error_;
  uint64_t offset_ = 0;
  uint64_t header_offset_ = 0;  // where the block being parsed starts
  std::string block_;           // the header block (or extended header data) being collected
  uint64_t remaining_ = 0;      // data bytes of the current entry still to come
  uint64_t padding_ = 0;        // zero bytes to skip before the next header

  // What the extended headers before the next entry said about it.
  struct Extended {
    size_t total = 0;                      // their bytes, bounded by max_extended_header_bytes_
    std::optional<std::string> long_name;  // GNU 'L'
    std::optional<std::string> long_link;  // GNU 'K'
    std::optional<std::string> pax_path;
    std::optional<std::string> pax_linkpath;
    std::optional<uint64_t> pax_size;
    std::optional<int64_t> pax_mtime;
    std::optional<uint64_t> pax_uid;
    std::optional<uint64_t> pax_gid;
    bool pax_sparse = false;
  };
  Extended extended_;
  char extended_type_ = 0;      // of the extended header being collected
  uint64_t extended_size_ = 0;  // its size
};

/// Turns the archive an engine returns for ONE path (`GET /containers/{id}/archive?path=P`)
/// into that file's bytes: the first entry must be a regular file, whose data goes to `sink`.
/// A directory is "is a directory: P" (kInvalidArgument); a symlink is reported through
/// symlinkTarget() (Docker archives the link itself, not its target, as `docker cp` without -L
/// does); anything else, or a second entry after a file, is an Error.
class TarSingleFileReader : public TarHandler {
 public:
  using Sink = std::function<Result<void>(std::string_view)>;
  TarSingleFileReader(std::string path, Sink sink);

  Result<void> onEntry(const TarEntry& entry) override;
  Result<void> onData(std::string_view chunk) override;
  Result<void> onEntryEnd() override;

  /// The first entry, once seen.
  const std::optional<TarEntry>& entry() const { return entry_; }
  /// The link target when the path is a symlink.
  std::optional<std::string> symlinkTarget() const;
  /// The file's data was delivered in full.
  bool complete() const { return complete_; }

 private:
  std::string path_;
  Sink sink_;
  std::optional<TarEntry> entry_;
  bool complete_ = false;
};

}  // namespace grid
