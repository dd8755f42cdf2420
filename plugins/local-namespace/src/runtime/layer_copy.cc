#include "runtime/layer_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "util/fd.h"
#include "util/syscall_error.h"

namespace grid::localns {
namespace {

constexpr uint32_t kNobody = 65534;
constexpr size_t kMaxXattrBytes = 64 << 10;

// "/proc/self/fd/<dir>/<name>": the entry itself, for the l*xattr calls (which take paths);
// the fd part is our own open directory, the last component is not followed.
std::string entryPath(int dir_fd, const std::string& name) {
  return "/proc/self/fd/" + std::to_string(dir_fd) + "/" + name;
}

Result<void> copyXattrs(const std::string& from, const std::string& to, const std::string& shown) {
  std::vector<char> names(kMaxXattrBytes);
  ssize_t length = ::llistxattr(from.c_str(), names.data(), names.size());
  if (length < 0) {
    if (errno == ENOTSUP) return {};
    return sysFail(ErrorCode::kInternal, "llistxattr", shown, errno);
  }
  std::vector<char> value(kMaxXattrBytes);
  for (ssize_t at = 0; at < length;) {
    const char* name = names.data() + at;
    at += static_cast<ssize_t>(std::char_traits<char>::length(name)) + 1;
    ssize_t size = ::lgetxattr(from.c_str(), name, value.data(), value.size());
    if (size < 0) return sysFail(ErrorCode::kInternal, "lgetxattr", shown + " " + name, errno);
    if (::lsetxattr(to.c_str(), name, value.data(), static_cast<size_t>(size), 0) != 0) {
      return sysFail(ErrorCode::kInternal, "lsetxattr", shown + " " + name, errno);
    }
  }
  return {};
}

Result<void> copyXattrsOfFds(int from, int to, const std::string& shown) {
  std::vector<char> names(kMaxXattrBytes);
  ssize_t length = ::flistxattr(from, names.data(), names.size());
  if (length < 0) {
    if (errno == ENOTSUP) return {};
    return sysFail(ErrorCode::kInternal, "flistxattr", shown, errno);
  }
  std::vector<char> value(kMaxXattrBytes);
  for (ssize_t at = 0; at < length;) {
    const char* name = names.data() + at;
    at += static_cast<ssize_t>(std::char_traits<char>::length(name)) + 1;
    ssize_t size = ::fgetxattr(from, name, value.data(), value.size());
    if (size < 0) return sysFail(ErrorCode::kInternal, "fgetxattr", shown + " " + name, errno);
    if (::fsetxattr(to, name, value.data(), static_cast<size_t>(size), 0) != 0) {
      return sysFail(ErrorCode::kInternal, "fsetxattr", shown + " " + name, errno);
    }
  }
  return {};
}

Result<uint64_t> copyFileData(int from, int to, const std::string& shown) {
  uint64_t copied = 0;
  for (;;) {
    ssize_t n = ::copy_file_range(from, nullptr, to, nullptr, 1 << 30, 0);
    if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP)) break;
    if (n < 0) return sysFail(ErrorCode::kInternal, "copy_file_range", shown, errno);
    if (n == 0) return copied;
    copied += static_cast<uint64_t>(n);
  }
  std::vector<char> buffer(1 << 20);  // a filesystem pair without copy_file_range
  for (;;) {
    ssize_t n = ::read(from, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sysFail(ErrorCode::kInternal, "read", shown, errno);
    if (n == 0) return copied;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(to, buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return sysFail(ErrorCode::kInternal, "write", shown, errno);
      done += w;
    }
    copied += static_cast<uint64_t>(n);
  }
}

// Owner, mode, xattrs and times of the copy `name` in `to_dir`, from `st` of the original.
Result<void> copyMetadata(int from_dir, int to_dir, const std::string& name, const struct stat& st,
                          const IdShift& shift, const std::string& shown) {
  if (::fchownat(to_dir, name.c_str(), shift.uid(st.st_uid), shift.gid(st.st_gid),
                 AT_SYMLINK_NOFOLLOW) != 0) {
    return sysFail(ErrorCode::kInternal, "fchownat", shown, errno);
  }
  const bool link = S_ISLNK(st.st_mode);
  // After chown, which clears set-id bits; a symlink has no mode of its own.
  if (!link && ::fchmodat(to_dir, name.c_str(), st.st_mode & 07777, 0) != 0) {
    return sysFail(ErrorCode::kInternal, "fchmodat", shown, errno);
  }
  if (!link) GRID_TRY(copyXattrs(entryPath(from_dir, name), entryPath(to_dir, name), shown));
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(to_dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return sysFail(ErrorCode::kInternal, "utimensat", shown, errno);
  }
  return {};
}

Result<uint64_t> copyTree(int from_dir, int to_dir, const IdShift& shift, int depth,
                          const std::string& shown) {
  if (depth > kMaxLayerDepth) {
    return fail(ErrorCode::kInvalidArgument, "local-namespace: " + shown +
                                                 " is nested deeper than " +
                                                 std::to_string(kMaxLayerDepth) + " directories");
  }
  UniqueFd listing(::openat(from_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!listing.valid()) return sysFail(ErrorCode::kInternal, "open", shown, errno);
  DIR* dir = ::fdopendir(listing.get());
  if (dir == nullptr) return sysFail(ErrorCode::kInternal, "fdopendir", shown, errno);
  (void)listing.release();
  struct DirCloser {
    DIR* dir;
    ~DirCloser() { ::closedir(dir); }
  } closer{dir};
  uint64_t copied = 0;
  errno = 0;
  while (struct dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = shown + "/" + name;
    struct stat st;
    if (::fstatat(from_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return sysFail(ErrorCode::kInternal, "fstatat", path, errno);
    }
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(to_dir, name.c_str(), 0700) != 0) {
        return sysFail(ErrorCode::kInternal, "mkdirat", path, errno);
      }
      UniqueFd from(
          ::openat(from_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd to(::openat(to_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!from.valid() || !to.valid()) return sysFail(ErrorCode::kInternal, "open", path, errno);
      GRID_ASSIGN_OR_RETURN(uint64_t below, copyTree(from.get(), to.get(), shift, depth + 1, path));
      copied += below;
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd from(::openat(from_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!from.valid()) return sysFail(ErrorCode::kInternal, "open", path, errno);
      UniqueFd to(::openat(to_dir, name.c_str(),
                           O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!to.valid()) return sysFail(ErrorCode::kInternal, "create", path, errno);
      GRID_ASSIGN_OR_RETURN(uint64_t bytes, copyFileData(from.get(), to.get(), path));
      copied += bytes;
    } else if (S_ISLNK(st.st_mode)) {
      std::vector<char> target(static_cast<size_t>(st.st_size) + 2);
      ssize_t n = ::readlinkat(from_dir, name.c_str(), target.data(), target.size() - 1);
      if (n < 0) return sysFail(ErrorCode::kInternal, "readlinkat", path, errno);
      target[static_cast<size_t>(n)] = '\0';
      if (::symlinkat(target.data(), to_dir, name.c_str()) != 0) {
        return sysFail(ErrorCode::kInternal, "symlinkat", path, errno);
      }
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      if (::mknodat(to_dir, name.c_str(), st.st_mode, st.st_rdev) != 0) {
        return sysFail(ErrorCode::kInternal, "mknodat", path, errno);
      }
    } else {
      continue;  // sockets belong to running processes, which a fork does not carry
    }
    GRID_TRY(copyMetadata(from_dir, to_dir, name, st, shift, path));
    errno = 0;
  }
  if (errno != 0) return sysFail(ErrorCode::kInternal, "readdir", shown, errno);
  return copied;
}

}  // namespace

uint32_t IdShift::uid(uint32_t host) const {
  if (host >= uid_start && host - uid_start < count) return host - uid_start;
  return kNobody;
}

uint32_t IdShift::gid(uint32_t host) const {
  if (host >= gid_start && host - gid_start < count) return host - gid_start;
  return kNobody;
}

Result<uint64_t> copyLayer(const std::string& source_dir, const std::string& target_dir,
                           const IdShift& shift) {
  UniqueFd from(::open(source_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!from.valid()) return sysFail(ErrorCode::kInternal, "open", source_dir, errno);
  UniqueFd to(::open(target_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!to.valid()) return sysFail(ErrorCode::kInternal, "open", target_dir, errno);
  GRID_ASSIGN_OR_RETURN(uint64_t copied, copyTree(from.get(), to.get(), shift, 0, source_dir));
  struct stat st;
  if (::fstat(from.get(), &st) != 0)
    return sysFail(ErrorCode::kInternal, "fstat", source_dir, errno);
  if (::fchown(to.get(), shift.uid(st.st_uid), shift.gid(st.st_gid)) != 0 ||
      ::fchmod(to.get(), st.st_mode & 07777) != 0) {
    return sysFail(ErrorCode::kInternal, "fchown/fchmod", target_dir, errno);
  }
  GRID_TRY(copyXattrsOfFds(from.get(), to.get(), source_dir));
  return copied;
}

}  // namespace grid::localns
