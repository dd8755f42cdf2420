#include "archive_extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <unordered_set>


namespace grid::image {

using sys::sysError;

namespace {

// A member's name; libarchive returns NULL for a header without one (found by fuzzing): it
// counts as empty, like "./", and is skipped.
std::string_view entryPathname(archive_entry* entry) {
  const char* name = archive_entry_pathname(entry);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

struct ReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ReadDeleter>;
using WriteArchive = std::unique_ptr<archive, WriteDeleter>;

// Reads the archive at `path`, or from `fd` when it is >= 0 (`path` then only names it).
Result<ReadArchive> openRead(const std::string& path, int fd = -1) {
  ReadArchive a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  int rc = fd >= 0 ? archive_read_open_fd(a.get(), fd, 1 << 16)
                   : archive_read_open_filename(a.get(), path.c_str(), 1 << 16);
  if (rc != ARCHIVE_OK) {
    const char* text = archive_error_string(a.get());
    return fail(ErrorCode::kInvalidArgument, "local-namespace: cannot read archive " + path + ": " +
                                                 (text != nullptr ? text : "unknown error"));
  }
  return a;
}

Error archiveError(archive* a, const std::string& path, std::string_view what) {
  const char* text = archive_error_string(a);
  return fail(ErrorCode::kInvalidArgument, "local-namespace: archive " + path + ": " +
                                               std::string(what) + ": " +
                                               (text != nullptr ? text : "unknown error"));
}

std::string parentOf(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}

std::string baseOf(const std::string& rel) {
  size_t slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

std::string join(const std::string& root, const std::string& rel) {
  return rel.empty() ? root : root + "/" + rel;
}

Result<void> removeTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return sysFail(ErrorCode::kInternal, "remove_all", path, ec.value());
  return {};
}

// Applies one whiteout entry. Whiteouts hide what lower layers put there, never what this
// layer itself created (`created`), whatever the entry order inside the layer.
Result<void> applyWhiteout(const std::string& root, const std::string& rel,
                           const std::unordered_set<std::string>& created) {
  std::string dir = parentOf(rel);
  std::string base = baseOf(rel);
  GRID_TRY(checkNoSymlinkParents(root, rel));
  if (!dir.empty()) {
    struct stat st;
    if (::lstat(join(root, dir).c_str(), &st) != 0) return {};  // nothing below to hide
    if (!S_ISDIR(st.st_mode)) {
      return fail(ErrorCode::kInvalidArgument,
                  "local-namespace: whiteout " + rel + " below a non-directory");
    }
  }
  if (base == kOpaqueMarker) {
    std::error_code ec;
    for (const auto& child : std::filesystem::directory_iterator(join(root, dir), ec)) {
      std::string child_rel = dir.empty() ? child.path().filename().string()
                                          : dir + "/" + child.path().filename().string();
      if (created.count(child_rel) == 0) {
        GRID_TRY(removeTree(child.path().string()));
      }
    }
    return {};
  }
  std::string target = base.substr(kWhiteoutPrefix.size());
  if (target.empty() || target == "." || target == "..") {
    return fail(ErrorCode::kInvalidArgument, "local-namespace: bad whiteout entry " + rel);
  }
  std::string target_rel = dir.empty() ? target : dir + "/" + target;
  if (created.count(target_rel) != 0) return {};
  return removeTree(join(root, target_rel));
}

// Makes room for an entry whose type differs from what an earlier layer left at the path:
// libarchive cannot replace a non-empty directory by a file, for example.
Result<void> clearTypeConflict(const std::string& path, mode_t entry_type) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return {};
  bool existing_dir = S_ISDIR(st.st_mode);
  bool entry_dir = entry_type == AE_IFDIR;
  if (existing_dir && !entry_dir) return removeTree(path);
  if (!existing_dir && entry_dir) {
    if (::unlink(path.c_str()) != 0) {
      return sysFail(ErrorCode::kInternal, "unlink", path, errno);
    }
  }
  return {};
}

}  // namespace

Result<std::string> sanitizeEntryPath(std::string_view name) {
  if (!name.empty() && name.front() == '/') {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: archive member '" + std::string(name) +
                    "' has an absolute path (path traversal rejected)");
  }
  std::string out;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t slash = name.find('/', pos);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view part = name.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return fail(ErrorCode::kInvalidArgument, "local-namespace: archive member '" +
                                                   std::string(name) +
                                                   "' contains '..' (path traversal rejected)");
    }
    if (!out.empty()) out += '/';
    out += part;
  }
  return out;
}

