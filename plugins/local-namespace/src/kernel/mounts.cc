#include "kernel/mounts.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "util/syscall_error.h"

namespace grid::localns {
namespace {

using Kind = MountStep::Kind;

// ---- Plan (parent side, pure) ----

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

// A bind whose every sub-mount is read-only too: MS_REMOUNT|MS_RDONLY after a recursive bind
// would reach the top mount only, leaving e.g. a separate /usr/local writable.
MountStep readOnlyBind(std::string source, std::string target) {
  MountStep step = simpleStep(Kind::kBindTree, std::move(target));
  step.source = std::move(source);
  step.mount_attr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  return step;
}

// A fresh proc, then Docker's protections: the kernel knobs (sysctls, sysrq, irq affinity,
// bus and fs tunables) read-only, the kernel-memory and host-wide information files masked.
// The lists are fixed here; which paths exist is decided at apply time (optional steps).
void addProc(std::vector<MountStep>* steps) {
  steps->push_back(simpleStep(Kind::kMkdir, "proc", 0555));
  steps->push_back(mountStep("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
  for (const auto& path : procReadOnlyPaths()) {
    MountStep step = readOnlyBind(path, path);
    step.mount_attr |= MOUNT_ATTR_NOEXEC;
    step.optional = true;
    steps->push_back(std::move(step));
  }
  for (const auto& path : procMaskedPaths()) {
    MountStep step = simpleStep(Kind::kMask, path);
    step.source = "/dev/null";  // host path: what a masked file is replaced by
    step.optional = true;
    steps->push_back(std::move(step));
  }
}

MountStep attachStep(std::string source, std::string target, unsigned long attr) {
  MountStep step = simpleStep(Kind::kAttachMount, std::move(target));
  step.source = std::move(source);
  step.mount_attr = attr;
  return step;
}

// A read-only bind of a host path; in a user namespace an idmapped copy made by the server.
MountStep hostReadOnlyBind(std::string source, std::string target, bool userns) {
  if (!userns) return readOnlyBind(std::move(source), std::move(target));
  return attachStep(std::move(source), std::move(target),
                    MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
}

void addDev(std::vector<MountStep>* steps, bool userns) {
  steps->push_back(simpleStep(Kind::kMkdir, "dev", 0755));
  steps->push_back(mountStep("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k"));
  struct Node {
    const char* name;
    unsigned major;
    unsigned minor;
  };
  for (const Node& node : {Node{"null", 1, 3}, Node{"zero", 1, 5}, Node{"full", 1, 7},
                           Node{"random", 1, 8}, Node{"urandom", 1, 9}, Node{"tty", 5, 0}}) {
    if (userns) {  // the host's node, bound (devtmpfs allows no idmapping)
      const std::string rel = std::string("dev/") + node.name;
      steps->push_back(simpleStep(Kind::kTouch, rel, 0666));
      MountStep bind = simpleStep(Kind::kBindTree, rel);
      bind.source = std::string("/dev/") + node.name;
      bind.mount_attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
      steps->push_back(std::move(bind));
      continue;
    }
    MountStep step = simpleStep(Kind::kMknod, std::string("dev/") + node.name, 0666);
    step.dev = makedev(node.major, node.minor);
    steps->push_back(step);
  }
  steps->push_back(simpleStep(Kind::kMkdir, "dev/pts", 0755));
  steps->push_back(mountStep("devpts", "dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                             "newinstance,ptmxmode=0666,mode=0620"));
  steps->push_back(symlinkStep("pts/ptmx", "dev/ptmx"));
  steps->push_back(simpleStep(Kind::kMkdir, "dev/shm", 01777));
  steps->push_back(
      mountStep("tmpfs", "dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m"));
  steps->push_back(symlinkStep("/proc/self/fd", "dev/fd"));
  steps->push_back(symlinkStep("/proc/self/fd/0", "dev/stdin"));
  steps->push_back(symlinkStep("/proc/self/fd/1", "dev/stdout"));
  steps->push_back(symlinkStep("/proc/self/fd/2", "dev/stderr"));
}

// ---- Apply (child side: plain syscalls on the plan's strings, no allocation) ----

const char* nullIfEmpty(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Resolves `rel` as if `root_fd` were "/": ".." stops at the root, absolute symlinks restart
// from it, and /proc magic links (which could point anywhere) are refused.
int openInRoot(int root_fd, const char* rel, int flags, mode_t mode = 0) {
  struct open_how how = {};
  how.flags = static_cast<unsigned long long>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0;; ++attempt) {
    long fd = ::syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
    // EAGAIN: a concurrent rename made the kernel unsure the walk stayed inside; retry.
    if (fd >= 0 || errno != EAGAIN || attempt == 8) return static_cast<int>(fd);
  }
}

// "/proc/self/fd/N", a path mount(2) accepts for a target already resolved to an fd.
class FdPath {
 public:
  explicit FdPath(int fd) {
    static constexpr char kPrefix[] = "/proc/self/fd/";
    char digits[16];
    int n = 0;
    unsigned value = static_cast<unsigned>(fd);
    do {
      digits[n++] = static_cast<char>('0' + value % 10);
      value /= 10;
    } while (value != 0);
    size_t pos = 0;
    for (char c : kPrefix) {
      if (c != '\0') path_[pos++] = c;
    }
    while (n > 0) path_[pos++] = digits[--n];
    path_[pos] = '\0';
  }
  const char* c_str() const { return path_; }

 private:
  char path_[32];
};

// The directory holding `rel` (resolved in the root) and the last component's name, for the
// *at() calls that create: the name itself is never followed.
class ParentDir {
 public:
  ParentDir(int root_fd, const std::string& rel, int report_fd) {
    if (rel.size() >= sizeof(parent_)) childFail(report_fd, "resolve", rel.c_str(), ENAMETOOLONG);
    size_t slash = rel.rfind('/');
    name_ = rel.c_str() + (slash == std::string::npos ? 0 : slash + 1);
    if (slash == std::string::npos) {
      parent_[0] = '.';
      parent_[1] = '\0';
    } else {
      rel.copy(parent_, slash);
      parent_[slash] = '\0';
    }
    if (name_[0] == '\0' ||
        (name_[0] == '.' && (name_[1] == '\0' || (name_[1] == '.' && name_[2] == '\0')))) {
      childFail(report_fd, "resolve", rel.c_str(), EINVAL);
    }
    fd_ = openInRoot(root_fd, parent_, O_PATH | O_DIRECTORY);
    if (fd_ < 0) childFail(report_fd, "openat2", parent_, errno);
  }
  ~ParentDir() { ::close(fd_); }
  ParentDir(const ParentDir&) = delete;
  ParentDir& operator=(const ParentDir&) = delete;
  int fd() const { return fd_; }
  const char* name() const { return name_; }

 private:
  char parent_[PATH_MAX];
  const char* name_;
  int fd_ = -1;
};

// Attaches the detached mount `tree` onto `target` (resolved in the root) with `attr` set
// on every mount of the tree.
void attachTree(int tree, int root_fd, const MountStep& step, unsigned long attr, int report_fd) {
  struct mount_attr set = {};
  set.attr_set = attr;
  if (::mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &set, sizeof(set)) != 0) {
    childFail(report_fd, "mount_setattr", step.target.c_str(), errno);
  }
  ScopedFd target(openInRoot(root_fd, step.target.c_str(), O_PATH));
  if (target.get() < 0) childFail(report_fd, "openat2", step.target.c_str(), errno);
  if (::move_mount(tree, "", target.get(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) !=
      0) {
    childFail(report_fd, "move_mount", step.target.c_str(), errno);
  }
}

void bindTree(int root_fd, const MountStep& step, int report_fd) {
  constexpr unsigned kCloneFlags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE;
  const char* source = step.source.c_str();
  int tree;
  if (source[0] == '/') {
    tree = ::open_tree(AT_FDCWD, source, kCloneFlags);
  } else {
    ScopedFd source_fd(openInRoot(root_fd, source, O_PATH));
    if (source_fd.get() < 0) {
      if (errno == ENOENT && step.optional) return;
      childFail(report_fd, "openat2", source, errno);
    }
    tree = ::open_tree(source_fd.get(), "", kCloneFlags | AT_EMPTY_PATH);
  }
  if (tree < 0) {
    if (errno == ENOENT && step.optional) return;
    childFail(report_fd, "open_tree", source, errno);
  }
  ScopedFd tree_fd(tree);
  attachTree(tree, root_fd, step, step.mount_attr, report_fd);
}

// Docker's masking: a read-only empty tmpfs over a directory, `source` (/dev/null) over a
// file. A path absent on this kernel has nothing to hide.
void mask(int root_fd, const MountStep& step, int report_fd) {
  const char* target = step.target.c_str();
  ScopedFd fd(openInRoot(root_fd, target, O_PATH));
  if (fd.get() < 0) {
    if (errno == ENOENT) return;
    childFail(report_fd, "openat2", target, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) childFail(report_fd, "fstat", target, errno);
  if (S_ISDIR(st.st_mode)) {
    FdPath path(fd.get());
    if (::mount("tmpfs", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "mode=555,size=4k") != 0) {
      childFail(report_fd, "mount", target, errno);
    }
    return;
  }
  int tree = ::open_tree(AT_FDCWD, step.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) childFail(report_fd, "open_tree", step.source.c_str(), errno);
  ScopedFd tree_fd(tree);
  attachTree(tree, root_fd, step, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
             report_fd);
}

// Creates (or truncates) a regular file. The name is opened with O_NOFOLLOW below a parent
// resolved in the root; a symlink an image put there is replaced (kWriteFile) or refused
// (kTouch), and O_NONBLOCK keeps a FIFO from blocking the start.
void writeFile(int root_fd, const MountStep& step, int report_fd) {
  const char* target = step.target.c_str();
  ParentDir parent(root_fd, step.target, report_fd);
  constexpr int kFlags = O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  int fd = ::openat(parent.fd(), parent.name(), kFlags, step.mode);
  if (fd < 0 && errno == ELOOP && step.kind == Kind::kWriteFile) {
    if (::unlinkat(parent.fd(), parent.name(), 0) != 0) {
      childFail(report_fd, "unlinkat", target, errno);
    }
    fd = ::openat(parent.fd(), parent.name(), kFlags, step.mode);
  }
  if (fd < 0) childFail(report_fd, "openat", target, errno);
  ScopedFd file(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) childFail(report_fd, "open", target, EINVAL);
  if (!step.data.empty() &&
      ::write(fd, step.data.data(), step.data.size()) != static_cast<ssize_t>(step.data.size())) {
    childFail(report_fd, "write", target, errno);
  }
}

}  // namespace

// The `host` image. Exposed, read-only, nosuid, nodev, on every sub-mount too: /usr, /bin,
// /sbin, /lib, /lib32, /lib64, /libx32 (symlinks stay symlinks on usrmerge hosts) and the
// /etc entries below. NOT exposed: the rest of /etc (shadow, gshadow, ssh host keys,
// ssl/private, sudoers, grid.ini, environment, profile.d and other places where admins keep
// credentials), /home, /root, /var, /opt, /srv, /mnt, /run, /sys, host /dev and /proc.
// Private and writable: /tmp and /root (tmpfs, gone with the sandbox). Everything else is a
// read-only tmpfs.
const std::vector<std::string>& hostImageDirs() {
  static const std::vector<std::string> dirs = {"/usr",   "/bin",   "/sbin",  "/lib",
                                                "/lib32", "/lib64", "/libx32"};
  return dirs;
}

const std::vector<std::string>& hostImageEtcEntries() {
  // What a shell, the dynamic loader, TLS clients and `ls -l` need; nothing else.
  static const std::vector<std::string> entries = {
      "alternatives", "bash.bashrc",     "group",           "inputrc",
      "ld.so.cache",  "ld.so.conf",      "ld.so.conf.d",    "localtime",
      "mime.types",   "nsswitch.conf",   "passwd",          "profile",
      "ssl/certs",    "ssl/openssl.cnf", "ca-certificates", "timezone"};
  return entries;
}

const std::vector<std::string>& procReadOnlyPaths() {
  static const std::vector<std::string> paths = {"proc/bus", "proc/fs", "proc/irq", "proc/sys",
                                                 "proc/sysrq-trigger"};
  return paths;
}

const std::vector<std::string>& procMaskedPaths() {
  static const std::vector<std::string> paths = {
      "proc/acpi",       "proc/asound",      "proc/kcore",       "proc/keys", "proc/latency_stats",
      "proc/timer_list", "proc/timer_stats", "proc/sched_debug", "proc/scsi"};
  return paths;
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
  std::vector<MountStep> steps;
  // Nothing we mount may propagate back to the host.
  steps.push_back(mountStep("", "/", "", MS_REC | MS_PRIVATE));
  if (spec.host_image) {
    steps.push_back(
        mountStep("tmpfs", spec.root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m"));
  } else {
    // nodev: device nodes shipped in an image are inert; /dev below is a separate tmpfs.
    std::string lower;
    for (size_t i = 0; i < spec.snapshot_layers.size(); ++i) {
      if (spec.userns) {
        steps.push_back(attachStep(spec.snapshot_layers[i], spec.snapshot_mount_points.at(i),
                                   MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY));
        lower += spec.snapshot_mount_points[i] + ":";
      } else {
        lower += spec.snapshot_layers[i] + ":";
      }
    }
    lower += spec.lower;
    if (spec.userns) {
      steps.push_back(attachStep(spec.lower, spec.lower_mount_point, MOUNT_ATTR_IDMAP));
      lower.replace(lower.size() - spec.lower.size(), spec.lower.size(), spec.lower_mount_point);
    }
    steps.push_back(
        mountStep("overlay", spec.root, "overlay", MS_NODEV,
                  "lowerdir=" + lower + ",upperdir=" + spec.upper + ",workdir=" + spec.work));
  }
  // From here on every target is relative to the root and resolved inside it.
  steps.push_back(simpleStep(Kind::kOpenRoot, spec.root));
  if (spec.host_image) {
    for (const auto& dir : hostImageDirs()) {
      const std::string rel = dir.substr(1);
      bool is_link = false;
      for (const auto& [path, target] : spec.host_links) {
        if (path == dir) {
          steps.push_back(symlinkStep(target, rel));
          is_link = true;
        }
      }
      if (is_link) continue;
      struct stat st;
      if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      steps.push_back(simpleStep(Kind::kMkdir, rel, 0755));
      steps.push_back(hostReadOnlyBind(dir, rel, spec.userns));
    }
    steps.push_back(simpleStep(Kind::kMkdir, "etc", 0755));
    for (const auto& entry : hostImageEtcEntries()) {
      // Parents of nested entries ("ssl" of "ssl/certs") are plain dirs of the skeleton.
      for (size_t slash = entry.find('/'); slash != std::string::npos;
           slash = entry.find('/', slash + 1)) {
        steps.push_back(simpleStep(Kind::kMkdir, "etc/" + entry.substr(0, slash), 0755));
      }
      std::string host = "/etc/" + entry;
      std::string rel = "etc/" + entry;
      struct stat st;
      if (::lstat(host.c_str(), &st) != 0) continue;
      if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = ::readlink(host.c_str(), target, sizeof(target) - 1);
        if (n > 0) steps.push_back(symlinkStep(std::string(target, n), rel));
        continue;
      }
      if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) continue;
      const bool is_dir = S_ISDIR(st.st_mode);
      steps.push_back(simpleStep(is_dir ? Kind::kMkdir : Kind::kTouch, rel, is_dir ? 0755 : 0644));
      steps.push_back(hostReadOnlyBind(host, rel, spec.userns));
    }
    steps.push_back(writeStep("etc/hostname", spec.sandbox_id + "\n"));
    steps.push_back(
        writeStep("etc/hosts", "127.0.0.1\tlocalhost " + spec.sandbox_id + "\n::1\tlocalhost\n"));
    steps.push_back(simpleStep(Kind::kMkdir, "root", 0700));
    steps.push_back(mountStep("tmpfs", "root", "tmpfs", MS_NOSUID | MS_NODEV, "mode=700,size=64m"));
    steps.push_back(simpleStep(Kind::kMkdir, "var", 0755));
    steps.push_back(symlinkStep("/tmp", "var/tmp"));
  } else {
    steps.push_back(simpleStep(Kind::kMkdir, "etc", 0755));
    steps.push_back(writeStep("etc/hostname", spec.sandbox_id + "\n"));
  }
  if (!spec.resolv_conf.empty()) steps.push_back(writeStep("etc/resolv.conf", spec.resolv_conf));
  addProc(&steps);
  addDev(&steps, spec.userns);
  steps.push_back(simpleStep(Kind::kMkdir, "tmp", 01777));
  steps.push_back(mountStep("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=1g"));
  if (spec.host_image) {
    // The skeleton itself becomes read-only once every mount point exists.
    steps.push_back(
        mountStep("", ".", "", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=755,size=1m"));
  }
  steps.push_back(simpleStep(Kind::kPivotRoot, "."));
  return steps;
}

void applyMountSteps(const std::vector<MountStep>& steps, int report_fd, const int* mount_fds,
                     size_t mount_fd_count) {
  size_t next_mount_fd = 0;
  int root_fd = -1;
  for (const MountStep& step : steps) {
    const char* target = step.target.c_str();
    const bool in_root = !step.target.empty() && step.target.front() != '/';
    if (in_root && root_fd < 0) childFail(report_fd, "resolve", target, EBADF);
    switch (step.kind) {
      case Kind::kOpenRoot:
        root_fd = ::open(target, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (root_fd < 0) childFail(report_fd, "open", target, errno);
        break;
      case Kind::kMount: {
        if (!in_root) {
          if (::mount(nullIfEmpty(step.source), target, nullIfEmpty(step.fstype), step.flags,
                      nullIfEmpty(step.data)) != 0) {
            childFail(report_fd, "mount", target, errno);
          }
          break;
        }
        ScopedFd fd(openInRoot(root_fd, target, O_PATH));
        if (fd.get() < 0) childFail(report_fd, "openat2", target, errno);
        FdPath path(fd.get());
        if (::mount(nullIfEmpty(step.source), path.c_str(), nullIfEmpty(step.fstype), step.flags,
                    nullIfEmpty(step.data)) != 0) {
          childFail(report_fd, "mount", target, errno);
        }
        break;
      }
      case Kind::kBindTree:
        bindTree(root_fd, step, report_fd);
        break;
      case Kind::kMask:
        mask(root_fd, step, report_fd);
        break;
      case Kind::kMkdir: {
        ParentDir parent(root_fd, step.target, report_fd);
        if (::mkdirat(parent.fd(), parent.name(), step.mode) != 0 && errno != EEXIST) {
          childFail(report_fd, "mkdirat", target, errno);
        }
        break;
      }
      case Kind::kMknod: {
        ParentDir parent(root_fd, step.target, report_fd);
        if (::mknodat(parent.fd(), parent.name(), S_IFCHR | step.mode, step.dev) != 0) {
          childFail(report_fd, "mknodat", target, errno);
        }
        break;
      }
      case Kind::kSymlink: {
        ParentDir parent(root_fd, step.target, report_fd);
        if (::symlinkat(step.source.c_str(), parent.fd(), parent.name()) != 0 && errno != EEXIST) {
          childFail(report_fd, "symlinkat", target, errno);
        }
        break;
      }
      case Kind::kTouch:
      case Kind::kWriteFile:
        writeFile(root_fd, step, report_fd);
        break;
      case Kind::kAttachMount: {
        if (next_mount_fd >= mount_fd_count) childFail(report_fd, "move_mount", target, EBADF);
        const int tree = mount_fds[next_mount_fd++];
        if (!in_root) {
          if (::move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) != 0) {
            childFail(report_fd, "move_mount", target, errno);
          }
          break;
        }
        ScopedFd fd(openInRoot(root_fd, target, O_PATH));
        if (fd.get() < 0) childFail(report_fd, "openat2", target, errno);
        if (::move_mount(tree, "", fd.get(), "",
                         MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
          childFail(report_fd, "move_mount", target, errno);
        }
        break;
      }
      case Kind::kPivotRoot:
        // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves
        // only the new root, with no directory needed for the old one.
        if (::fchdir(root_fd) != 0) childFail(report_fd, "fchdir", "root", errno);
        if (::syscall(SYS_pivot_root, ".", ".") != 0) {
          childFail(report_fd, "pivot_root", ".", errno);
        }
        if (::umount2(".", MNT_DETACH) != 0) childFail(report_fd, "umount2", "old root", errno);
        if (::chdir("/") != 0) childFail(report_fd, "chdir", "/", errno);
        ::close(root_fd);
        root_fd = -1;
        break;
    }
  }
  if (root_fd >= 0) ::close(root_fd);
}

}  // namespace grid::localns
