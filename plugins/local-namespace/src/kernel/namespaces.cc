#include "kernel/namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "util/syscall_error.h"

namespace grid::localns {

pid_t cloneSandboxInit(bool new_userns) {
  unsigned long flags =
      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD;
  if (new_userns) flags |= CLONE_NEWUSER;
  // Not glibc's clone(): it needs a separate stack; with a null stack the raw syscall
  // behaves like fork() but can take namespace flags.
  return static_cast<pid_t>(::syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr));
}

NamespacePaths namespacePathsOf(pid_t init_pid, bool userns) {
  std::string base = "/proc/" + std::to_string(init_pid);
  NamespacePaths paths;
  if (userns) paths.user = base + "/ns/user";
  const char* names[5] = {"ipc", "uts", "net", "pid", "mnt"};
  for (int i = 0; i < 5; ++i) paths.ns[i] = base + "/ns/" + names[i];
  paths.root = base + "/root";
  return paths;
}

Result<NamespaceFds> openNamespaces(const NamespacePaths& paths) {
  NamespaceFds fds;
  if (!paths.user.empty()) {
    fds.user.reset(::open(paths.user.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fds.user.valid()) return sysFail(ErrorCode::kNotFound, "open", paths.user, errno);
  }
  for (int i = 0; i < 5; ++i) {
    fds.ns[i].reset(::open(paths.ns[i].c_str(), O_RDONLY | O_CLOEXEC));
    if (!fds.ns[i].valid()) return sysFail(ErrorCode::kNotFound, "open", paths.ns[i], errno);
  }
  fds.root.reset(::open(paths.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fds.root.valid()) return sysFail(ErrorCode::kNotFound, "open", paths.root, errno);
  return fds;
}

void joinNamespaces(const NamespaceFds& fds, int report_fd) {
  if (fds.user.valid()) {
    if (::setns(fds.user.get(), CLONE_NEWUSER) != 0) {
      childFail(report_fd, "setns", "user", errno);
    }
    // Raw syscalls: glibc's set*id would signal threads this child does not have.
    // Root of the sandbox's user namespace: keeps the full capability set there (needed
    // for the joins below and kept across the exec of grid-init).
    if (::syscall(SYS_setresgid, 0, 0, 0) != 0) childFail(report_fd, "setresgid", "0", errno);
    if (::syscall(SYS_setresuid, 0, 0, 0) != 0) childFail(report_fd, "setresuid", "0", errno);
  }
  static const char* const kNames[5] = {"ipc", "uts", "net", "pid", "mnt"};
  for (int i = 0; i < 5; ++i) {
    if (::setns(fds.ns[i].get(), 0) != 0) childFail(report_fd, "setns", kNames[i], errno);
  }
  // setns(mnt) puts us at the namespace's original root; the init pivoted away from it.
  if (::fchdir(fds.root.get()) != 0) childFail(report_fd, "fchdir", "init root", errno);
  if (::chroot(".") != 0) childFail(report_fd, "chroot", "init root", errno);
  if (::chdir("/") != 0) childFail(report_fd, "chdir", "/", errno);
}

void setHostname(const std::string& name, int report_fd) {
  if (::sethostname(name.data(), name.size()) != 0) {
    childFail(report_fd, "sethostname", name.c_str(), errno);
  }
}

}  // namespace grid::localns
