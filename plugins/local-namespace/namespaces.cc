#include "namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "syscall_error.h"

namespace grid::localns {

pid_t cloneSandboxInit() {
  constexpr unsigned long kFlags =
      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD;
  // Not glibc's clone(): it needs a separate stack; with a null stack the raw syscall
  // behaves like fork() but can take namespace flags.
  return static_cast<pid_t>(::syscall(SYS_clone, kFlags, nullptr, nullptr, nullptr, nullptr));
}

NamespacePaths namespacePathsOf(pid_t init_pid) {
  std::string base = "/proc/" + std::to_string(init_pid);
  NamespacePaths paths;
  const char* names[5] = {"ipc", "uts", "net", "pid", "mnt"};
  for (int i = 0; i < 5; ++i) paths.ns[i] = base + "/ns/" + names[i];
  paths.root = base + "/root";
  return paths;
}

void joinNamespaces(const NamespacePaths& paths, int report_fd) {
  // Open everything first: after setns(mnt) the host /proc is out of reach.
  int fds[5];
  for (int i = 0; i < 5; ++i) {
    fds[i] = ::open(paths.ns[i].c_str(), O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) childFail(report_fd, "open", paths.ns[i].c_str(), errno);
  }
  int root = ::open(paths.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) childFail(report_fd, "open", paths.root.c_str(), errno);
  for (int i = 0; i < 5; ++i) {
    if (::setns(fds[i], 0) != 0) childFail(report_fd, "setns", paths.ns[i].c_str(), errno);
    ::close(fds[i]);
  }
  // setns(mnt) puts us at the namespace's original root; the init pivoted away from it.
  if (::fchdir(root) != 0) childFail(report_fd, "fchdir", paths.root.c_str(), errno);
  if (::chroot(".") != 0) childFail(report_fd, "chroot", paths.root.c_str(), errno);
  if (::chdir("/") != 0) childFail(report_fd, "chdir", "/", errno);
  ::close(root);
}

void setHostname(const std::string& name, int report_fd) {
  if (::sethostname(name.data(), name.size()) != 0) {
    childFail(report_fd, "sethostname", name.c_str(), errno);
  }
}

}  // namespace grid::localns
