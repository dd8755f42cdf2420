#include "kernel/userns.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cgroup/cgroup.h"
#include "util/syscall_error.h"

namespace grid::localns {
namespace {

std::string readText(const std::string& path, bool* found) {
  std::ifstream in(path);
  *found = static_cast<bool>(in);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Result<IdSlice> allocateIdSlice(const IdRange& uids, const IdRange& gids,
                                const std::string& lock_dir) {
  std::error_code ec;
  std::filesystem::create_directories(lock_dir, ec);
  if (ec) return sysFail(ErrorCode::kInternal, "mkdir", lock_dir, ec.value());
  const uint32_t slices = std::min(sliceCount(uids), sliceCount(gids));
  for (uint32_t i = 0; i < slices; ++i) {
    IdSlice slice;
    slice.uid_start = sliceStart(uids, i);
    slice.gid_start = sliceStart(gids, i);
    const std::string path =
        lock_dir + "/" + std::to_string(slice.uid_start) + "-" + std::to_string(slice.gid_start);
    slice.lock.reset(::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!slice.lock.valid()) return sysFail(ErrorCode::kInternal, "open", path, errno);
    if (::flock(slice.lock.get(), LOCK_EX | LOCK_NB) == 0) return slice;
    if (errno != EWOULDBLOCK) return sysFail(ErrorCode::kInternal, "flock", path, errno);
  }
  return fail(ErrorCode::kUnavailable,
              "local-namespace: every one of the " + std::to_string(slices) +
                  " user id slices of the subordinate range is in use; widen subid_range");
}

Result<IdRanges> loadIdRanges(const std::string& configured, const std::string& subuid_file,
                              const std::string& subgid_file) {
  if (!configured.empty()) {
    GRID_ASSIGN_OR_RETURN(IdRange range, parseIdRange(configured));
    return IdRanges{range, range};
  }
  IdRanges ranges;
  for (auto [file, out] : {std::pair{&subuid_file, &ranges.uids}, {&subgid_file, &ranges.gids}}) {
    bool found = false;
    const std::string text = readText(*file, &found);
    auto entry = findSubidEntry(text, kSubidOwner);
    if (!entry) {
      return fail(ErrorCode::kUnavailable,
                  "local-namespace: user namespaces need a subordinate id range: no '" +
                      std::string(kSubidOwner) + ":START:COUNT' entry (COUNT >= 65536) in " +
                      *file + (found ? "" : " (missing)") +
                      "; run scripts/setup-subids.sh, set subid_range in "
                      "[backend.local-namespace], or set userns = false");
    }
    *out = *entry;
  }
  return ranges;
}

Result<void> writeIdMaps(pid_t pid, const IdSlice& slice) {
  const std::string base = "/proc/" + std::to_string(pid);
  GRID_TRY(writeCgroupFile(base + "/uid_map", idMapLine(slice.uid_start)));
  return writeCgroupFile(base + "/gid_map", idMapLine(slice.gid_start));
}

Result<UniqueFd> makeDetachedMount(const std::string& source, uint64_t attrs, int userns_fd) {
  UniqueFd tree(static_cast<int>(::syscall(SYS_open_tree, AT_FDCWD, source.c_str(),
                                           OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
  if (!tree.valid()) return sysFail(ErrorCode::kInternal, "open_tree", source, errno);
  if (attrs != 0) {
    mount_attr attr{};
    attr.attr_set = attrs;
    if (attrs & MOUNT_ATTR_IDMAP) attr.userns_fd = static_cast<uint64_t>(userns_fd);
    if (::syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                  sizeof(attr)) != 0) {
      return sysFail(ErrorCode::kInternal, "mount_setattr",
                     source + ((attrs & MOUNT_ATTR_IDMAP) ? ", MOUNT_ATTR_IDMAP" : ""), errno);
    }
  }
  return tree;
}

Result<std::vector<UniqueFd>> makeAttachMounts(const std::vector<MountStep>& steps, int userns_fd) {
  std::vector<UniqueFd> fds;
  for (const auto& step : steps) {
    if (step.kind != MountStep::Kind::kAttachMount) continue;
    GRID_ASSIGN_OR_RETURN(UniqueFd fd, makeDetachedMount(step.source, step.mount_attr, userns_fd));
    fds.push_back(std::move(fd));
  }
  return fds;
}

Result<void> checkUserNamespaceSupport(const IdRanges& ranges,
                                       const std::vector<std::string>& dirs) {
  // A throwaway user namespace with a real map, as a sandbox gets.
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0) return sysFail(ErrorCode::kInternal, "pipe2", "", errno);
  UniqueFd go_read(go[0]), go_write(go[1]);
  pid_t pid = static_cast<pid_t>(
      ::syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (pid < 0) {
    return sysFail(ErrorCode::kUnavailable, "clone",
                   "CLONE_NEWUSER (user namespaces disabled? "
                   "see /proc/sys/user/max_user_namespaces; or set userns = false)",
                   errno);
  }
  if (pid == 0) {
    ::close(go_write.get());  // EOF once the server closes its end
    char byte;
    (void)!::read(go_read.get(), &byte, 1);
    ::_exit(0);
  }
  go_read.reset();
  auto finish = [&] {
    go_write.reset();
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  IdSlice probe;
  probe.uid_start = ranges.uids.start;
  probe.gid_start = ranges.gids.start;
  if (auto r = writeIdMaps(pid, probe); !r) {
    finish();
    return fail(ErrorCode::kUnavailable, r.error().message + " (the subordinate range " +
                                             std::to_string(ranges.uids.start) +
                                             " cannot be mapped)");
  }
  UniqueFd userns(
      ::open(("/proc/" + std::to_string(pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  finish();
  if (!userns.valid()) return sysFail(ErrorCode::kUnavailable, "open", "ns/user", errno);
  for (const auto& dir : dirs) {
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) continue;
    auto mounted = makeDetachedMount(dir, MOUNT_ATTR_IDMAP, userns.get());
    if (!mounted) {
      return fail(ErrorCode::kUnavailable,
                  mounted.error().message + ": the filesystem of " + dir +
                      " does not support idmapped mounts (needed with userns = true; or set "
                      "userns = false)");
    }
  }
  return {};
}

}  // namespace grid::localns