Result<void> checkNoSymlinkParents(const std::string& root, const std::string& rel) {
  size_t pos = 0;
  while (true) {
    size_t slash = rel.find('/', pos);
    if (slash == std::string::npos) return {};
    std::string prefix = root + "/" + rel.substr(0, slash);
    struct stat st;
    if (::lstat(prefix.c_str(), &st) != 0) {
      if (errno == ENOENT) return {};  // created fresh below, as a plain directory
      return sysFail(ErrorCode::kInternal, "lstat", prefix, errno);
    }
    if (S_ISLNK(st.st_mode)) {
      return fail(ErrorCode::kInvalidArgument,
                  "local-namespace: archive member '" + rel + "' goes through symlink '" +
                      rel.substr(0, slash) + "' (symlink escape rejected)");
    }
    if (!S_ISDIR(st.st_mode)) {
      return fail(ErrorCode::kInvalidArgument,
                  "local-namespace: archive member '" + rel + "' lies below a non-directory");
    }
    pos = slash + 1;
  }
}

Result<void> extractArchive(const std::string& archive_path, const std::string& dest_root,
                            const ExtractOptions& options) {
  return extractArchiveFd(-1, archive_path, dest_root, options);
}

Result<UniqueFd> openMemberFile(const std::string& root, const std::string& rel) {
  UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd.valid()) return sysFail(ErrorCode::kInternal, "open", root, errno);
  struct open_how how = {};
  how.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = -1;
  for (int attempt = 0; attempt < 8; ++attempt) {
    fd = ::syscall(SYS_openat2, root_fd.get(), rel.c_str(), &how, sizeof(how));
    if (fd >= 0 || errno != EAGAIN) break;
  }
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP || err == EXDEV) {
      return fail(ErrorCode::kInvalidArgument, "local-namespace: image archive member '" + rel +
                                                   "' is or goes through a symlink (rejected)");
    }
    return fail(ErrorCode::kInvalidArgument, "local-namespace: image archive lacks file " + rel +
                                                 ": " + sysError("openat2", rel, err));
  }
  UniqueFd file(static_cast<int>(fd));
  struct stat st;
  if (::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(ErrorCode::kInvalidArgument,
                "local-namespace: image archive member '" + rel + "' is not a regular file");
  }
  // Blocking reads from here on (O_NONBLOCK only kept a FIFO from hanging the open).
  ::fcntl(file.get(), F_SETFL, 0);
  return file;
}

Result<std::string> readMemberFile(int fd, const std::string& name, size_t max_size) {
  std::string data;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysFail(ErrorCode::kInternal, "read", name, errno);
    if (n == 0) return data;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > max_size) {
      return fail(ErrorCode::kInvalidArgument, "local-namespace: " + name + " is too large");
    }
  }
}

