#include "mounts.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "syscall_error.h"

namespace grid::localns {
namespace {

using Kind = MountStep::Kind;

MountStep mountStep(std::string source, std::string target, std::string fstype, unsigned long flags,
                    std::string data = "") {
  MountStep step;
  step.kind = Kind::kMount;
  step.source = std::move(source);
  step.target = std::move(target);
  step.fstype = std::move(fstype);
  step.flags = flags;
  step.data = std::move(data);
  return step;
}

MountStep simpleStep(Kind kind, std::string target, mode_t mode = 0) {
  MountStep step;
  step.kind = kind;
  step.target = std::move(target);
  step.mode = mode;
  return step;
}

MountStep symlinkStep(std::string source, std::string target) {
  MountStep step = simpleStep(Kind::kSymlink, std::move(target));
  step.source = std::move(source);
  return step;
}

MountStep writeStep(std::string target, std::string data) {
  MountStep step = simpleStep(Kind::kWriteFile, std::move(target), 0644);
  step.data = std::move(data);
  return step;
}

MountStep attachStep(std::string source, std::string target, uint64_t attrs) {
  MountStep step = simpleStep(Kind::kAttachMount, std::move(target));
  step.source = std::move(source);
  step.flags = attrs;
  return step;
}

// Read-only bind: the bind itself ignores MS_RDONLY, so it needs a remount. In a user
// namespace: an idmapped detached copy, read-only, nosuid, nodev on every sub-mount.
void addReadOnlyBind(std::vector<MountStep>* steps, const std::string& source,
                     const std::string& target, bool userns = false) {
  if (userns) {
    steps->push_back(
        attachStep(source, target,
                   MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
    return;
  }
  steps->push_back(mountStep(source, target, "", MS_BIND | MS_REC));
  steps->push_back(
      mountStep("", target, "", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV));
}

void addDev(std::vector<MountStep>* steps, const std::string& root, bool userns) {
  std::string dev = root + "/dev";
  steps->push_back(simpleStep(Kind::kMkdir, dev, 0755));
  steps->push_back(mountStep("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k"));
  struct Node {
    const char* name;
    unsigned major;
    unsigned minor;
  };
  for (const Node& node : {Node{"null", 1, 3}, Node{"zero", 1, 5}, Node{"full", 1, 7},
                           Node{"random", 1, 8}, Node{"urandom", 1, 9}, Node{"tty", 5, 0}}) {
    if (userns) {  // the host's node, bound (devtmpfs allows no idmapping)
      steps->push_back(simpleStep(Kind::kTouch, dev + "/" + node.name, 0666));
      steps->push_back(attachStep(std::string("/dev/") + node.name, dev + "/" + node.name,
                                  MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC));
      continue;
    }
    MountStep step = simpleStep(Kind::kMknod, dev + "/" + node.name, 0666);
    step.dev = makedev(node.major, node.minor);
    steps->push_back(step);
  }
  steps->push_back(simpleStep(Kind::kMkdir, dev + "/pts", 0755));
  steps->push_back(mountStep("devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                             "newinstance,ptmxmode=0666,mode=0620"));
  steps->push_back(symlinkStep("pts/ptmx", dev + "/ptmx"));
  steps->push_back(simpleStep(Kind::kMkdir, dev + "/shm", 01777));
  steps->push_back(
      mountStep("tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m"));
  steps->push_back(symlinkStep("/proc/self/fd", dev + "/fd"));
  steps->push_back(symlinkStep("/proc/self/fd/0", dev + "/stdin"));
  steps->push_back(symlinkStep("/proc/self/fd/1", dev + "/stdout"));
  steps->push_back(symlinkStep("/proc/self/fd/2", dev + "/stderr"));
}

}  // namespace

// The `host` image. Exposed, read-only, nosuid, nodev: /usr, /bin, /sbin, /lib, /lib32,
// /lib64, /libx32 (symlinks stay symlinks on usrmerge hosts) and the /etc entries below.
// NOT exposed: the rest of /etc (shadow, ssh host keys, grid.ini and other secrets), /home,
// /root, /var, /opt, /srv, /mnt, /run, /sys, host /dev and /proc. Private and writable:
// /tmp and /root (tmpfs, gone with the sandbox). Everything else is a read-only tmpfs.
const std::vector<std::string>& hostImageDirs() {
  static const std::vector<std::string> dirs = {"/usr",   "/bin",   "/sbin",  "/lib",
                                                "/lib32", "/lib64", "/libx32"};
  return dirs;
}

const std::vector<std::string>& hostImageEtcEntries() {
  static const std::vector<std::string> entries = {
      "alternatives", "bash.bashrc",  "environment",     "group",         "inputrc", "ld.so.cache",
      "ld.so.conf",   "ld.so.conf.d", "localtime",       "nsswitch.conf", "passwd",  "profile",
      "profile.d",    "ssl",          "ca-certificates", "mime.types",    "timezone"};
  return entries;
}

std::vector<std::pair<std::string, std::string>> hostTopLevelLinks() {
  std::vector<std::pair<std::string, std::string>> links;
  for (const auto& dir : hostImageDirs()) {
    char target[4096];
    ssize_t n = ::readlink(dir.c_str(), target, sizeof(target) - 1);
    if (n > 0) links.emplace_back(dir, std::string(target, static_cast<size_t>(n)));
  }
  return links;
}

std::vector<MountStep> planRootfs(const RootfsSpec& spec) {
  const std::string& root = spec.root;
  std::vector<MountStep> steps;
  // Nothing we mount may propagate back to the host.
  steps.push_back(mountStep("", "/", "", MS_REC | MS_PRIVATE));
  if (spec.host_image) {
    steps.push_back(mountStep("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m"));
    for (const auto& dir : hostImageDirs()) {
      bool is_link = false;
      for (const auto& [path, target] : spec.host_links) {
        if (path == dir) {
          steps.push_back(symlinkStep(target, root + dir));
          is_link = true;
        }
      }
      if (is_link) continue;
      struct stat st;
      if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      steps.push_back(simpleStep(Kind::kMkdir, root + dir, 0755));
      addReadOnlyBind(&steps, dir, root + dir, spec.userns);
    }
    steps.push_back(simpleStep(Kind::kMkdir, root + "/etc", 0755));
    for (const auto& entry : hostImageEtcEntries()) {
      std::string host = "/etc/" + entry;
      struct stat st;
      if (::lstat(host.c_str(), &st) != 0) continue;
      if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = ::readlink(host.c_str(), target, sizeof(target) - 1);
        if (n > 0) steps.push_back(symlinkStep(std::string(target, n), root + host));
        continue;
      }
      steps.push_back(
          simpleStep(S_ISDIR(st.st_mode) ? Kind::kMkdir : Kind::kTouch, root + host, 0755));
      addReadOnlyBind(&steps, host, root + host, spec.userns);
    }
    steps.push_back(writeStep(root + "/etc/hostname", spec.sandbox_id + "\n"));
    steps.push_back(writeStep(root + "/etc/hosts",
                              "127.0.0.1\tlocalhost " + spec.sandbox_id + "\n::1\tlocalhost\n"));
    steps.push_back(simpleStep(Kind::kMkdir, root + "/root", 0700));
    steps.push_back(
        mountStep("tmpfs", root + "/root", "tmpfs", MS_NOSUID | MS_NODEV, "mode=700,size=64m"));
    steps.push_back(simpleStep(Kind::kMkdir, root + "/var", 0755));
    steps.push_back(symlinkStep("/tmp", root + "/var/tmp"));
  } else {
    // nodev: device nodes shipped in an image are inert; /dev below is a separate tmpfs.
    std::string lower = spec.lower;
    if (spec.userns) {
      steps.push_back(attachStep(spec.lower, spec.lower_mount_point, MOUNT_ATTR_IDMAP));
      lower = spec.lower_mount_point;
    }
    steps.push_back(
        mountStep("overlay", root, "overlay", MS_NODEV,
                  "lowerdir=" + lower + ",upperdir=" + spec.upper + ",workdir=" + spec.work));
    steps.push_back(simpleStep(Kind::kMkdir, root + "/etc", 0755));
    steps.push_back(writeStep(root + "/etc/hostname", spec.sandbox_id + "\n"));
  }
  steps.push_back(simpleStep(Kind::kMkdir, root + "/proc", 0555));
  steps.push_back(mountStep("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
  addDev(&steps, root, spec.userns);
  steps.push_back(simpleStep(Kind::kMkdir, root + "/tmp", 01777));
  steps.push_back(
      mountStep("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=1g"));
  if (spec.host_image) {
    // The skeleton itself becomes read-only once every mount point exists.
    steps.push_back(
        mountStep("", root, "", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=755,size=1m"));
  }
  steps.push_back(simpleStep(Kind::kPivotRoot, root));
  return steps;
}

void applyMountSteps(const std::vector<MountStep>& steps, int report_fd, const int* mount_fds,
                     size_t mount_fd_count) {
  size_t next_mount_fd = 0;
  for (const MountStep& step : steps) {
    const char* target = step.target.c_str();
    switch (step.kind) {
      case Kind::kMount:
        if (::mount(step.source.empty() ? nullptr : step.source.c_str(), target,
                    step.fstype.empty() ? nullptr : step.fstype.c_str(), step.flags,
                    step.data.empty() ? nullptr : step.data.c_str()) != 0) {
          childFail(report_fd, "mount", target, errno);
        }
        break;
      case Kind::kMkdir:
        if (::mkdir(target, step.mode) != 0 && errno != EEXIST) {
          childFail(report_fd, "mkdir", target, errno);
        }
        break;
      case Kind::kMknod:
        if (::mknod(target, S_IFCHR | step.mode, step.dev) != 0) {
          childFail(report_fd, "mknod", target, errno);
        }
        break;
      case Kind::kSymlink:
        if (::symlink(step.source.c_str(), target) != 0 && errno != EEXIST) {
          childFail(report_fd, "symlink", target, errno);
        }
        break;
      case Kind::kTouch:
      case Kind::kWriteFile: {
        // An image may ship a symlink here: never follow it.
        int fd = ::open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) childFail(report_fd, "open", target, errno);
        if (!step.data.empty() && ::write(fd, step.data.data(), step.data.size()) !=
                                      static_cast<ssize_t>(step.data.size())) {
          childFail(report_fd, "write", target, errno);
        }
        ::close(fd);
        break;
      }
      case Kind::kPivotRoot:
        // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves
        // only the new root, with no directory needed for the old one.
        if (::chdir(target) != 0) childFail(report_fd, "chdir", target, errno);
        if (::syscall(SYS_pivot_root, ".", ".") != 0) {
          childFail(report_fd, "pivot_root", target, errno);
        }
        if (::umount2(".", MNT_DETACH) != 0) childFail(report_fd, "umount2", "old root", errno);
        if (::chdir("/") != 0) childFail(report_fd, "chdir", "/", errno);
        break;
      case Kind::kAttachMount:
        if (next_mount_fd >= mount_fd_count) childFail(report_fd, "move_mount", target, EBADF);
        if (::syscall(SYS_move_mount, mount_fds[next_mount_fd++], "", AT_FDCWD, target,
                      MOVE_MOUNT_F_EMPTY_PATH) != 0) {
          childFail(report_fd, "move_mount", target, errno);
        }
        break;
    }
  }
}

}  // namespace grid::localns
