// grid-init: the only program the server execs into a sandbox. Statically linked (an entering
// process already sees the sandbox's root, whose ld.so is the tenant's), started with an
// empty environment and a fixed set of fds (init_message.h), it reads its InitMessage and
// plays one of two roles:
//   grid-init init   the sandbox's PID 1: builds the root filesystem, sets the hostname,
//                    brings lo up, reports ready (EOF on the report fd), reaps orphans.
//   grid-init enter  started in the sandbox's namespaces: forks the process into the
//                    sandbox PID namespace, confines it (cgroup, rlimits, caps, seccomp),
//                    execs it, waits, and exits with its status (128+N for signal N).
// Nothing of the server lives here: no server memory (fresh exec), no environment, no fds
// beyond those passed. The process is non-dumpable from its first instruction: exec'd in a
// user namespace where its (host-root-owned) binary is unmapped, the kernel makes it
// non-dumpable and ties its mm to the host user namespace; without a user namespace the
// prctl below does it (and the full capability set it starts with keeps the sandbox's
// reduced-capability processes from ptracing it in between).
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "init/init_message.h"
#include "kernel/caps.h"
#include "kernel/mounts.h"
#include "kernel/namespaces.h"
#include "kernel/net.h"
#include "kernel/rlimits.h"
#include "util/syscall_error.h"

namespace grid::localns {
namespace {

[[noreturn]] void failText(const std::string& text) {
  (void)!::write(kInitReportFd, text.data(), std::min(text.size(), kMaxInitReportBytes));
  ::_exit(127);
}

InitMessage readMessage() {
  struct stat st;
  if (::fstat(kInitMessageFd, &st) != 0) childFail(kInitReportFd, "fstat", "message fd", errno);
  if (st.st_size < 0 || static_cast<size_t>(st.st_size) > kMaxInitMessageBytes) {
    failText("grid-init: init message larger than the cap");
  }
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n =
        ::pread(kInitMessageFd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) childFail(kInitReportFd, "pread", "message fd", n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  ::close(kInitMessageFd);
  std::string error;
  auto message = decodeInitMessage(bytes, &error);
  if (!message) failText("grid-init: " + error);
  // Every announced fd must really be there, and nothing else beyond them.
  const int passed =
      static_cast<int>(message->cgroup_fd_count + message->mount_fd_count + message->held_fd_count);
  for (int fd = kInitFirstPassedFd; fd < kInitFirstPassedFd + passed; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0) childFail(kInitReportFd, "fcntl", "passed fd", errno);
  }
  ::close_range(static_cast<unsigned>(kInitFirstPassedFd + passed), ~0U, 0);
  return std::move(*message);
}

void resetSignals() {
  struct sigaction action = {};
  action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &action, nullptr);
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void joinCgroups(const InitMessage& message) {
  for (uint32_t i = 0; i < message.cgroup_fd_count; ++i) {
    int fd = kInitFirstPassedFd + static_cast<int>(i);
    if (::write(fd, "0", 1) != 1) childFail(kInitReportFd, "write", "cgroup.procs", errno);
    ::close(fd);
  }
}

void setOomScoreAdj(const char* value) {
  if (int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC); fd >= 0) {
    (void)!::write(fd, value, std::strlen(value));
    ::close(fd);
  }
}

void onSigchld(int) {}

[[noreturn]] void runInit(const InitMessage& message) {
  ::umask(0);
  joinCgroups(message);
  // OOM kills must hit the hog, never PID 1 (its death ends the sandbox). Lowering needs
  // CAP_SYS_RESOURCE on the host: best effort (the server tries too).
  setOomScoreAdj("-1000");
  setHostname(message.hostname, kInitReportFd);
  std::vector<int> mount_fds;
  for (uint32_t i = 0; i < message.mount_fd_count; ++i) {
    mount_fds.push_back(kInitFirstPassedFd + static_cast<int>(message.cgroup_fd_count + i));
  }
  applyMountSteps(message.mount_steps, kInitReportFd, mount_fds.data(), mount_fds.size());
  bringLoopbackUp(kInitReportFd);

  sigset_t all;
  ::sigfillset(&all);
  ::sigprocmask(SIG_BLOCK, &all, nullptr);
  struct sigaction action = {};
  action.sa_handler = onSigchld;
  ::sigaction(SIGCHLD, &action, nullptr);
  // Drops the report pipe (EOF = ready) and every passed fd but the held ones.
  const unsigned held_first = kInitFirstPassedFd + message.cgroup_fd_count + message.mount_fd_count;
  ::close_range(3, held_first - 1, 0);
  ::close_range(held_first + message.held_fd_count, ~0U, 0);

  sigset_t wait_mask;
  ::sigfillset(&wait_mask);
  ::sigdelset(&wait_mask, SIGCHLD);
  while (true) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ::sigsuspend(&wait_mask);
  }
}

