#include "sandbox_init.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "fd.h"
#include "namespaces.h"
#include "net.h"
#include "syscall_error.h"

namespace grid::localns {
namespace {

constexpr size_t kMaxCgroupFds = 8;

void onSigchld(int) {}

// Everything here runs in the cloned child, which skipped glibc's fork handlers: plain
// syscalls on data prepared by the parent only, no allocation, no locks.
[[noreturn]] void runInit(const InitConfig& config, const int* cgroup_fds, size_t cgroup_count,
                          int report_fd) {
  ::umask(0);
  for (size_t i = 0; i < cgroup_count; ++i) {
    if (::write(cgroup_fds[i], "0", 1) != 1) childFail(report_fd, "write", "cgroup.procs", errno);
    ::close(cgroup_fds[i]);
  }
  ::prctl(PR_SET_NAME, "grid-init", 0, 0, 0);
  // The sandbox's OOM kills must hit the hog, never PID 1: without it the namespace dies and
  // every later exec fails. Lowering needs CAP_SYS_RESOURCE, so this is best effort; sandbox
  // processes also raise their own score (process_launcher.cc).
  if (int oom_fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); oom_fd >= 0) {
    (void)!::write(oom_fd, "-1000", 5);
    ::close(oom_fd);
  }
  setHostname(config.hostname, report_fd);
  applyMountSteps(config.mount_steps, report_fd);
  bringLoopbackUp(report_fd);

  sigset_t all;
  ::sigfillset(&all);
  ::sigprocmask(SIG_BLOCK, &all, nullptr);
  struct sigaction action = {};
  action.sa_handler = onSigchld;
  ::sigaction(SIGCHLD, &action, nullptr);

  int null_fd = ::open("/dev/null", O_RDWR);
  if (null_fd < 0) childFail(report_fd, "open", "/dev/null", errno);
  for (int fd = 0; fd < 3; ++fd) ::dup2(null_fd, fd);
  // Drops the report pipe (EOF = ready) and every fd inherited from the server.
  ::close_range(3, ~0U, 0);

  sigset_t wait_mask;
  ::sigfillset(&wait_mask);
  ::sigdelset(&wait_mask, SIGCHLD);
  while (true) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ::sigsuspend(&wait_mask);
  }
}

}  // namespace

Result<pid_t> startSandboxInit(const InitConfig& config) {
  UniqueFd cgroup_fds[kMaxCgroupFds];
  int raw_fds[kMaxCgroupFds];
  size_t count = 0;
  for (const auto& file : config.cgroup_procs_files) {
    if (count == kMaxCgroupFds) break;
    cgroup_fds[count].reset(::open(file.c_str(), O_WRONLY | O_CLOEXEC));
    if (!cgroup_fds[count].valid()) return sysFail(ErrorCode::kInternal, "open", file, errno);
    raw_fds[count] = cgroup_fds[count].get();
    ++count;
  }
  Pipe report;
  if (!makePipe(&report)) return sysFail(ErrorCode::kInternal, "pipe2", "O_CLOEXEC", errno);

  pid_t pid = cloneSandboxInit();
  if (pid < 0) {
    return sysFail(ErrorCode::kInternal, "clone",
                   "CLONE_NEWNS|CLONE_NEWPID|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWNET", errno);
  }
  if (pid == 0) runInit(config, raw_fds, count, report.write.get());

  report.write.reset();
  const std::string message = readChildReport(report.read.get());
  if (message.empty()) return pid;
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return fail(ErrorCode::kInternal, "local-namespace: sandbox init: " + message);
}

}  // namespace grid::localns
