#include "runtime/sandbox_init.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cgroup/cgroup.h"
#include "init/init_exec.h"
#include "kernel/namespaces.h"
#include "util/fd.h"
#include "util/syscall_error.h"

namespace grid::localns {
namespace {

// Building a root filesystem takes milliseconds; this only bounds a wedged mount.
constexpr auto kInitReadyTimeout = std::chrono::seconds(60);
// SCM_RIGHTS carries at most SCM_MAX_FD (253) fds per message.
constexpr size_t kMaxMountFds = 250;

void killAndReap(pid_t pid) {
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

Result<pid_t> startSandboxInit(const InitConfig& config) {
  InitMessage message;
  message.role = InitMessage::Role::kInit;
  message.hostname = config.hostname;
  message.mount_steps = config.mount_steps;
  size_t mount_fd_count = 0;
  for (const auto& step : config.mount_steps) {
    if (step.kind == MountStep::Kind::kAttachMount) ++mount_fd_count;
  }
  if (mount_fd_count > kMaxMountFds) {
    return fail(ErrorCode::kInternal, "local-namespace: too many mounts to attach (" +
                                          std::to_string(mount_fd_count) + ")");
  }
  message.mount_fd_count = static_cast<uint32_t>(mount_fd_count);
  message.held_fd_count = (config.userns != nullptr ? 1 : 0) + (config.link_lock_fd >= 0 ? 1 : 0);
  GRID_ASSIGN_OR_RETURN(UniqueFd message_fd, makeInitMessageFd(message));
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd.valid()) return sysFail(ErrorCode::kInternal, "open", "/dev/null", errno);
  Pipe report;
  if (!makePipe(&report)) return sysFail(ErrorCode::kInternal, "pipe2", "O_CLOEXEC", errno);
  // "Go" from the server once the child's ids, cgroup and detached mounts are ready; the
  // mounts (made with the child's user namespace, so only after clone) ride along.
  int go_pair[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, go_pair) != 0) {
    return sysFail(ErrorCode::kInternal, "socketpair", "AF_UNIX", errno);
  }
  UniqueFd go_send(go_pair[0]), go_receive(go_pair[1]);
  int fds[kInitFirstPassedFd + kMaxMountFds + 2] = {null_fd.get(), null_fd.get(), null_fd.get(),
                                                    message_fd.get(), report.write.get()};
  const int lock_fd = config.userns != nullptr ? config.userns->lock.get() : -1;

  pid_t pid = cloneSandboxInit(config.userns != nullptr);
  if (pid < 0) {
    return sysFail(ErrorCode::kInternal, "clone",
                   "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNET", errno);
  }
  if (pid == 0) {
    // The cloned child: raw syscalls on prepared data only (it is a copy of one thread of
    // the server: glibc's set*id would wait for the other threads). Waits for the server's
    // go, then takes root of its user namespace and becomes grid-init.
    const int report_fd = report.write.get();
    char byte = 0;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxMountFds)];
    iovec io{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &io;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n;
    do {
      n = ::recvmsg(go_receive.get(), &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n != 1) ::_exit(127);
    size_t received = 0;
    if (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
        cmsg != nullptr && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
      received = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      ::memcpy(fds + kInitFirstPassedFd, CMSG_DATA(cmsg), received * sizeof(int));
    }
    if (received != mount_fd_count || (msg.msg_flags & MSG_CTRUNC) != 0) {
      childFail(report_fd, "recvmsg", "detached mounts", EPROTO);
    }
    int count = kInitFirstPassedFd + static_cast<int>(received);
    if (lock_fd >= 0) fds[count++] = lock_fd;
    if (config.link_lock_fd >= 0) fds[count++] = config.link_lock_fd;
    if (::syscall(SYS_setgroups, 0, nullptr) != 0) childFail(report_fd, "setgroups", "0", errno);
    if (config.userns != nullptr) {
      if (::syscall(SYS_setresgid, 0, 0, 0) != 0) childFail(report_fd, "setresgid", "0", errno);
      if (::syscall(SYS_setresuid, 0, 0, 0) != 0) childFail(report_fd, "setresuid", "0", errno);
    }
    execGridInit(config.init_binary_fd, fds, count, "init");
  }
  go_receive.reset();
  report.write.reset();
  for (const auto& file : config.cgroup_procs_files) {
    if (auto r = writeCgroupFile(file, std::to_string(pid)); !r) {
      killAndReap(pid);
      return r.error();
    }
  }
  // grid-init tries too; from the host this works where the server has CAP_SYS_RESOURCE.
  (void)writeCgroupFile("/proc/" + std::to_string(pid) + "/oom_score_adj", "-1000");
  UniqueFd userns_fd;
  if (config.userns != nullptr) {
    if (auto r = writeIdMaps(pid, *config.userns); !r) {
      killAndReap(pid);
      return r.error();
    }
    userns_fd.reset(
        ::open(("/proc/" + std::to_string(pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
    if (!userns_fd.valid()) {
      int err = errno;
      killAndReap(pid);
      return sysFail(ErrorCode::kInternal, "open", "/proc/<init>/ns/user", err);
    }
  }
  auto mounts = makeAttachMounts(config.mount_steps, userns_fd.get());
  if (!mounts) {
    killAndReap(pid);
    return mounts.error();
  }
  char byte = 'g';
  iovec io{&byte, 1};
  msghdr msg{};
  msg.msg_iov = &io;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxMountFds)] = {};
  if (!mounts.value().empty()) {
    const size_t bytes = sizeof(int) * mounts.value().size();
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(bytes);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(bytes);
    int* out = reinterpret_cast<int*>(CMSG_DATA(cmsg));
    for (size_t i = 0; i < mounts.value().size(); ++i) out[i] = mounts.value()[i].get();
  }
  if (::sendmsg(go_send.get(), &msg, MSG_NOSIGNAL) != 1) {
    int err = errno;
    killAndReap(pid);
    return sysFail(ErrorCode::kInternal, "sendmsg", "sandbox init go", err);
  }
  go_send.reset();
  mounts.value().clear();
  if (config.while_building) {
    if (auto r = config.while_building(pid); !r) {
      killAndReap(pid);
      return r.error();
    }
  }
  auto ready =
      readChildReport(report.read.get(), std::chrono::steady_clock::now() + kInitReadyTimeout);
  if (ready.text.empty() && !ready.timed_out) {
    // EOF without a report: ready, unless grid-init died without a word (a crash).
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid) return pid;
    return fail(ErrorCode::kInternal,
                "local-namespace: sandbox init exited during setup (" +
                    (WIFSIGNALED(status) ? "signal " + std::to_string(WTERMSIG(status))
                                         : "status " + std::to_string(WEXITSTATUS(status))) +
                    ")");
  }
  killAndReap(pid);
  if (ready.timed_out) {
    return fail(ErrorCode::kTimeout, "local-namespace: sandbox init not ready after " +
                                         std::to_string(kInitReadyTimeout.count()) + " s");
  }
  return fail(ErrorCode::kInternal, "local-namespace: sandbox init: " + ready.text);
}

}  // namespace grid::localns