void installSeccomp(const std::vector<sock_filter>& filter) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    childFail(kInitReportFd, "prctl", "PR_SET_NO_NEW_PRIVS", errno);
  }
  sock_fprog prog{static_cast<unsigned short>(filter.size()),
                  const_cast<sock_filter*>(filter.data())};
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) {
    childFail(kInitReportFd, "prctl", "PR_SET_SECCOMP", errno);
  }
}

std::vector<char*> cStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// The final process, in the sandbox PID namespace: joins the cgroup (a migration, so it
// works even at the pids limit), confines itself and execs.
[[noreturn]] void runProcess(const InitMessage& message) {
  joinCgroups(message);
  if (::fcntl(kInitReportFd, F_SETFD, FD_CLOEXEC) != 0) {
    childFail(kInitReportFd, "fcntl", "report fd", errno);
  }
  ::setsid();
  // A terminal process (its stdin a pty from the sandbox's devpts) leads a session with that
  // terminal as its controlling one: job control, Ctrl-C, and SIGHUP when it closes.
  if (::isatty(0) == 1 && ::ioctl(0, TIOCSCTTY, 0) != 0) {
    childFail(kInitReportFd, "ioctl", "TIOCSCTTY", errno);
  }
  // Sandbox processes are the OOM killer's first choice; raising needs no privilege.
  setOomScoreAdj("500");
  auto argv = cStrings(message.argv);
  auto envp = cStrings(message.env);
  applyRlimits(message.rlimits, kInitReportFd);
  dropCapabilities(kInitReportFd);
  installSeccomp(message.seccomp);
  int err = ENOENT;
  for (const auto& candidate : message.exec_candidates) {
    ::execve(candidate.c_str(), argv.data(), envp.data());
    // Keep the most telling error: EACCES beats ENOENT of the other PATH dirs.
    if (errno != ENOENT || err == ENOENT) err = errno;
  }
  // Like a shell: the reason on stderr, 127 for a missing command, 126 if not executable.
  childFailWithCode(2, "local-namespace: execve", argv[0], err, err == ENOENT ? 127 : 126);
}

[[noreturn]] void runEnter(const InitMessage& message) {
  pid_t child = ::fork();
  if (child < 0) childFail(kInitReportFd, "fork", "in sandbox", errno);
  if (child == 0) runProcess(message);
  // Only the process keeps its stdio and the report pipe: EOF reaches the server when it
  // exits or execs.
  ::close_range(0, ~0U, 0);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) ::_exit(127);
  }
  ::_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
}

}  // namespace
}  // namespace grid::localns

int main(int argc, char** argv) {
  using namespace grid::localns;
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // exec by fd names the process after the fd number; `ps` in the sandbox shows this.
  ::prctl(PR_SET_NAME, "grid-init", 0, 0, 0);
  resetSignals();
  if (argc != 2 || (std::strcmp(argv[1], "init") != 0 && std::strcmp(argv[1], "enter") != 0)) {
    static const char kUsage[] =
        "grid-init: started by the local-namespace backend only (grid-init init|enter)\n";
    (void)!::write(2, kUsage, sizeof(kUsage) - 1);
    return 2;
  }
  InitMessage message = readMessage();
  const bool init = std::strcmp(argv[1], "init") == 0;
  if (init != (message.role == InitMessage::Role::kInit)) {
    failText("grid-init: role differs from the message's");
  }
  if (init) runInit(message);
  runEnter(message);
}