Result<void> extractArchiveFd(int archive_fd, const std::string& archive_path,
                              const std::string& dest_root, const ExtractOptions& options) {
  GRID_ASSIGN_OR_RETURN(ReadArchive reader, openRead(archive_path, archive_fd));
  archive* in = reader.get();

  WriteArchive writer(archive_write_disk_new());
  int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_UNLINK |
              ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
              ARCHIVE_EXTRACT_XATTR;
  if (::geteuid() == 0) flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(writer.get(), flags);
  archive_write_disk_set_standard_lookup(writer.get());

  std::unordered_set<std::string> created;
  while (true) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(in, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return archiveError(in, archive_path, "reading header");

    GRID_ASSIGN_OR_RETURN(std::string rel, sanitizeEntryPath(entryPathname(entry)));
    if (rel.empty()) continue;  // "./": the destination itself
    GRID_TRY(checkNoSymlinkParents(dest_root, rel));

    if (options.whiteouts && baseOf(rel).rfind(kWhiteoutPrefix, 0) == 0) {
      GRID_TRY(applyWhiteout(dest_root, rel, created));
      continue;
    }

    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      auto target = sanitizeEntryPath(link);
      if (!target) {
        return fail(ErrorCode::kInvalidArgument,
                    "local-namespace: hardlink '" + rel +
                        "' points outside the archive root: " + target.error().message);
      }
      if (target.value().empty()) {
        return fail(ErrorCode::kInvalidArgument,
                    "local-namespace: hardlink '" + rel + "' to the root directory");
      }
      GRID_TRY(checkNoSymlinkParents(dest_root, target.value()));
      struct stat st;
      std::string target_path = join(dest_root, target.value());
      if (::lstat(target_path.c_str(), &st) != 0 || S_ISLNK(st.st_mode) || S_ISDIR(st.st_mode)) {
        return fail(ErrorCode::kInvalidArgument,
                    "local-namespace: hardlink '" + rel + "' -> '" + target.value() +
                        "': target is missing, a symlink or a directory in the archive");
      }
      archive_entry_set_hardlink(entry, target_path.c_str());
    } else {
      GRID_TRY(clearTypeConflict(join(dest_root, rel), archive_entry_filetype(entry)));
    }

    std::string full = join(dest_root, rel);
    archive_entry_set_pathname(entry, full.c_str());
    rc = archive_write_header(writer.get(), entry);
    if (rc < ARCHIVE_WARN) return archiveError(writer.get(), archive_path, "writing " + full);
    if (archive_entry_size(entry) > 0 && archive_entry_hardlink(entry) == nullptr) {
      const void* buf;
      size_t size;
      la_int64_t offset;
      while ((rc = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK) {
        if (archive_write_data_block(writer.get(), buf, size, offset) < ARCHIVE_WARN) {
          return archiveError(writer.get(), archive_path, "writing data of " + full);
        }
      }
      if (rc != ARCHIVE_EOF) return archiveError(in, archive_path, "reading data of " + full);
    }
    if (archive_write_finish_entry(writer.get()) < ARCHIVE_WARN) {
      return archiveError(writer.get(), archive_path, "finishing " + full);
    }
    if (options.whiteouts) created.insert(rel);
  }
  // Directory permissions and times are fixed up at close.
  if (archive_write_close(writer.get()) < ARCHIVE_WARN) {
    return archiveError(writer.get(), archive_path, "closing");
  }
  return {};
}

Result<std::vector<std::string>> listArchive(const std::string& archive_path) {
  GRID_ASSIGN_OR_RETURN(ReadArchive reader, openRead(archive_path));
  std::vector<std::string> names;
  while (true) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(reader.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return archiveError(reader.get(), archive_path, "listing");
    GRID_ASSIGN_OR_RETURN(std::string rel, sanitizeEntryPath(entryPathname(entry)));
    names.push_back(std::move(rel));
  }
  return names;
}

Result<std::string> readArchiveMember(const std::string& archive_path, const std::string& member,
                                      size_t max_size) {
  GRID_ASSIGN_OR_RETURN(ReadArchive reader, openRead(archive_path));
  archive* in = reader.get();
  while (true) {
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(in, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) return archiveError(in, archive_path, "reading " + member);
    auto rel = sanitizeEntryPath(entryPathname(entry));
    if (!rel || rel.value() != member) continue;
    if (archive_entry_filetype(entry) != AE_IFREG) break;
    std::string data;
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(in, buf, sizeof(buf))) > 0) {
      data.append(buf, static_cast<size_t>(n));
      if (data.size() > max_size) {
        return fail(ErrorCode::kInvalidArgument,
                    "local-namespace: archive member " + member + " is too large");
      }
    }
    if (n < 0) return archiveError(in, archive_path, "reading " + member);
    return data;
  }
  return fail(ErrorCode::kInvalidArgument,
              "local-namespace: archive " + archive_path + " has no file " + member);
}

}  // namespace grid::image
